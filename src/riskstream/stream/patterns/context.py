"""What a condition sees besides the event: the partial match it would extend."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from riskstream.stream.patterns.buffer import Node

__all__ = ["MatchContext"]

V = TypeVar("V")


# A Struct with gc=False: every key's matcher holds one, and an object the garbage collector
# does not track costs its full passes nothing. It cannot be in a cycle: it points at nodes
# only, which point at older nodes and events. eq=False: compared by identity, as before.
class MatchContext(msgspec.Struct, Generic[V], gc=False, eq=False):
    """The partial match a condition is asked to extend (FlinkCEP's ``IterativeCondition.Context``).

    ``ctx["login"]`` is the list of events matched so far by the stage ``login`` (empty when
    it has none yet; a looping stage sees its own earlier events), ``ctx.times("login")``
    their event times, ``ctx.event_time`` the time of the event under test and ``ctx.start``
    the time of the partial match's first event (``event_time`` itself on the first stage).

    One context object is reused for every condition call of a key, so a condition must
    not keep it: copy what it needs.
    """

    _node: Node[V] | None = None
    event_time: int = 0

    def __getitem__(self, stage: str) -> list[V]:
        out: list[V] = []
        node = self._node
        while node is not None:
            if node.stage == stage:
                out.append(node.event)
            node = node.parent
        out.reverse()
        return out

    def __contains__(self, stage: str) -> bool:
        node = self._node
        while node is not None:
            if node.stage == stage:
                return True
            node = node.parent
        return False

    def times(self, stage: str) -> list[int]:
        """Event times of the events matched so far by ``stage``, oldest first."""
        out: list[int] = []
        node = self._node
        while node is not None:
            if node.stage == stage:
                out.append(node.time)
            node = node.parent
        out.reverse()
        return out

    @property
    def start(self) -> int:
        """Event time of the partial match's first event (``event_time`` if there is none)."""
        node = self._node
        if node is None:
            return self.event_time
        while node.parent is not None:
            node = node.parent
        return node.time

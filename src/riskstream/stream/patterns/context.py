"""What a condition sees besides the event: the partial match it would extend."""

from __future__ import annotations

from typing import Generic, TypeVar

from riskstream.stream.patterns.buffer import Node

__all__ = ["MatchContext"]

V = TypeVar("V")


class MatchContext(Generic[V]):
    """The partial match a condition is asked to extend (FlinkCEP's ``IterativeCondition.Context``).

    ``ctx["login"]`` is the list of events matched so far by the stage ``login`` (empty when
    it has none yet; a looping stage sees its own earlier events), ``ctx.times("login")``
    their event times, ``ctx.event_time`` the time of the event under test and ``ctx.start``
    the time of the partial match's first event (``event_time`` itself on the first stage).

    One context object is reused for every condition call of a key, so a condition must
    not keep it: copy what it needs.
    """

    __slots__ = ("_node", "event_time")

    def __init__(self) -> None:
        self._node: Node[V] | None = None
        self.event_time = 0

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

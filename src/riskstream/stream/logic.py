"""The contract between a stateful step's *definition* and its per-key *logic*.

A definition (a window, a velocity counter, a join, a pattern) is immutable configuration.
``definition.build(snapshot)`` makes the logic object that holds one key's state; the
executor keeps one logic per key, feeds it that key's events in arrival order, tells it when
the watermark moves, and stores ``logic.snapshot()`` in a changelogged state store so the
state survives restarts and moves with its partition.

Time is ``int`` epoch milliseconds throughout. The executor guarantees:

* ``on_event`` is only called with events that are not late: ``event_time >= watermark``
  (late events go to the late side output before they reach any logic);
* ``on_watermark(w)`` is called with a non-decreasing ``w`` whenever the watermark reaches
  ``next_deadline()`` (and may be called at other times); it promises that no later event has
  an event time ``< w``, so logic emits what ``w`` completes (windows ending at or before
  ``w``, pattern timeouts, expired join buffers) and drops state older than it needs;
* if ``on_event`` raises, the logic's state must be as it was before the call: the executor
  dead-letters the record and carries on with the same logic;
* a logic whose ``is_empty()`` is true after a call is discarded (its key leaves the store).

Snapshots are plain data (tuples, lists, dicts, numbers, strings, bytes, msgspec Structs)
that ``msgspec.msgpack`` encodes and decodes back into ``definition.snapshot_type``; they are
treated as immutable once returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["Definition", "Logic"]

In_contra = TypeVar("In_contra", contravariant=True)
Out_co = TypeVar("Out_co", covariant=True)
Snap = TypeVar("Snap")
SnapOut_co = TypeVar("SnapOut_co", covariant=True)


@runtime_checkable
class Logic(Protocol[In_contra, Out_co, SnapOut_co]):
    """One key's state for one stateful step."""

    def on_event(self, event_time: int, value: In_contra) -> Sequence[Out_co]:
        """Take one event of this key; return what it emits right away."""
        ...

    def on_watermark(self, watermark: int) -> Sequence[Out_co]:
        """Event time has reached ``watermark``: emit what that completes, forget what expired."""
        ...

    def next_deadline(self) -> int | None:
        """The earliest watermark at which ``on_watermark`` has something to do, if any."""
        ...

    def snapshot(self) -> SnapOut_co:
        """This key's state as plain, immutable data."""
        ...

    def is_empty(self) -> bool:
        """True when the key holds no state worth keeping."""
        ...


@runtime_checkable
class Definition(Protocol[In_contra, Out_co, Snap]):
    """Immutable configuration of a stateful step; builds per-key logic."""

    @property
    def snapshot_type(self) -> Any:
        """The type ``msgspec`` decodes this definition's snapshots into."""
        ...

    def build(self, snapshot: Snap | None = None) -> Logic[In_contra, Out_co, Snap]:
        """A fresh logic (``snapshot is None``) or one restored from ``snapshot``."""
        ...

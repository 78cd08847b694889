"""Session windows: bursts of activity separated by at least ``gap_ms`` of silence.

Each event at ``t`` opens the interval ``[t, t + gap)``; overlapping intervals merge (the
Flink definition). So a session is a maximal run of events whose consecutive times differ by
less than ``gap``, and it is reported as ``[first event time, last event time + gap)`` -
the end is the moment the session is over if nothing else arrives.

Out of order events are placed exactly: an event can extend a session at either end, start
a session of its own between two, or bridge two (or more) sessions, which then merge into one
(their accumulators are merged). A session closes when ``end <= watermark``: no event that is
not late can extend it any more. ``emit="update"`` emits the event's (possibly merged or
extended) session after every event, ``final=False``: a result supersedes every earlier
result whose interval it covers, because sessions only grow. ``emit="close"`` emits each
session once, ``final=True``, when it closes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Generic, TypeVar

import msgspec

from riskstream.stream.windows._common import (
    NOTHING,
    Emit,
    check_aggregations,
    check_emit,
    to_ms,
)
from riskstream.stream.windows.aggregations import Aggregation
from riskstream.stream.windows.aggset import AggregationSet
from riskstream.stream.windows.result import WindowResult
from riskstream.stream.windows.types import AccData

__all__ = ["Session", "SessionLogic", "SessionSnapshot"]

V = TypeVar("V")


class SessionSnapshot(msgspec.Struct, frozen=True, array_like=True):
    """A key's open sessions: ``(start, end, accumulators)``, oldest first."""

    sessions: list[tuple[int, int, list[AccData]]]


class Session(Generic[V]):
    """Session windows with inactivity gap ``gap_ms``.

    ``aggregations``, ``emit`` and ``value_type`` as for
    :class:`~riskstream.stream.windows.fixed.Tumbling`.
    """

    __slots__ = ("_set", "aggregations", "emit", "gap_ms", "value_type")

    def __init__(
        self,
        gap_ms: int | timedelta,
        *,
        aggregations: Mapping[str, Aggregation[V]],
        emit: Emit = "update",
        value_type: type[V] | None = None,
    ) -> None:
        self.gap_ms = to_ms(gap_ms, "gap_ms")
        self.emit = check_emit(emit)
        self.aggregations: Mapping[str, Aggregation[V]] = check_aggregations(aggregations)
        #: The event type, for static typing only: snapshots hold accumulators, never events.
        self.value_type = value_type
        self._set = AggregationSet(dict(self.aggregations))

    def __repr__(self) -> str:
        return f"Session({self.gap_ms}, aggregations={dict(self.aggregations)}, emit={self.emit!r})"

    @property
    def snapshot_type(self) -> type[SessionSnapshot]:
        """The type ``msgspec`` decodes this definition's snapshots into."""
        return SessionSnapshot

    def build(self, snapshot: SessionSnapshot | None = None) -> SessionLogic[V]:
        """A fresh logic, or one restored from ``snapshot``."""
        return SessionLogic(self.gap_ms, self.emit == "close", self._set, snapshot)


class SessionLogic(Generic[V]):
    """One key's open sessions, kept as parallel lists sorted by start (they are disjoint)."""

    __slots__ = ("_accs", "_close", "_ends", "_gap", "_set", "_starts")

    def __init__(
        self, gap: int, close: bool, aggset: AggregationSet, snapshot: SessionSnapshot | None
    ) -> None:
        self._gap = gap
        self._close = close
        self._set = aggset
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._accs: list[list[Any]] = []
        if snapshot is not None:
            for start, end, accs in snapshot.sessions:
                self._starts.append(start)
                self._ends.append(end)
                self._accs.append(aggset.load(accs))

    def on_event(self, event_time: int, value: V) -> Sequence[WindowResult]:
        starts, ends = self._starts, self._ends
        if starts and starts[-1] <= event_time < ends[-1]:  # the common case: the open session
            i = len(starts) - 1
            ends[i] = max(ends[i], event_time + self._gap)
        elif not starts or event_time >= ends[-1]:  # after every session: a new one
            i = len(starts)
            starts.append(event_time)
            ends.append(event_time + self._gap)
            self._accs.append(self._set.create())
        else:
            i = self._place(event_time)
        accs = self._accs[i]
        self._set.fold(accs, event_time, value)
        if self._close:
            return NOTHING
        return (WindowResult(starts[i], ends[i], self._set.values(accs), False),)

    def _place(self, t: int) -> int:
        """Merge ``[t, t + gap)`` into the sessions it overlaps; the index of its session."""
        starts, ends, accs = self._starts, self._ends, self._accs
        lo = bisect_right(ends, t)  # first session ending after t
        hi = bisect_left(starts, t + self._gap)  # first session starting at or after t + gap
        if lo == hi:  # overlaps none: a session of its own
            starts.insert(lo, t)
            ends.insert(lo, t + self._gap)
            accs.insert(lo, self._set.create())
            return lo
        merged = accs[lo]
        for j in range(lo + 1, hi):
            merged = self._set.merge(merged, accs[j])
        start, end = min(starts[lo], t), max(ends[hi - 1], t + self._gap)
        del starts[lo + 1 : hi], ends[lo + 1 : hi], accs[lo + 1 : hi]
        starts[lo], ends[lo], accs[lo] = start, end, merged
        return lo

    def on_watermark(self, watermark: int) -> Sequence[WindowResult]:
        ends = self._ends
        if not ends or ends[0] > watermark:
            return NOTHING
        n = bisect_right(ends, watermark)  # ends are sorted: sessions are disjoint
        out: list[WindowResult] = []
        if self._close:
            values = self._set.values
            out = [
                WindowResult(self._starts[i], ends[i], values(self._accs[i]), True)
                for i in range(n)
            ]
        del self._starts[:n], ends[:n], self._accs[:n]
        return out or NOTHING

    def next_deadline(self) -> int | None:
        return self._ends[0] if self._ends else None

    def snapshot(self) -> SessionSnapshot:
        dump = self._set.dump
        return SessionSnapshot(
            [(s, e, dump(a)) for s, e, a in zip(self._starts, self._ends, self._accs, strict=True)]
        )

    def is_empty(self) -> bool:
        return not self._starts

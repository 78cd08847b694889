"""Exact sliding windows: at every event, the aggregate of the ``size_ms`` that end at it.

For each distinct event time ``t`` of a key there is one window, ``(t - size, t]`` - Flink's
``RANGE BETWEEN size PRECEDING AND CURRENT ROW`` over-window, or Kafka Streams' sliding
windows as seen from each record. It is reported half-open like every window:
``WindowResult(start=t - size + 1, end=t + 1)``. Every event contributes exactly: nothing is
bucketed or approximated.

How: the logic stores each event's extracted inputs (one number or hash per aggregation, not
the event), sorted by time, for as long as a window may still need them - events within
``size`` of the watermark - so memory is bounded by the events of one window span (plus the
not-yet-closed ones in close mode). A sweep (:mod:`~riskstream.stream.windows.sweeps`) slides
across the sorted inputs: each input is added once and removed once, O(1) amortised per
aggregation, min/max through monotonic deques, sums without subtraction.

* ``emit="update"``: each event emits the window ending at it. An out-of-order event also
  changes the windows of the later events within ``size`` after it: those are re-emitted
  with the corrected aggregate (oldest first), as Kafka Streams does. Several events at the
  same time share one window; each emission includes all of them seen so far.
* ``emit="close"``: nothing is emitted on events; when the watermark passes ``t`` (the window
  ``(t - size, t]`` is complete once ``t + 1 <= watermark``) the window ending at each
  distinct event time is emitted once, ``final=True``, in time order.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Final, Generic, TypeVar

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
from riskstream.stream.windows.sweeps import Sweep
from riskstream.stream.windows.types import Input

__all__ = ["NO_WATERMARK", "Sliding", "SlidingLogic", "SlidingSnapshot"]

V = TypeVar("V")

#: "No watermark yet" (the int64 minimum, so snapshots stay msgpack-encodable).
NO_WATERMARK: Final = -(2**63)


class SlidingSnapshot(msgspec.Struct, frozen=True, array_like=True):
    """A key's stored events: their times (sorted) and each one's inputs per aggregation.

    ``emitted_until`` (close mode): the windows ending before it have been emitted.
    """

    times: list[int]
    inputs: list[list[Input]]
    emitted_until: int = NO_WATERMARK


class Sliding(Generic[V]):
    """Exact sliding windows of ``size_ms``: the aggregate over ``(t - size, t]`` at each event.

    ``aggregations``, ``emit`` and ``value_type`` as for
    :class:`~riskstream.stream.windows.fixed.Tumbling`.
    """

    __slots__ = ("_set", "aggregations", "emit", "size_ms", "value_type")

    def __init__(
        self,
        size_ms: int | timedelta,
        *,
        aggregations: Mapping[str, Aggregation[V]],
        emit: Emit = "update",
        value_type: type[V] | None = None,
    ) -> None:
        self.size_ms = to_ms(size_ms, "size_ms")
        self.emit = check_emit(emit)
        self.aggregations: Mapping[str, Aggregation[V]] = check_aggregations(aggregations)
        #: The event type, for static typing only: snapshots hold inputs, never events.
        self.value_type = value_type
        self._set = AggregationSet(dict(self.aggregations))

    def __repr__(self) -> str:
        return (
            f"Sliding({self.size_ms}, aggregations={dict(self.aggregations)}, emit={self.emit!r})"
        )

    @property
    def snapshot_type(self) -> type[SlidingSnapshot]:
        """The type ``msgspec`` decodes this definition's snapshots into."""
        return SlidingSnapshot

    def build(self, snapshot: SlidingSnapshot | None = None) -> SlidingLogic[V]:
        """A fresh logic, or one restored from ``snapshot``."""
        return SlidingLogic(self.size_ms, self.emit == "close", self._set, snapshot)


class SlidingLogic(Generic[V]):
    """One key's stored inputs and the sweep over them.

    The sweep covers the stored events ``[lo, hi)``: the window ending at event ``hi - 1``.
    In update mode ``hi`` is always the number of events (the window of the newest event);
    in close mode it is the number of events whose windows were emitted.
    """

    __slots__ = ("_close", "_emitted", "_hi", "_lo", "_set", "_size", "_sweeps", "_times", "_xs")

    def __init__(
        self, size: int, close: bool, aggset: AggregationSet, snapshot: SlidingSnapshot | None
    ) -> None:
        self._size = size
        self._close = close
        self._set = aggset
        self._times: list[int] = []
        self._xs: list[tuple[Input, ...]] = []
        self._emitted = NO_WATERMARK
        if snapshot is not None:
            self._times = list(snapshot.times)
            self._xs = [tuple(x) for x in snapshot.inputs]
            self._emitted = snapshot.emitted_until
        hi = bisect_left(self._times, self._emitted) if close else len(self._times)
        self._rebuild(hi)

    def _rebuild(self, hi: int) -> None:
        """Point the sweep at the window ending at event ``hi - 1``, from scratch."""
        self._sweeps: list[Sweep] = self._set.sweeps()
        self._lo = self._hi = (
            bisect_right(self._times, self._times[hi - 1] - self._size) if hi else 0
        )
        while self._hi < hi:
            self._push()

    def _push(self) -> None:
        self._set.push(self._sweeps, self._xs[self._hi])
        self._hi += 1

    def _evict(self, bound: int) -> None:
        """Slide the sweep's old end past the events at or before ``bound``."""
        times, xs, lo, hi = self._times, self._xs, self._lo, self._hi
        pop, sweeps = self._set.pop, self._sweeps
        while lo < hi and times[lo] <= bound:
            pop(sweeps, xs[lo])
            lo += 1
        self._lo = lo

    def _result(self, end_time: int, final: bool) -> WindowResult:
        return WindowResult(
            end_time - self._size + 1, end_time + 1, self._set.sweep_values(self._sweeps), final
        )

    def on_event(self, event_time: int, value: V) -> Sequence[WindowResult]:
        times = self._times
        x = self._set.extract(value)
        if not times or event_time >= times[-1]:
            times.append(event_time)
            self._xs.append(x)
            if self._close:
                return NOTHING
            self._push()  # in order: the window of this event is one step on from the last one
            self._evict(event_time - self._size)
            return (self._result(event_time, False),)
        i = bisect_right(times, event_time)  # after equal times: it arrived last
        times.insert(i, event_time)
        self._xs.insert(i, x)
        if self._close:
            return NOTHING  # i >= hi: the sweep only covers times below the watermark
        return self._replay_from(event_time)

    def _replay_from(self, t: int) -> list[WindowResult]:
        """Rebuild the sweep from the window ending at ``t`` up to the newest event and
        re-emit every window the out-of-order event at ``t`` changed (those ending in
        ``[t, t + size)``)."""
        times, n, size = self._times, len(self._times), self._size
        self._sweeps = self._set.sweeps()
        self._lo = self._hi = bisect_right(times, t - size)
        out: list[WindowResult] = []
        while self._hi < n:
            now = times[self._hi]
            self._push()
            if self._hi < n and times[self._hi] == now:
                continue  # one window per distinct time: emit after its last event
            self._evict(now - size)
            if t <= now < t + size:
                out.append(self._result(now, False))
        return out

    def on_watermark(self, watermark: int) -> Sequence[WindowResult]:
        times, size = self._times, self._size
        out: list[WindowResult] = []
        if self._close:
            n = len(times)
            while self._hi < n and times[self._hi] < watermark:
                now = times[self._hi]
                self._push()
                if self._hi < n and times[self._hi] == now:
                    continue
                self._evict(now - size)
                out.append(self._result(now, True))
            self._emitted = max(self._emitted, watermark)
        # Windows still to come end at or after the watermark: older events are done with.
        self._evict(watermark - size)
        dead = bisect_right(times, watermark - size)
        if dead:
            del times[:dead], self._xs[:dead]
            self._lo -= dead
            self._hi -= dead
        return out or NOTHING

    def next_deadline(self) -> int | None:
        times = self._times
        if not times:
            return None
        forget = times[0] + self._size
        if self._close and self._hi < len(times):
            return min(forget, times[self._hi] + 1)
        return forget

    def snapshot(self) -> SlidingSnapshot:
        return SlidingSnapshot(list(self._times), [list(x) for x in self._xs], self._emitted)

    def is_empty(self) -> bool:
        return not self._times

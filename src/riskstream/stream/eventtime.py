"""Event time inside a task: per-input watermarks that also advance when inputs go idle,
and the timer queue that fires per-key deadlines as the watermark passes them."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Generic, TypeVar

__all__ = ["NO_WATERMARK", "TimerQueue", "WatermarkTracker"]

NO_WATERMARK = -(2**62)

T = TypeVar("T")


class WatermarkTracker:
    """The watermark of one task (one partition of each of its input topics).

    Each input's watermark is the highest event time it delivered minus the allowed
    lateness. The task's watermark is the minimum over the *active* inputs: an input that
    delivered nothing for ``idle_timeout_ms`` of processing time stops holding the others
    back (Flink's idleness). When every input is idle, event time is taken to move on with
    processing time, so windows and pattern timeouts of a partition that went quiet still
    close. The watermark never goes backwards.
    """

    __slots__ = (
        "_active",
        "_idle_ms",
        "_last_seen",
        "_lateness",
        "_low",
        "_max_time",
        "_now",
        "_watermark",
    )

    def __init__(self, *, allowed_lateness_ms: int, idle_timeout_ms: int) -> None:
        self._lateness = allowed_lateness_ms
        self._idle_ms = idle_timeout_ms
        self._max_time: dict[str, int] = {}
        self._last_seen: dict[str, int] = {}
        self._watermark = NO_WATERMARK
        # The last recomputation: its processing time (None: no input was active, or it is
        # out of date), the inputs active then and the lowest of their highest event times.
        self._now: int | None = None
        self._active: list[str] = []
        self._low = NO_WATERMARK

    @property
    def watermark(self) -> int:
        return self._watermark

    def is_late(self, event_time: int) -> bool:
        return event_time < self._watermark

    def register(self, source: str, now_ms: int) -> None:
        """Declare an input before its first record, so it holds the watermark back until it
        delivers or goes idle (otherwise the first input to deliver would set it alone and
        the others' earlier records would all be late)."""
        self._max_time.setdefault(source, NO_WATERMARK)
        self._last_seen.setdefault(source, now_ms)
        self._now = None

    def observe(self, source: str, event_time: int, now_ms: int) -> int:
        """Account for one event; returns the (possibly advanced) watermark."""
        highs = self._max_time
        old = highs.get(source, NO_WATERMARK)
        if now_ms == self._now and self._last_seen.get(source) == now_ms:
            # The same processing time as the last recomputation, at which this input was
            # already active: the active inputs are the same, only this one's time may rise.
            if event_time <= old:
                return self._watermark
            highs[source] = event_time
            if old > self._low:  # it was not the slowest active input: the minimum stays
                return self._watermark
            # It was the slowest: the new minimum of the same active inputs, without the
            # idleness pass of ``advance`` (one active input: its own time).
            active = self._active
            low = event_time if len(active) == 1 else min(map(highs.__getitem__, active))
            self._low = low
            candidate = low - self._lateness
            if candidate > self._watermark:  # noqa: PLR1730  # hot path
                self._watermark = candidate
            return self._watermark
        if event_time > old:
            highs[source] = event_time
        self._last_seen[source] = now_ms
        return self.advance(now_ms)

    def advance(self, now_ms: int) -> int:
        """Recompute from the inputs' state at processing time ``now_ms``."""
        idle_ms, last_seen = self._idle_ms, self._last_seen
        active = [source for source in self._max_time if now_ms - last_seen[source] < idle_ms]
        if active:
            low = min(map(self._max_time.__getitem__, active))
            candidate = low - self._lateness
            self._now, self._low, self._active = now_ms, low, active
        else:
            self._now = None
            if self._max_time:
                # All idle: let event time flow with processing time since the last input
                # went quiet.
                quiet_for = now_ms - max(last_seen.values()) - idle_ms
                candidate = max(self._max_time.values()) + max(quiet_for, 0) - self._lateness
            else:
                candidate = NO_WATERMARK
        if candidate > self._watermark:  # noqa: PLR1730  # hot path: a compare beats max()
            self._watermark = candidate
        return self._watermark

    def state(self) -> dict[str, int]:
        """Highest event time per input, to checkpoint with the task."""
        return dict(self._max_time)

    def restore(self, max_times: dict[str, int], now_ms: int) -> None:
        for source, high in max_times.items():
            self._max_time[source] = high
            self._last_seen[source] = now_ms
        self.advance(now_ms)


class TimerQueue(Generic[T]):
    """Deadlines per owner, fired in time order (ties: in the order they were added).

    :meth:`add` ignores a deadline the owner already has pending; :meth:`push` is for owners
    that keep track of that themselves (and spares the bookkeeping).
    """

    __slots__ = ("_heap", "_pending", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, T]] = []
        self._pending: set[tuple[int, T]] = set()
        self._seq = 0

    def add(self, at: int, owner: T) -> None:
        entry = (at, owner)
        if entry in self._pending:
            return
        self._pending.add(entry)
        self.push(at, owner)

    def push(self, at: int, owner: T) -> None:
        """Add a deadline without checking for the same one pending (the owner has none)."""
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, owner))

    def due(self, until: int) -> Iterable[tuple[int, T]]:
        """Pop every deadline ``<= until``, earliest first (new ones added meanwhile included)."""
        heap, pending, pop = self._heap, self._pending, heapq.heappop
        while heap and heap[0][0] <= until:
            at, _, owner = pop(heap)
            if pending:
                pending.discard((at, owner))
            yield at, owner

    def __len__(self) -> int:
        return len(self._heap)

    def any_due(self, until: int) -> bool:
        """Whether a deadline ``<= until`` is pending (cheaper than starting :meth:`due`)."""
        heap = self._heap
        return bool(heap) and heap[0][0] <= until

    def next_at(self) -> int | None:
        return self._heap[0][0] if self._heap else None

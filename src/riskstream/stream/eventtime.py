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

    __slots__ = ("_idle_ms", "_last_seen", "_lateness", "_max_time", "_watermark")

    def __init__(self, *, allowed_lateness_ms: int, idle_timeout_ms: int) -> None:
        self._lateness = allowed_lateness_ms
        self._idle_ms = idle_timeout_ms
        self._max_time: dict[str, int] = {}
        self._last_seen: dict[str, int] = {}
        self._watermark = NO_WATERMARK

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

    def observe(self, source: str, event_time: int, now_ms: int) -> int:
        """Account for one event; returns the (possibly advanced) watermark."""
        if event_time > self._max_time.get(source, NO_WATERMARK):
            self._max_time[source] = event_time
        self._last_seen[source] = now_ms
        return self.advance(now_ms)

    def advance(self, now_ms: int) -> int:
        """Recompute from the inputs' state at processing time ``now_ms``."""
        active = [
            high
            for source, high in self._max_time.items()
            if now_ms - self._last_seen[source] < self._idle_ms
        ]
        if active:
            candidate = min(active) - self._lateness
        elif self._max_time:
            # All idle: let event time flow with processing time since the last input went quiet.
            quiet_for = now_ms - max(self._last_seen.values()) - self._idle_ms
            candidate = max(self._max_time.values()) + max(quiet_for, 0) - self._lateness
        else:
            candidate = NO_WATERMARK
        self._watermark = max(self._watermark, candidate)
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
    """Deadlines per owner, fired in time order; registering the same deadline twice is a no-op."""

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
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, owner))

    def due(self, until: int) -> Iterable[tuple[int, T]]:
        """Pop every deadline ``<= until``, earliest first (new ones added meanwhile included)."""
        heap = self._heap
        while heap and heap[0][0] <= until:
            at, _, owner = heapq.heappop(heap)
            self._pending.discard((at, owner))
            yield at, owner

    def __len__(self) -> int:
        return len(self._heap)

    def next_at(self) -> int | None:
        return self._heap[0][0] if self._heap else None

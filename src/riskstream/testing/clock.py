"""A clock that only moves when told to."""

from __future__ import annotations

__all__ = ["VirtualClock"]


class VirtualClock:
    """Processing time for tests: epoch ms that advance explicitly."""

    __slots__ = ("_now",)

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms

    def now(self) -> int:
        return self._now

    def advance(self, ms: int) -> int:
        if ms < 0:
            raise ValueError("time only moves forward")
        self._now += ms
        return self._now

    def set(self, now_ms: int) -> None:
        if now_ms < self._now:
            raise ValueError("time only moves forward")
        self._now = now_ms

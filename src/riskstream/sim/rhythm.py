"""When sessions start: a Poisson process whose rate follows the hour of day and day of week.

The intensity is piecewise constant per hour of simulated (UTC) time: a quiet night, a
morning climb, a lunch bump and an evening peak, with Sundays and Mondays busiest. Arrivals
are drawn by time rescaling (an exponential amount of integrated intensity is walked off hour
by hour), so a varying rate costs no rejected draws.
"""

from __future__ import annotations

import random
from typing import Final

__all__ = ["DAY_FACTORS", "HOUR_FACTORS", "Arrivals", "intensity"]

HOUR_MS: Final = 3_600_000

_HOURS: Final = (
    0.42, 0.26, 0.17, 0.13, 0.12, 0.16, 0.32, 0.58, 0.84, 1.0, 1.1, 1.16,
    1.24, 1.18, 1.1, 1.08, 1.12, 1.24, 1.44, 1.66, 1.78, 1.66, 1.24, 0.76,
)  # fmt: skip
_DAYS: Final = (1.08, 0.98, 0.96, 0.97, 0.95, 0.92, 1.14)  # Monday .. Sunday

HOUR_FACTORS: Final = tuple(h * 24 / sum(_HOURS) for h in _HOURS)
"""Relative session rate per UTC hour of day (mean 1)."""
DAY_FACTORS: Final = tuple(d * 7 / sum(_DAYS) for d in _DAYS)
"""Relative session rate per day of week, Monday first (mean 1)."""

# 1970-01-01 was a Thursday: day index 3 in a Monday-first week.
_EPOCH_WEEKDAY: Final = 3


def intensity(time_ms: float) -> float:
    """The rhythm factor at an instant (mean 1 over a week)."""
    hour = int(time_ms // HOUR_MS)
    return HOUR_FACTORS[hour % 24] * DAY_FACTORS[(hour // 24 + _EPOCH_WEEKDAY) % 7]


class Arrivals:
    """Successive session start times for a mean rate, with or without the rhythm."""

    __slots__ = ("_hour_end", "_rate", "_rhythm", "_rng", "_scaled", "now")

    def __init__(
        self, rng: random.Random, start_ms: float, per_ms: float, *, rhythm: bool = True
    ) -> None:
        if per_ms <= 0:
            raise ValueError("the arrival rate must be positive")
        self._rng = rng
        self._rate = per_ms
        self._rhythm = rhythm
        self.now = float(start_ms)
        self._hour_end = -1.0
        self._scaled = per_ms

    @property
    def rate_per_ms(self) -> float:
        return self._rate

    @rate_per_ms.setter
    def rate_per_ms(self, value: float) -> None:
        self._rate = value
        self._hour_end = -1.0  # recompute the scaled rate on the next draw

    def next(self) -> float:
        """The next arrival time (epoch ms, fractional)."""
        need = self._rng.expovariate(1.0)
        if not self._rhythm:
            self.now += need / self._rate
            return self.now
        now = self.now
        while True:
            if now >= self._hour_end:
                self._hour_end = (now // HOUR_MS + 1) * HOUR_MS
                self._scaled = self._rate * intensity(now)
            available = (self._hour_end - now) * self._scaled
            if need <= available:
                self.now = now + need / self._scaled
                return self.now
            need -= available
            now = self._hour_end

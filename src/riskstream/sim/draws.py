"""Fast random draws for the simulator's hot path, all from one ``random.Random``.

``random.gauss`` and ``randrange`` are pure Python and dominate a naive generator; here a
normal deviate is one uniform number looked up in a table of normal quantiles (8192
equal-probability cells, tails to about 3.7 standard deviations: plenty for traffic), an
index is one uniform number scaled, and a weighted choice is one uniform number and a
bisection.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Sequence
from statistics import NormalDist
from typing import Final, Generic, TypeVar

__all__ = ["Weighted", "below", "lognormal", "normal"]

T = TypeVar("T")

_CELLS: Final = 8192
_QUANTILES: Final = tuple(NormalDist().inv_cdf((i + 0.5) / _CELLS) for i in range(_CELLS))


def normal(rng: random.Random, mu: float = 0.0, sigma: float = 1.0) -> float:
    """A normal deviate (quantile-table approximation)."""
    return mu + sigma * _QUANTILES[int(rng.random() * _CELLS)]


def lognormal(rng: random.Random, median: float, sigma: float, low: float, high: float) -> float:
    """A log-normal deviate with the given median and shape, clamped to ``[low, high]``."""
    value = median * math.exp(sigma * _QUANTILES[int(rng.random() * _CELLS)])
    return low if value < low else high if value > high else value


def below(rng: random.Random, n: int) -> int:
    """A uniform index in ``range(n)``."""
    return int(rng.random() * n)


class Weighted(Generic[T]):
    """Draws items by weight with one uniform number and a bisection."""

    __slots__ = ("_cumulative", "_items", "_total")

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        if not items or len(items) != len(weights):
            raise ValueError("need as many weights as items, at least one")
        self._items = tuple(items)
        self._cumulative = list(itertools.accumulate(weights))
        self._total = self._cumulative[-1]
        if self._total <= 0:
            raise ValueError("weights must not all be zero")

    def pick(self, rng: random.Random) -> T:
        index = bisect.bisect_right(self._cumulative, rng.random() * self._total)
        return self._items[min(index, len(self._items) - 1)]

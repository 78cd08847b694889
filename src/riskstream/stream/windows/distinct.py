"""The bounded distinct count aggregation."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Final, TypeVar

from riskstream.errors import ConfigError
from riskstream.stream.windows.aggregations import Aggregation, name_of
from riskstream.stream.windows.hashing import stable_hash
from riskstream.stream.windows.sweeps import DistinctSweep, Sweep
from riskstream.stream.windows.types import AccData, Input

__all__ = ["DEFAULT_DISTINCT_LIMIT", "DistinctCount"]

V = TypeVar("V")

#: Distinct values a :class:`DistinctCount` tracks exactly per window by default.
DEFAULT_DISTINCT_LIMIT: Final = 1_000


class DistinctCount(Aggregation[V]):
    """Number of distinct getter values in the window, exact up to ``limit``.

    Values are kept as 64-bit :func:`~riskstream.stream.windows.hashing.stable_hash` hashes
    (8 bytes each however long the value; collisions have probability below n²/2⁶⁵).
    While a window holds at most ``limit`` distinct values the result is their exact number.
    When a value would make it ``limit + 1`` the window is *saturated*: its hashes are dropped
    (memory stays bounded by ``limit`` hashes per window) and its result is ``limit + 1``
    from then on, meaning "more than ``limit``". So ``result <= limit`` is exact and
    ``result == limit + 1`` is a lower bound. (Exact sliding windows recount each window from
    their stored events, so a sliding window is saturated only while it holds more than
    ``limit`` distinct values.) The accumulator is a set of hashes, ``None`` once saturated.
    """

    __slots__ = ("getter", "limit")

    def __init__(
        self, getter: Callable[[V], Hashable | None], *, limit: int = DEFAULT_DISTINCT_LIMIT
    ) -> None:
        if not callable(getter):
            raise ConfigError(f"DistinctCount needs a callable getter, got {getter!r}")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ConfigError(f"DistinctCount limit must be an int >= 1, got {limit!r}")
        self.getter = getter
        self.limit = limit

        def extract(value: V) -> Input:
            key = getter(value)
            return None if key is None else stable_hash(key)

        self.extract = extract

    def __repr__(self) -> str:
        return f"DistinctCount({name_of(self.getter)}, limit={self.limit})"

    def create(self) -> set[int] | None:
        return set()

    def add(self, acc: set[Input] | None, time: int, x: Input) -> set[Input] | None:
        if acc is None or x is None:
            return acc
        acc.add(x)
        return None if len(acc) > self.limit else acc

    def merge(self, a: set[Input] | None, b: set[Input] | None) -> set[Input] | None:
        if a is None or b is None:
            return None
        a |= b
        return None if len(a) > self.limit else a

    def result(self, acc: set[Input] | None) -> int:
        return self.limit + 1 if acc is None else len(acc)

    def sweep(self) -> Sweep:
        return DistinctSweep(self.limit)

    def dump(self, acc: set[int] | None) -> AccData:
        return None if acc is None else sorted(acc)

    def load(self, data: AccData) -> set[int] | None:
        if data is not None and not isinstance(data, list):
            raise TypeError(f"a DistinctCount accumulator is a list of hashes, got {data!r}")
        return None if data is None else {int(h) for h in data}

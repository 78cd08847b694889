"""In-order sliding accumulators: the exact aggregate of a window that slides over sorted events.

An exact :class:`~riskstream.stream.windows.sliding.Sliding` window keeps its events (their
extracted inputs, sorted by time) and sweeps a window across them: inputs enter at the new
end (:meth:`Sweep.push`) and leave from the old end (:meth:`Sweep.pop`) in the order they
entered. Under that discipline every aggregation has an O(1) (amortised) exact form:

* count: a counter; distinct count: a multiset of hashes;
* sum and mean: "two stacks" - the old part is a stack of suffix sums, the new part a running
  sum - so a sum is never *subtracted* and float results do not drift, however long the
  stream; every result is a fresh sum of the window's own inputs;
* min and max: a monotonic deque of (position, input);
* last: the newest non-missing input and its position.

A missing input (``None``, the getter had no value) takes its place in the order but is not
aggregated. Sweeps are runtime helpers: never snapshotted, rebuilt from the stored events.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque

from riskstream.stream.windows.types import Input, Result

__all__ = [
    "CountSweep",
    "DistinctSweep",
    "LastSweep",
    "MaxSweep",
    "MeanSweep",
    "MinSweep",
    "SumSweep",
    "Sweep",
]


class Sweep(ABC):
    """The aggregate of a FIFO window of inputs."""

    __slots__ = ()

    @abstractmethod
    def push(self, x: Input) -> None:
        """Add ``x`` at the new end of the window."""

    @abstractmethod
    def pop(self, x: Input) -> None:
        """Remove the oldest input still in the window (which is ``x``)."""

    @abstractmethod
    def result(self) -> Result:
        """The aggregate of the inputs in the window."""


class CountSweep(Sweep):
    """Number of inputs in the window (missing ones included: count counts events)."""

    __slots__ = ("_n",)

    def __init__(self) -> None:
        self._n = 0

    def push(self, x: Input) -> None:
        self._n += 1

    def pop(self, x: Input) -> None:
        self._n -= 1

    def result(self) -> Result:
        return self._n


class SumSweep(Sweep):
    """Sum of the inputs in the window, computed without subtraction (no float drift)."""

    __slots__ = ("_back", "_back_sum", "_front")

    def __init__(self) -> None:
        self._front: list[int | float] = []  # suffix sums of older inputs, oldest on top
        self._back: list[int | float] = []  # newer inputs, in order
        self._back_sum: int | float = 0

    def push(self, x: Input) -> None:
        v = 0 if x is None else x
        self._back.append(v)
        self._back_sum += v

    def pop(self, x: Input) -> None:
        if not self._front:
            suffix: int | float = 0
            front = self._front
            for v in reversed(self._back):
                suffix += v
                front.append(suffix)
            self._back = []
            self._back_sum = 0
        self._front.pop()

    def result(self) -> int | float:
        return (self._front[-1] if self._front else 0) + self._back_sum


class MinSweep(Sweep):
    """Smallest input in the window: a deque of (position, input), increasing inputs."""

    __slots__ = ("_deque", "_popped", "_pushed")

    def __init__(self) -> None:
        self._deque: deque[tuple[int, int | float]] = deque()
        self._pushed = 0
        self._popped = 0

    def push(self, x: Input) -> None:
        self._pushed += 1
        if x is None:
            return
        dq = self._deque
        while dq and dq[-1][1] >= x:  # never the minimum again while x is in the window
            dq.pop()
        dq.append((self._pushed, x))

    def pop(self, x: Input) -> None:
        self._popped += 1
        dq = self._deque
        if dq and dq[0][0] == self._popped:
            dq.popleft()

    def result(self) -> Result:
        return self._deque[0][1] if self._deque else None


class MaxSweep(MinSweep):
    """Largest input in the window: a deque of (position, input), decreasing inputs."""

    __slots__ = ()

    def push(self, x: Input) -> None:
        self._pushed += 1
        if x is None:
            return
        dq = self._deque
        while dq and dq[-1][1] <= x:
            dq.pop()
        dq.append((self._pushed, x))


class MeanSweep(Sweep):
    """Mean of the non-missing inputs in the window (``None`` when there are none)."""

    __slots__ = ("_n", "_sum")

    def __init__(self) -> None:
        self._sum = SumSweep()
        self._n = 0

    def push(self, x: Input) -> None:
        self._sum.push(x)
        if x is not None:
            self._n += 1

    def pop(self, x: Input) -> None:
        self._sum.pop(x)
        if x is not None:
            self._n -= 1

    def result(self) -> Result:
        return self._sum.result() / self._n if self._n else None


class LastSweep(Sweep):
    """Newest non-missing input in the window.

    Only the newest one is kept: it can leave the window only after every older input did.
    """

    __slots__ = ("_last", "_last_at", "_popped", "_pushed")

    def __init__(self) -> None:
        self._pushed = 0
        self._popped = 0
        self._last: Input = None
        self._last_at = 0

    def push(self, x: Input) -> None:
        self._pushed += 1
        if x is not None:
            self._last, self._last_at = x, self._pushed

    def pop(self, x: Input) -> None:
        self._popped += 1

    def result(self) -> Result:
        return self._last if self._last_at > self._popped else None


class DistinctSweep(Sweep):
    """Distinct hashes in the window: exact up to ``limit``, then ``limit + 1`` (saturated)."""

    __slots__ = ("_counts", "_limit")

    def __init__(self, limit: int) -> None:
        self._counts: dict[int | float, int] = {}
        self._limit = limit

    def push(self, x: Input) -> None:
        if x is not None:
            self._counts[x] = self._counts.get(x, 0) + 1

    def pop(self, x: Input) -> None:
        if x is not None:
            left = self._counts[x] - 1
            if left:
                self._counts[x] = left
            else:
                del self._counts[x]

    def result(self) -> Result:
        n = len(self._counts)
        return n if n <= self._limit else self._limit + 1

"""The state of a ``count``/``sum``/``mean``/``min``/``max``/``ratio`` feature: the latest
touches as they came, and time buckets summing every older one.

The window rule, the resolution and the bounds are those of :mod:`.aggregates`.
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from math import inf
from typing import Final, TypeAlias

import msgspec

from riskstream.fraud.features.spec import AggregateSpec, Measure
from riskstream.fraud.features.touch import Touch

__all__ = [
    "BUCKETS_PER_WINDOW",
    "MIN_BUCKET_MS",
    "TAIL",
    "Buckets",
    "bucket_width",
    "compile_buckets",
    "retention_ms",
]

#: A window is cut into this many buckets (fewer for windows under 64 s).
BUCKETS_PER_WINDOW: Final = 64
#: The narrowest bucket: 1 s.
MIN_BUCKET_MS: Final = 1_000
#: Latest touches each bucketed feature keeps exactly, beside its buckets.
TAIL: Final = 8

_COUNT, _SUM, _MIN, _MAX, _RATIO = range(5)
_MODES: Final = {
    Measure.COUNT: _COUNT,
    Measure.SUM: _SUM,
    Measure.MEAN: _SUM,
    Measure.MIN: _MIN,
    Measure.MAX: _MAX,
    Measure.RATIO: _RATIO,
}
# a new bucket's x before its first value is combined in (count keeps no values)
_X0: Final = {
    Measure.SUM: 0.0,
    Measure.MEAN: 0.0,
    Measure.RATIO: 0.0,
    Measure.MIN: inf,
    Measure.MAX: -inf,
}


def bucket_width(horizon_ms: int) -> int:
    """The bucket width of a window: ``max(1 s, horizon // 64)`` ms."""
    return max(MIN_BUCKET_MS, horizon_ms // BUCKETS_PER_WINDOW)


def retention_ms(horizon_ms: int) -> int:
    """How far behind its newest touch a feature keeps state: ``horizon + horizon // 8``."""
    return horizon_ms + horizon_ms // 8


class Buckets(msgspec.Struct, array_like=True, gc=False, tag=1):
    """One ``count``/``sum``/``mean``/``min``/``max``/``ratio`` feature: its latest
    :data:`TAIL` touches as they came, and buckets summing every older one.

    ``keys``/``n``/``x`` are parallel lists, ascending by bucket, and so are ``tt``/``tx``
    by time; ``x`` and ``tx`` are empty for ``count``. Every tail time is at least ``m``.
    """

    sig: int
    """Hash of the feature's definition."""
    m: int = 0
    """Latest touch time held in the buckets (0 while there are none)."""
    keys: list[int] = msgspec.field(default_factory=list)
    """Bucket index: ``time // width``."""
    n: list[int] = msgspec.field(default_factory=list)
    """Touches in the bucket (``ratio``: touches of the denominator kind)."""
    x: list[float] = msgspec.field(default_factory=list)
    """Sum, min or max of the field in the bucket (``ratio``: numerator touches)."""
    tt: list[int] = msgspec.field(default_factory=list)
    """Times of the tail touches, ascending."""
    tx: list[float] = msgspec.field(default_factory=list)
    """Their values (``ratio``: 1.0 a numerator touch, 0.0 a denominator touch)."""


_Add: TypeAlias = Callable[[Buckets, int, float, int], None]
_Step: TypeAlias = Callable[[Buckets, Touch], None]
_Read: TypeAlias = Callable[[Buckets | None, int], float | int | None]


def compile_buckets(spec: AggregateSpec, sig: int) -> tuple[Callable[[], Buckets], _Step, _Read]:
    """Make a new entry, apply a touch the spec records, read as of a time.

    ``step`` expects a touch the spec records (its kind, its conditions, a usable field).
    """
    measure = spec.measure
    value: Callable[[Touch], float] | None = None  # count: no value
    if measure is Measure.RATIO:
        numerator = spec.kinds[0]

        def value(touch: Touch) -> float:
            return 1.0 if touch.kind == numerator else 0.0

    elif measure is not Measure.COUNT:
        value = operator.attrgetter(spec.field or "")  # usable: checked with the conditions

    def make() -> Buckets:
        return Buckets(sig)

    step = _stepper(_adder(measure, spec.horizon_ms), value)
    return make, step, _reader(measure, spec.horizon_ms)


def _stepper(add: _Add, value: Callable[[Touch], float] | None) -> _Step:
    valued = value is not None

    def step(b: Buckets, touch: Touch) -> None:
        """Hold the touch in the tail; move the oldest of a full tail into its bucket."""
        t = touch.time
        x = value(touch) if value is not None else 0.0
        tt = b.tt
        if len(tt) >= TAIL:
            if t < tt[0]:  # older than the whole tail: straight into its bucket
                add(b, t, x, tt[-1])
                return
            if t >= tt[-1]:
                tt.append(t)
                if valued:
                    b.tx.append(x)
            else:
                i = bisect_right(tt, t)
                tt.insert(i, t)
                if valued:
                    b.tx.insert(i, x)
            add(b, tt.pop(0), b.tx.pop(0) if valued else 0.0, tt[-1])
        elif not tt or t >= tt[-1]:
            tt.append(t)
            if valued:
                b.tx.append(x)
        else:
            i = bisect_right(tt, t)
            tt.insert(i, t)
            if valued:
                b.tx.insert(i, x)

    return step


def _adder(measure: Measure, horizon: int) -> _Add:
    width = bucket_width(horizon)
    keep = retention_ms(horizon)
    mode = _MODES[measure]
    # a new bucket's x before its first value is combined in; None: no values (count)
    x0 = _X0.get(measure)
    valued = x0 is not None
    blank = x0 if x0 is not None else 0.0

    def add(b: Buckets, t: int, x: float, newest: int) -> None:
        """Combine one touch into its bucket (``newest``: the latest time held)."""
        k = t // width
        cut = (newest - keep) // width
        if k < cut:  # a late touch no kept read can see
            return
        if t > b.m:  # noqa: PLR1730 - hot path: a compare beats max()
            b.m = t
        keys = b.keys
        if keys and keys[-1] == k:  # the usual case: the newest bucket
            i = len(keys) - 1
        elif not keys or keys[-1] < k:
            keys.append(k)
            b.n.append(0)
            if valued:
                b.x.append(blank)
            if keys[0] < cut:  # time moved on: forget what no kept read can see
                j = bisect_left(keys, cut)
                del keys[:j], b.n[:j]
                if valued:
                    del b.x[:j]
            i = len(keys) - 1
        else:
            i = bisect_left(keys, k)
            if keys[i] != k:
                keys.insert(i, k)
                b.n.insert(i, 0)
                if valued:
                    b.x.insert(i, blank)
        if mode == _COUNT:
            b.n[i] += 1
        elif mode == _SUM:
            b.n[i] += 1
            b.x[i] += x
        elif mode == _RATIO:  # x: 1.0 a numerator touch, 0.0 a denominator touch
            if x:
                b.x[i] += 1.0
            else:
                b.n[i] += 1
        else:
            b.n[i] += 1
            if (x < b.x[i]) if mode == _MIN else (x > b.x[i]):
                b.x[i] = x

    return add


def _reader(measure: Measure, horizon: int) -> _Read:
    """Read the buckets ``keys[lo:hi]`` and tail touches ``tt[i:j]`` a read at ``at`` takes
    (module docstring), then combine them as ``measure`` says."""
    width = bucket_width(horizon)
    mode = _MODES[measure]
    empty: float | int | None = 0 if mode == _COUNT else 0.0 if measure is Measure.SUM else None
    mean = measure is Measure.MEAN
    pick = min if mode == _MIN else max

    def read(b: Buckets | None, at: int) -> float | int | None:
        if b is None:
            return empty
        start = (at - horizon) // width * width
        tt = b.tt  # never empty: an entry is made for a touch
        if tt[-1] < start:  # every touch held is older than the window (buckets <= tail)
            return empty
        j = len(tt) if tt[-1] < at else bisect_left(tt, at)
        i = 0 if tt[0] >= start else bisect_left(tt, start, 0, j)
        keys = b.keys
        lo = hi = 0
        if keys and b.m >= start:  # some bucket may be in the window
            first = start // width
            lo = 0 if keys[0] >= first else bisect_left(keys, first)
            hi = len(keys) if b.m < at else bisect_left(keys, at // width, lo)
        if mode == _COUNT:
            return j - i + sum(b.n[lo:hi]) if hi > lo else j - i
        if mode == _SUM:
            total = sum(b.tx[i:j]) + sum(b.x[lo:hi]) if hi > lo else sum(b.tx[i:j])
            if not mean:
                return float(total)
            count = j - i + sum(b.n[lo:hi]) if hi > lo else j - i
            return total / count if count else None
        if mode == _RATIO:
            hits = sum(b.tx[i:j])
            total = j - i - hits
            if hi > lo:
                hits += sum(b.x[lo:hi])
                total += sum(b.n[lo:hi])
            return hits / total if total else None
        if hi > lo:
            best = pick(b.x[lo:hi])
            return float(pick(best, pick(b.tx[i:j]))) if j > i else float(best)
        return float(pick(b.tx[i:j])) if j > i else None

    return read

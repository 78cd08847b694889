"""Multi-horizon velocity counters: count, sum and distinct count per key over several horizons.

``Velocity(horizons=(1 min, 1 h, 24 h, 7 d, 30 d), value=..., distinct=...)`` answers "how
many events, what total, how many distinct X in the last H" for every horizon at once, per
key, in bounded memory: one list of time buckets that coarsen as they age
(:mod:`~riskstream.stream.windows.buckets`) - not one window per horizon.

**Buckets.** Horizon ``H`` has a granularity ``g`` (``H / resolution``, rounded so that the
granularities divide one another and their horizons; with the defaults 1 s, 1 min, 24 min,
2.4 h and 12 h for 1 min, 1 h, 24 h, 7 d and 30 d). An event is counted in its finest
(1 s) bucket; as buckets age past a horizon's window they merge into that horizon's coarser
buckets, and they are dropped once past the longest horizon - so a key that goes quiet
empties (``is_empty()``) 30 days and one 12-hour bucket after its last event: the TTL.
Memory per key is bounded whatever the event rate: after each compaction at most about
``resolution + 1`` buckets per horizon plus the finest buckets of the last ``grace_ms``,
and compaction runs whenever the list has doubled. A key with 50 events over 30 days
snapshots to a few hundred bytes.

**Resolution (exact).** The figures for horizon ``H`` (granularity ``g``) at time ``t``
count exactly the events received so far whose time lies in::

    [ floor(t / g) * g - H ,  floor(t / g0) * g0 + g0 )       g0 = the finest granularity

i.e. the window reaches back to the ``g`` boundary ``H`` before ``t``'s own ``g`` bucket -
between ``H`` and ``H + g`` before ``t`` (30 days up to 30 days 12 hours with the defaults;
1 minute up to 1 minute 1 second) - and forward to the end of ``t``'s finest bucket, which
holds events later than ``t`` only if they arrived before ``t``, out of order.
:meth:`Velocity.covered` returns that interval. Counts and distinct counts are exact
integers. Sums are floats: exact for integer values (below 2⁵³); other values are added per
bucket and the buckets' totals compensated (TwoSum), so a sum is as accurate as adding its
window's values one by one - it may differ from that in the last bits, never by "a large
total minus a large total".

This holds for every ``t`` at or after the *drive*: the newest event time of the key minus
``grace_ms`` (default: the shortest horizon) or the last watermark, whichever is later.
Events and queries at or after the watermark that are at most ``grace_ms`` behind their key's
newest event - in-order events, ordinary disorder - therefore always get exact figures. An
event further behind is still counted exactly in every later figure, but the figures
returned for it may round its window starts to the coarser buckets older data has already
merged into; events older than the longest horizon's window at the drive are ignored (they
would expire at once) and emit nothing.

**Distinct values** are tracked as 64-bit stable hashes
(:func:`~riskstream.stream.windows.hashing.stable_hash`) in a per-key table of at most
``distinct_limit`` values shared by all horizons, so a bucket stores a small bit mask; a
value leaves the table when its last bucket expires. While the table has room every
distinct figure is exact. A new value arriving when it is full is *untracked*: a horizon
whose window holds an untracked event reports ``saturated[i] = True`` and ``distinct[i]``
= the tracked values in the window, a lower bound.

The counter emits one :class:`VelocityFigures` per event (as of the event's time, including
it) and nothing on watermarks; :meth:`VelocityLogic.figures` reads without adding (a
checkout reads its user's velocity as of its own time). ``next_deadline`` is the key's TTL.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import timedelta
from itertools import pairwise
from math import gcd
from typing import Any, Final, Generic, TypeVar

import msgspec

from riskstream.errors import ConfigError
from riskstream.stream.windows._common import NOTHING, to_ms
from riskstream.stream.windows.bucket_figures import compile_figures
from riskstream.stream.windows.buckets import BucketList, BucketSnapshot
from riskstream.stream.windows.slots import DistinctSlots

__all__ = [
    "DEFAULT_HORIZONS",
    "Velocity",
    "VelocityFigures",
    "VelocityLogic",
    "VelocitySnapshot",
    "granularities",
]

V = TypeVar("V")

_DAY: Final = 86_400_000
#: 1 minute, 1 hour, 24 hours, 7 days, 30 days.
DEFAULT_HORIZONS: Final = (60_000, 3_600_000, _DAY, 7 * _DAY, 30 * _DAY)


def _divisors(n: int) -> list[int]:
    small, large = [], []
    d = 1
    while d * d <= n:
        if n % d == 0:
            small.append(d)
            if d * d != n:
                large.append(n // d)
        d += 1
    return small + large[::-1]


def granularities(horizons: Sequence[int], resolution: int) -> tuple[int, ...]:
    """Bucket sizes for ``horizons`` (increasing, ms): about ``resolution`` buckets each.

    From the longest horizon down, each granularity is the largest divisor of its horizon
    (and of the next coarser granularity) that is at most ``horizon // resolution``, so the
    finer buckets nest exactly in the coarser ones and every horizon is a whole number of
    its buckets.
    """
    out: list[int] = []
    coarser = 0
    for horizon in reversed(horizons):
        base = gcd(horizon, coarser) if coarser else horizon
        cap = max(1, horizon // resolution)
        coarser = max(d for d in _divisors(base) if d <= cap)
        out.append(coarser)
    return tuple(reversed(out))


class VelocityFigures(msgspec.Struct, frozen=True, gc=False):
    """A key's figures as of ``at``; entry ``i`` of each tuple is for ``horizons[i]``.

    ``sums`` is None without a ``value`` getter, ``distinct``/``saturated`` without a
    ``distinct`` getter. ``saturated[i]``: the window holds values beyond the distinct limit,
    so ``distinct[i]`` is a lower bound (see :mod:`riskstream.stream.velocity`).
    """

    at: int
    horizons: tuple[int, ...]
    counts: tuple[int, ...]
    sums: tuple[float, ...] | None = None
    distinct: tuple[int, ...] | None = None
    saturated: tuple[bool, ...] | None = None

    def count_of(self, horizon: int) -> int:
        """The event count over ``horizon`` (one of ``horizons``)."""
        return self.counts[self.horizons.index(horizon)]

    def sum_of(self, horizon: int) -> float | None:
        """The sum of values over ``horizon``, if the counter sums a value."""
        return None if self.sums is None else self.sums[self.horizons.index(horizon)]

    def distinct_of(self, horizon: int) -> int | None:
        """The distinct count over ``horizon``, if the counter counts distinct values."""
        return None if self.distinct is None else self.distinct[self.horizons.index(horizon)]


#: A key's velocity state: its buckets and distinct-value table (plain data).
VelocitySnapshot = BucketSnapshot


class Velocity(Generic[V]):
    """Count, sum of ``value`` and distinct ``distinct`` per key over ``horizons`` at once.

    ``horizons``: increasing durations (int ms or ``timedelta``). ``value``: ``event ->
    number | None`` to sum (None: not summed). ``distinct``: ``event -> hashable | None``
    to count distinct values of. ``resolution``: buckets per horizon (an int, default 60) or
    the granularities themselves (one per horizon; each must divide its horizon and the next
    granularity). ``grace_ms``: how far behind its key's newest event an event may arrive
    and still get exact figures (default: the shortest horizon; larger keeps more fine
    buckets). ``distinct_limit``: distinct values tracked per key. ``value_type`` only
    informs static typing. The semantics and the exact resolution are in the module docs.
    """

    __slots__ = (
        "_read",
        "distinct",
        "distinct_limit",
        "grace_ms",
        "granularities",
        "horizons",
        "value",
        "value_type",
    )

    def __init__(
        self,
        horizons: Sequence[int | timedelta] = DEFAULT_HORIZONS,
        *,
        value: Callable[[V], float | int | None] | None = None,
        distinct: Callable[[V], Hashable | None] | None = None,
        resolution: int | Sequence[int | timedelta] = 60,
        grace_ms: int | timedelta | None = None,
        distinct_limit: int = 100,
        value_type: type[V] | None = None,
    ) -> None:
        self.horizons = tuple(to_ms(h, "a horizon") for h in horizons)
        if not self.horizons or any(a >= b for a, b in pairwise(self.horizons)):
            raise ConfigError(f"horizons must be non-empty and increasing, got {self.horizons}")
        if isinstance(resolution, bool):
            raise ConfigError(f"resolution must be an int or granularities, got {resolution!r}")
        if isinstance(resolution, int):
            if resolution < 1:
                raise ConfigError(f"resolution must be >= 1 bucket, got {resolution}")
            self.granularities = granularities(self.horizons, resolution)
        else:
            self.granularities = tuple(to_ms(g, "a granularity") for g in resolution)
            self._check_granularities()
        self.grace_ms = (
            self.horizons[0] if grace_ms is None else to_ms(grace_ms, "grace_ms", minimum=0)
        )
        for name, getter in (("value", value), ("distinct", distinct)):
            if getter is not None and not callable(getter):
                raise ConfigError(f"{name} must be a callable or None, got {getter!r}")
        if (
            not isinstance(distinct_limit, int)
            or isinstance(distinct_limit, bool)
            or distinct_limit < 1
        ):
            raise ConfigError(f"distinct_limit must be an int >= 1, got {distinct_limit!r}")
        self.value = value
        self.distinct = distinct
        self.distinct_limit = distinct_limit
        self.value_type = value_type
        self._read = compile_figures(
            self.granularities,
            self.horizons,
            summing=value is not None,
            distinct=distinct is not None,
            make=VelocityFigures,
            slow=lambda logic, at, end: logic._read_masks(at, end),
        )

    def _check_granularities(self) -> None:
        gs, hs = self.granularities, self.horizons
        if len(gs) != len(hs):
            raise ConfigError(f"one granularity per horizon: {len(hs)} horizons, got {gs}")
        for i, (g, h) in enumerate(zip(gs, hs, strict=True)):
            if h % g or (i + 1 < len(gs) and gs[i + 1] % g):
                raise ConfigError(
                    f"granularity {g} must divide its horizon {h} and the next granularity"
                )

    def __repr__(self) -> str:
        return (
            f"Velocity(horizons={self.horizons}, granularities={self.granularities}, "
            f"grace_ms={self.grace_ms}, value={self.value!r}, distinct={self.distinct!r}, "
            f"distinct_limit={self.distinct_limit})"
        )

    def covered(self, at: int, horizon: int) -> tuple[int, int]:
        """The event times ``[start, end)`` the figure for ``horizon`` at ``at`` counts
        (``horizon`` is one of :attr:`horizons`)."""
        i = self.horizons.index(horizon)
        g, g0 = self.granularities[i], self.granularities[0]
        return at - at % g - horizon, at - at % g0 + g0

    @property
    def snapshot_type(self) -> type[VelocitySnapshot]:
        """The type ``msgspec`` decodes this definition's snapshots into."""
        return VelocitySnapshot

    def build(self, snapshot: VelocitySnapshot | None = None) -> VelocityLogic[V]:
        """A fresh counter, or one restored from ``snapshot``."""
        logic: VelocityLogic[V] = VelocityLogic(
            self.granularities,
            self.horizons,
            self.grace_ms,
            self.value is not None,
            None if self.distinct is None else DistinctSlots(self.distinct_limit),
            _value=self.value,
            _distinct=self.distinct,
            _read=self._read,
        )
        if snapshot is not None:
            logic._load(snapshot)
        return logic


def _unbuilt(logic: Any, at: int) -> Any:
    raise RuntimeError("a VelocityLogic is built by Velocity.build")


class VelocityLogic(BucketList, Generic[V], gc=False, eq=False):
    """One key's velocity counter: a :class:`~riskstream.stream.windows.buckets.BucketList`
    fed with events (see the module docs for the semantics); built by
    :meth:`Velocity.build`."""

    _value: Callable[[V], float | int | None] | None = None
    _distinct: Callable[[V], Hashable | None] | None = None
    _read: Callable[[Any, int], Any] = _unbuilt

    def on_event(self, event_time: int, value: V) -> Sequence[VelocityFigures]:
        x = None if self._value is None else self._value(value)
        key = None if self._distinct is None else self._distinct(value)
        if not self._add(event_time, x, key):
            return NOTHING  # older than the longest horizon: it would expire at once
        figures: VelocityFigures = self._read(self, event_time)
        if len(self._starts) >= self._compact_at:
            self._compact()
        return (figures,)

    def figures(self, at: int) -> VelocityFigures:
        """The figures as of ``at`` without adding anything.

        Exact (see the module docs) for ``at`` at or after the key's newest event time minus
        ``grace_ms`` and at or after the last watermark - which every event and every query
        the executor makes is.
        """
        figures: VelocityFigures = self._read(self, at)
        return figures

    def _read_masks(self, at: int, end: int) -> VelocityFigures:
        counts, sums, dist, sat = self._query_masks(at, end)
        return VelocityFigures(
            at,
            self._h,
            tuple(counts),
            tuple(sums) if self._summing else None,
            tuple(dist),
            tuple(sat),
        )

    def on_watermark(self, watermark: int) -> Sequence[VelocityFigures]:
        """Coarsen and expire buckets; emits nothing (the counter is read per event)."""
        self._advance(watermark)
        return NOTHING

    def next_deadline(self) -> int | None:
        """When every bucket will have expired (the TTL): the counter has nothing else to
        do on watermarks - coarsening for memory happens as events arrive."""
        return self._expiry()

    def is_empty(self) -> bool:
        return not self._starts

    def snapshot(self) -> VelocitySnapshot:
        return self._dump()

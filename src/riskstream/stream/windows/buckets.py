"""Time buckets that coarsen as they age: the storage of the velocity counter.

Horizon ``k`` (``H_k``) has a granularity ``g_k``; granularities divide one another and
their horizons. A bucket is a cell ``[a, a + g_j)`` of some *level* ``j`` holding the count,
value sum and distinct-value mask (:mod:`~riskstream.stream.windows.slots`) of its events.
All buckets of a key sit in one list sorted by start.

* **Events** always go into their level-0 (finest) cell.
* **Compaction** (when the list has doubled since the last one, and on watermarks) moves a
  bucket from level ``j`` to its level-``j+1`` cell once the bucket ends at or before
  ``s_j(d) = floor(d / g_j) * g_j - H_j``: the start of horizon ``j``'s window at the
  *drive* ``d``, the time every later event and query is at or after. Cells of the last
  level that end by ``s_last(d)`` are dropped: that is the TTL. ``d`` is the larger of the
  last watermark and the newest event time minus ``grace``.

Hence, for any time ``t >= d``: a bucket of level ``j`` holds only events older than the
window start of every horizon ``k < j``, and its cell nests in the grid of every horizon
``k >= j``. So no bucket that starts inside horizon ``k``'s window ``[s_k(t), t]`` is coarser
than ``g_k``, and the figure of horizon ``k`` is exactly the total of the buckets that start
in that window: a bisection in the sorted starts and a difference of prefix sums, O(horizons)
per event whatever the number of buckets (:mod:`~riskstream.stream.windows.bucket_figures`).
Value sums are prefix-summed with TwoSum compensation, so a window's sum is as accurate as
adding its buckets one by one - never "a large total minus a large total". Distinct counts
come from the slot table's newest bucket per value. Finer buckets than necessary never hurt
exactness: compaction is only about memory, so it can be lazy.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Hashable
from itertools import accumulate, pairwise
from typing import Final

import msgspec

from riskstream.stream.windows.coarsen import coarsen
from riskstream.stream.windows.slots import UNTRACKED, DistinctSlots

__all__ = ["NO_DRIVE", "BucketList", "BucketSnapshot"]

#: The drive before any event or watermark (the int64 minimum: msgpack-encodable).
NO_DRIVE: Final = -(2**63)
_INT64: Final = 2**63
#: Compaction runs when the list reaches twice its size after the last one, and not below this.
_MIN_COMPACT: Final = 64

#: Per horizon: counts, sums, distinct counts, saturated flags.
Figures = tuple[list[int], list[float], list[int], list[bool]]


class BucketSnapshot(msgspec.Struct, frozen=True, array_like=True):
    """A key's buckets, oldest first, and its distinct-value table.

    ``starts``: the first start, then the gaps, all in units of the finest granularity;
    ``levels``: each bucket's level; ``sums``: integral values as ints (1-5 bytes of msgpack
    instead of 9), empty when not summing; ``masks``: ints, or little-endian bytes past 63
    bits, empty when not counting distinct values; ``slots``: the hash in each slot of the
    distinct-value table (None: free); ``drive``: see :mod:`~riskstream.stream.windows.buckets`;
    ``compact_at``: the number of buckets that triggers the next compaction.
    """

    drive: int
    compact_at: int
    starts: list[int]
    levels: list[int]
    counts: list[int]
    sums: list[int | float]
    masks: list[int | bytes]
    slots: list[int | None]


class BucketList:
    """The buckets of one key: parallel lists sorted by start, plus prefix sums.

    ``_pc[i]``, ``_ph[i] + _pl[i]``: the count and value sum of the buckets before ``i``
    (``_ph``/``_pl``: the high and low parts of a double-double sum).
    """

    __slots__ = (
        "_compact_at",
        "_counts",
        "_drive",
        "_g",
        "_grace",
        "_h",
        "_levels",
        "_masks",
        "_pc",
        "_ph",
        "_pl",
        "_plan",
        "_slots",
        "_starts",
        "_summing",
        "_sums",
    )

    def __init__(
        self,
        granularities: tuple[int, ...],
        horizons: tuple[int, ...],
        grace: int,
        summing: bool,
        slots: DistinctSlots | None,
    ) -> None:
        self._g, self._h, self._grace = granularities, horizons, grace
        self._summing, self._slots = summing, slots
        self._plan = tuple(zip(granularities, horizons, strict=True))
        self._starts: list[int] = []
        self._levels: list[int] = []
        self._counts: list[int] = []
        self._sums: list[float] = []
        self._masks: list[int] = []
        self._pc: list[int] = [0]
        self._ph: list[float] = [0.0]
        self._pl: list[float] = [0.0]
        self._drive = NO_DRIVE
        self._compact_at = _MIN_COMPACT

    def _add(self, t: int, x: float | None, key: Hashable | None) -> bool:
        """Count an event at ``t`` with value ``x`` and distinct value ``key`` (None: none)
        in its level-0 bucket; False if it is older than the longest horizon's window at the
        drive (ignored: it would expire at once)."""
        if t - self._grace > self._drive:  # noqa: PLR1730  # hot path: a compare beats max()
            self._drive = t - self._grace
        starts = self._starts
        a = t - t % self._g[0]
        if not starts or a > starts[-1]:  # the common case: a new newest bucket...
            starts.append(a)
            self._levels.append(0)
            self._counts.append(1)
            self._sums.append(0.0 if x is None else x + 0.0)
            self._masks.append(0)
            self._pc.append(self._pc[-1] + 1)
            self._ph.append(0.0)
            self._pl.append(0.0)
        elif a == starts[-1] and self._levels[-1] == 0:  # ... or the newest one
            self._counts[-1] += 1
            self._pc[-1] += 1
            if x is not None:
                self._sums[-1] += x
        else:
            return self._add_behind(t, a, x, key)
        if self._summing:  # the last prefix sum, from the one before and the newest bucket
            hi, x = self._ph[-2], self._sums[-1]
            s = hi + x
            b = s - hi
            self._pl[-1] = self._pl[-2] + ((hi - (s - b)) + (x - b))
            self._ph[-1] = s
        if key is not None and self._slots is not None:
            self._masks[-1] |= self._slots.bit(key, a)
        return True

    def _add_behind(self, t: int, a: int, x: float | None, key: Hashable | None) -> bool:
        """``_add`` for an event older than the newest bucket (out of order)."""
        d, g, h = self._drive, self._g[-1], self._h[-1]
        if t < d - d % g - h:
            return False
        starts = self._starts
        i = bisect_left(starts, a)
        j = bisect_right(starts, a, i)
        p = next((p for p in range(i, j) if self._levels[p] == 0), -1)  # a coarse one may
        if p < 0:  # start at the same time: only a level-0 bucket is this event's cell
            p = j
            starts.insert(p, a)
            self._levels.insert(p, 0)
            self._counts.insert(p, 0)
            self._sums.insert(p, 0.0)
            self._masks.insert(p, 0)
        self._counts[p] += 1
        if x is not None:
            self._sums[p] += x
        if key is not None and self._slots is not None:
            self._masks[p] |= self._slots.bit(key, a)
        self._prefix(p)
        return True

    def _prefix(self, p: int) -> None:
        """Recompute the prefix sums from bucket ``p`` on.

        Sums are TwoSum'd (the rounding error of each addition goes to the low part), so a
        window's sum - a difference of two prefix sums - stays as accurate as adding its
        buckets one by one; and each prefix sum is a function of the bucket sums alone, so a
        restored logic has the very same ones.
        """
        pc, ph, pl = self._pc, self._ph, self._pl
        del pc[p + 1 :], ph[p + 1 :], pl[p + 1 :]
        c, hi, lo = pc[p], ph[p], pl[p]
        for count, x in zip(self._counts[p:], self._sums[p:], strict=True):
            c += count
            s = hi + x
            b = s - hi
            lo = lo + ((hi - (s - b)) + (x - b))
            hi = s
            pc.append(c)
            ph.append(hi)
            pl.append(lo)

    def _query_masks(self, at: int, end: int) -> Figures:
        """Per horizon, the count, sum, distinct count and saturation of its window at ``at``
        from the bucket masks - for when buckets newer than ``at`` (its ``end``) exist, so
        a value's newest bucket cannot tell whether it occurs in a window."""
        starts, pc, ph, pl = self._starts, self._pc, self._ph, self._pl
        counts: list[int] = []
        sums: list[float] = []
        dist: list[int] = []
        sat: list[bool] = []
        lo, mask = end, 0
        for g, h in self._plan:
            prev, lo = lo, bisect_left(starts, at - at % g - h, 0, lo)
            counts.append(pc[end] - pc[lo])
            sums.append((ph[end] - ph[lo]) + (pl[end] - pl[lo]))
            for m in self._masks[lo:prev]:
                mask |= m
            dist.append((mask >> 1).bit_count())
            sat.append(bool(mask & UNTRACKED))
        return counts, sums if self._summing else [], dist, sat

    def _advance(self, drive: int) -> None:
        if drive > self._drive:
            self._drive = drive
            self._compact()

    def _compact(self) -> None:
        """Coarsen the buckets the drive allows, drop the expired ones (see module docs)."""
        out = coarsen(
            (self._starts, self._levels, self._counts, self._sums, self._masks),
            self._drive,
            self._g,
            self._h,
        )
        self._starts, self._levels, self._counts, self._sums, self._masks = (
            out.starts,
            out.levels,
            out.counts,
            out.sums,
            out.masks,
        )
        self._prefix(0)
        self._compact_at = max(_MIN_COMPACT, 2 * len(out.starts))
        if self._slots is not None:
            self._slots.rebuild(out.starts, out.masks)

    def _expiry(self) -> int | None:
        """The watermark at which every bucket has expired (the key's TTL)."""
        if not self._starts:
            return None
        a, g, h = self._starts[-1], self._g[-1], self._h[-1]
        return a - a % g + g + h

    def _dump(self) -> BucketSnapshot:
        starts, g0 = self._starts, self._g[0]
        return BucketSnapshot(
            self._drive,
            self._compact_at,
            ([starts[0] // g0] if starts else []) + [(y - x) // g0 for x, y in pairwise(starts)],
            list(self._levels),
            list(self._counts),
            [_compact_number(x) for x in self._sums] if self._summing else [],
            [_mask_data(m) for m in self._masks] if self._slots is not None else [],
            [] if self._slots is None else self._slots.dump(),
        )

    def _load(self, snapshot: BucketSnapshot) -> None:
        n, g0 = len(snapshot.counts), self._g[0]
        self._drive = snapshot.drive
        self._starts = [u * g0 for u in accumulate(snapshot.starts)]
        self._levels = list(snapshot.levels)
        self._counts = list(snapshot.counts)
        self._sums = [float(x) for x in snapshot.sums] or [0.0] * n
        self._masks = [
            m if isinstance(m, int) else int.from_bytes(m, "little") for m in snapshot.masks
        ] or [0] * n
        self._prefix(0)
        self._compact_at = snapshot.compact_at
        if self._slots is not None:
            self._slots.load(snapshot.slots, self._starts, self._masks)


def _compact_number(x: float) -> int | float:
    """An integral float as an int (1-5 bytes of msgpack instead of 9)."""
    return int(x) if x.is_integer() and -_INT64 <= x < _INT64 else x


def _mask_data(mask: int) -> int | bytes:
    return mask if mask < _INT64 else mask.to_bytes((mask.bit_length() + 7) // 8, "little")

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
from collections.abc import Hashable, Sequence
from itertools import accumulate, pairwise
from typing import Any, Final

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


def _new_prefix() -> list[Any]:
    return [0, 0.0, 0.0]


# A Struct with gc=False, eq=False: a velocity counter lives per key, and one the garbage
# collector does not track costs its full passes nothing. It holds numbers only: no cycle.
class BucketList(msgspec.Struct, gc=False, eq=False):
    """The buckets of one key: their starts (sorted), their cells, and prefix sums.

    Built with the granularities, horizons, grace, whether values are summed and the
    distinct-value table (if distinct values are counted).

    ``_cells`` holds each bucket's level, count, value sum and mask, four entries a bucket
    (bucket ``i`` at ``4 * i``). ``_pre`` holds, three entries per boundary ``i`` (at
    ``3 * i``), the count and the value sum of the buckets before ``i`` - the sum as the high
    and low parts of a double-double. Columns packed into one list each, rather than a list
    per column: every live key holds them, and the garbage collector's full passes cost
    per list.
    """

    _g: tuple[int, ...]
    _h: tuple[int, ...]
    _grace: int
    _summing: bool
    _slots: DistinctSlots | None
    _starts: list[int] = msgspec.field(default_factory=list)
    _cells: list[Any] = msgspec.field(default_factory=list)  # level, count, sum, mask
    _pre: list[Any] = msgspec.field(default_factory=_new_prefix)  # count, sum high, sum low
    _drive: int = NO_DRIVE
    _compact_at: int = _MIN_COMPACT

    def _add(self, t: int, x: float | None, key: Hashable | None) -> bool:
        """Count an event at ``t`` with value ``x`` and distinct value ``key`` (None: none)
        in its level-0 bucket; False if it is older than the longest horizon's window at the
        drive (ignored: it would expire at once)."""
        if t - self._grace > self._drive:  # noqa: PLR1730  # hot path: a compare beats max()
            self._drive = t - self._grace
        starts, cells, pre = self._starts, self._cells, self._pre
        a = t - t % self._g[0]
        if not starts or a > starts[-1]:  # the common case: a new newest bucket...
            starts.append(a)
            cells += (0, 1, 0.0 if x is None else x + 0.0, 0)
            pre += (pre[-3] + 1, 0.0, 0.0)
        elif a == starts[-1] and cells[-4] == 0:  # ... or the newest one (level 0)
            cells[-3] += 1
            pre[-3] += 1
            if x is not None:
                cells[-2] += x
        else:
            return self._add_behind(t, a, x, key)
        if self._summing:  # the last prefix sum, from the one before and the newest bucket
            hi, x = pre[-5], cells[-2]
            s = hi + x
            b = s - hi
            pre[-1] = pre[-4] + ((hi - (s - b)) + (x - b))
            pre[-2] = s
        if key is not None and self._slots is not None:
            cells[-1] |= self._slots.bit(key, a)
        return True

    def _add_behind(self, t: int, a: int, x: float | None, key: Hashable | None) -> bool:
        """``_add`` for an event older than the newest bucket (out of order)."""
        d, g, h = self._drive, self._g[-1], self._h[-1]
        if t < d - d % g - h:
            return False
        starts, cells = self._starts, self._cells
        i = bisect_left(starts, a)
        j = bisect_right(starts, a, i)
        p = next((p for p in range(i, j) if cells[4 * p] == 0), -1)  # a coarse one may
        if p < 0:  # start at the same time: only a level-0 bucket is this event's cell
            p = j
            starts.insert(p, a)
            cells[4 * p : 4 * p] = (0, 0, 0.0, 0)
        cells[4 * p + 1] += 1
        if x is not None:
            cells[4 * p + 2] += x
        if key is not None and self._slots is not None:
            cells[4 * p + 3] |= self._slots.bit(key, a)
        self._prefix(p)
        return True

    def _prefix(self, p: int) -> None:
        """Recompute the prefix sums from bucket ``p`` on.

        Sums are TwoSum'd (the rounding error of each addition goes to the low part), so a
        window's sum - a difference of two prefix sums - stays as accurate as adding its
        buckets one by one; and each prefix sum is a function of the bucket sums alone, so a
        restored logic has the very same ones.
        """
        pre, cells = self._pre, self._cells
        del pre[3 * p + 3 :]
        c, hi, lo = pre[3 * p], pre[3 * p + 1], pre[3 * p + 2]
        for k in range(4 * p, len(cells), 4):
            x = cells[k + 2]
            c += cells[k + 1]
            s = hi + x
            b = s - hi
            lo = lo + ((hi - (s - b)) + (x - b))
            hi = s
            pre += (c, hi, lo)

    def _query_masks(self, at: int, end: int) -> Figures:
        """Per horizon, the count, sum, distinct count and saturation of its window at ``at``
        from the bucket masks - for when buckets newer than ``at`` (its ``end``) exist, so
        a value's newest bucket cannot tell whether it occurs in a window."""
        starts, pre, cells = self._starts, self._pre, self._cells
        counts: list[int] = []
        sums: list[float] = []
        dist: list[int] = []
        sat: list[bool] = []
        lo, mask = end, 0
        e = 3 * end
        for g, h in zip(self._g, self._h, strict=True):
            prev, lo = lo, bisect_left(starts, at - at % g - h, 0, lo)
            q = 3 * lo
            counts.append(pre[e] - pre[q])
            sums.append((pre[e + 1] - pre[q + 1]) + (pre[e + 2] - pre[q + 2]))
            for m in cells[4 * lo + 3 : 4 * prev : 4]:
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
        cells = self._cells
        out = coarsen(
            (self._starts, cells[0::4], cells[1::4], cells[2::4], cells[3::4]),
            self._drive,
            self._g,
            self._h,
        )
        self._starts = out.starts
        self._cells = _interleave(out.levels, out.counts, out.sums, out.masks)
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
        starts, g0, cells = self._starts, self._g[0], self._cells
        return BucketSnapshot(
            self._drive,
            self._compact_at,
            ([starts[0] // g0] if starts else []) + [(y - x) // g0 for x, y in pairwise(starts)],
            cells[0::4],
            cells[1::4],
            # Integral sums as ints (1-5 bytes of msgpack instead of 9); masks past 63 bits as
            # little-endian bytes (inlined: a call per bucket costs more than the test).
            [int(x) if x.is_integer() and -_INT64 <= x < _INT64 else x for x in cells[2::4]]
            if self._summing
            else [],
            [m if m < _INT64 else _mask_bytes(m) for m in cells[3::4]]
            if self._slots is not None
            else [],
            [] if self._slots is None else self._slots.dump(),
        )

    def _load(self, snapshot: BucketSnapshot) -> None:
        n, g0 = len(snapshot.counts), self._g[0]
        self._drive = snapshot.drive
        self._starts = [u * g0 for u in accumulate(snapshot.starts)]
        masks = [
            m if isinstance(m, int) else int.from_bytes(m, "little") for m in snapshot.masks
        ] or [0] * n
        self._cells = _interleave(
            snapshot.levels,
            snapshot.counts,
            [float(x) for x in snapshot.sums] or [0.0] * n,
            masks,
        )
        self._prefix(0)
        self._compact_at = snapshot.compact_at
        if self._slots is not None:
            self._slots.load(snapshot.slots, self._starts, masks)


def _interleave(
    levels: Sequence[int], counts: Sequence[int], sums: Sequence[float], masks: Sequence[int]
) -> list[Any]:
    """The cells of buckets given column by column."""
    cells: list[Any] = [0] * (4 * len(levels))
    cells[0::4], cells[1::4], cells[2::4], cells[3::4] = levels, counts, sums, masks
    return cells


def _mask_bytes(mask: int) -> bytes:
    return mask.to_bytes((mask.bit_length() + 7) // 8, "little")

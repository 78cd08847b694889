"""Compaction of a velocity counter's buckets: coarsen what the drive allows, drop the expired.

See :mod:`~riskstream.stream.windows.buckets` for the rule and why it keeps every figure
exact. Most buckets stay as they are: runs of those are copied by list slices, and only
the buckets to coarsen or drop go through Python code one by one.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Columns", "coarsen"]

Buckets = tuple[list[int], list[int], list[int], list[float], list[int]]


def coarsen(
    buckets: Buckets, drive: int, granularities: tuple[int, ...], horizons: tuple[int, ...]
) -> Columns:
    """The buckets (starts, levels, counts, sums, masks; sorted by start) after compaction
    at ``drive``: each moved up to the coarsest level no window it could still be in is
    finer than, cells merged, and the last level's expired cells dropped."""
    starts, levels, counts, sums, masks = buckets
    g, last = granularities, len(granularities) - 1
    window_start = [drive - drive % gk - hk for gk, hk in zip(g, horizons, strict=True)]
    out = Columns()
    n, i = len(starts), 0
    while i < n:
        j = i
        while j < n and starts[j] + g[levels[j]] > window_start[levels[j]]:
            j += 1  # a run of buckets no horizon's window has passed yet
        if j > i:
            if out.merge(starts[i], levels[i], counts[i], sums[i], masks[i]):
                i += 1
            out.extend(starts, levels, counts, sums, masks, i, j)
            i = j
            continue
        a, level = starts[i], levels[i]
        while a + g[level] <= window_start[level]:  # no horizon <= level reaches it
            if level == last:
                break  # expired
            level += 1
            a -= a % g[level]
        else:
            if not out.merge(a, level, counts[i], sums[i], masks[i]):
                out.extend([a], [level], [counts[i]], [sums[i]], [masks[i]], 0, 1)
        i += 1
    if not out.ordered:  # an out-of-order event's bucket was coarsened: sort and merge
        out = _merge_cells(out)
    return out


class Columns:
    """Buckets being built by a compaction, as the five parallel lists."""

    __slots__ = ("counts", "levels", "masks", "ordered", "starts", "sums")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.levels: list[int] = []
        self.counts: list[int] = []
        self.sums: list[float] = []
        self.masks: list[int] = []
        self.ordered = True

    def merge(self, start: int, level: int, count: int, total: float, mask: int) -> bool:
        """Add the bucket to the last one if it is the same cell; False if it is not."""
        if not self.starts or self.starts[-1] != start or self.levels[-1] != level:
            return False
        self.counts[-1] += count
        self.sums[-1] += total
        self.masks[-1] |= mask
        return True

    def extend(
        self,
        starts: list[int],
        levels: list[int],
        counts: list[int],
        sums: list[float],
        masks: list[int],
        i: int,
        j: int,
    ) -> None:
        """Append buckets ``i:j`` of the given columns (sorted, distinct cells)."""
        if i >= j:
            return
        if self.starts and starts[i] < self.starts[-1]:
            self.ordered = False
        self.starts += starts[i:j]
        self.levels += levels[i:j]
        self.counts += counts[i:j]
        self.sums += sums[i:j]
        self.masks += masks[i:j]


def _merge_cells(columns: Columns) -> Columns:
    """The buckets sorted by (start, level), those of the same cell merged."""
    cells: dict[tuple[int, int], list[Any]] = {}
    for a, j, count, total, mask in zip(
        columns.starts, columns.levels, columns.counts, columns.sums, columns.masks, strict=True
    ):
        cell = cells.get((a, j))
        if cell is None:
            cells[a, j] = [count, total, mask]
        else:
            cell[0] += count
            cell[1] += total
            cell[2] |= mask
    out = Columns()
    for a, j in sorted(cells):
        count, total, mask = cells[a, j]
        out.extend([a], [j], [count], [total], [mask], 0, 1)
    return out

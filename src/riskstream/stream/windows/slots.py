"""A per-key table of distinct values, so time buckets can hold their values as bit masks.

Each tracked value (its 64-bit :func:`~riskstream.stream.windows.hashing.stable_hash`) gets
a *slot*; a bucket records the values it saw as a mask with bit ``slot + 1`` set, and bit 0
(:data:`UNTRACKED`) for "a value the table had no room for". The distinct values of a set of
buckets are the popcount of their masks' OR, and a bucket costs a byte or two of snapshot
for a handful of values instead of 8 bytes per value.

For the common question - how many values occur in the buckets starting at or after
``start``, when no bucket is newer than the query - the table also keeps each slot's newest
bucket start, sorted: the answer is one bisection, whatever the number of buckets.

The table holds at most ``limit`` values; :meth:`DistinctSlots.rebuild` (after buckets
merged or expired) frees the slots no bucket refers to any more, and freed slots are reused
lowest first, so masks stay small.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Hashable, Sequence

import msgspec

from riskstream.stream.windows.hashing import stable_hash

__all__ = ["UNTRACKED", "DistinctSlots"]

#: The mask bit of values beyond the table's limit.
UNTRACKED = 1

# The free slots of a table without any: shared (never modified), so that a key does not
# hold an empty list the garbage collector would have to visit.
_NO_FREE: list[int] = []


def _no_free() -> list[int]:
    return _NO_FREE


# A Struct with gc=False: a velocity counter per key holds one, and one the garbage collector
# does not track costs its full passes nothing. It holds numbers only: no cycle.
class DistinctSlots(msgspec.Struct, gc=False, eq=False):
    """The slot table of one key, and each slot's newest bucket (``DistinctSlots(limit)``)."""

    _limit: int
    _table: list[int | None] = msgspec.field(default_factory=list)  # slot -> hash (None: free)
    _slot_of: dict[int, int] = msgspec.field(default_factory=dict)
    _free: list[int] = msgspec.field(default_factory=_no_free)  # a heap of free slots
    _last: dict[int, int] = msgspec.field(default_factory=dict)  # slot -> newest bucket start
    #: The start of each tracked value's newest bucket, sorted.
    lasts: list[int] = msgspec.field(default_factory=list)
    #: Start of the newest bucket holding an untracked value, if any.
    untracked: int | None = None

    def bit(self, value: Hashable, start: int) -> int:
        """The mask bit of ``value``, just added to the bucket starting at ``start``."""
        h = stable_hash(value)
        slot = self._slot_of.get(h)
        if slot is None:
            if self._free:
                slot = heapq.heappop(self._free)
                self._table[slot] = h
            elif len(self._table) < self._limit:
                slot = len(self._table)
                self._table.append(h)
            else:
                if self.untracked is None or start > self.untracked:
                    self.untracked = start
                return UNTRACKED
            self._slot_of[h] = slot
        else:
            old = self._last[slot]
            if start <= old:
                return 2 << slot
            del self.lasts[bisect_left(self.lasts, old)]
        self._last[slot] = start
        insort(self.lasts, start)
        return 2 << slot

    def count_from(self, start: int) -> int:
        """Tracked values whose newest bucket starts at or after ``start``."""
        return len(self.lasts) - bisect_left(self.lasts, start)

    def rebuild(self, starts: Sequence[int], masks: Sequence[int]) -> None:
        """Recompute each slot's newest bucket from the buckets (``starts`` sorted), and free
        the slots no bucket holds."""
        last: dict[int, int] = {}
        self.untracked = None
        for start, mask in zip(starts, masks, strict=True):
            if mask & UNTRACKED:
                self.untracked = start
            bits = mask >> 1
            while bits:  # each set bit: a slot in this bucket
                low = bits & -bits
                last[low.bit_length() - 1] = start
                bits ^= low
        self._last = last
        self.lasts = sorted(last.values())
        free = list(self._free)
        for slot, h in enumerate(self._table):
            if h is not None and slot not in last:
                self._table[slot] = None
                del self._slot_of[h]
                free.append(slot)
        while self._table and self._table[-1] is None:  # keep snapshots short
            self._table.pop()
        free = [slot for slot in free if slot < len(self._table)]
        heapq.heapify(free)
        self._free = free or _NO_FREE

    def dump(self) -> list[int | None]:
        """The table as plain data: the hash of each slot, None for a free one."""
        return list(self._table)

    def load(self, table: list[int | None], starts: Sequence[int], masks: Sequence[int]) -> None:
        """Restore the table :meth:`dump` returned, for the given buckets."""
        self._table = list(table)
        self._slot_of = {h: slot for slot, h in enumerate(self._table) if h is not None}
        self._free = [slot for slot, h in enumerate(self._table) if h is None]
        self.rebuild(starts, masks)

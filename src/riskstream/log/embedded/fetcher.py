"""The consumer's read path: per-partition cursors over record batches, read in bulk and fairly.

Each poll reads, per topic, inside one read transaction: the partitions' high watermarks,
then for each assigned partition (in an order that rotates every poll) at most its share of
``max_records``; a second pass hands what is left to the partitions that had more. A
partition whose position is at the high watermark costs no query at all. Whole batches are
decoded, so records beyond the share wait in the cursor's buffer for the next poll.
Paused partitions are left out of the read; their cursors, buffers included, wait as they are.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from functools import partial
from itertools import starmap
from operator import itemgetter

from riskstream.log.embedded.db import read_tx
from riskstream.log.embedded.store import TopicStore, decode_batch
from riskstream.log.port import OffsetReset
from riskstream.log.records import Record, TopicPartition

__all__ = ["Fetcher", "PartitionCursor"]

_offset_of = itemgetter(0)


class PartitionCursor:
    """Where one assigned partition is read from.

    ``fetched`` is the next offset to read from the store, past the ``buffer`` of records
    decoded but not returned yet. Without a committed offset or a seek, ``unset`` stays
    true until ``auto_offset_reset`` gives the position.
    """

    __slots__ = ("at_end", "buffer", "fetched", "make", "part", "tp", "unset")

    def __init__(self, tp: TopicPartition, position: int | None) -> None:
        self.tp = tp
        self.part = tp.partition
        self.make = partial(Record, tp.topic, tp.partition)
        self.buffer: list[Record] = []
        self.seek(position)

    @property
    def position(self) -> int:
        return self.buffer[0].offset if self.buffer else self.fetched

    def seek(self, offset: int | None) -> None:
        """Continue from ``offset``, or from the reset position when it is ``None``."""
        self.fetched = offset or 0
        self.unset = offset is None
        self.buffer = []
        self.at_end = False

    def take(self, store: TopicStore, limit: int, high: int) -> list[Record]:
        """Up to ``limit`` records from the buffer, topped up from ``store`` (inside a read tx)."""
        if len(self.buffer) < limit and self.fetched < high:
            self._read(store, limit - len(self.buffer), high)
        buffer = self.buffer
        if len(buffer) <= limit:
            taken, self.buffer = buffer, []
        else:
            taken, self.buffer = buffer[:limit], buffer[limit:]
        self.at_end = not self.buffer and self.fetched >= high
        return taken

    def _read(self, store: TopicStore, need: int, high: int) -> None:
        fetched = self.fetched
        buffer = self.buffer
        got = 0
        batches = store.batches_from(self.part, fetched)
        try:
            for base_off, data in batches:
                rows = decode_batch(data)
                if base_off < fetched:
                    rows = rows[bisect_left(rows, fetched, key=_offset_of) :]
                if rows:
                    buffer.extend(starmap(self.make, rows))
                    got += len(rows)
                    fetched = rows[-1][0] + 1
                if got >= need:
                    break
            else:
                # Nothing at or past ``fetched`` in this snapshot: whatever lies below the high
                # watermark was compacted or expired away, so skip the gap.
                fetched = max(fetched, high)
        finally:
            batches.close()
        self.fetched = fetched


class Fetcher:
    """The assigned partitions of one consumer and the bulk, fair read over them."""

    def __init__(self, reset: OffsetReset) -> None:
        self.reset = reset
        self.cursors: dict[TopicPartition, PartitionCursor] = {}
        self.paused: set[TopicPartition] = set()
        self._rotation = 0
        self._idle: set[str] = set()

    def add(self, tp: TopicPartition, position: int | None) -> None:
        self.cursors[tp] = PartitionCursor(tp, position)
        self._idle.discard(tp.topic)

    def remove(self, tp: TopicPartition) -> None:
        self.cursors.pop(tp, None)
        self.paused.discard(tp)

    def touch(self, topic: str) -> None:
        """Read ``topic`` on the next fetch even if its file did not change (after a seek)."""
        self._idle.discard(topic)

    def at_end(self) -> frozenset[TopicPartition]:
        return frozenset(tp for tp, cursor in self.cursors.items() if cursor.at_end)

    def resolve(self, cursor: PartitionCursor, store: TopicStore) -> None:
        """Give a cursor without a committed offset its ``auto_offset_reset`` position."""
        low, high = store.watermarks(cursor.part)
        cursor.seek(low if self.reset == "earliest" else high)

    def fetch(self, stores: Mapping[str, TopicStore], max_records: int) -> list[Record]:
        if self.paused:
            paused = self.paused
            cursors = [cursor for tp, cursor in self.cursors.items() if tp not in paused]
        else:
            cursors = list(self.cursors.values())
        if not cursors or max_records <= 0:
            return []
        start = self._rotation % len(cursors)
        self._rotation += 1
        cursors = cursors[start:] + cursors[:start]
        quota = -(-max_records // len(cursors))
        out: list[Record] = []
        hungry = self._pass(stores, cursors, quota, max_records, out, first=True)
        if hungry and len(out) < max_records:
            self._pass(stores, hungry, max_records, max_records, out, first=False)
        ended: dict[str, bool] = {}
        for cursor in cursors:
            ended[cursor.tp.topic] = ended.get(cursor.tp.topic, True) and cursor.at_end
        for topic, idle in ended.items():
            if idle:
                self._idle.add(topic)
            else:
                self._idle.discard(topic)
        return out

    def _pass(
        self,
        stores: Mapping[str, TopicStore],
        cursors: list[PartitionCursor],
        quota: int,
        max_records: int,
        out: list[Record],
        *,
        first: bool,
    ) -> list[PartitionCursor]:
        hungry: list[PartitionCursor] = []
        by_topic: dict[str, list[PartitionCursor]] = {}
        for cursor in cursors:
            by_topic.setdefault(cursor.tp.topic, []).append(cursor)
        for topic, group in by_topic.items():
            store = stores.get(topic)
            if store is None:
                continue
            # data_version moves only when another connection commits: an idle topic whose
            # file did not change has nothing new, so it costs no read transaction. Noted
            # before the read, so a commit racing with it is seen now or on the next poll.
            if first and not store.changed() and topic in self._idle:
                continue
            with read_tx(store.conn):
                highs = store.high_watermarks()
                for cursor in group:
                    limit = min(quota, max_records - len(out))
                    if limit <= 0 or cursor.part >= len(highs):
                        continue
                    if cursor.unset:
                        self.resolve(cursor, store)
                    taken = cursor.take(store, limit, highs[cursor.part])
                    out.extend(taken)
                    if len(taken) == limit and not cursor.at_end:
                        hungry.append(cursor)
        return hungry

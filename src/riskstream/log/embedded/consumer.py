"""The embedded consumer: manual ``assign`` or group ``subscribe`` over the log's files.

``poll`` first does the periodic work (at most every 100 ms: notice re-created or deleted
topics, heartbeat, rebalance with the incremental callbacks), then reads. Without records
it sleeps in growing steps (1 ms up to 50 ms) until one arrives or ``timeout`` passes.

A member commits only partitions it owns (``CommitFailedError`` otherwise). A consumer
without a group cannot commit. Heartbeats ride on ``poll``: a member that does not poll for
longer than its session timeout is expired (the role of Kafka's ``max.poll.interval.ms``).
On its next ``poll`` it finds its partitions taken: it gets ``on_revoke`` for all of them
(where commits now fail) and joins the group again as a new member.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence

from riskstream.errors import ConsumerError, LogClosedError, NotAssignedError, UnknownTopicError
from riskstream.log.embedded.catalog import Catalog
from riskstream.log.embedded.db import read_tx
from riskstream.log.embedded.fetcher import Fetcher, PartitionCursor
from riskstream.log.embedded.groups import GroupMember, GroupState
from riskstream.log.embedded.store import TopicStore
from riskstream.log.port import AssignmentCallback, OffsetReset
from riskstream.log.records import Record, TopicPartition

__all__ = ["EmbeddedConsumer"]

_CHECK_INTERVAL_S = 0.1
_MAX_SLEEP_S = 0.05


class EmbeddedConsumer:
    """A consumer of one embedded log; use from one thread at a time."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        group_id: str | None,
        auto_offset_reset: OffsetReset,
        session_timeout_ms: int,
    ) -> None:
        if auto_offset_reset not in ("earliest", "latest"):
            raise ValueError(
                f"auto_offset_reset must be 'earliest' or 'latest': {auto_offset_reset!r}"
            )
        self._catalog = catalog
        self._group = (
            None if group_id is None else GroupMember(catalog.conn, group_id, session_timeout_ms)
        )
        self._fetcher = Fetcher(auto_offset_reset)
        self._stores: dict[str, TopicStore] = {}
        self._on_assign: AssignmentCallback | None = None
        self._on_revoke: AssignmentCallback | None = None
        self._subscribed = False
        self._manual = False
        self._next_check = 0.0
        self._closed = False

    # -- assignment ------------------------------------------------------------------------

    def subscribe(
        self,
        topics: Sequence[str],
        *,
        on_assign: AssignmentCallback | None = None,
        on_revoke: AssignmentCallback | None = None,
    ) -> None:
        self._check_open()
        if self._group is None:
            raise ConsumerError("subscribe needs a consumer created with a group_id")
        if self._manual:
            raise ConsumerError("consumer already uses assign(); create another to subscribe")
        if isinstance(topics, str) or not topics:
            raise ValueError(f"subscribe takes a non-empty sequence of topic names, not {topics!r}")
        lost = self._group.join(topics)
        if lost:  # expired since the last poll: its partitions belong to others now
            self._revoke(self._group, lost, lost=True)
        self._on_assign, self._on_revoke = on_assign, on_revoke
        self._subscribed = True
        self._next_check = 0.0

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        self._check_open()
        if self._subscribed:
            raise ConsumerError("consumer is subscribed; create another to assign manually")
        wanted = list(dict.fromkeys(TopicPartition(*tp) for tp in partitions))
        for tp in wanted:
            if not 0 <= tp.partition < self._store(tp.topic).partitions:
                raise UnknownTopicError(f"topic {tp.topic!r} has no partition {tp.partition}")
        self._manual = True
        for tp in list(self._fetcher.cursors):
            if tp not in wanted:
                self._fetcher.remove(tp)
        new = [tp for tp in wanted if tp not in self._fetcher.cursors]
        committed = self._group.committed(new) if self._group is not None else {}
        for tp in new:
            self._fetcher.add(tp, committed.get(tp))

    def assignment(self) -> list[TopicPartition]:
        return sorted(self._fetcher.cursors)

    # -- reading ---------------------------------------------------------------------------

    def poll(self, max_records: int = 1000, timeout: float = 1.0) -> list[Record]:
        self._check_open()
        deadline = time.monotonic() + max(timeout, 0.0)
        delay = 0.001
        while True:
            now = time.monotonic()
            if now >= self._next_check:
                self._next_check = now + _CHECK_INTERVAL_S
                self._housekeeping()
            records = self._fetcher.fetch(self._stores, max_records)
            if records or now >= deadline:
                return records
            time.sleep(min(delay, deadline - now))
            delay = min(delay * 2, _MAX_SLEEP_S)

    def at_end(self) -> frozenset[TopicPartition]:
        # Flags set by the last poll's reads, cleared by seeks and dropped with the partition.
        self._check_open()
        return self._fetcher.at_end()

    # -- flow control ----------------------------------------------------------------------

    def pause(self, partitions: Sequence[TopicPartition]) -> None:
        wanted = [self._cursor(tp).tp for tp in partitions]
        self._fetcher.paused.update(wanted)

    def resume(self, partitions: Sequence[TopicPartition]) -> None:
        self._check_open()
        paused = self._fetcher.paused
        for topic, partition in partitions:
            tp = TopicPartition(topic, partition)
            if tp in paused:
                paused.discard(tp)
                # Its topic may have gone idle meanwhile: read it on the next fetch.
                self._fetcher.touch(topic)

    def paused(self) -> frozenset[TopicPartition]:
        self._check_open()
        return frozenset(self._fetcher.paused)

    def position(self, partition: TopicPartition) -> int:
        cursor = self._cursor(partition)
        if cursor.unset:
            self._fetcher.resolve(cursor, self._store(partition.topic))
        return cursor.position

    def seek(self, partition: TopicPartition, offset: int) -> None:
        if offset < 0:
            raise ValueError(f"offset must be >= 0, not {offset}")
        self._cursor(partition).seek(offset)
        self._fetcher.touch(partition.topic)

    def seek_to_timestamp(
        self, timestamp: int, partitions: Sequence[TopicPartition] | None = None
    ) -> None:
        for tp in self.assignment() if partitions is None else partitions:
            cursor = self._cursor(tp)
            store = self._store(tp.topic)
            with read_tx(store.conn):
                offset = store.offset_for_timestamp(tp.partition, timestamp)
            cursor.seek(offset)
            self._fetcher.touch(tp.topic)

    def watermarks(self, partition: TopicPartition) -> tuple[int, int]:
        store = self._store(partition.topic)
        if not 0 <= partition.partition < store.partitions:
            raise UnknownTopicError(
                f"topic {partition.topic!r} has no partition {partition.partition}"
            )
        with read_tx(store.conn):
            return store.watermarks(partition.partition)

    # -- offsets ---------------------------------------------------------------------------

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        group = self._require_group("commit")
        if offsets is None:
            offsets = {
                tp: cursor.position
                for tp, cursor in self._fetcher.cursors.items()
                if not cursor.unset
            }
        for tp, offset in offsets.items():
            if type(offset) is not int or offset < 0:
                raise ValueError(f"offset for {tp} must be an int >= 0, not {offset!r}")
        if offsets:
            group.commit(offsets, fenced=self._subscribed)

    def committed(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int | None]:
        return self._require_group("committed").committed(partitions)

    def close(self) -> None:
        if self._closed:
            return
        try:
            if self._group is not None and self._subscribed and self._group.joined:
                try:
                    self._revoke(self._group, set(self._group.owned), lost=False)
                finally:
                    self._group.leave()
        finally:
            self._closed = True
            for store in self._stores.values():
                store.close()
            self._stores.clear()
            self._catalog.close()

    # -- internals -------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosedError("consumer is closed")

    def _require_group(self, what: str) -> GroupMember:
        self._check_open()
        if self._group is None:
            raise ConsumerError(f"{what} needs a consumer created with a group_id")
        return self._group

    def _cursor(self, tp: TopicPartition) -> PartitionCursor:
        self._check_open()
        cursor = self._fetcher.cursors.get(TopicPartition(*tp))
        if cursor is None:
            raise NotAssignedError(f"{tp} is not assigned to this consumer")
        return cursor

    def _store(self, topic: str) -> TopicStore:
        store = self._stores.get(topic)
        if store is None:
            info = self._catalog.require(topic)
            store = self._stores[topic] = self._catalog.open_store(info)
        return store

    def _housekeeping(self) -> None:
        if self._catalog.changed():
            self._refresh_stores()
        if self._subscribed and self._group is not None:
            self._coordinate(self._group)
        for topic in {tp.topic for tp in self._fetcher.cursors} - self._stores.keys():
            # Newly claimed, or re-created after a deletion; a deleted one stays unread.
            with contextlib.suppress(UnknownTopicError):
                self._store(topic)

    def _refresh_stores(self) -> None:
        """Drop handles of deleted topics; re-created ones restart from the reset position."""
        for topic, store in list(self._stores.items()):
            info = self._catalog.get(topic)
            if info is not None and self._catalog.path(info) == store.path:
                continue
            store.close()
            del self._stores[topic]
            for tp, cursor in self._fetcher.cursors.items():
                if tp.topic == topic:
                    cursor.seek(None)

    def _coordinate(self, group: GroupMember) -> None:
        state = group.sync()
        if state is GroupState.SAME:
            return
        target = group.target() if state is GroupState.CHANGED else None
        if target is None:
            try:
                self._revoke(group, set(group.owned), lost=True)
            finally:
                group.rejoin()
                self._next_check = 0.0
            return
        revoke = group.owned - target
        if revoke:
            self._revoke(group, revoke, lost=False)
        wanted = target - group.owned
        if wanted:
            claimed = group.claim(wanted)
            for tp, committed in claimed.items():
                self._fetcher.add(tp, committed)
            if claimed and self._on_assign is not None:
                self._on_assign(sorted(claimed))
        group.pending = bool(target - group.owned)

    def _revoke(self, group: GroupMember, partitions: set[TopicPartition], *, lost: bool) -> None:
        """``on_revoke`` first (so it can still commit), then give the partitions up."""
        if not partitions:
            return
        try:
            if self._on_revoke is not None:
                self._on_revoke(sorted(partitions))
        finally:
            if lost:
                group.owned.difference_update(partitions)
            else:
                group.release(partitions)
            for tp in partitions:
                self._fetcher.remove(tp)

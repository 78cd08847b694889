"""Consumer of the in-memory backend, with the same group protocol as the embedded log."""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence

from riskstream.errors import CommitFailedError, LogClosedError, NotAssignedError
from riskstream.log.memory.broker import MemoryBroker
from riskstream.log.port import AssignmentCallback, OffsetReset
from riskstream.log.records import Record, TopicPartition

__all__ = ["MemoryConsumer"]

_member_ids = itertools.count()


class MemoryConsumer:
    """Reads assigned partitions; in a group, owns partitions through the broker's ledger."""

    def __init__(
        self,
        broker: MemoryBroker,
        group_id: str | None,
        auto_offset_reset: OffsetReset,
        session_timeout_ms: int,
    ) -> None:
        self._broker = broker
        self._group_id = group_id
        self._reset = auto_offset_reset
        self._session_timeout_s = session_timeout_ms / 1000
        self._member = f"member-{next(_member_ids)}"
        self._topics: tuple[str, ...] = ()
        self._on_assign: AssignmentCallback | None = None
        self._on_revoke: AssignmentCallback | None = None
        self._positions: dict[TopicPartition, int] = {}
        self._at_end: set[TopicPartition] = set()
        self._paused: set[TopicPartition] = set()
        self._rotation = 0
        self._closed = False

    # -- membership -----------------------------------------------------------------------

    def subscribe(
        self,
        topics: Sequence[str],
        *,
        on_assign: AssignmentCallback | None = None,
        on_revoke: AssignmentCallback | None = None,
    ) -> None:
        if self._group_id is None:
            raise ValueError("subscribe needs a consumer created with a group_id")
        self._topics = tuple(topics)
        self._on_assign, self._on_revoke = on_assign, on_revoke
        self._broker.join(self._group_id, self._member, self._topics)

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        self._positions = {tp: self._start_offset(tp) for tp in partitions}
        self._paused.intersection_update(self._positions)

    def assignment(self) -> list[TopicPartition]:
        return sorted(self._positions)

    def _rebalance(self) -> None:
        if self._group_id is None or not self._topics:
            return
        target = self._broker.target(self._group_id, self._member, self._session_timeout_s)
        held = set(self._positions)
        lost = held - target
        if lost:
            if self._on_revoke is not None:
                self._on_revoke(sorted(lost))
            self._broker.release(self._group_id, self._member, lost)
            for tp in lost:
                del self._positions[tp]
                self._at_end.discard(tp)
                self._paused.discard(tp)
        gained = self._broker.claim(self._group_id, self._member, target - held)
        if gained:
            for tp in gained:
                self._positions[tp] = self._start_offset(tp)
            if self._on_assign is not None:
                self._on_assign(sorted(gained))

    # -- reading --------------------------------------------------------------------------

    def poll(self, max_records: int = 1000, timeout: float = 1.0) -> list[Record]:
        if self._closed:
            raise LogClosedError("consumer is closed")
        deadline = time.monotonic() + timeout
        while True:
            self._rebalance()
            records = self._read(max_records)
            remaining = deadline - time.monotonic()
            if records or remaining <= 0:
                return records
            with self._broker.arrived:
                self._broker.arrived.wait(min(remaining, 0.05))

    def _read(self, max_records: int) -> list[Record]:
        out: list[Record] = []
        held = list(self._positions)
        if self._paused:
            held = [tp for tp in held if tp not in self._paused]
        # Start one partition further each poll so a busy partition cannot starve the rest.
        self._rotation = (self._rotation + 1) % max(len(held), 1)
        with self._broker.lock:
            for tp in held[self._rotation :] + held[: self._rotation]:
                if len(out) >= max_records:
                    break
                part = self._broker.partition(tp)
                start = max(self._positions[tp], part.low())
                batch = part.read(start, max_records - len(out))
                if batch:
                    out.extend(batch)
                    start = batch[-1].offset + 1
                self._positions[tp] = start
                if start >= part.next_offset:
                    self._at_end.add(tp)
                else:
                    self._at_end.discard(tp)
        return out

    def at_end(self) -> frozenset[TopicPartition]:
        return frozenset(self._at_end)

    # -- flow control ---------------------------------------------------------------------

    def pause(self, partitions: Sequence[TopicPartition]) -> None:
        wanted = [TopicPartition(*tp) for tp in partitions]
        for tp in wanted:
            self._held(tp)
        self._paused.update(wanted)

    def resume(self, partitions: Sequence[TopicPartition]) -> None:
        self._paused.difference_update(TopicPartition(*tp) for tp in partitions)

    def paused(self) -> frozenset[TopicPartition]:
        return frozenset(self._paused)

    # -- offsets --------------------------------------------------------------------------

    def _start_offset(self, tp: TopicPartition) -> int:
        if self._group_id is not None:
            committed = self._broker.committed(self._group_id, tp)
            if committed is not None:
                return committed
        part = self._broker.partition(tp)
        return part.low() if self._reset == "earliest" else part.next_offset

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        if self._group_id is None:
            raise ValueError("commit needs a consumer created with a group_id")
        chosen = dict(self._positions if offsets is None else offsets)
        with self._broker.lock:
            if self._topics:
                for tp in chosen:
                    if not self._broker.owns(self._group_id, self._member, tp):
                        raise CommitFailedError(
                            f"{tp.topic}[{tp.partition}] is owned by another member"
                        )
            self._broker.commit(self._group_id, chosen)

    def committed(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int | None]:
        if self._group_id is None:
            return dict.fromkeys(partitions)
        return {tp: self._broker.committed(self._group_id, tp) for tp in partitions}

    def position(self, partition: TopicPartition) -> int:
        return self._held(partition)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self._held(partition)
        self._positions[partition] = offset
        self._at_end.discard(partition)

    def seek_to_timestamp(
        self, timestamp: int, partitions: Sequence[TopicPartition] | None = None
    ) -> None:
        for tp in partitions if partitions is not None else list(self._positions):
            self.seek(tp, self._broker.partition(tp).offset_for_time(timestamp))

    def watermarks(self, partition: TopicPartition) -> tuple[int, int]:
        part = self._broker.partition(partition)
        return part.low(), part.next_offset

    def _held(self, partition: TopicPartition) -> int:
        try:
            return self._positions[partition]
        except KeyError:
            raise NotAssignedError(
                f"{partition.topic}[{partition.partition}] is not assigned"
            ) from None

    def close(self) -> None:
        if self._closed:
            return
        if self._group_id is not None and self._topics:
            if self._positions and self._on_revoke is not None:
                self._on_revoke(sorted(self._positions))
            self._broker.leave(self._group_id, self._member)
        self._positions.clear()
        self._paused.clear()
        self._closed = True

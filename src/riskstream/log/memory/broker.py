"""The shared state of an in-memory log: topics, partitions and consumer groups.

One lock guards everything; a condition wakes consumers waiting for records.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from dataclasses import dataclass, field

from riskstream.errors import TopicExistsError, UnknownTopicError
from riskstream.log.assignor import assign_partitions
from riskstream.log.records import Record, TopicPartition, TopicSpec

__all__ = ["MemoryBroker", "MemoryPartition"]


@dataclass
class MemoryPartition:
    """Records of one partition; ``offsets`` stays sorted (sparse after compaction)."""

    offsets: list[int] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    next_offset: int = 0

    def low(self) -> int:
        return self.offsets[0] if self.offsets else self.next_offset

    def read(self, offset: int, limit: int) -> list[Record]:
        start = bisect_left(self.offsets, offset)
        return self.records[start : start + limit]

    def offset_for_time(self, timestamp: int) -> int:
        for record in self.records:
            if record.timestamp >= timestamp:
                return record.offset
        return self.next_offset

    def replace(self, kept: list[Record]) -> None:
        self.records = kept
        self.offsets = [record.offset for record in kept]


@dataclass
class _Group:
    heartbeats: dict[str, float] = field(default_factory=dict)
    topics: dict[str, tuple[str, ...]] = field(default_factory=dict)
    owners: dict[TopicPartition, str] = field(default_factory=dict)
    commits: dict[TopicPartition, int] = field(default_factory=dict)


class MemoryBroker:
    """Topics, records and group coordination for every client of one :class:`MemoryLog`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.arrived = threading.Condition(self.lock)
        self.specs: dict[str, TopicSpec] = {}
        self.partitions: dict[str, list[MemoryPartition]] = {}
        self._groups: dict[str, _Group] = {}

    # -- topics ---------------------------------------------------------------------------

    def create(self, spec: TopicSpec, *, exist_ok: bool) -> None:
        with self.lock:
            if spec.name in self.specs:
                if exist_ok:
                    return
                raise TopicExistsError(f"topic {spec.name!r} already exists")
            self.specs[spec.name] = spec
            self.partitions[spec.name] = [MemoryPartition() for _ in range(spec.partitions)]

    def delete(self, name: str) -> None:
        with self.lock:
            if name not in self.specs:
                raise UnknownTopicError(f"unknown topic {name!r}")
            del self.specs[name]
            del self.partitions[name]

    def partition(self, tp: TopicPartition) -> MemoryPartition:
        try:
            return self.partitions[tp.topic][tp.partition]
        except (KeyError, IndexError):
            raise UnknownTopicError(f"unknown topic partition {tp.topic}[{tp.partition}]") from None

    def partition_count(self, topic: str) -> int:
        spec = self.specs.get(topic)
        if spec is None:
            raise UnknownTopicError(f"unknown topic {topic!r}")
        return spec.partitions

    def append(self, records: list[Record]) -> None:
        """Store records whose offsets were assigned by :meth:`next_offset`."""
        with self.lock:
            for record in records:
                part = self.partitions[record.topic][record.partition]
                part.offsets.append(record.offset)
                part.records.append(record)
            self.arrived.notify_all()

    def next_offset(self, tp: TopicPartition) -> int:
        part = self.partition(tp)
        offset = part.next_offset
        part.next_offset += 1
        return offset

    # -- groups ---------------------------------------------------------------------------

    def join(self, group_id: str, member: str, topics: tuple[str, ...]) -> None:
        with self.lock:
            group = self._groups.setdefault(group_id, _Group())
            group.heartbeats[member] = time.monotonic()
            group.topics[member] = topics

    def leave(self, group_id: str, member: str) -> None:
        with self.lock:
            group = self._groups.get(group_id)
            if group is None:
                return
            group.heartbeats.pop(member, None)
            group.topics.pop(member, None)
            for tp in [tp for tp, owner in group.owners.items() if owner == member]:
                del group.owners[tp]

    def target(self, group_id: str, member: str, session_timeout_s: float) -> set[TopicPartition]:
        """Heartbeat, expire silent members, and return this member's share of partitions."""
        with self.lock:
            group = self._groups.setdefault(group_id, _Group())
            now = time.monotonic()
            group.heartbeats[member] = now
            for other, seen in list(group.heartbeats.items()):
                if now - seen > session_timeout_s:
                    self.leave(group_id, other)
            topics = {topic for subscribed in group.topics.values() for topic in subscribed}
            counts = {
                topic: self.specs[topic].partitions for topic in topics if topic in self.specs
            }
            return assign_partitions(list(group.heartbeats), counts).get(member, set())

    def claim(self, group_id: str, member: str, wanted: set[TopicPartition]) -> set[TopicPartition]:
        """Take the wanted partitions that no live member holds; returns those taken."""
        with self.lock:
            group = self._groups.setdefault(group_id, _Group())
            taken = set()
            for tp in wanted:
                owner = group.owners.get(tp)
                if owner is None or owner not in group.heartbeats:
                    group.owners[tp] = member
                    taken.add(tp)
            return taken

    def release(self, group_id: str, member: str, partitions: set[TopicPartition]) -> None:
        with self.lock:
            group = self._groups.setdefault(group_id, _Group())
            for tp in partitions:
                if group.owners.get(tp) == member:
                    del group.owners[tp]

    def owns(self, group_id: str, member: str, tp: TopicPartition) -> bool:
        group = self._groups.get(group_id)
        return group is not None and group.owners.get(tp) == member

    def commit(self, group_id: str, offsets: dict[TopicPartition, int]) -> None:
        with self.lock:
            self._groups.setdefault(group_id, _Group()).commits.update(offsets)

    def committed(self, group_id: str, tp: TopicPartition) -> int | None:
        with self.lock:
            group = self._groups.get(group_id)
            return None if group is None else group.commits.get(tp)

"""The in-memory event log: admin, maintenance (retention, compaction) and client factories."""

from __future__ import annotations

import time
from collections.abc import Sequence

from riskstream.log.memory.broker import MemoryBroker, MemoryPartition
from riskstream.log.memory.consumer import MemoryConsumer
from riskstream.log.memory.producer import MemoryProducer
from riskstream.log.port import DeliveryCallback, OffsetReset
from riskstream.log.records import Record, TopicSpec

__all__ = ["MemoryAdmin", "MemoryLog"]


class MemoryAdmin:
    """Topic administration over a :class:`MemoryBroker`."""

    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    def create_topics(self, specs: Sequence[TopicSpec], *, exist_ok: bool = False) -> None:
        for spec in specs:
            self._broker.create(spec, exist_ok=exist_ok)

    def delete_topics(self, names: Sequence[str]) -> None:
        for name in names:
            self._broker.delete(name)

    def describe_topics(self, names: Sequence[str] | None = None) -> dict[str, TopicSpec]:
        with self._broker.lock:
            wanted = list(self._broker.specs) if names is None else list(names)
            return {name: self._broker.specs[name] for name in wanted if name in self._broker.specs}

    def list_topics(self) -> list[str]:
        with self._broker.lock:
            return sorted(self._broker.specs)


class MemoryLog:
    """Everything in one process's memory: fast, not durable, same semantics as the others."""

    def __init__(self) -> None:
        self._broker = MemoryBroker()
        self._admin = MemoryAdmin(self._broker)

    @property
    def url(self) -> str:
        return "memory:"

    @property
    def admin(self) -> MemoryAdmin:
        return self._admin

    def producer(
        self, *, on_delivery: DeliveryCallback | None = None, linger_ms: int = 5
    ) -> MemoryProducer:
        return MemoryProducer(self._broker, on_delivery, linger_ms)

    def consumer(
        self,
        group_id: str | None = None,
        *,
        auto_offset_reset: OffsetReset = "earliest",
        session_timeout_ms: int = 10_000,
    ) -> MemoryConsumer:
        return MemoryConsumer(self._broker, group_id, auto_offset_reset, session_timeout_ms)

    def maintain(self, now_ms: int | None = None) -> None:
        """Apply retention and compaction once to every topic."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        with self._broker.lock:
            for name, spec in self._broker.specs.items():
                for part in self._broker.partitions[name]:
                    _apply_retention(part, spec, now)
                    if spec.compacted:
                        _compact(part)

    def close(self) -> None:
        """Nothing to release; present for the port."""


def _apply_retention(part: MemoryPartition, spec: TopicSpec, now_ms: int) -> None:
    kept = part.records
    if spec.retention_ms is not None:
        cutoff = now_ms - spec.retention_ms
        kept = [record for record in kept if record.timestamp >= cutoff]
    if spec.retention_bytes is not None:
        total = 0
        start = len(kept)
        while start > 0:
            total += _size(kept[start - 1])
            if total > spec.retention_bytes:
                break
            start -= 1
        kept = kept[start:]
    if len(kept) != len(part.records):
        part.replace(kept)


def _compact(part: MemoryPartition) -> None:
    latest: dict[bytes | None, int] = {}
    for record in part.records:
        latest[record.key] = record.offset
    part.replace(
        [
            record
            for record in part.records
            if latest[record.key] == record.offset and record.value is not None
        ]
    )


def _size(record: Record) -> int:
    return len(record.key or b"") + len(record.value or b"")

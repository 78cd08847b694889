"""Producer of the in-memory backend: batches records, assigns offsets, reports deliveries."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

from riskstream.errors import LogClosedError, UnknownTopicError
from riskstream.log.memory.broker import MemoryBroker
from riskstream.log.partitioner import partition_for
from riskstream.log.port import BatchRecord, DeliveryCallback
from riskstream.log.records import DeliveryReport, Headers, Record, TopicPartition

__all__ = ["MemoryProducer"]

_Pending = tuple[Record, DeliveryCallback | None]


class MemoryProducer:
    """Buffers records until ``linger_ms`` passes or ``flush``; reports after appending."""

    def __init__(
        self, broker: MemoryBroker, on_delivery: DeliveryCallback | None, linger_ms: int
    ) -> None:
        self._broker = broker
        self._on_delivery = on_delivery
        self._linger_s = linger_ms / 1000
        self._pending: list[
            tuple[
                str, int | None, bytes | None, bytes | None, int, Headers, DeliveryCallback | None
            ]
        ] = []
        self._oldest = 0.0
        self._round_robin = itertools.count()
        self._closed = False

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        *,
        partition: int | None = None,
        timestamp: int | None = None,
        headers: Headers | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        if self._closed:
            raise LogClosedError("producer is closed")
        if not self._pending:
            self._oldest = time.monotonic()
        stamp = timestamp if timestamp is not None else int(time.time() * 1000)
        self._pending.append((topic, partition, key, value, stamp, headers or (), on_delivery))
        if time.monotonic() - self._oldest >= self._linger_s:
            self._send()

    def produce_batch(self, topic: str, records: Sequence[BatchRecord]) -> list[DeliveryReport]:
        """Append ``records`` now (after everything queued before them); their reports."""
        if self._closed:
            raise LogClosedError("producer is closed")
        reports: list[DeliveryReport] = []
        for _partition, key, value, timestamp, _headers in records:
            if type(value) is not bytes and value is not None:
                raise TypeError(f"value must be bytes or None, not {type(value).__name__}")
            if type(key) is not bytes and key is not None:
                raise TypeError(f"key must be bytes or None, not {type(key).__name__}")
            if type(timestamp) is not int:
                raise TypeError(f"timestamp must be int, not {type(timestamp).__name__}")
        if not self._pending:
            self._oldest = time.monotonic()
        for partition, key, value, timestamp, headers in records:
            self._pending.append((topic, partition, key, value, timestamp, headers, reports.append))
        self._send()
        return reports

    def poll(self, timeout: float = 0.0) -> int:
        return self._send()

    def flush(self, timeout: float | None = None) -> int:
        self._send()
        return 0

    def close(self) -> None:
        if not self._closed:
            self.flush()
            self._closed = True

    def _send(self) -> int:
        pending, self._pending = self._pending, []
        reports: list[tuple[DeliveryReport, DeliveryCallback | None]] = []
        stored: list[Record] = []
        with self._broker.lock:
            for topic, partition, key, value, stamp, headers, callback in pending:
                try:
                    count = self._broker.partition_count(topic)
                    chosen = self._partition(key, partition, count)
                    offset = self._broker.next_offset(TopicPartition(topic, chosen))
                except UnknownTopicError as exc:
                    reports.append(
                        (DeliveryReport(topic, partition or -1, -1, stamp, key, str(exc)), callback)
                    )
                    continue
                stored.append(Record(topic, chosen, offset, stamp, key, value, headers))
                reports.append((DeliveryReport(topic, chosen, offset, stamp, key), callback))
            self._broker.append(stored)
        for report, callback in reports:
            target = callback or self._on_delivery
            if target is not None:
                target(report)
        return len(reports)

    def _partition(self, key: bytes | None, partition: int | None, count: int) -> int:
        if partition is not None:
            if not 0 <= partition < count:
                raise UnknownTopicError(f"partition {partition} out of range (topic has {count})")
            return partition
        if key is None:
            return next(self._round_robin) % count
        return partition_for(key, count)

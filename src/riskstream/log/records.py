"""Plain values that cross the log port: records, partitions, topic specs, delivery reports."""

from __future__ import annotations

from typing import NamedTuple

import msgspec

__all__ = ["DeliveryReport", "Headers", "Record", "TopicPartition", "TopicSpec"]

Headers = tuple[tuple[str, bytes], ...]
"""Record headers: ordered ``(name, value)`` pairs; a name may repeat, as in Kafka."""


class TopicPartition(NamedTuple):
    """One partition of one topic."""

    topic: str
    partition: int


class Record(msgspec.Struct, frozen=True, gc=False):
    """One record read from the log.

    ``timestamp`` is epoch milliseconds (the producer's create time unless the topic uses
    log-append time); ``offset`` is the record's position within its partition.
    """

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    def header(self, name: str) -> bytes | None:
        """The last value of a header, or ``None``."""
        found = None
        for header_name, value in self.headers:
            if header_name == name:
                found = value
        return found


class DeliveryReport(msgspec.Struct, frozen=True, gc=False):
    """The outcome of producing one record: its place in the log, or the error."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class TopicSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A topic as created or described.

    ``compacted`` keeps at least the latest value per key (a ``None`` value is a tombstone
    that deletes the key); ``retention_ms``/``retention_bytes`` bound what is kept (per
    partition for bytes, as in Kafka); ``None`` means unbounded. ``replication_factor``
    is ignored by single-node backends. ``config`` passes backend options through untouched.
    """

    name: str
    partitions: int = 1
    replication_factor: int | None = None
    compacted: bool = False
    retention_ms: int | None = None
    retention_bytes: int | None = None
    config: dict[str, str] = msgspec.field(default_factory=dict)

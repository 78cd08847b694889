"""The event log: one port, three backends (embedded on-disk, Apache Kafka, in-memory)."""

from riskstream.log.partitioner import murmur2, partition_for
from riskstream.log.port import (
    Admin,
    BatchProducer,
    BatchRecord,
    Consumer,
    DeliveryCallback,
    EventLog,
    OffsetReset,
    OutgoingRecord,
    Producer,
    StreamingProducer,
)
from riskstream.log.records import DeliveryReport, Headers, Record, TopicPartition, TopicSpec
from riskstream.log.url import DEFAULT_LOG_URL, open_log

__all__ = [
    "DEFAULT_LOG_URL",
    "Admin",
    "BatchProducer",
    "BatchRecord",
    "Consumer",
    "DeliveryCallback",
    "DeliveryReport",
    "EventLog",
    "Headers",
    "OffsetReset",
    "OutgoingRecord",
    "Producer",
    "Record",
    "StreamingProducer",
    "TopicPartition",
    "TopicSpec",
    "murmur2",
    "open_log",
    "partition_for",
]

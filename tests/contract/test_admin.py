"""Topic administration, compaction and retention."""

from __future__ import annotations

import time
import uuid

import pytest

from riskstream.errors import TopicExistsError
from riskstream.log import Record, TopicPartition, TopicSpec
from tests.contract.harness import LogHarness, poll_until

# Kafka only cleans closed segments: small segments and an eager cleaner make it observable.
_FAST_CLEANUP = {
    "segment.ms": "100",
    "min.cleanable.dirty.ratio": "0.001",
    "min.compaction.lag.ms": "0",
    "delete.retention.ms": "0",
    "file.delete.delay.ms": "0",
}


def test_create_describe_list_delete(harness: LogHarness) -> None:
    admin = harness.log.admin
    name = f"admin-{uuid.uuid4().hex[:10]}"
    admin.create_topics(
        [TopicSpec(name=name, partitions=4, compacted=True, retention_ms=86_400_000)]
    )
    with pytest.raises(TopicExistsError):
        admin.create_topics([TopicSpec(name=name, partitions=4)])
    admin.create_topics([TopicSpec(name=name, partitions=4)], exist_ok=True)
    spec = admin.describe_topics([name])[name]
    assert (spec.partitions, spec.compacted, spec.retention_ms) == (4, True, 86_400_000)
    assert name in admin.list_topics()
    admin.delete_topics([name])
    deadline = time.monotonic() + 30
    while name in admin.list_topics():
        assert time.monotonic() < deadline, "topic still listed after delete"
        time.sleep(0.2)


def _read_all(harness: LogHarness, topic: str) -> list[Record]:
    consumer = harness.log.consumer()
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek(tp, consumer.watermarks(tp)[0])
    records = list(poll_until([consumer], lambda: tp in consumer.at_end(), timeout=20))
    consumer.close()
    return records


def test_compaction_keeps_the_latest_value_per_key(harness: LogHarness) -> None:
    topic = harness.topic(compacted=True, config=_FAST_CLEANUP)
    producer = harness.log.producer()
    for round_ in range(3):
        for key in (b"a", b"b", b"gone"):
            producer.produce(topic, f"{key.decode()}{round_}".encode(), key)
    producer.produce(topic, None, b"gone")  # tombstone
    assert producer.flush(30) == 0

    def compacted() -> bool:
        time.sleep(0.15)
        producer.produce(topic, b"roll", b"filler")  # rolls Kafka's active segment
        producer.flush(30)
        latest: dict[bytes | None, list[bytes | None]] = {}
        for record in _read_all(harness, topic):
            latest.setdefault(record.key, []).append(record.value)
        return (
            latest.get(b"a") == [b"a2"]
            and latest.get(b"b") == [b"b2"]
            and all(value is None for value in latest.get(b"gone", []))
        )

    harness.eventually(compacted)
    offsets = [r.offset for r in _read_all(harness, topic)]
    assert offsets == sorted(offsets)  # offsets are kept (sparse), never renumbered


def test_time_retention_drops_old_records(harness: LogHarness) -> None:
    topic = harness.topic(retention_ms=60_000, config={"segment.ms": "100"})
    producer = harness.log.producer()
    old = int(time.time() * 1000) - 3_600_000
    for i in range(50):
        producer.produce(topic, f"old{i}".encode(), b"k", timestamp=old + i)
    assert producer.flush(30) == 0
    tp = TopicPartition(topic, 0)
    probe = harness.log.consumer()
    probe.assign([tp])

    def trimmed() -> bool:
        time.sleep(0.15)
        producer.produce(topic, b"fresh", b"k")
        producer.flush(30)
        return probe.watermarks(tp)[0] >= 50

    harness.eventually(trimmed)
    assert all(record.value == b"fresh" for record in _read_all(harness, topic))
    probe.close()


def test_size_retention_bounds_a_partition(local_harness: LogHarness) -> None:
    harness = local_harness
    topic = harness.topic(retention_bytes=1_000)
    producer = harness.log.producer()
    for i in range(100):
        producer.produce(topic, b"x" * 90, f"k{i:03d}".encode())  # 94 bytes each
    assert producer.flush(30) == 0
    harness.maintain()
    records = _read_all(harness, topic)
    assert 0 < len(records) <= 10
    assert records[-1].key == b"k099"

"""Embedded log: retention by time and size, compaction, and when maintenance runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from riskstream.log import Record, TopicPartition, TopicSpec
from riskstream.log.embedded import EmbeddedLog

NOW = time.time_ns() // 1_000_000
HOUR = 3_600_000


@pytest.fixture
def log(tmp_path: Path) -> Iterator[EmbeddedLog]:
    embedded = EmbeddedLog(tmp_path / "log", {"maintenance_interval_ms": "0"})
    yield embedded
    embedded.close()


def write(
    log: EmbeddedLog, topic: str, records: list[tuple[bytes | None, bytes | None, int]]
) -> None:
    """``(key, value, timestamp)`` records as one stored batch (timestamp 0: now)."""
    producer = log.producer(linger_ms=60_000)
    for key, value, timestamp in records:
        producer.produce(topic, value, key, timestamp=timestamp or None)
    assert producer.flush() == 0
    producer.close()


def read_all(log: EmbeddedLog, topic: str) -> list[Record]:
    consumer = log.consumer()
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    out: list[Record] = []
    while tp not in consumer.at_end():
        out.extend(consumer.poll(1000, 0.0))
    assert consumer.position(tp) == consumer.watermarks(tp)[1]
    consumer.close()
    return out


def watermarks(log: EmbeddedLog, topic: str) -> tuple[int, int]:
    consumer = log.consumer()
    marks = consumer.watermarks(TopicPartition(topic, 0))
    consumer.close()
    return marks


def test_time_retention_drops_the_old_prefix_record_by_record(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t", retention_ms=HOUR)])
    old = NOW - 2 * HOUR
    write(log, "t", [(b"k", b"old0", old), (b"k", b"old1", old)])
    write(log, "t", [(b"k", b"old2", old), (b"k", b"young", 0), (b"k", b"late-old", old)])
    assert log.maintain() == {"t": 3}
    assert watermarks(log, "t") == (3, 5)
    # An old timestamp after a young record stays: retention only trims a prefix.
    assert [(r.offset, r.value) for r in read_all(log, "t")] == [(3, b"young"), (4, b"late-old")]
    assert log.maintain() == {"t": 0}


def test_a_fully_expired_partition_keeps_its_offsets(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t", retention_ms=HOUR)])
    write(log, "t", [(None, b"a", NOW - 2 * HOUR), (None, b"b", NOW - 2 * HOUR)])
    tp = TopicPartition("t", 0)
    behind = log.consumer()
    behind.assign([tp])
    assert behind.position(tp) == 0
    log.maintain()
    assert watermarks(log, "t") == (2, 2)
    assert behind.poll(10, 0.0) == []  # nothing below the low watermark is returned
    assert tp in behind.at_end()
    write(log, "t", [(None, b"c", 0)])
    assert [(r.offset, r.value) for r in behind.poll(10, 1.0)] == [(2, b"c")]
    behind.close()


def test_size_retention_keeps_the_newest_records_that_fit(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t", retention_bytes=1_000)])
    for chunk in range(4):
        write(log, "t", [(b"k%03d" % i, b"x" * 90, 0) for i in range(chunk * 25, chunk * 25 + 25)])
    log.maintain()
    records = read_all(log, "t")
    assert 5 <= len(records) <= 10
    assert records[-1].key == b"k099"
    assert [r.offset for r in records] == list(range(100 - len(records), 100))
    assert watermarks(log, "t") == (records[0].offset, 100)


def test_size_retention_drops_a_batch_of_which_nothing_fits(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t", retention_bytes=600)])
    write(log, "t", [(b"k", b"x" * 90, 0)] * 10)
    write(log, "t", [(b"k", b"x" * 90, 0)] * 5)  # ~540 stored bytes: fits, nothing more does
    assert log.maintain() == {"t": 10}
    assert watermarks(log, "t") == (10, 15)


def test_compaction_keeps_the_latest_value_per_key(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t", compacted=True)])
    write(log, "t", [(b"a", b"a0", 0), (b"b", b"b0", 0), (b"gone", b"g0", 0)])
    write(log, "t", [(b"a", b"a1", 0), (b"gone", None, 0), (b"b", b"b1", 0), (b"c", b"c0", 0)])
    write(log, "t", [(b"a", b"a2", 0), (b"d", b"d0", 0), (b"d", None, 0)])
    assert log.maintain() == {"t": 7}
    records = read_all(log, "t")
    assert [(r.offset, r.key, r.value) for r in records] == [
        (5, b"b", b"b1"),
        (6, b"c", b"c0"),
        (7, b"a", b"a2"),
    ]
    assert watermarks(log, "t") == (0, 10)  # as in Kafka, compaction leaves the log start
    # Later writes are compacted against what was already clean.
    write(log, "t", [(b"c", b"c1", 0), (b"e", b"e0", 0)])
    assert log.maintain() == {"t": 1}
    assert [(r.key, r.value) for r in read_all(log, "t")] == [
        (b"b", b"b1"),
        (b"a", b"a2"),
        (b"c", b"c1"),
        (b"e", b"e0"),
    ]


def test_seek_to_timestamp_after_compaction(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t", compacted=True)])
    write(log, "t", [(b"a", b"1", 100), (b"b", b"2", 200), (b"a", b"3", 300), (b"b", b"4", 400)])
    log.maintain()
    consumer = log.consumer()
    tp = TopicPartition("t", 0)
    consumer.assign([tp])
    consumer.seek_to_timestamp(150)
    assert consumer.position(tp) == 2
    consumer.seek_to_timestamp(401)
    assert consumer.position(tp) == 4
    consumer.close()


def test_compaction_lag_and_tombstone_retention_are_honoured(log: EmbeddedLog) -> None:
    log.admin.create_topics(
        [
            TopicSpec(name="lag", compacted=True, config={"min.compaction.lag.ms": str(HOUR)}),
            TopicSpec(name="keep", compacted=True, config={"delete.retention.ms": str(HOUR)}),
        ]
    )
    write(log, "lag", [(b"a", b"old", NOW - 2 * HOUR), (b"a", b"older-copy", NOW - 2 * HOUR)])
    write(log, "lag", [(b"a", b"new", 0), (b"a", b"newer", 0)])
    write(log, "keep", [(b"a", b"v", 0), (b"a", None, 0)])
    assert log.maintain() == {"lag": 1, "keep": 1}
    # Only the batch older than the lag was compacted, and only against itself.
    assert [r.value for r in read_all(log, "lag")] == [b"older-copy", b"new", b"newer"]
    assert [(r.key, r.value) for r in read_all(log, "keep")] == [(b"a", None)]


def test_producers_run_maintenance_periodically(tmp_path: Path) -> None:
    with EmbeddedLog(tmp_path / "log", {"maintenance_interval_ms": "50"}) as log:
        log.admin.create_topics([TopicSpec(name="t", retention_ms=HOUR)])
        producer = log.producer(linger_ms=0)
        producer.produce("t", b"old", timestamp=NOW - 2 * HOUR)
        producer.flush()
        assert watermarks(log, "t") == (0, 1)
        time.sleep(0.1)
        producer.produce("t", b"new")
        producer.flush()
        assert watermarks(log, "t") == (1, 2)
        producer.close()


def test_topics_without_limits_are_left_alone(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t")])
    write(log, "t", [(b"a", b"1", NOW - 1000 * HOUR), (b"a", b"2", 0)])
    assert log.maintain() == {"t": 0}
    assert len(read_all(log, "t")) == 2

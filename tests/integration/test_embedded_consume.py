"""Embedded log: reading — positions, seeking, time lookups, fairness, waiting, offsets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from riskstream.errors import (
    ConsumerError,
    LogClosedError,
    NotAssignedError,
    UnknownTopicError,
)
from riskstream.log import Consumer, Record, TopicPartition, TopicSpec
from riskstream.log.embedded import EmbeddedLog


@pytest.fixture
def log(tmp_path: Path) -> Iterator[EmbeddedLog]:
    embedded = EmbeddedLog(tmp_path / "log")
    yield embedded
    embedded.close()


def produce(log: EmbeddedLog, topic: str, count: int, **fields: int) -> None:
    """``count`` records ``v0``, ``v1``… as one batch."""
    producer = log.producer(linger_ms=60_000)
    for i in range(count):
        producer.produce(topic, f"v{i}".encode(), None, **fields)  # type: ignore[arg-type]
    assert producer.flush() == 0
    producer.close()


def read_to_end(consumer: Consumer, max_records: int = 1000) -> list[Record]:
    out: list[Record] = []
    while True:
        out.extend(consumer.poll(max_records, 0.0))
        if set(consumer.assignment()) <= consumer.at_end():
            return out


def test_assign_checks_topics_and_partitions(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t", partitions=2)])
    consumer = log.consumer()
    with pytest.raises(UnknownTopicError):
        consumer.assign([TopicPartition("missing", 0)])
    with pytest.raises(UnknownTopicError):
        consumer.assign([TopicPartition("t", 2)])
    consumer.assign([TopicPartition("t", 1), TopicPartition("t", 0)])
    assert consumer.assignment() == [TopicPartition("t", 0), TopicPartition("t", 1)]
    consumer.assign([TopicPartition("t", 1)])  # replaces the assignment
    assert consumer.assignment() == [TopicPartition("t", 1)]
    with pytest.raises(NotAssignedError):
        consumer.position(TopicPartition("t", 0))
    with pytest.raises(NotAssignedError):
        consumer.seek(TopicPartition("t", 0), 0)
    consumer.close()


def test_small_polls_and_seeks_inside_a_batch(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t")])
    produce(log, "t", 100)  # one stored batch of 100 records
    tp = TopicPartition("t", 0)
    consumer = log.consumer()
    consumer.assign([tp])
    assert consumer.position(tp) == 0
    got = read_to_end(consumer, max_records=7)
    assert [r.offset for r in got] == list(range(100))
    assert consumer.position(tp) == 100
    consumer.seek(tp, 37)
    assert tp not in consumer.at_end()
    assert [r.offset for r in consumer.poll(3, 0.0)] == [37, 38, 39]
    assert consumer.position(tp) == 40
    consumer.seek(tp, 98)
    assert [r.value for r in read_to_end(consumer)] == [b"v98", b"v99"]
    consumer.close()


def test_polls_are_fair_across_partitions(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t", partitions=4)])
    producer = log.producer(linger_ms=60_000)
    for partition in range(4):
        for i in range(500):
            producer.produce("t", f"{partition}-{i}".encode(), partition=partition)
    producer.close()
    consumer = log.consumer()
    consumer.assign([TopicPartition("t", p) for p in range(4)])
    first = consumer.poll(40, 0.0)
    assert len(first) == 40
    assert {r.partition for r in first} == {0, 1, 2, 3}
    # A partition that runs dry leaves its share to the others.
    consumer.seek(TopicPartition("t", 0), 499)
    second = consumer.poll(400, 0.0)
    assert len(second) == 400
    assert [r.offset for r in second if r.partition == 0] == [499]
    consumer.close()


def test_seek_to_timestamp_finds_the_first_record_at_or_after(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t")])
    # Out-of-order timestamps over several stored batches: 50 30 70 | 20 60 | 90 10
    for stamps in ([50, 30, 70], [20, 60], [90, 10]):
        producer = log.producer(linger_ms=60_000)
        for ts in stamps:
            producer.produce("t", str(ts).encode(), timestamp=ts)
        producer.close()
    tp = TopicPartition("t", 0)
    consumer = log.consumer()
    consumer.assign([tp])
    expected = {0: 0, 50: 0, 51: 2, 70: 2, 71: 5, 90: 5, 91: 7}
    for ts, offset in expected.items():
        consumer.seek_to_timestamp(ts)
        assert consumer.position(tp) == offset, ts
    consumer.seek_to_timestamp(55, [tp])
    assert [r.value for r in consumer.poll(10, 0.0)] == [b"70", b"20", b"60", b"90", b"10"]
    consumer.close()


def test_watermarks_for_any_partition(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t", partitions=2)])
    produce(log, "t", 5, partition=1)
    consumer = log.consumer()
    assert consumer.watermarks(TopicPartition("t", 1)) == (0, 5)
    assert consumer.watermarks(TopicPartition("t", 0)) == (0, 0)
    with pytest.raises(UnknownTopicError):
        consumer.watermarks(TopicPartition("t", 9))
    with pytest.raises(UnknownTopicError):
        consumer.watermarks(TopicPartition("nope", 0))
    consumer.close()


def test_poll_waits_for_the_first_record_up_to_the_timeout(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t")])
    consumer = log.consumer()
    consumer.assign([TopicPartition("t", 0)])
    start = time.monotonic()
    assert consumer.poll(10, 0.2) == []
    assert 0.18 <= time.monotonic() - start < 1.0

    def later() -> None:
        time.sleep(0.2)
        produce(log, "t", 1)

    thread = threading.Thread(target=later)
    thread.start()
    start = time.monotonic()
    records = consumer.poll(10, 5.0)
    waited = time.monotonic() - start
    thread.join()
    assert [r.value for r in records] == [b"v0"]
    assert waited < 1.0
    consumer.close()


def test_offset_reset_for_manual_assignment(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t")])
    produce(log, "t", 3)
    tp = TopicPartition("t", 0)
    latest = log.consumer(auto_offset_reset="latest")
    latest.assign([tp])
    assert latest.position(tp) == 3
    assert latest.poll(10, 0.0) == []
    assert tp in latest.at_end()
    produce(log, "t", 1)
    assert [r.offset for r in latest.poll(10, 1.0)] == [3]
    latest.close()
    with pytest.raises(ValueError, match="auto_offset_reset"):
        log.consumer(auto_offset_reset="middle")  # type: ignore[arg-type]  # the point


def test_commits_need_a_group_and_manual_commits_are_not_fenced(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t")])
    produce(log, "t", 10)
    tp = TopicPartition("t", 0)
    anonymous = log.consumer()
    anonymous.assign([tp])
    with pytest.raises(ConsumerError):
        anonymous.commit()
    with pytest.raises(ConsumerError):
        anonymous.committed([tp])
    with pytest.raises(ConsumerError):
        anonymous.subscribe(["t"])
    anonymous.close()

    manual = log.consumer("g")
    manual.assign([tp])
    assert manual.committed([tp]) == {tp: None}
    assert len(manual.poll(4, 0.0)) == 4
    manual.commit()
    assert manual.committed([tp]) == {tp: 4}
    manual.commit({tp: 8})
    with pytest.raises(ValueError):
        manual.commit({tp: -1})
    with pytest.raises(ConsumerError):
        manual.subscribe(["t"])
    manual.close()

    resumed = log.consumer("g")
    resumed.assign([tp])  # starts from the group's committed offset
    assert [r.offset for r in read_to_end(resumed)] == [8, 9]
    resumed.close()


def test_closed_consumer_refuses_work(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t")])
    consumer = log.consumer()
    consumer.assign([TopicPartition("t", 0)])
    consumer.close()
    consumer.close()
    with pytest.raises(LogClosedError):
        consumer.poll(1, 0.0)
    with pytest.raises(LogClosedError):
        consumer.position(TopicPartition("t", 0))


def test_a_recreated_topic_is_read_from_the_reset_position(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t")])
    produce(log, "t", 5)
    tp = TopicPartition("t", 0)
    consumer = log.consumer()
    consumer.assign([tp])
    assert len(read_to_end(consumer)) == 5
    log.admin.delete_topics(["t"])
    assert consumer.poll(10, 0.15) == []
    log.admin.create_topics([TopicSpec(name="t")])
    produce(log, "t", 2)
    time.sleep(0.15)  # past the consumer's metadata check interval
    assert [r.offset for r in consumer.poll(10, 1.0)] == [0, 1]
    consumer.close()

"""Batches written at once, on the backends that store records themselves (embedded, memory):
the same placement, order and reports as one ``produce`` at a time."""

from __future__ import annotations

import pytest

from riskstream.log import BatchProducer, DeliveryReport, TopicPartition, partition_for
from tests.contract.harness import LogHarness, drain


def _batch_producer(harness: LogHarness, **options: object) -> BatchProducer:
    producer = harness.log.producer(**options)  # type: ignore[arg-type]
    assert isinstance(producer, BatchProducer)
    return producer


def test_a_batch_is_written_at_once_after_what_was_queued_before(
    local_harness: LogHarness,
) -> None:
    topic = local_harness.topic(partitions=3)
    earlier: list[DeliveryReport] = []
    producer = _batch_producer(local_harness, linger_ms=60_000)
    producer.produce(topic, b"first", b"k", on_delivery=earlier.append)
    keys = [f"user-{i}".encode() for i in range(200)]
    records = [(None, key, b"v%d" % i, 1_000 + i, (("h", b"x"),)) for i, key in enumerate(keys)]
    reports = producer.produce_batch(topic, [*records, (2, None, b"placed", 5, ())])
    # Readable now: no flush, no poll.
    consumer = local_harness.log.consumer()
    consumer.assign([TopicPartition(topic, p) for p in range(3)])
    read = drain(consumer, 202)
    consumer.close()
    assert sorted((r.partition, r.offset, r.key) for r in reports) == sorted(
        (r.partition, r.offset, r.key) for r in read if r.value != b"first"
    )
    assert [r.partition for r in reports[:-1]] == [partition_for(k, 3) for k in keys]
    assert reports[-1].partition == 2 and reports[-1].key is None
    assert all(report.ok for report in reports)
    first = next(r for r in read if r.value == b"first")
    same = [r.offset for r in reports if r.partition == first.partition]
    assert first.offset < min(same)  # queued before the batch: written before it
    by_offset = {(r.partition, r.offset): r for r in read}
    assert all(by_offset[r.partition, r.offset].headers == (("h", b"x"),) for r in reports[:-1])
    assert all(by_offset[r.partition, r.offset].timestamp == r.timestamp for r in reports)
    producer.poll(0)  # the earlier record's report comes as always (by poll at the latest)
    assert [(r.partition, r.offset) for r in earlier] == [(first.partition, first.offset)]
    producer.close()


def test_refused_records_come_back_as_reports(local_harness: LogHarness) -> None:
    topic = local_harness.topic(partitions=2)
    producer = _batch_producer(local_harness)
    reports = producer.produce_batch(topic, [(5, b"k", b"v", 1, ()), (0, b"k", b"v", 1, ())])
    assert [report.ok for report in reports] == [False, True]
    assert reports[0].error
    unknown = producer.produce_batch("no-such-topic", [(None, b"k", b"v", 1, ())])
    assert [report.ok for report in unknown] == [False]
    producer.close()


@pytest.mark.parametrize(
    "record",
    [(None, b"k", "text", 1, ()), (None, "key", b"v", 1, ()), (None, b"k", b"v", 1.5, ())],
)
def test_wrong_types_raise_before_anything_is_written(
    local_harness: LogHarness, record: tuple[object, ...]
) -> None:
    topic = local_harness.topic(partitions=1)
    producer = _batch_producer(local_harness)
    with pytest.raises(TypeError):
        producer.produce_batch(topic, [(None, b"k", b"ok", 1, ()), record])  # type: ignore[list-item]
    consumer = local_harness.log.consumer()
    assert consumer.watermarks(TopicPartition(topic, 0)) == (0, 0)
    consumer.close()
    producer.close()

"""Many records queued in one call, on the backend whose producer does it (Kafka): the same
placement, order, contents and delivery reports as one ``produce`` per record."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from riskstream.errors import ProduceError
from riskstream.log import (
    DeliveryReport,
    EventLog,
    StreamingProducer,
    TopicPartition,
    open_log,
    partition_for,
)
from riskstream.stream.output import Output
from riskstream.stream.output_ends import OutputEnds
from riskstream.stream.output_producer import OutputProducer
from tests.contract.harness import LogHarness, drain

pytestmark = pytest.mark.kafka


# A record for a topic the broker does not know is refused once this passes (default 30 s).
_QUICK_REFUSAL = "producer.topic.metadata.propagation.max.ms=500"


@pytest.fixture
def kafka(kafka_bootstrap: str) -> Iterator[LogHarness]:
    harness = LogHarness("kafka", open_log(f"kafka://{kafka_bootstrap}?{_QUICK_REFUSAL}"))
    try:
        yield harness
    finally:
        if harness.topics:
            harness.log.admin.delete_topics(harness.topics)
        harness.log.close()


def _streaming(log: EventLog, **options: object) -> StreamingProducer:
    producer = log.producer(**options)  # type: ignore[arg-type]
    assert isinstance(producer, StreamingProducer)
    return producer


def _records(topic: str) -> list[Output]:
    keyed = [
        Output(topic, f"user-{i}".encode(), b"v%d" % i, 1_000 + i, (("rs.id", b"%d" % i),))
        for i in range(300)
    ]
    return [*keyed, Output(topic, None, b"placed", 7, (), 2), Output(topic, b"k", None, 8)]


def _read(log: EventLog, topic: str, count: int) -> list[tuple[object, ...]]:
    consumer = log.consumer()
    consumer.assign([TopicPartition(topic, p) for p in range(3)])
    read = drain(consumer, count)
    consumer.close()
    return sorted((r.partition, r.offset, r.key, r.value, r.timestamp, r.headers) for r in read)


def test_produce_many_writes_and_reports_as_produce_does_one_by_one(kafka: LogHarness) -> None:
    one_by_one, at_once = kafka.topic(partitions=3), kafka.topic(partitions=3)
    producer = _streaming(kafka.log)
    singles: list[DeliveryReport] = []
    for out in _records(one_by_one):
        producer.produce(
            out.topic,
            out.value,
            out.key,
            partition=out.partition,
            timestamp=out.timestamp,
            headers=out.headers,
            on_delivery=singles.append,
        )
    many: list[DeliveryReport] = []
    producer.produce_many(_records(at_once), many.append)
    assert producer.flush(30) == 0
    producer.close()

    def placed(reports: list[DeliveryReport]) -> list[tuple[object, ...]]:
        return sorted((r.partition, r.offset, r.key, r.timestamp, r.error) for r in reports)

    assert len(many) == len(_records(at_once))
    assert placed(many) == placed(singles)
    keyed = [r for r in many if r.key is not None and r.key.startswith(b"user-")]
    assert all(r.partition == partition_for(r.key or b"", 3) for r in keyed)
    count = len(many)
    assert _read(kafka.log, at_once, count) == _read(kafka.log, one_by_one, count)


def test_refused_records_come_back_as_failed_reports(kafka: LogHarness) -> None:
    topic = kafka.topic(partitions=1)
    producer = _streaming(kafka.log)
    reports: list[DeliveryReport] = []
    missing = f"{topic}-missing"
    producer.produce_many(
        [Output(missing, b"k", b"lost", 1), Output(topic, b"k", b"kept", 2)], reports.append
    )
    producer.flush(30)
    producer.close()
    by_topic = {report.topic: report for report in reports}
    assert not by_topic[missing].ok and by_topic[missing].error
    assert by_topic[topic].ok


def test_a_full_local_queue_waits_for_room_and_loses_nothing(kafka_bootstrap: str) -> None:
    log = open_log(f"kafka://{kafka_bootstrap}?producer.queue.buffering.max.messages=50")
    harness = LogHarness("kafka", log)
    try:
        topic = harness.topic(partitions=3)
        producer = _streaming(log)
        reports: list[DeliveryReport] = []
        producer.produce_many(_records(topic), reports.append)  # 302 records, room for 50
        assert producer.flush(30) == 0
        producer.close()
        assert len(reports) == len(_records(topic)) and all(r.ok for r in reports)
        assert len(_read(log, topic, len(reports))) == len(reports)
    finally:
        log.admin.delete_topics(harness.topics)
        log.close()


def test_outputs_the_log_refuses_fail_the_runners_flush(kafka: LogHarness) -> None:
    """The runner's producer queues a cycle's outputs in one call on Kafka; a refused one
    still keeps its commit from completing."""
    topic = kafka.topic(partitions=1)
    missing = f"{topic}-missing"
    ends = OutputEnds(kafka.log)
    ends.watch_all({topic, missing}, 1)
    out = OutputProducer(kafka.log.producer(linger_ms=1), ends)
    assert out.many is not None
    out.send([Output(topic, b"k", b"ok", 1), Output(missing, b"k", b"lost", 2)])
    assert out.epoch.produced == 2
    with pytest.raises(ProduceError, match="1 outputs were not acknowledged"):
        out.flush()
    assert out.epoch.settled
    assert ends.acked == {(topic, 0): 0}
    out.producer.close()
    ends.close()

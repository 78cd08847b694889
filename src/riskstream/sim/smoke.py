"""The log smoke check (``riskstream smoke``): simulate traffic onto the log, read this run's
records back, verify that every acknowledged event arrived, and summarise."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from riskstream.events import TOPIC_EVENTS, codec_for
from riskstream.log import DeliveryReport, EventLog, Record, TopicPartition, TopicSpec
from riskstream.log.deadletter import dlq_topic, send_to_dlq
from riskstream.log.decoding import decode_records
from riskstream.sim.sessions import SessionSimulator

__all__ = ["SmokeSummary", "ensure_event_topics", "run_smoke"]

Progress = Callable[[str, int], None]


@dataclass
class SmokeSummary:
    """What a smoke run produced and read back."""

    produced: int = 0
    acknowledged: int = 0
    delivery_errors: int = 0
    consumed: int = 0
    decoded: int = 0
    dead_lettered: int = 0
    per_type: Counter[str] = field(default_factory=Counter)
    per_topic: Counter[str] = field(default_factory=Counter)
    users: int = 0
    produce_s: float = 0.0
    consume_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.acknowledged == self.produced == self.consumed and self.delivery_errors == 0


def ensure_event_topics(log: EventLog, partitions: int) -> None:
    """Create the activity topics and their dead-letter topics if missing."""
    specs = [TopicSpec(name=topic, partitions=partitions) for topic in TOPIC_EVENTS]
    specs += [TopicSpec(name=dlq_topic(topic), partitions=partitions) for topic in TOPIC_EVENTS]
    log.admin.create_topics(specs, exist_ok=True)


def _end_offsets(log: EventLog) -> dict[TopicPartition, int]:
    probe = log.consumer()
    described = log.admin.describe_topics(list(TOPIC_EVENTS))
    partitions = [
        TopicPartition(t, p) for t, spec in described.items() for p in range(spec.partitions)
    ]
    probe.assign(partitions)
    ends = {tp: probe.watermarks(tp)[1] for tp in partitions}
    probe.close()
    return ends


def run_smoke(
    log: EventLog, *, events: int, partitions: int, seed: int = 7, progress: Progress | None = None
) -> SmokeSummary:
    """Produce ``events`` simulated events, then read exactly this run's records back."""
    ensure_event_topics(log, partitions)
    summary = SmokeSummary()
    starts = _end_offsets(log)
    notify = progress or (lambda _phase, _n: None)

    def delivered(report: DeliveryReport) -> None:
        if report.ok:
            summary.acknowledged += 1
        else:
            summary.delivery_errors += 1

    producer = log.producer(on_delivery=delivered, linger_ms=20)
    users: set[str] = set()
    began = time.perf_counter()
    for event in SessionSimulator(seed=seed).events(events):
        producer.produce(
            event.topic, codec_for(event.topic).encode(event), event.key, timestamp=event.event_time
        )
        users.add(event.user_id)
        summary.produced += 1
        if summary.produced % 5000 == 0:
            notify("produce", 5000)
    producer.flush(60)
    notify("produce", summary.produced % 5000)
    summary.produce_s = time.perf_counter() - began
    summary.users = len(users)

    consumer = log.consumer()
    consumer.assign(list(starts))
    for tp, offset in starts.items():
        consumer.seek(tp, offset)
    began = time.perf_counter()
    deadline = time.monotonic() + 120
    while summary.consumed < summary.acknowledged and time.monotonic() < deadline:
        batch = consumer.poll(max_records=10_000, timeout=0.5)
        summary.consumed += len(batch)
        notify("consume", len(batch))
        by_topic: dict[str, list[Record]] = {}
        for record in batch:
            by_topic.setdefault(record.topic, []).append(record)
        for topic, records in by_topic.items():
            decoded, failed = decode_records(records, codec_for(topic))
            summary.decoded += len(decoded)
            summary.per_topic[topic] += len(records)
            summary.per_type.update(type(event).__name__ for _, event in decoded)
            for record, error in failed:
                send_to_dlq(producer, record, error)
                summary.dead_lettered += 1
    summary.consume_s = time.perf_counter() - began
    producer.close()
    consumer.close()
    return summary

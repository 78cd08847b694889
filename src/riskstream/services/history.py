"""Reading history without touching it: every record of some topics, no group, no commits.

Training, backtests and parity checks read the log with a consumer that is only ever
*assigned* (no consumer group, so no offsets are committed and production consumers never
notice), from the log start to the end offsets seen when the read began.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence

from riskstream.log.port import EventLog
from riskstream.log.records import Record, TopicPartition

__all__ = ["read_history", "read_topic"]


def read_topic(log: EventLog, topics: Sequence[str], *, batch: int = 5_000) -> Iterator[Record]:
    """Every record of ``topics`` up to their current ends (a topic that does not exist yet
    has none), in each partition's order."""
    existing = set(log.admin.list_topics())
    described = log.admin.describe_topics([topic for topic in topics if topic in existing])
    partitions = [
        TopicPartition(topic, number)
        for topic in topics
        if topic in described
        for number in range(described[topic].partitions)
    ]
    if not partitions:
        return
    consumer = log.consumer()
    try:
        ends: dict[TopicPartition, int] = {}
        for tp in partitions:
            low, high = consumer.watermarks(tp)
            if high > low:
                ends[tp] = high
        if not ends:
            return
        consumer.assign(list(ends))
        for tp in ends:
            consumer.seek(tp, consumer.watermarks(tp)[0])
        remaining = dict(ends)
        while remaining:
            for record in consumer.poll(batch, timeout=1.0):
                tp = TopicPartition(record.topic, record.partition)
                end = remaining.get(tp)
                if end is None or record.offset >= end:
                    continue
                yield record
                if record.offset + 1 >= end:
                    del remaining[tp]
    finally:
        consumer.close()


def read_history(log: EventLog, topics: Sequence[str]) -> list[Record]:
    """Every record of ``topics``, in one deterministic order: by timestamp, then topic,
    partition and offset (the same log always replays the same way)."""
    runs: dict[TopicPartition, list[Record]] = {}
    for record in read_topic(log, topics):
        runs.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
    ordered = [runs[tp] for tp in sorted(runs)]
    key = _order
    return list(heapq.merge(*(sorted(run, key=key) for run in ordered), key=key))


def _order(record: Record) -> tuple[int, str, int, int]:
    return (record.timestamp, record.topic, record.partition, record.offset)

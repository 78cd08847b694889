"""Consuming: committed offsets, groups, seeking, replay by time, end of partition."""

from __future__ import annotations

from riskstream.log import EventLog, TopicPartition
from tests.contract.harness import LogHarness, drain, poll_until


def _fill(log: EventLog, topic: str, count: int, *, partitions: int = 1, start_ts: int = 0) -> None:
    producer = log.producer()
    for i in range(count):
        timestamp = start_ts + i * 1000 if start_ts else None
        producer.produce(topic, f"v{i}".encode(), f"k{i % 50}".encode(), timestamp=timestamp)
    assert producer.flush(30) == 0


def test_commit_and_resume_after_restart(harness: LogHarness) -> None:
    topic = harness.topic()
    _fill(harness.log, topic, 100)
    group = f"g-{topic}"
    tp = TopicPartition(topic, 0)
    first = harness.log.consumer(group)
    first.subscribe([topic])
    got = drain(first, 40)[:40]
    first.commit({tp: got[-1].offset + 1})
    assert first.committed([tp]) == {tp: 40}
    first.close()

    second = harness.log.consumer(group)
    second.subscribe([topic])
    rest = drain(second, 60)
    assert [r.offset for r in rest] == list(range(40, 100))
    second.commit()
    assert second.committed([tp]) == {tp: 100}
    second.close()


def test_offset_reset_earliest_and_latest(harness: LogHarness) -> None:
    topic = harness.topic()
    _fill(harness.log, topic, 10)
    tp = TopicPartition(topic, 0)
    earliest = harness.log.consumer(f"e-{topic}", auto_offset_reset="earliest")
    earliest.subscribe([topic])
    assert drain(earliest, 10)[0].offset == 0
    earliest.close()

    latest = harness.log.consumer(f"l-{topic}", auto_offset_reset="latest")
    latest.subscribe([topic])
    list(poll_until([latest], lambda: tp in latest.assignment()))
    list(poll_until([latest], lambda: tp in latest.at_end()))
    _fill(harness.log, topic, 5)
    assert [r.offset for r in drain(latest, 5)] == [10, 11, 12, 13, 14]
    latest.close()


def test_group_members_split_partitions_and_take_over(harness: LogHarness) -> None:
    topic = harness.topic(partitions=6)
    _fill(harness.log, topic, 600, partitions=6)
    group = f"g-{topic}"
    a, b = harness.log.consumer(group), harness.log.consumer(group)
    revoked_from_a: list[TopicPartition] = []
    a.subscribe([topic], on_revoke=lambda tps: (a.commit(), revoked_from_a.extend(tps)))
    b.subscribe([topic], on_revoke=lambda _tps: b.commit())
    seen = {}

    def split() -> bool:
        return len(a.assignment()) == 3 and len(b.assignment()) == 3

    for record in poll_until([a, b], lambda: split() and len(seen) == 600):
        seen[(record.partition, record.offset)] = record.value
    assert not set(a.assignment()) & set(b.assignment())
    assert set(a.assignment()) | set(b.assignment()) == {TopicPartition(topic, p) for p in range(6)}
    a.commit()
    b.commit()

    b_before = set(b.assignment())
    b.close()
    list(poll_until([a], lambda: len(a.assignment()) == 6))
    _fill(harness.log, topic, 60, partitions=6)
    fresh = drain(a, 60)
    # a takes over b's partitions from b's committed offsets: only the new records arrive.
    assert sorted(r.value for r in fresh) == sorted(f"v{i}".encode() for i in range(60))
    assert b_before <= set(a.assignment())
    a.close()


def test_seek_position_watermarks_and_end_of_partition(harness: LogHarness) -> None:
    topic = harness.topic()
    _fill(harness.log, topic, 20)
    tp = TopicPartition(topic, 0)
    consumer = harness.log.consumer()
    consumer.assign([tp])
    assert consumer.watermarks(tp) == (0, 20)
    drain(consumer, 20)
    list(poll_until([consumer], lambda: tp in consumer.at_end()))
    assert consumer.position(tp) == 20
    consumer.seek(tp, 15)
    assert consumer.position(tp) == 15
    assert tp not in consumer.at_end()
    assert [r.offset for r in drain(consumer, 5)] == [15, 16, 17, 18, 19]
    consumer.close()


def test_replay_from_a_timestamp(harness: LogHarness) -> None:
    topic = harness.topic()
    base = 1_700_000_000_000
    _fill(harness.log, topic, 30, start_ts=base)  # timestamps base, base+1s, ...
    tp = TopicPartition(topic, 0)
    consumer = harness.log.consumer()
    consumer.assign([tp])
    drain(consumer, 30)
    consumer.seek_to_timestamp(base + 12_500, [tp])
    replayed = drain(consumer, 17)
    assert replayed[0].offset == 13
    assert replayed[0].timestamp == base + 13_000
    consumer.seek_to_timestamp(base + 999_999, [tp])
    assert consumer.position(tp) == 30
    consumer.close()

"""Flow control: pause and resume partitions without losing, repeating or leaving anything."""

from __future__ import annotations

import time

import pytest

from riskstream.errors import NotAssignedError
from riskstream.log import Consumer, EventLog, Record, TopicPartition
from tests.contract.harness import LogHarness, drain, poll_until


def _fill(log: EventLog, topic: str, partition: int, count: int, *, first: int = 0) -> None:
    producer = log.producer()
    for i in range(first, first + count):
        producer.produce(topic, f"p{partition}-{i}".encode(), b"k", partition=partition)
    assert producer.flush(30) == 0


def _poll_for(consumer: Consumer, seconds: float) -> list[Record]:
    """Everything ``poll`` returns within ``seconds`` (short polls, so heartbeats go on)."""
    out: list[Record] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out.extend(consumer.poll(max_records=500, timeout=0.1))
    return out


def _offsets(records: list[Record], partition: int) -> list[int]:
    return [r.offset for r in records if r.partition == partition]


def test_paused_partition_yields_nothing_while_others_flow(harness: LogHarness) -> None:
    topic = harness.topic(partitions=2)
    p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    _fill(harness.log, topic, 0, 200)  # one flush: read ahead as a whole
    consumer = harness.log.consumer()
    consumer.assign([p0, p1])
    head = drain(consumer, 5)
    assert _offsets(head, 0) == [0, 1, 2, 3, 4]
    time.sleep(0.5)  # let a prefetching backend fetch the rest of p0 ahead of poll
    consumer.pause([p0])
    assert consumer.paused() == frozenset({p0})
    assert consumer.assignment() == [p0, p1]
    assert consumer.position(p0) == 5

    _fill(harness.log, topic, 1, 100)
    _fill(harness.log, topic, 0, 50, first=200)
    flowing = drain(consumer, 100)
    assert _offsets(flowing, 1) == list(range(100))
    assert _offsets(flowing, 0) == []
    # Paused across many polls: still nothing, still at the same position.
    assert _poll_for(consumer, 1.5) == []
    assert consumer.paused() == frozenset({p0})
    assert consumer.position(p0) == 5

    consumer.resume([p0])
    assert consumer.paused() == frozenset()
    rest = drain(consumer, 245)
    # Records fetched before the pause come back exactly once, in order, then the new ones.
    assert _offsets(rest, 0) == list(range(5, 250))
    assert [r.value for r in rest] == [f"p0-{i}".encode() for i in range(5, 250)]
    assert _poll_for(consumer, 0.5) == []
    assert consumer.position(p0) == 250
    consumer.close()


def test_pause_and_resume_are_idempotent_and_keep_commits(harness: LogHarness) -> None:
    topic = harness.topic()
    tp = TopicPartition(topic, 0)
    _fill(harness.log, topic, 0, 30)
    consumer = harness.log.consumer(f"g-{topic}")
    consumer.subscribe([topic])
    got = list(poll_until([consumer], lambda: tp in consumer.assignment()))
    got += drain(consumer, 30 - len(got))
    assert _offsets(got, 0) == list(range(30))
    consumer.seek(tp, 10)
    consumer.resume([tp])  # not paused: nothing happens
    assert consumer.paused() == frozenset()
    consumer.pause([tp])
    consumer.pause([tp, tp])
    assert consumer.paused() == frozenset({tp})
    consumer.commit()  # the position, untouched by the pause
    assert consumer.committed([tp]) == {tp: 10}
    assert _poll_for(consumer, 1.0) == []
    consumer.resume([tp])
    consumer.resume([tp])
    assert consumer.paused() == frozenset()
    assert _offsets(drain(consumer, 20), 0) == list(range(10, 30))
    consumer.close()


def test_seek_while_paused_takes_effect_on_resume(harness: LogHarness) -> None:
    topic = harness.topic()
    tp = TopicPartition(topic, 0)
    _fill(harness.log, topic, 0, 100)
    consumer = harness.log.consumer()
    consumer.assign([tp])
    assert _offsets(drain(consumer, 50), 0) == list(range(50))
    consumer.pause([tp])
    consumer.seek(tp, 20)
    assert consumer.position(tp) == 20
    assert _poll_for(consumer, 1.0) == []
    consumer.resume([tp])
    assert _offsets(drain(consumer, 80), 0) == list(range(20, 100))
    consumer.close()


def test_group_member_keeps_a_paused_partition_past_its_session_timeout(
    harness: LogHarness,
) -> None:
    # Kafka brokers refuse sessions shorter than group.min.session.timeout.ms (6 s).
    session_ms = 6_000 if harness.backend == "kafka" else 500
    topic = harness.topic(partitions=2)
    p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    _fill(harness.log, topic, 0, 20)
    _fill(harness.log, topic, 1, 20)
    group = f"g-{topic}"
    revoked: list[TopicPartition] = []
    consumer = harness.log.consumer(group, session_timeout_ms=session_ms)
    consumer.subscribe([topic], on_revoke=revoked.extend)
    list(poll_until([consumer], lambda: len(consumer.assignment()) == 2))
    consumer.pause([p0, p1])
    consumer.seek(p0, 0)  # the first polls may have read some already
    consumer.seek(p1, 0)
    assert consumer.paused() == frozenset({p0, p1})

    assert _poll_for(consumer, session_ms * 1.5 / 1000) == []
    assert revoked == []
    assert consumer.assignment() == [p0, p1]
    assert consumer.paused() == frozenset({p0, p1})
    # Still the owner: a fenced commit goes through.
    consumer.commit({p0: 3, p1: 4})
    assert consumer.committed([p0, p1]) == {p0: 3, p1: 4}

    consumer.resume([p0, p1])
    got = drain(consumer, 40)
    assert sorted(_offsets(got, 0)) == list(range(20))
    assert sorted(_offsets(got, 1)) == list(range(20))
    assert revoked == []
    consumer.close()


def test_revocation_clears_the_pause(harness: LogHarness) -> None:
    topic = harness.topic(partitions=2)
    everything = {TopicPartition(topic, 0), TopicPartition(topic, 1)}
    group = f"g-{topic}"
    a, b = harness.log.consumer(group), harness.log.consumer(group)
    a_revoked: list[TopicPartition] = []
    a.subscribe([topic], on_revoke=a_revoked.extend)
    list(poll_until([a], lambda: set(a.assignment()) == everything))
    a.pause(sorted(everything))

    b.subscribe([topic])
    list(poll_until([a, b], lambda: len(a.assignment()) == 1 and len(b.assignment()) == 1))
    (moved,) = a_revoked
    (kept,) = set(a.assignment())
    assert b.assignment() == [moved]
    # The partition a gave up is no longer paused there; the one it kept still is.
    assert a.paused() == frozenset({kept})
    assert b.paused() == frozenset()

    b.close()
    list(poll_until([a], lambda: set(a.assignment()) == everything))
    # Back with a, the moved partition arrives unpaused: its records flow, the kept one's not.
    assert a.paused() == frozenset({kept})
    _fill(harness.log, topic, moved.partition, 10)
    _fill(harness.log, topic, kept.partition, 10)
    flowing = drain(a, 10)
    assert _offsets(flowing, moved.partition) == list(range(10))
    assert _poll_for(a, 1.0) == []
    a.resume([kept])
    assert _offsets(drain(a, 10), kept.partition) == list(range(10))
    a.close()


def test_pausing_inside_on_assign_holds_the_partition_from_the_start(
    harness: LogHarness,
) -> None:
    topic = harness.topic()
    tp = TopicPartition(topic, 0)
    _fill(harness.log, topic, 0, 25)
    consumer = harness.log.consumer(f"g-{topic}")
    consumer.subscribe([topic], on_assign=consumer.pause)
    early = list(poll_until([consumer], lambda: tp in consumer.assignment()))
    assert early == []
    assert consumer.paused() == frozenset({tp})
    assert _poll_for(consumer, 1.0) == []
    consumer.resume([tp])
    assert _offsets(drain(consumer, 25), 0) == list(range(25))
    consumer.close()


def test_pausing_a_partition_not_assigned_raises(harness: LogHarness) -> None:
    topic = harness.topic(partitions=2)
    p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    _fill(harness.log, topic, 0, 10)
    consumer = harness.log.consumer()
    consumer.assign([p0])
    with pytest.raises(NotAssignedError):
        consumer.pause([p1])
    # All or nothing: the assigned partition in the same call is not paused either.
    with pytest.raises(NotAssignedError):
        consumer.pause([p0, p1])
    assert consumer.paused() == frozenset()
    consumer.resume([p1])  # not paused, so nothing to do
    assert _offsets(drain(consumer, 10), 0) == list(range(10))

    consumer.pause([p0])
    consumer.assign([p1])  # p0 leaves the assignment and its pause with it
    assert consumer.paused() == frozenset()
    with pytest.raises(NotAssignedError):
        consumer.pause([p0])
    consumer.close()

    member = harness.log.consumer(f"g-{topic}")
    member.subscribe([topic])
    with pytest.raises(NotAssignedError):  # nothing assigned before the first poll
        member.pause([p0])
    member.close()

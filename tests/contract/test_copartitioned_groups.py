"""Co-partitioned subscriptions: a group member always holds partition p of every topic it
subscribed to (when they have the same partition count), so a task sees all of its keys'
streams, through joins, scale-out and take-over alike."""

from __future__ import annotations

from riskstream.log import TopicPartition
from riskstream.log.port import Consumer
from tests.contract.harness import LogHarness, drain, poll_until

PARTITIONS = 4


def _numbers_by_topic(consumer: Consumer, topics: list[str]) -> dict[str, set[int]]:
    held = consumer.assignment()
    return {t: {tp.partition for tp in held if tp.topic == t} for t in topics}


def _together(consumer: Consumer, topics: list[str]) -> bool:
    by_topic = _numbers_by_topic(consumer, topics)
    return all(numbers == by_topic[topics[0]] for numbers in by_topic.values())


def test_members_hold_the_same_partition_numbers_of_every_topic(harness: LogHarness) -> None:
    topics = [harness.topic(partitions=PARTITIONS) for _ in range(3)]
    producer = harness.log.producer()
    for topic in topics:
        for p in range(PARTITIONS):
            producer.produce(topic, f"{topic}-{p}".encode(), partition=p)
    assert producer.flush(30) == 0
    group = f"g-{topics[0]}"
    a, b = harness.log.consumer(group), harness.log.consumer(group)
    revoked: list[TopicPartition] = []
    a.subscribe(topics, on_revoke=revoked.extend)
    read = list(poll_until([a], lambda: len(a.assignment()) == 3 * PARTITIONS))
    read += drain(a, 3 * PARTITIONS - len(read))
    assert sorted(r.value or b"" for r in read) == sorted(  # every topic is read
        f"{t}-{p}".encode() for t in topics for p in range(PARTITIONS)
    )

    b.subscribe(topics)
    list(
        poll_until(
            [a, b],
            lambda: bool(b.assignment()) and len(a.assignment()) + len(b.assignment()) == 12,
        )
    )
    for member in (a, b):
        assert _together(member, topics), _numbers_by_topic(member, topics)
    assert not set(a.assignment()) & set(b.assignment())
    # What moved, moved for every topic at once: the revocation names whole partition numbers.
    moved = {tp.partition for tp in revoked}
    assert revoked and {tp for tp in revoked} == {
        TopicPartition(t, p) for t in topics for p in moved
    }

    b.close()
    list(poll_until([a], lambda: len(a.assignment()) == 3 * PARTITIONS))
    assert _together(a, topics)
    a.close()

"""Bad input: typed decode errors with their location, routed to a dead-letter topic."""

from __future__ import annotations

from riskstream.errors import EventDecodeError
from riskstream.events import Login, codec_for
from riskstream.log import TopicPartition, TopicSpec
from riskstream.log.deadletter import dlq_topic, send_to_dlq
from riskstream.log.decoding import decode_records
from tests.contract.harness import LogHarness, drain


def _login(i: int) -> Login:
    return Login(
        event_id=f"e{i}",
        user_id="u1",
        event_time=1_700_000_000_000 + i,
        device_id="d1",
        ip="10.0.0.1",
        country="DE",
    )


def test_bad_records_raise_located_errors_and_reach_the_dead_letter_topic(
    harness: LogHarness,
) -> None:
    topic = harness.topic()
    harness.log.admin.create_topics([TopicSpec(name=dlq_topic(topic))])
    harness.topics.append(dlq_topic(topic))
    codec = codec_for("events.login")
    producer = harness.log.producer()
    producer.produce(topic, codec.encode(_login(0)), b"u1")
    producer.produce(topic, b"\xff{not json", b"u1", headers=(("origin", b"web"),))
    producer.produce(
        topic, codec.encode(_login(2)).replace(b'"device_id":"d1"', b'"device_id":7'), b"u1"
    )
    producer.produce(topic, codec.encode(_login(3)), b"u1")
    assert producer.flush(30) == 0

    consumer = harness.log.consumer()
    consumer.assign([TopicPartition(topic, 0)])
    decoded, failed = decode_records(drain(consumer, 4), codec)
    assert [event.event_id for _, event in decoded] == ["e0", "e3"]
    assert [(err.topic, err.partition, err.offset) for _, err in failed] == [
        (topic, 0, 1),
        (topic, 0, 2),
    ]
    assert failed[0][1].path == "$"
    assert failed[1][1].path == "$.device_id"
    assert all(isinstance(err, EventDecodeError) for _, err in failed)

    for record, err in failed:
        send_to_dlq(producer, record, err)
    assert producer.flush(30) == 0
    dlq = harness.log.consumer()
    dlq.assign([TopicPartition(dlq_topic(topic), 0)])
    letters = drain(dlq, 2)
    assert [letter.value for letter in letters] == [record.value for record, _ in failed]
    assert letters[0].header("origin") == b"web"
    assert letters[1].header("dlq.path") == b"$.device_id"
    assert letters[1].header("dlq.offset") == b"2"
    assert letters[1].header("dlq.topic") == topic.encode()
    assert b"Expected `str`" in (letters[1].header("dlq.reason") or b"")
    consumer.close()
    dlq.close()

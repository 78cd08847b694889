"""The writer: events onto their topics keyed by user id, truth apart, through the memory log."""

from __future__ import annotations

from pathlib import Path

from riskstream.events import ACTIVITY_TOPICS, Checkout, Event, codec_for
from riskstream.log import EventLog, Record, TopicPartition, open_log, partition_for
from riskstream.sim import TRUTH_TOPIC, GroundTruth, SimWriter, TrafficSimulator, read_truth
from riskstream.sim.truth import decode_truth

PARTITIONS = 4


def _read_all(log: EventLog, topics: list[str]) -> list[Record]:
    described = log.admin.describe_topics(topics)
    partitions = [
        TopicPartition(topic, p)
        for topic, spec in described.items()
        for p in range(spec.partitions)
    ]
    consumer = log.consumer()
    consumer.assign(partitions)
    records: list[Record] = []
    while True:
        batch = consumer.poll(max_records=10_000, timeout=0.05)
        if not batch:
            break
        records.extend(batch)
    consumer.close()
    return records


def test_round_trip_through_the_memory_log(tmp_path: Path) -> None:
    log = open_log("memory:")
    expected_truth: list[GroundTruth] = []
    expected = TrafficSimulator(seed=12, fraud_rate=0.1).take(8_000, truth=expected_truth.append)
    with SimWriter(
        log,
        partitions=PARTITIONS,
        truth_path=tmp_path / "truth.jsonl",
        truth_topic=True,
        batch_size=777,
    ) as writer:
        writer.write(TrafficSimulator(seed=12, fraud_rate=0.1).events(8_000, truth=writer.truth))
    result = writer.result
    assert result.ok, result.first_error
    assert result.produced == 8_000
    assert result.truth_records == result.truth_produced == len(expected_truth)
    assert result.acknowledged == 8_000 + len(expected_truth)

    records = _read_all(log, list(ACTIVITY_TOPICS))
    assert len(records) == 8_000
    by_id: dict[str, Event] = {}
    for record in records:
        event = codec_for(record.topic).decode(record.value)
        assert record.topic == event.topic
        assert record.key == event.user_id.encode()
        assert record.partition == partition_for(record.key, PARTITIONS)
        assert record.timestamp == event.event_time
        by_id[event.event_id] = event
    assert [by_id[e.event_id] for e in expected] == expected

    truth_records = _read_all(log, [TRUTH_TOPIC])
    assert sorted((decode_truth(r.value) for r in truth_records), key=_tx) == sorted(
        expected_truth, key=_tx
    )
    assert all(r.key == decode_truth(r.value).user_id.encode() for r in truth_records)
    assert list(read_truth(tmp_path / "truth.jsonl")) == expected_truth
    log.close()


def _tx(record: GroundTruth) -> str:
    return record.transaction_id


def test_per_partition_order_is_event_time_order() -> None:
    log = open_log("memory:")
    with SimWriter(log, partitions=PARTITIONS) as writer:
        writer.write(TrafficSimulator(seed=2).events(5_000))
    records = _read_all(log, list(ACTIVITY_TOPICS))
    last: dict[tuple[str, int], int] = {}
    for record in records:
        slot = (record.topic, record.partition)
        assert record.timestamp >= last.get(slot, 0)
        last[slot] = record.timestamp
    log.close()


def test_the_truth_topic_is_only_made_when_asked() -> None:
    log = open_log("memory:")
    with SimWriter(log, partitions=2) as writer:
        writer.write(TrafficSimulator(seed=2).events(2_000, truth=writer.truth))
    assert TRUTH_TOPIC not in log.admin.list_topics()
    assert writer.result.truth_records > 0
    assert writer.result.truth_produced == 0
    assert set(writer.result.per_topic) <= set(ACTIVITY_TOPICS)
    log.close()


def test_progress_is_reported_per_batch() -> None:
    log = open_log("memory:")
    seen: list[int] = []
    with SimWriter(log, batch_size=1_000) as writer:
        writer.write(TrafficSimulator(seed=2).events(4_500), progress=seen.append)
    assert seen == [1_000, 1_000, 1_000, 1_000, 500]
    log.close()


def test_records_the_log_refuses_are_reported_not_hidden() -> None:
    log = open_log("memory:")  # no topics: every record comes back with an error
    with SimWriter(log, create_topics=False) as writer:
        writer.write(TrafficSimulator(seed=2).events(300))
    assert not writer.result.ok
    assert writer.result.delivery_errors == 300
    assert writer.result.first_error
    log.close()


def test_checkouts_land_on_the_checkout_topic() -> None:
    log = open_log("memory:")
    with SimWriter(log, partitions=2) as writer:
        writer.write(TrafficSimulator(seed=2).events(3_000))
    records = _read_all(log, [Checkout.topic])
    assert records
    assert all(type(codec_for(r.topic).decode(r.value)) is Checkout for r in records)
    log.close()


def test_a_topic_prefix_puts_every_record_under_it() -> None:
    log = open_log("memory:")
    prefix = "run-1."
    with SimWriter(log, partitions=2, topic_prefix=prefix, truth_topic=True) as writer:
        writer.write(TrafficSimulator(seed=5, fraud_rate=0.1).events(3_000, truth=writer.truth))
    assert writer.result.ok, writer.result.first_error
    topics = set(log.admin.list_topics())
    assert {prefix + t for t in ACTIVITY_TOPICS} | {prefix + TRUTH_TOPIC} == topics
    assert set(writer.result.per_topic) <= topics
    events = _read_all(log, [prefix + t for t in ACTIVITY_TOPICS])
    assert len(events) == 3_000
    assert all(
        r.topic == prefix + codec_for(r.topic.removeprefix(prefix)).decode(r.value).topic
        for r in events
    )
    assert len(_read_all(log, [prefix + TRUTH_TOPIC])) == writer.result.truth_produced > 0
    log.close()


def test_on_send_sees_each_event_just_before_it_is_produced() -> None:
    log = open_log("memory:")
    expected = [e.event_id for e in TrafficSimulator(seed=2).take(250)]
    seen: list[tuple[str, int]] = []  # (event id, records on the log when it was handed over)
    with SimWriter(log, partitions=1, batch_size=100, linger_ms=0) as writer:
        probe = log.consumer()
        partitions = [TopicPartition(topic, 0) for topic in ACTIVITY_TOPICS]

        def note(event: Event) -> None:
            seen.append((event.event_id, sum(probe.watermarks(tp)[1] for tp in partitions)))

        writer.write(TrafficSimulator(seed=2).events(250), on_send=note)
        probe.close()
    assert writer.result.ok
    assert [event_id for event_id, _ in seen] == expected
    assert [on_log for _, on_log in seen] == list(range(250))  # not on the log yet
    log.close()

"""The fraud topology end to end through a real log: events in, decisions out, on the
embedded backend and on a real Kafka broker, run by the worker's runner."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from riskstream.events import ACTIVITY_TOPICS
from riskstream.events.codec import codec_for
from riskstream.fraud.decision import Decision, decode_decision
from riskstream.fraud.topology import FraudConfig, fraud_topology
from riskstream.log import EventLog, TopicPartition, TopicSpec, open_log
from riskstream.stream import Runner
from tests.fraud_support.scenarios import NEAR_MISSES, Variant, seed_scenario

PARTITIONS = 3
SEED_RULE = "ato.new_device_promo_rush"


def _open(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> EventLog:
    if backend == "kafka":
        return open_log(f"kafka://{request.getfixturevalue('kafka_bootstrap')}")
    return open_log(f"embedded:{tmp_path / 'log'}")


def _read_decisions(log: EventLog, topic: str) -> list[Decision]:
    consumer = log.consumer()
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, 0)
    decisions = []
    deadline = time.monotonic() + 10
    while not set(tps) <= consumer.at_end() and time.monotonic() < deadline:
        decisions += [decode_decision(r.value) for r in consumer.poll(10_000, 0.2)]
    consumer.close()
    return decisions


@pytest.mark.parametrize("backend", ["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
def test_seed_scenario_and_near_misses_through_the_log(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    log = _open(backend, tmp_path, request)
    run = uuid.uuid4().hex[:8]
    topics = {topic: f"{topic}-{run}" for topic in ACTIVITY_TOPICS}
    config = FraudConfig(
        application=f"fraud-{run}",
        input_topics=tuple(topics.values()),
        decisions_topic=f"decisions-{run}",
        alerts_topic=f"alerts-{run}",
    )
    log.admin.create_topics([TopicSpec(name=t, partitions=PARTITIONS) for t in topics.values()])
    variants = (Variant(), *NEAR_MISSES)
    expected: dict[str, Variant] = {}
    producer = log.producer()
    events = []
    for number, variant in enumerate(variants):
        user_events, txid = seed_scenario(f"user-{number}", variant)
        events += user_events
        expected[txid] = variant
    for event in sorted(events, key=lambda e: e.event_time):
        topic = topics[event.topic]
        producer.produce(
            topic, codec_for(topic).encode(event), event.key, timestamp=event.event_time
        )
    assert producer.flush(30) == 0
    checkouts = sum(1 for e in events if e.topic == "events.checkout")

    runner = Runner(fraud_topology(config), log, state_dir=tmp_path / "state")
    runner.start()
    deadline = time.monotonic() + 120
    decided: dict[str, Decision] = {}
    try:
        while len(decided) < checkouts and time.monotonic() < deadline:
            for _ in range(20):
                runner.poll_once(0.05)
            runner.commit()
            decided = {d.transaction_id: d for d in _read_decisions(log, config.decisions_topic)}
    finally:
        runner.close()
    assert len(decided) == checkouts
    for txid, variant in expected.items():
        decision = decided[txid]
        fired = {reason.rule for reason in decision.reasons}
        assert (SEED_RULE in fired) is variant.flagged, variant.name
        assert decision.missing == [], variant.name
    alerts = _read_decisions(log, config.alerts_topic)
    assert {d.transaction_id for d in alerts} >= {
        txid for txid, variant in expected.items() if variant.flagged
    }
    log.close()

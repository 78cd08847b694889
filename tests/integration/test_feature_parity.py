"""Online/offline parity: the features a live worker computed for each checkout equal the
features the offline replay (training, backtests) computes from the same log, checkout by
checkout, value by value."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from riskstream.events import ACTIVITY_TOPICS
from riskstream.events.codec import codec_for
from riskstream.fraud.decision import Decision, decode_decision
from riskstream.fraud.features.engine import ENTITY_PARTS, FeatureEngine
from riskstream.fraud.topology import DECISIONS_TOPIC, fraud_topology
from riskstream.log import TopicSpec, open_log
from riskstream.services.history import read_topic
from riskstream.services.replay import replay_decisions
from riskstream.sim import SimConfig, TrafficSimulator
from riskstream.stream import Runner

EVENTS = 30_000
CHUNK = 1_500


def _live(log_dir: Path, state_dir: Path, partitions: int) -> dict[str, Decision]:
    """Events arrive in chunks while the worker runs, as in production."""
    log = open_log(f"embedded:{log_dir}")
    log.admin.create_topics([TopicSpec(name=t, partitions=partitions) for t in ACTIVITY_TOPICS])
    simulator = TrafficSimulator(SimConfig(users=400, seed=11, fraud_rate=0.05))
    events = simulator.take(EVENTS)
    runner = Runner(fraud_topology(), log, state_dir=state_dir, commit_interval_ms=200)
    runner.start()
    producer = log.producer()
    try:
        for start in range(0, len(events), CHUNK):
            for event in events[start : start + CHUNK]:
                topic = event.topic
                value = codec_for(topic).encode(event)
                producer.produce(topic, value, event.key, timestamp=event.event_time)
            assert producer.flush(30) == 0
            for _ in range(5):
                runner.poll_once(0.02)
        checkouts = sum(1 for e in events if e.topic == "events.checkout")
        deadline = time.monotonic() + 120
        decided: dict[str, Decision] = {}
        while len(decided) < checkouts and time.monotonic() < deadline:
            for _ in range(20):
                runner.poll_once(0.02)
            runner.commit()
            decided = {
                d.transaction_id: d
                for d in map(lambda r: decode_decision(r.value), read_topic(log, [DECISIONS_TOPIC]))
            }
        assert len(decided) == checkouts
        return decided
    finally:
        runner.close()
        log.close()


def _offline(log_dir: Path) -> dict[str, Decision]:
    log = open_log(f"embedded:{log_dir}")
    try:
        return {d.transaction_id: d for d in replay_decisions(log)}
    finally:
        log.close()


def _differences(
    live: dict[str, Decision], offline: dict[str, Decision], names: set[str] | None
) -> list[tuple[str, str, Any, Any]]:
    assert live.keys() == offline.keys()
    found = []
    for txid, decision in live.items():
        online, replayed = decision.features, offline[txid].features
        for name in sorted(set(online) | set(replayed)):
            if names is not None and name not in names:
                continue
            if online.get(name) != replayed.get(name):
                found.append((txid, name, online.get(name), replayed.get(name)))
    return found


def test_live_and_replayed_features_are_identical(tmp_path: Path) -> None:
    live = _live(tmp_path / "log", tmp_path / "state", partitions=1)
    offline = _offline(tmp_path / "log")
    assert len(live) > 500
    assert _differences(live, offline, None) == []
    # The same decisions, too (processing-time fields aside).
    for txid, decision in live.items():
        replayed = offline[txid]
        assert (decision.action, decision.score, decision.reasons) == (
            replayed.action,
            replayed.score,
            replayed.reasons,
        )


@pytest.mark.slow
def test_user_features_are_identical_across_partitions(tmp_path: Path) -> None:
    """With several partitions a device's profile hears from several tasks at once; the
    per-user features do not depend on that and must match exactly."""
    engine = FeatureEngine()
    entity = {spec.name for e in ENTITY_PARTS for spec in engine.specs.for_entity(e)}
    user_side = set(engine.feature_names) - entity - {"device.age_ms"}
    live = _live(tmp_path / "log", tmp_path / "state", partitions=3)
    offline = _offline(tmp_path / "log")
    assert _differences(live, offline, user_side) == []

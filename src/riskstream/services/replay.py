"""Replaying history through the fraud topology, isolated and deterministic.

``replay_decisions`` runs exactly the topology the workers run (same feature, rule and
scoring code) over the recorded events, in this process, on a virtual clock set to each
event's time: nothing is written to the log, no offsets are committed, and the same log with
the same policy gives the same decisions, byte for byte. Training, backtests and the
online/offline parity check all read history this way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from riskstream.events import ACTIVITY_TOPICS
from riskstream.fraud.decision import Decision, decode_decision
from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.policy import PolicySource
from riskstream.fraud.topology import FraudConfig, fraud_topology
from riskstream.log.port import EventLog
from riskstream.log.records import Record
from riskstream.services.history import read_history
from riskstream.testing.driver import TestDriver

__all__ = ["ReplayStats", "replay_decisions", "replay_records"]


@dataclass
class ReplayStats:
    events: int = 0
    decisions: int = 0
    dead_letters: int = 0


def replay_records(
    records: list[Record],
    *,
    engine: FeatureEngine | None = None,
    policy: PolicySource | None = None,
    namespace: str = "riskstream-replay",
    partitions: int = 1,
    start_ms: int | None = None,
    end_ms: int | None = None,
    stats: ReplayStats | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Decision]:
    """Decisions for the checkouts in ``[start_ms, end_ms)``; earlier events only warm the
    profiles up, later ones are not read."""
    config = FraudConfig.isolated(namespace)
    topology = fraud_topology(config, engine=engine, policy=policy)
    first = records[0].timestamp if records else 0
    driver = TestDriver(topology, partitions=partitions, start_time=first)
    stats = stats if stats is not None else ReplayStats()
    for count, record in enumerate(records, 1):
        if end_ms is not None and record.timestamp >= end_ms:
            break
        if record.timestamp > driver.clock.now():
            driver.clock.set(record.timestamp)
        driver.pipe(record.topic, record.value, key=record.key, timestamp=record.timestamp)
        stats.events += 1
        if progress is not None and count % 10_000 == 0:
            progress(count)
        for output in driver.read(config.decisions_topic):
            decision = decode_decision(output.value)
            if start_ms is None or decision.checkout_time >= start_ms:
                stats.decisions += 1
                yield decision
    driver.read(config.alerts_topic)
    stats.dead_letters = sum(len(driver.dead_letters(topic)) for topic in config.input_topics)


def replay_decisions(
    log: EventLog,
    *,
    engine: FeatureEngine | None = None,
    policy: PolicySource | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    stats: ReplayStats | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Decision]:
    """:func:`replay_records` over every recorded activity event of ``log``."""
    records = read_history(log, ACTIVITY_TOPICS)
    return replay_records(
        records,
        engine=engine,
        policy=policy,
        start_ms=start_ms,
        end_ms=end_ms,
        stats=stats,
        progress=progress,
    )

"""The runner over a real Kafka broker: the same topology, the same exactly-once outputs."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from riskstream.errors import ConfigError
from riskstream.log import TopicPartition, TopicSpec, open_log
from riskstream.stream import OUTPUT_ID_HEADER, Runner, Topology
from riskstream.stream.runner import Delivery
from tests.integration.runner_app import PARTITIONS, RunningTotal

EVENTS = 5_000


def _topology(application: str, source: str, sink: str) -> Topology:
    topology = Topology(application, idle_timeout_ms=10**12, allowed_lateness_ms=10**9)
    events = topology.source(
        "events", [source], decode=msgspec.json.decode, event_time=lambda v: v["t"]
    )
    events.process("totals", RunningTotal(), state_type=int).to(sink, encode=msgspec.json.encode)
    return topology


@pytest.mark.parametrize("delivery", ["low_latency", "exactly_once"])
def test_runner_on_kafka_restarts_without_duplicates(
    kafka_bootstrap: str, tmp_path: Path, delivery: Delivery
) -> None:
    log = open_log(f"kafka://{kafka_bootstrap}")
    run = uuid.uuid4().hex[:8]
    source, sink, application = f"events-{run}", f"totals-{run}", f"app-{run}"
    log.admin.create_topics([TopicSpec(name=source, partitions=PARTITIONS)])
    producer = log.producer()
    for i in range(EVENTS):
        value = msgspec.json.encode({"i": i, "n": 1, "t": 1_000 + i})
        producer.produce(source, value, f"user-{i % 40}".encode(), timestamp=1_000 + i)
    assert producer.flush(30) == 0

    def run_until(processed: int | None, commit_interval_ms: int = 100) -> Runner:
        runner = Runner(
            _topology(application, source, sink),
            log,
            state_dir=tmp_path,
            delivery=delivery,
            commit_interval_ms=commit_interval_ms,
        )
        runner.start()
        while not (len(runner.units) == PARTITIONS and runner.caught_up()):
            runner.poll_once(0.1)
            if processed is not None and runner.processed >= processed:
                break
        return runner

    first = run_until(EVENTS // 3, commit_interval_ms=10**9)
    first.commit()
    while first.processed < 2 * EVENTS // 3:
        first.poll_once(0.1)
    first._producer.flush(30)
    # Crash without a clean hand-over: outputs after the last commit exist (in low_latency)
    # or sit in an open transaction (in exactly_once), the state does not.
    first._consumer.close()  # simulate the process dying after leaving the group
    for unit in first.units.values():
        unit.store.close()
    second = run_until(None)
    second.close()

    consumer = log.consumer()
    tps = [TopicPartition(sink, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    ids: list[bytes] = []
    totals: dict[int, int] = {}
    while not set(tps) <= consumer.at_end():
        for record in consumer.poll(10_000, 0.5):
            ids.append(record.header(OUTPUT_ID_HEADER) or b"")
            i, total = msgspec.json.decode(record.value or b"")
            totals[i] = total
    consumer.close()
    # The i-th event is event number i // 40 + 1 of its key: state counted each input once.
    assert totals == {i: i // 40 + 1 for i in range(EVENTS)}
    # The restarted runner skipped (low_latency) or never made visible (exactly_once) the
    # outputs written after the last commit: each input has one, with nothing to deduplicate.
    assert len(ids) == EVENTS
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    log.admin.delete_topics([source, sink])
    log.close()


def test_exactly_once_is_refused_on_a_log_without_transactions(tmp_path: Path) -> None:
    log = open_log(f"embedded:{tmp_path / 'log'}")
    with pytest.raises(ConfigError, match="exactly_once delivery needs a log with transactions"):
        Runner(
            _topology("app", "events", "totals"),
            log,
            state_dir=tmp_path / "state",
            delivery="exactly_once",
        )
    log.close()

"""The runner over a real Kafka broker: the same topology, the same exactly-once outputs."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import msgspec

from riskstream.log import TopicPartition, TopicSpec, open_log
from riskstream.stream import OUTPUT_ID_HEADER, Runner, Topology
from tests.integration.runner_app import PARTITIONS, RunningTotal

EVENTS = 5_000


def _topology(application: str, source: str, sink: str) -> Topology:
    topology = Topology(application, idle_timeout_ms=10**12, allowed_lateness_ms=10**9)
    events = topology.source(
        "events", [source], decode=msgspec.json.decode, event_time=lambda v: v["t"]
    )
    events.process("totals", RunningTotal(), state_type=int).to(sink, encode=msgspec.json.encode)
    return topology


def test_runner_on_kafka_restarts_without_duplicates(kafka_bootstrap: str, tmp_path: Path) -> None:
    log = open_log(f"kafka://{kafka_bootstrap}")
    run = uuid.uuid4().hex[:8]
    source, sink, application = f"events-{run}", f"totals-{run}", f"app-{run}"
    log.admin.create_topics([TopicSpec(name=source, partitions=PARTITIONS)])
    producer = log.producer()
    for i in range(EVENTS):
        value = msgspec.json.encode({"i": i, "n": 1, "t": 1_000 + i})
        producer.produce(source, value, f"user-{i % 40}".encode(), timestamp=1_000 + i)
    assert producer.flush(30) == 0

    def run_until(processed: int | None) -> Runner:
        runner = Runner(
            _topology(application, source, sink), log, state_dir=tmp_path, commit_interval_ms=100
        )
        runner.start()
        while not (len(runner.units) == PARTITIONS and runner.caught_up()):
            runner.poll_once(0.1)
            if processed is not None and runner.processed >= processed:
                break
        return runner

    first = run_until(EVENTS // 3)
    first.commit()
    # Crash without a clean hand-over: outputs after the last commit exist, state does not.
    first._consumer.close()  # simulate the process dying after leaving the group
    for unit in first.units.values():
        unit.store.close()
    second = run_until(None)
    second.close()

    consumer = log.consumer()
    tps = [TopicPartition(sink, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    ids: list[bytes] = []
    while not set(tps) <= consumer.at_end():
        ids += [r.header(OUTPUT_ID_HEADER) or b"" for r in consumer.poll(10_000, 0.5)]
    consumer.close()
    assert len(ids) == EVENTS
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    log.admin.delete_topics([source, sink])
    log.close()

"""Repartition records a runner writes for its own tasks are handed over without the read:
the same outputs, exactly once, and the same state, on every backend and across crashes.

The hand-over is invisible in the outputs by design; what shows it is that a record crosses
both hops of the topology in the cycle that read its input (on the local backends, whose
producers acknowledge at once), and that every record is processed exactly once although
the consumer may see the handed records too (on Kafka it fetches them before the runner's
seek takes effect).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from riskstream.log import EventLog, TopicPartition, TopicSpec, open_log
from riskstream.state import SqliteStore
from riskstream.stream import OUTPUT_ID_HEADER, Runner
from tests.integration.handoff_app import PARTITIONS, events, expected_state, topology

ROOT = Path(__file__).resolve().parents[2]


class _Run:
    """One backend's log with the application's names (unique on Kafka)."""

    def __init__(self, log: EventLog, suffix: str) -> None:
        self.log = log
        self.source, self.sink = f"events{suffix}", f"per-n{suffix}"
        self.application = f"handoff-app{suffix}"

    def create(self) -> None:
        self.log.admin.create_topics(
            [TopicSpec(name=self.source, partitions=PARTITIONS)], exist_ok=True
        )

    def fill(self, made: list[tuple[bytes, dict[str, Any]]]) -> None:
        self.create()
        producer = self.log.producer()
        for user, event in made:
            producer.produce(self.source, msgspec.json.encode(event), user, timestamp=event["t"])
        assert producer.flush(30) == 0
        producer.close()

    def runner(self, state_dir: Path, **options: Any) -> Runner:
        runner = Runner(
            topology(self.application, self.source, self.sink),
            self.log,
            state_dir=state_dir,
            **options,
        )
        runner.start()
        while len(runner.units) < PARTITIONS:
            runner.poll_once(0.05)
        return runner

    def outputs(self) -> list[tuple[bytes, list[int]]]:
        consumer = self.log.consumer()
        tps = [TopicPartition(self.sink, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        out: list[tuple[bytes, list[int]]] = []
        deadline = time.monotonic() + 60
        while not set(tps) <= consumer.at_end() and time.monotonic() < deadline:
            for record in consumer.poll(10_000, 0.2):
                ident = record.header(OUTPUT_ID_HEADER) or b""
                out.append((ident, msgspec.json.decode(record.value or b"")))
        consumer.close()
        return out


@pytest.fixture(params=["memory", "embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_Run]:
    if request.param == "memory":
        log = open_log("memory:")
    elif request.param == "embedded":
        log = open_log(f"embedded:{tmp_path / 'log'}")
    else:
        log = open_log(f"kafka://{request.getfixturevalue('kafka_bootstrap')}")
    suffix = f"-{uuid.uuid4().hex[:8]}" if request.param == "kafka" else ""
    try:
        yield _Run(log, suffix)
    finally:
        if suffix:
            mine = [name for name in log.admin.list_topics() if name.endswith(suffix)]
            log.admin.delete_topics(mine)
        log.close()


def _state(runner: Runner) -> dict[str, dict[bytes, int]]:
    found: dict[str, dict[bytes, int]] = {"per-user": {}, "per-n": {}}
    for unit in runner.units.values():
        for step, values in found.items():
            for key, raw in unit.store.items(step.encode() + b"\x00"):
                values[key.split(b"\x00", 1)[1]] = msgspec.msgpack.decode(raw)
    return found


def _read(runner: Runner, topic: str) -> int:
    """How far the runner's tasks are in ``topic``, summed over its partitions."""
    positions = (unit.positions.items() for unit in runner.units.values())
    return sum(offset for held in positions for tp, offset in held if tp.topic == topic)


def _assert_once(outputs: list[tuple[bytes, list[int]]], made: list[tuple[bytes, Any]]) -> None:
    counts = Counter(ident for ident, _ in outputs)
    assert [ident for ident, n in counts.items() if n > 1] == []
    assert sorted(tuple(value) for _, value in outputs) == [(e["i"], e["n"]) for _, e in made]


@pytest.mark.parametrize("run", ["memory", "embedded"], indirect=True)
def test_a_record_crosses_both_hops_in_the_cycle_that_reads_it(run: _Run, tmp_path: Path) -> None:
    made = events(300)
    run.create()
    runner = run.runner(tmp_path / "state")
    run.fill(made)
    cycles = 0
    while runner.processed < 600:  # each event once at each step, none twice
        runner.poll_once(0.05)
        cycles += 1
    # Everything was read at the first poll (max_batch is larger): the repartitioned
    # records did not wait for another poll.
    assert cycles == 1
    assert runner.processed == 600
    runner.close()
    _assert_once(run.outputs(), made)


def test_each_record_is_processed_once_and_outputs_come_once_across_a_crash(
    run: _Run, tmp_path: Path
) -> None:
    made = events(3_000)
    run.fill(made)
    first = run.runner(tmp_path / "state", commit_interval_ms=10**9, max_batch=400)
    while first.processed < 2_000:
        first.poll_once(0.05)
    first.commit()
    while first.processed < 4_000:
        first.poll_once(0.05)
    first._producer.flush(30)
    # Crash without a clean hand-over: outputs after the last commit exist, the state of
    # the work after it does not.
    first._consumer.close()
    for unit in first.units.values():
        unit.store.close()
    second = run.runner(tmp_path / "state", max_batch=400)
    (repartition,) = second.topology.repartition_topics()
    deadline = time.monotonic() + 120
    # Every event is read, and its record in the repartition topic (one each: the rewritten
    # ones were skipped by id) too. (Kafka's end-of-partition flags are not enough: they
    # stay set until the next record of the partition arrives.)
    while _read(second, run.source) < len(made) or _read(second, repartition) < len(made):
        second.poll_once(0.05)
        assert time.monotonic() < deadline
    assert _read(second, repartition) == len(made)
    second.commit()
    assert _state(second) == expected_state(made)
    second.close()
    _assert_once(run.outputs(), made)


def _child(log_dir: Path, state_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.handoff_app", str(log_dir), str(state_dir)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _written(log_dir: Path) -> int:
    """Records in the output topic so far (none before the first runner made it)."""
    log = open_log(f"embedded:{log_dir}")
    try:
        if "per-n" not in log.admin.list_topics():
            return 0
        probe = log.consumer()
        ends = [probe.watermarks(TopicPartition("per-n", p))[1] for p in range(PARTITIONS)]
        probe.close()
        return sum(ends)
    finally:
        log.close()


def test_sigkilled_runner_hands_over_and_still_writes_each_output_once(tmp_path: Path) -> None:
    made = events(150_000)
    log = open_log(f"embedded:{tmp_path / 'log'}")
    _Run(log, "").fill(made)
    log.close()
    progress = []
    for target in (20_000, 50_000, 80_000, 110_000):
        child = _child(tmp_path / "log", tmp_path / "state")
        deadline = time.monotonic() + 120
        # Killed once it got past ``target``: mid-stream, whatever the machine's speed.
        while _written(tmp_path / "log") < target and time.monotonic() < deadline:
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        progress.append(_written(tmp_path / "log"))
    print("outputs after each kill:", progress)
    assert progress[-1] < len(made)
    assert _child(tmp_path / "log", tmp_path / "state").wait(120) == 0

    log = open_log(f"embedded:{tmp_path / 'log'}")
    _assert_once(_Run(log, "").outputs(), made)
    states: dict[str, dict[bytes, int]] = {"per-user": {}, "per-n": {}}
    for partition in range(PARTITIONS):
        store = SqliteStore(
            "handoff-app-state",
            partition,
            changelog="handoff-app-state-changelog",
            directory=tmp_path / "state",
        )
        store.restore(log)
        for step, values in states.items():
            for key, raw in store.items(step.encode() + b"\x00"):
                values[key.split(b"\x00", 1)[1]] = msgspec.msgpack.decode(raw)
        store.close()
    log.close()
    assert states == expected_state(made)

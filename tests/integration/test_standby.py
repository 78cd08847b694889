"""Standby replicas: a worker that keeps another's tasks warm takes them over replaying only
the changelog's last moments, with the same results as an uninterrupted run."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from riskstream.log import EventLog, TopicPartition, TopicSpec, open_log
from riskstream.stream import Runner, Topology
from tests.integration.runner_app import PARTITIONS, RunningTotal

KEYS = 40
TIMEOUT_S = 60.0


@pytest.fixture(params=["embedded", "kafka"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    if request.param == "kafka":
        url = f"kafka://{request.getfixturevalue('kafka_bootstrap')}"
    else:
        url = f"embedded:{tmp_path / 'log'}"
    opened = open_log(url)
    yield opened
    opened.close()


def _topology(application: str, source: str, sink: str) -> Topology:
    topology = Topology(application, idle_timeout_ms=10**12, allowed_lateness_ms=10**9)
    events = topology.source(
        "events", [source], decode=msgspec.json.decode, event_time=lambda v: v["t"]
    )
    events.process("totals", RunningTotal(), state_type=int).to(sink, encode=msgspec.json.encode)
    return topology


def _produce(log: EventLog, source: str, first: int, count: int) -> None:
    producer = log.producer()
    for i in range(first, first + count):
        value = msgspec.json.encode({"i": i, "n": 1, "t": 1_000 + i})
        producer.produce(source, value, f"user-{i % KEYS}".encode(), timestamp=1_000 + i)
    assert producer.flush(30) == 0
    producer.close()


def _until(condition: Callable[[], object], runners: list[Runner], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        for runner in runners:
            runner.poll_once(0.02)


def test_a_standby_takes_over_with_only_the_tail_to_replay(log: EventLog, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    source, sink, application = f"events-{run}", f"totals-{run}", f"standby-{run}"
    log.admin.create_topics([TopicSpec(name=source, partitions=PARTITIONS)])

    def runner(name: str, standbys: int) -> Runner:
        made = Runner(
            _topology(application, source, sink),
            log,
            state_dir=tmp_path / name,
            commit_interval_ms=100,
            session_timeout_ms=6_000,
            standbys=standbys,
        )
        made.start()
        return made

    warm = runner("warm", standbys=PARTITIONS)
    other = runner("other", standbys=0)
    both = [warm, other]
    _until(
        lambda: warm.units and other.units and len(warm.units) + len(other.units) == PARTITIONS,
        both,
        "the two runners to share the partitions",
    )
    for wave in range(20):  # a commit per wave: a changelog of many commits to replay
        _produce(log, source, wave * 200, 200)
        done = (wave + 1) * 200
        _until(lambda done=done: warm.processed + other.processed >= done, both, "both to catch up")
        for each in both:
            each.commit()
    theirs = set(other.units)
    probe = log.consumer()
    changelog_ends = {p: probe.watermarks(TopicPartition(warm.changelog, p))[1] for p in theirs}
    probe.close()
    assert warm._standby is not None
    standby = warm._standby
    _until(
        lambda: all(standby.positions().get(p, -1) >= end for p, end in changelog_ends.items()),
        both,
        "the standby to follow the other runner's changelogs",
    )

    other.close()  # leaves the group: its tasks move to the warm runner
    _until(lambda: len(warm.units) == PARTITIONS, [warm], "the warm runner to take every task")
    for p in theirs:
        # Nothing committed since the standby read the last marker: nothing to replay.
        assert warm.restores[p].records <= 1, warm.restores[p]
        assert changelog_ends[p] > 100  # whereas a cold start reads them all

    before = warm.processed
    _produce(log, source, 4_000, 2_000)
    _until(lambda: warm.processed - before >= 2_000, [warm], "the warm runner to take the rest")
    warm.close()

    consumer = log.consumer()
    tps = [TopicPartition(sink, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    totals: dict[int, int] = {}
    while not set(tps) <= consumer.at_end():
        for record in consumer.poll(10_000, 0.5):
            i, total = msgspec.json.decode(record.value or b"")
            totals[i] = total
    consumer.close()
    # The i-th event is event number i // KEYS + 1 of its key: the warm copy was exact.
    assert totals == {i: i // KEYS + 1 for i in range(6_000)}

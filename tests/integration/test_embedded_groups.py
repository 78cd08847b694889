"""Embedded log: consumer groups coordinated through the log directory, across processes too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from riskstream.errors import CommitFailedError
from riskstream.log import Consumer, TopicPartition, TopicSpec
from riskstream.log.embedded import EmbeddedLog


@pytest.fixture
def log(tmp_path: Path) -> Iterator[EmbeddedLog]:
    embedded = EmbeddedLog(tmp_path / "log")
    yield embedded
    embedded.close()


def poll_until(consumers: list[Consumer], done: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "condition not reached"
        for consumer in consumers:
            consumer.poll(100, 0.02)


def partitions(consumer: Consumer) -> set[int]:
    return {tp.partition for tp in consumer.assignment()}


def fill(log: EmbeddedLog, topic: str, per_partition: int, partitions: int) -> None:
    producer = log.producer(linger_ms=60_000)
    for p in range(partitions):
        for i in range(per_partition):
            producer.produce(topic, f"{p}-{i}".encode(), partition=p)
    producer.close()


def test_members_split_co_partitioned_topics_with_incremental_callbacks(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="a", partitions=4), TopicSpec(name="b", partitions=4)])
    events: list[tuple[str, str, list[TopicPartition]]] = []

    def member(name: str) -> Consumer:
        consumer = log.consumer("g")
        consumer.subscribe(
            ["a", "b"],
            on_assign=lambda tps: events.append((name, "assign", tps)),
            on_revoke=lambda tps: events.append((name, "revoke", tps)),
        )
        return consumer

    first = member("first")
    poll_until([first], lambda: len(first.assignment()) == 8)
    second = member("second")
    poll_until([first, second], lambda: len(first.assignment()) == len(second.assignment()) == 4)
    assert not set(first.assignment()) & set(second.assignment())
    for consumer in (first, second):  # partition p of both topics on one member
        by_topic = {
            t: {tp.partition for tp in consumer.assignment() if tp.topic == t} for t in "ab"
        }
        assert by_topic["a"] == by_topic["b"]
    revoked = [tps for name, kind, tps in events if (name, kind) == ("first", "revoke")]
    assert len(revoked) == 1 and set(revoked[0]) == set(second.assignment())  # only the delta
    events.clear()
    second.close()
    assert [(name, kind) for name, kind, _ in events] == [("second", "revoke")]
    poll_until([first], lambda: len(first.assignment()) == 8)
    assert [(name, kind) for name, kind, _ in events][1:] == [("first", "assign")]
    assert len(events[1][2]) == 4
    first.close()


def test_revoke_commits_pass_and_later_commits_are_fenced(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t", partitions=2)])
    fill(log, "t", 10, 2)
    first = log.consumer("g")
    first.subscribe(["t"], on_revoke=lambda _tps: first.commit())
    poll_until([first], lambda: len(first.assignment()) == 2)
    while len(first.poll(100, 0.0)) > 0:
        pass
    second = log.consumer("g")
    second.subscribe(["t"])
    poll_until([first, second], lambda: len(second.assignment()) == 1)
    moved = second.assignment()[0]
    kept = first.assignment()[0]
    assert second.position(moved) == 10  # the commit made in on_revoke
    with pytest.raises(CommitFailedError):
        first.commit({moved: 3})
    first.commit({kept: 7})
    assert second.committed([moved, kept]) == {moved: 10, kept: 7}
    first.close()
    second.close()


def test_a_stalled_member_loses_its_partitions_and_rejoins(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t", partitions=2)])
    stalled = log.consumer("g", session_timeout_ms=300)
    lost: list[list[TopicPartition]] = []
    failures: list[Exception] = []

    def on_revoke(tps: list[TopicPartition]) -> None:
        lost.append(tps)
        try:
            stalled.commit({tps[0]: 1})
        except CommitFailedError as exc:
            failures.append(exc)

    stalled.subscribe(["t"], on_revoke=on_revoke)
    live = log.consumer("g", session_timeout_ms=300)
    live.subscribe(["t"])
    poll_until([stalled, live], lambda: len(stalled.assignment()) == len(live.assignment()) == 1)
    held = stalled.assignment()
    poll_until([live], lambda: len(live.assignment()) == 2)  # stalled stops polling: expires
    with pytest.raises(CommitFailedError):
        stalled.commit({held[0]: 1})
    stalled.poll(10, 0.0)  # notices, revokes what it lost (commits there fail), rejoins
    assert lost == [held] and len(failures) == 1
    assert stalled.assignment() == []
    poll_until([stalled, live], lambda: len(stalled.assignment()) == len(live.assignment()) == 1)
    stalled.close()
    live.close()


def test_resubscribing_after_expiry_revokes_what_was_lost(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t", partitions=2), TopicSpec(name="u")])
    revoked: list[list[TopicPartition]] = []
    consumer = log.consumer("g", session_timeout_ms=200)
    consumer.subscribe(["t"], on_revoke=revoked.append)
    poll_until([consumer], lambda: len(consumer.assignment()) == 2)
    held = consumer.assignment()
    time.sleep(0.3)
    other = log.consumer("g")
    other.subscribe(["t"])  # joining expires the silent member
    consumer.subscribe(["t", "u"], on_revoke=revoked.append)
    assert revoked == [held]
    assert consumer.assignment() == []
    poll_until(
        [consumer, other],
        lambda: (
            {tp.topic for tp in consumer.assignment()} == {"t", "u"}
            and len(other.assignment()) == 1
        ),
    )
    consumer.close()
    other.close()


def test_topics_created_later_and_mixed_subscriptions(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="x", partitions=2)])
    narrow = log.consumer("g")
    narrow.subscribe(["x"])
    wide = log.consumer("g")
    wide.subscribe(["x", "y"])
    poll_until([narrow, wide], lambda: len(narrow.assignment()) == len(wide.assignment()) == 1)
    log.admin.create_topics([TopicSpec(name="y", partitions=3)])
    poll_until([narrow, wide], lambda: len(wide.assignment()) == 4)
    assert {tp.topic for tp in narrow.assignment()} == {"x"}
    narrow.close()
    wide.close()


def test_a_new_member_resumes_from_committed_offsets(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t")])
    fill(log, "t", 20, 1)
    tp = TopicPartition("t", 0)
    first = log.consumer("g")
    first.subscribe(["t"])
    poll_until([first], lambda: bool(first.assignment()))
    first.commit({tp: 12})
    first.close()
    second = log.consumer("g", auto_offset_reset="latest")
    second.subscribe(["t"])
    offsets: list[int] = []
    while len(offsets) < 8:  # the first poll joins, gets the partition and reads
        offsets.extend(r.offset for r in second.poll(100, 5.0))
    assert offsets == list(range(12, 20))
    second.close()


_MEMBER = """
import json, os, sys
from riskstream.log import open_log
url, status = sys.argv[1], sys.argv[2]
log = open_log(url)
consumer = log.consumer("procs", session_timeout_ms=1000)
consumer.subscribe(["t"])
last = None
while True:
    consumer.poll(100, 0.05)
    now = sorted(tp.partition for tp in consumer.assignment())
    if now != last:
        with open(status + ".tmp", "w") as f:
            json.dump(now, f)
        os.replace(status + ".tmp", status)
        last = now
"""


def test_processes_split_partitions_and_a_killed_one_is_replaced(tmp_path: Path) -> None:
    url = f"embedded:{tmp_path / 'log'}"
    with EmbeddedLog(tmp_path / "log") as log:
        log.admin.create_topics([TopicSpec(name="t", partitions=6)])
    script = tmp_path / "member.py"
    script.write_text(_MEMBER)
    status = [tmp_path / "a.json", tmp_path / "b.json"]
    procs = [subprocess.Popen([sys.executable, str(script), url, str(path)]) for path in status]
    try:

        def assigned(path: Path) -> list[int]:
            return json.loads(path.read_text()) if path.exists() else []

        def wait_for(done: Callable[[], bool], timeout: float = 20.0) -> None:
            deadline = time.monotonic() + timeout
            while not done():
                assert time.monotonic() < deadline, [assigned(p) for p in status]
                time.sleep(0.05)

        wait_for(lambda: len(assigned(status[0])) == len(assigned(status[1])) == 3)
        assert sorted(assigned(status[0]) + assigned(status[1])) == list(range(6))
        os.kill(procs[0].pid, signal.SIGKILL)
        procs[0].wait()
        killed_at = time.monotonic()
        wait_for(lambda: assigned(status[1]) == list(range(6)))
        assert time.monotonic() - killed_at < 5.0  # session timeout (1 s) plus heartbeats
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

"""The compacted-topic follower and writer, on the memory and embedded logs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from riskstream.errors import ProduceError
from riskstream.log import EventLog, TopicSpec, open_log
from riskstream.services.compacted import (
    ChangeBatch,
    CompactedFollower,
    ensure_compacted_topics,
    put,
    read_compacted,
)


@pytest.fixture(params=["memory", "embedded"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    event_log = open_log("memory:" if request.param == "memory" else f"embedded:{tmp_path}")
    try:
        yield event_log
    finally:
        event_log.close()


def _eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def _followers() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("compacted-follower")]


def test_ensure_creates_compacted_topics_once(log: EventLog) -> None:
    ensure_compacted_topics(log, "risk.a", "risk.b")
    ensure_compacted_topics(log, "risk.a", "risk.b")
    specs = log.admin.describe_topics(["risk.a", "risk.b"])
    assert {(s.partitions, s.compacted) for s in specs.values()} == {(1, True)}


def test_follower_keeps_the_latest_value_per_key_and_sees_later_changes(log: EventLog) -> None:
    ensure_compacted_topics(log, "risk.t")
    put(log, "risk.t", [(b"a", b"1"), (b"b", b"1"), (b"a", b"2"), (b"b", None), (b"c", b"1")])
    batches: list[ChangeBatch] = []
    with CompactedFollower(log, "risk.t", on_change=batches.append) as follower:
        assert follower.wait_caught_up(30) and follower.caught_up
        assert follower.latest == {b"a": b"2", b"c": b"1"}
        assert batches[-1].caught_up
        seen = [(c.key, c.value) for b in batches for c in b.changes]
        assert seen == [(b"a", b"1"), (b"b", b"1"), (b"a", b"2"), (b"b", None), (b"c", b"1")]
        assert [c.offset for b in batches for c in b.changes] == [0, 1, 2, 3, 4]

        put(log, "risk.t", [(b"c", None), (b"d", b"9")])
        _eventually(lambda: follower.latest == {b"a": b"2", b"d": b"9"})
        assert follower.get(b"d") == b"9" and follower.get(b"c") is None
        later = [c for b in batches if b.caught_up for c in b.changes]
        assert [(c.key, c.value) for c in later][-2:] == [(b"c", None), (b"d", b"9")]
    assert not _followers()


def test_an_empty_topic_is_caught_up_at_once(log: EventLog) -> None:
    ensure_compacted_topics(log, "risk.empty")
    batches: list[ChangeBatch] = []
    with CompactedFollower(log, "risk.empty", on_change=batches.append) as follower:
        assert follower.wait_caught_up(30)
        assert batches == [ChangeBatch((), caught_up=True)]
        assert follower.latest == {}


def test_follower_reads_every_partition(log: EventLog) -> None:
    log.admin.create_topics([TopicSpec(name="risk.wide", partitions=3, compacted=True)])
    producer = log.producer()
    for p in range(3):
        producer.produce("risk.wide", f"v{p}".encode(), f"k{p}".encode(), partition=p)
    assert producer.flush(30) == 0
    producer.close()
    assert read_compacted(log, "risk.wide") == {b"k0": b"v0", b"k1": b"v1", b"k2": b"v2"}


def test_a_failing_callback_does_not_stop_the_follower(log: EventLog) -> None:
    ensure_compacted_topics(log, "risk.t")
    put(log, "risk.t", [(b"a", b"1")])
    calls: list[int] = []

    def flaky(batch: ChangeBatch) -> None:
        calls.append(len(batch.changes))
        if len(calls) == 1:
            raise RuntimeError("a reader's bug")

    with CompactedFollower(log, "risk.t", on_change=flaky) as follower:
        assert follower.wait_caught_up(30)  # set even though the callback raised
        put(log, "risk.t", [(b"b", b"2")])
        _eventually(lambda: len(calls) >= 2)
        assert follower.latest == {b"a": b"1", b"b": b"2"}


def test_put_raises_when_a_record_is_not_acknowledged(log: EventLog) -> None:
    with pytest.raises(ProduceError, match="not acknowledged"):
        put(log, "no.such.topic", [(b"a", b"1")])

"""The store contract: the same tests for every store over the memory and embedded logs.

Helpers and fixtures here are imported by the other state test modules.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from riskstream.log import EventLog, Record, TopicPartition, open_log
from riskstream.state import (
    MARKER_KEY,
    ChangelogError,
    KeyValueStore,
    MemoryStore,
    SnapshotError,
    SqliteStore,
    StateError,
    ensure_changelog,
)
from riskstream.state.base import ChangelogStore
from riskstream.state.changelog import EXPIRES_HEADER

APP = "app"
STORE = "profiles"
CHANGELOG = f"{APP}-{STORE}-changelog"
PARTITIONS = 2
TASK = 1  # the task partition under test: not 0, so a wrong partition shows

MakeStore = Callable[..., ChangelogStore]


@pytest.fixture(params=["memory", "embedded"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    url = "memory:" if request.param == "memory" else f"embedded:{tmp_path / 'log'}"
    event_log = open_log(url)
    ensure_changelog(event_log.admin, APP, STORE, PARTITIONS)
    try:
        yield event_log
    finally:
        event_log.close()


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """Builds stores of one kind; each SqliteStore gets its own state directory unless
    ``directory`` names one (to reopen a store's files)."""
    opened: list[ChangelogStore] = []
    dirs = iter(range(1_000))

    def make(partition: int = TASK, directory: Path | None = None) -> ChangelogStore:
        store: ChangelogStore
        if request.param == "memory":
            store = MemoryStore(STORE, partition, changelog=CHANGELOG)
        else:
            where = directory or tmp_path / f"state-{next(dirs)}"
            store = SqliteStore(STORE, partition, changelog=CHANGELOG, directory=where)
        opened.append(store)
        return store

    try:
        yield make
    finally:
        for store in opened:
            store.close()


def read_changelog(log: EventLog, partition: int = TASK) -> list[Record]:
    """Every record of the changelog partition, in offset order."""
    consumer = log.consumer()
    tp = TopicPartition(CHANGELOG, partition)
    consumer.assign([tp])
    consumer.seek(tp, 0)
    records: list[Record] = []
    try:
        while tp not in consumer.at_end():
            records.extend(consumer.poll(max_records=10_000, timeout=0.05))
    finally:
        consumer.close()
    return records


def commit(store: KeyValueStore, log: EventLog, metadata: dict[str, bytes] | None = None) -> None:
    """The executor's cycle: flush, wait for the reports, commit."""
    producer = log.producer()
    store.flush(producer, metadata)
    producer.flush()
    store.commit()
    producer.close()


def state(store: KeyValueStore) -> dict[bytes, bytes]:
    return dict(store.items())


def random_ops(store: KeyValueStore, rng: random.Random, count: int) -> None:
    """Puts (some expiring), overwrites and deletes over a small key space."""
    for _ in range(count):
        key = b"k%03d" % rng.randrange(200)
        roll = rng.random()
        if roll < 0.2:
            store.delete(key)
        elif roll < 0.4:
            store.put(key, rng.randbytes(rng.randrange(1, 40)), expires_at=rng.randrange(1000))
        else:
            store.put(key, rng.randbytes(rng.randrange(0, 40)))


# -- basic operations ------------------------------------------------------------------


def test_get_put_delete(make_store: MakeStore) -> None:
    store = make_store()
    assert store.get(b"a") is None
    store.put(b"a", b"1")
    store.put(b"b", b"")
    store.put(b"a", b"2")
    assert (store.get(b"a"), store.get(b"b")) == (b"2", b"")
    store.delete(b"a")
    store.delete(b"never")
    assert store.get(b"a") is None
    assert state(store) == {b"b": b""}
    assert store.name == STORE and store.partition == TASK and store.changelog == CHANGELOG
    assert store.durable is isinstance(store, SqliteStore)
    assert isinstance(store, KeyValueStore)


def test_items_are_sorted_and_filtered_by_prefix(make_store: MakeStore, log: EventLog) -> None:
    store = make_store()
    rng = random.Random(7)
    keys = {bytes(rng.randrange(256) for _ in range(rng.randrange(0, 4))) for _ in range(300)}
    keys.discard(b"")
    committed, pending = sorted(keys)[::2], sorted(keys)[1::2]
    for key in committed:
        store.put(key, b"c" + key)
    commit(store, log)
    for key in pending:  # uncommitted entries interleave with committed ones
        store.put(key, b"p" + key)
    for key in committed[::3]:
        store.delete(key)
    expected = {k: (b"p" if k in pending else b"c") + k for k in keys}
    for key in committed[::3]:
        del expected[key]
    assert list(store.items()) == sorted(expected.items())
    for prefix in (b"\x00", b"\x7f", b"\xff", b"\xff\xff", b"\x10\x20"):
        assert list(store.items(prefix)) == sorted(
            (k, v) for k, v in expected.items() if k.startswith(prefix)
        )


def test_size(make_store: MakeStore, log: EventLog) -> None:
    store = make_store()
    for i in range(10):
        store.put(b"%d" % i, b"x")
    store.delete(b"3")
    commit(store, log)
    assert store.approximate_size() == 9


# -- expiry ----------------------------------------------------------------------------


def test_expire_uses_the_injected_clock(make_store: MakeStore, log: EventLog) -> None:
    store = make_store()
    store.put(b"a", b"1", expires_at=100)
    store.put(b"b", b"2", expires_at=200)
    store.put(b"c", b"3", expires_at=100)
    store.put(b"c", b"3")  # a put without expiry clears it
    store.put(b"d", b"4", expires_at=50)
    store.put(b"d", b"4", expires_at=300)  # a later expiry replaces the earlier one
    assert store.expire(99) == 0
    assert store.expire(100) == 1  # gone at expires_at
    assert state(store) == {b"b": b"2", b"c": b"3", b"d": b"4"}
    commit(store, log)  # committed keys expire too
    assert store.expire(250) == 1
    store.put(b"e", b"5", expires_at=260)
    producer = log.producer()
    store.flush(producer)
    producer.flush()  # staged, not yet committed
    assert store.expire(1_000) == 2
    assert state(store) == {b"c": b"3"}
    store.commit()
    assert store.expire(10_000) == 0
    commit(store, log)
    latest = {r.key: r for r in read_changelog(log)}
    assert latest[b"a"].value is None and latest[b"d"].value is None
    assert latest[b"c"].value == b"3" and latest[b"c"].headers == ()


def test_expiry_survives_restore(make_store: MakeStore, log: EventLog) -> None:
    store = make_store()
    store.put(b"a", b"1", expires_at=100)
    store.put(b"b", b"2")
    commit(store, log)
    fresh = make_store()
    fresh.restore(log)
    assert fresh.expire(100) == 1
    assert state(fresh) == {b"b": b"2"}


# -- flush and the changelog -----------------------------------------------------------


def test_flush_writes_the_latest_value_per_key(make_store: MakeStore, log: EventLog) -> None:
    store = make_store()
    store.put(b"k1", b"v1")
    store.put(b"k1", b"v2")
    store.put(b"k2", b"v")
    store.delete(b"k2")
    store.put(b"k3", b"v3", expires_at=1234)
    producer = log.producer()
    assert store.flush(producer, {"offset": b"7"}) == 4  # three keys and the marker
    producer.flush()
    records = read_changelog(log)
    assert all(r.partition == TASK for r in records)
    assert read_changelog(log, partition=0) == []
    changes = {r.key: r for r in records[:-1]}
    assert len(changes) == len(records) - 1 == 3
    assert changes[b"k1"].value == b"v2"
    assert changes[b"k2"].value is None
    assert changes[b"k3"].value == b"v3"
    assert changes[b"k3"].header(EXPIRES_HEADER) == b"1234"
    assert records[-1].key == MARKER_KEY
    point = store.commit()
    assert point.offset == records[-1].offset + 1
    assert point.metadata == {"offset": b"7"} and point.seq == 1


def test_flush_without_changes(make_store: MakeStore, log: EventLog) -> None:
    store = make_store()
    producer = log.producer()
    assert store.flush(producer) == 0
    store.put(b"a", b"1")
    commit(store, log, {"offset": b"1"})
    assert store.flush(producer) == 0  # nothing changed, same metadata: no record at all
    assert store.flush(producer, {"offset": b"1"}) == 0
    assert store.flush(producer, {"offset": b"2"}) == 1  # new metadata: a marker alone
    producer.flush()
    assert store.commit().metadata == {"offset": b"2"}


def test_marker_key_is_reserved(make_store: MakeStore, log: EventLog) -> None:
    store = make_store()
    store.put(MARKER_KEY, b"x")
    with pytest.raises(StateError, match="reserved"):
        store.flush(log.producer())


# -- the commit protocol ---------------------------------------------------------------


def test_commit_waits_for_acknowledgements(make_store: MakeStore, log: EventLog) -> None:
    store = make_store()
    store.put(b"a", b"1")
    producer = log.producer(linger_ms=60_000)
    store.flush(producer, {"n": b"1"})
    with pytest.raises(StateError, match="not acknowledged"):
        store.commit()
    producer.flush()
    assert store.commit().metadata == {"n": b"1"}


def test_a_flush_at_once_is_acknowledged_when_it_returns(
    make_store: MakeStore, log: EventLog
) -> None:
    store = make_store()
    store.put(b"a", b"1")
    store.put(b"b", b"2", expires_at=5_000)
    producer = log.producer(linger_ms=60_000)  # would hold the records
    store.flush(producer, {"n": b"1"}, at_once=True)
    assert store.commit_ready
    assert store.commit().metadata == {"n": b"1"}
    records = read_changelog(log)
    assert [(r.key, r.value) for r in records[:2]] == [(b"a", b"1"), (b"b", b"2")]
    assert records[1].headers == ((EXPIRES_HEADER, b"5000"),)
    assert records[-1].key == MARKER_KEY
    fresh = make_store()
    fresh.restore(log)
    assert (fresh.get(b"a"), fresh.get(b"b")) == (b"1", b"2")
    assert fresh.metadata() == {"n": b"1"}


@pytest.mark.parametrize("at_once", [False, True])
def test_a_failed_changelog_write_stops_the_store(
    make_store: MakeStore, log: EventLog, at_once: bool
) -> None:
    store = make_store(partition=PARTITIONS)  # the changelog has no such partition
    store.put(b"a", b"1")
    producer = log.producer()
    store.flush(producer, at_once=at_once)
    producer.flush()
    with pytest.raises(ChangelogError):
        store.commit()
    with pytest.raises(ChangelogError):
        store.flush(producer)


def test_metadata_is_committed_with_the_state(make_store: MakeStore, log: EventLog) -> None:
    store = make_store()
    assert store.metadata() == {}
    store.put(b"a", b"1")
    commit(store, log, {"input": b"10"})
    store.put(b"b", b"2")
    producer = log.producer()
    store.flush(producer, {"input": b"20"})
    assert store.metadata() == {"input": b"10"}  # flushed is not committed
    producer.flush()
    assert store.metadata() == {"input": b"10"}
    store.commit()
    assert store.metadata() == {"input": b"20"}
    fresh = make_store()
    stats = fresh.restore(log)
    assert fresh.metadata() == {"input": b"20"}
    assert stats.commit == store.committed
    assert state(fresh) == {b"a": b"1", b"b": b"2"}


def test_metadata_persists_without_changes(make_store: MakeStore, log: EventLog) -> None:
    store = make_store()
    commit(store, log, {"input": b"5"})
    fresh = make_store()
    fresh.restore(log)
    assert fresh.metadata() == {"input": b"5"}


# -- restore ---------------------------------------------------------------------------


def test_restore_into_a_fresh_store_equals_the_original(
    make_store: MakeStore, log: EventLog
) -> None:
    store = make_store()
    rng = random.Random(3)
    for round_ in range(5):
        random_ops(store, rng, 300)
        store.expire(round_ * 100)
        commit(store, log, {"round": b"%d" % round_})
    progress: list[tuple[int, int]] = []
    fresh = make_store()
    stats = fresh.restore(log, on_progress=lambda done, total: progress.append((done, total)))
    assert state(fresh) == state(store)
    assert fresh.committed == store.committed
    assert stats.full and stats.discarded == 0 and stats.repaired == 0
    assert stats.records == len(read_changelog(log))
    assert progress and progress[-1][0] == progress[-1][1] == stats.end_offset
    assert fresh.expire(10_000) == store.expire(10_000)
    assert state(fresh) == state(store)


def test_a_flush_that_never_finished_is_rolled_back(make_store: MakeStore, log: EventLog) -> None:
    store = make_store()
    store.put(b"keep", b"1")
    store.put(b"old", b"1")
    commit(store, log, {"n": b"1"})
    committed = state(store)
    # A crash in the middle of a flush: change records without their commit marker.
    producer = log.producer()
    for key, value in ((b"old", b"2"), (b"new", b"2"), (b"keep", None)):
        producer.produce(CHANGELOG, value, key, partition=TASK)
    producer.flush()
    fresh = make_store()
    stats = fresh.restore(log)
    assert state(fresh) == committed
    assert fresh.metadata() == {"n": b"1"}
    assert (stats.discarded, stats.repaired) == (3, 3)
    # The repair made the changelog agree with the restored state again.
    latest = {r.key: r.value for r in read_changelog(log)}
    assert (latest[b"old"], latest[b"new"], latest[b"keep"]) == (b"1", None, b"1")
    again = make_store()
    assert again.restore(log).repaired == 0
    assert state(again) == committed
    fresh.put(b"next", b"1")  # and the repaired store carries on
    commit(fresh, log)
    assert fresh.committed.seq == 3


def test_restore_needs_a_clean_store(make_store: MakeStore, log: EventLog) -> None:
    store = make_store()
    store.put(b"a", b"1")
    with pytest.raises(StateError):
        store.restore(log)


def test_a_store_restored_from_an_empty_changelog_is_empty(
    make_store: MakeStore, log: EventLog
) -> None:
    store = make_store()
    stats = store.restore(log)
    assert (stats.records, state(store), store.committed.seq) == (0, {}, 0)


# -- snapshots -------------------------------------------------------------------------


def test_snapshot_round_trip_across_store_kinds(make_store: MakeStore, log: EventLog) -> None:
    store = make_store()
    rng = random.Random(5)
    random_ops(store, rng, 500)
    commit(store, log, {"n": b"1"})
    buffer = io.BytesIO()
    assert store.snapshot(buffer) == store.committed
    latest = {r.key: r for r in read_changelog(log)}
    expiring = {k for k, r in latest.items() if r.value is not None and r.header(EXPIRES_HEADER)}
    assert expiring
    for target in (make_store(), MemoryStore(STORE, TASK, changelog=CHANGELOG)):
        buffer.seek(0)
        assert target.restore_snapshot(buffer) == store.committed
        assert state(target) == state(store)
        assert target.metadata() == {"n": b"1"}
        assert target.expire(10_000) == len(expiring)  # random_ops expires before 1000
        assert state(target) == {k: v for k, v in state(store).items() if k not in expiring}


def test_snapshot_then_changelog_tail(make_store: MakeStore, log: EventLog) -> None:
    store = make_store()
    random_ops(store, random.Random(1), 400)
    commit(store, log)
    buffer = io.BytesIO()
    store.snapshot(buffer)
    store.put(b"after", b"1")
    store.delete(b"k001")
    commit(store, log, {"n": b"2"})
    fresh = make_store()
    buffer.seek(0)
    fresh.restore_snapshot(buffer)
    stats = fresh.restore(log)
    assert not stats.full
    assert stats.records == 3  # two changes and their marker, not the whole changelog
    assert state(fresh) == state(store)
    assert fresh.metadata() == {"n": b"2"}


def test_snapshot_needs_committed_state(make_store: MakeStore) -> None:
    store = make_store()
    store.put(b"a", b"1")
    with pytest.raises(StateError):
        store.snapshot(io.BytesIO())


def test_bad_snapshots_leave_the_store_as_it_was(make_store: MakeStore, log: EventLog) -> None:
    source = make_store()
    for i in range(20_000):  # more than one chunk
        source.put(b"%05d" % i, b"v")
    commit(source, log)
    buffer = io.BytesIO()
    source.snapshot(buffer)
    data = buffer.getvalue()
    target = make_store()
    target.put(b"mine", b"1")
    commit(target, log)
    before = (state(target), target.committed)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    for bad in (data[:-3], data[:-40_000], b"nonsense" + data[8:], bytes(flipped)):
        with pytest.raises(SnapshotError):
            target.restore_snapshot(io.BytesIO(bad))
        assert (state(target), target.committed) == before
    other = make_store(partition=0)
    with pytest.raises(SnapshotError, match="cannot restore"):
        other.restore_snapshot(io.BytesIO(data))


# -- a model -------------------------------------------------------------------------


class Model:
    """What a store should hold: current entries with expiries, and the committed copy."""

    def __init__(self) -> None:
        self.current: dict[bytes, tuple[bytes, int | None]] = {}
        self.committed: dict[bytes, tuple[bytes, int | None]] = {}

    def expire(self, now_ms: int) -> int:
        gone = [k for k, (_, at) in self.current.items() if at is not None and at <= now_ms]
        for key in gone:
            del self.current[key]
        return len(gone)

    def items(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        return sorted((k, v) for k, (v, _) in self.current.items() if k.startswith(prefix))


@pytest.mark.parametrize("seed", range(6))
def test_random_operations_and_crashes_match_a_model(
    make_store: MakeStore, log: EventLog, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    directory = tmp_path / f"model-{seed}"
    store = make_store(directory=directory)
    model = Model()
    for _ in range(1_500):
        key = b"%c%c" % (rng.choice(b"abc"), rng.choice(b"xyz"))
        roll = rng.random()
        if roll < 0.35:
            value = rng.randbytes(rng.randrange(8))
            expires_at = rng.choice([None, None, rng.randrange(500)])
            store.put(key, value, expires_at=expires_at)
            model.current[key] = (value, expires_at)
        elif roll < 0.5:
            store.delete(key)
            model.current.pop(key, None)
        elif roll < 0.6:
            assert store.get(key) == (model.current[key][0] if key in model.current else None)
        elif roll < 0.65:
            now = rng.randrange(500)
            assert store.expire(now) == model.expire(now)
        elif roll < 0.72:
            prefix = key[: rng.randrange(3)]
            assert list(store.items(prefix)) == model.items(prefix)
        elif roll < 0.82:
            commit(store, log, {"ops": b"%d" % len(model.current)})
            model.committed = dict(model.current)
        elif roll < 0.85:
            # Crash: whatever was not committed is gone; a new instance restores.
            store.close()
            store = make_store(directory=directory)
            store.restore(log)
            model.current = dict(model.committed)
            assert list(store.items()) == model.items(b"")
    assert list(store.items()) == model.items(b"")

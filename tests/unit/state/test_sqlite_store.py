"""What only the persistent store does: restart from its own files, locking, caching."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from riskstream.log.embedded import EmbeddedLog
from riskstream.state import (
    DEFAULT_DELETE_RETENTION_MS,
    MemoryStore,
    SqliteStore,
    StateError,
    StoreLockedError,
    ensure_changelog,
)
from riskstream.state.sqlite_db import read_commit
from tests.unit.state.test_contract import (
    APP,
    CHANGELOG,
    PARTITIONS,
    STORE,
    TASK,
    commit,
    read_changelog,
    state,
)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[EmbeddedLog]:
    event_log = EmbeddedLog(tmp_path / "log")
    ensure_changelog(event_log.admin, APP, STORE, PARTITIONS)
    try:
        yield event_log
    finally:
        event_log.close()


def open_store(
    directory: Path,
    *,
    cache_entries: int = 100_000,
    lock_timeout_s: float = 5.0,
    write_every: int = 1,
) -> SqliteStore:
    return SqliteStore(
        STORE,
        TASK,
        changelog=CHANGELOG,
        directory=directory,
        cache_entries=cache_entries,
        lock_timeout_s=lock_timeout_s,
        write_every=write_every,
    )


def test_a_restart_keeps_the_committed_state(tmp_path: Path, log: EmbeddedLog) -> None:
    with open_store(tmp_path) as store:
        for i in range(100):
            store.put(b"%03d" % i, b"v%d" % i, expires_at=50 if i < 10 else None)
        commit(store, log, {"input": b"100"})
        store.put(b"uncommitted", b"lost")
        expected, point = state(store), store.committed
    del expected[b"uncommitted"]
    with open_store(tmp_path) as store:
        assert store.committed == point
        assert store.metadata() == {"input": b"100"}
        assert state(store) == expected  # before any restore: straight from the file
        stats = store.restore(log)
        assert (stats.records, stats.full) == (0, False)
        assert store.expire(50) == 10


def test_a_restart_replays_only_the_changelog_tail(tmp_path: Path, log: EmbeddedLog) -> None:
    with open_store(tmp_path / "a") as store:
        for i in range(1_000):
            store.put(b"%04d" % i, b"v")
        commit(store, log, {"input": b"1"})
        checkpoint = store.committed.offset
    # Another worker took the partition over and committed more (2 changes, 1 marker).
    other = MemoryStore(STORE, TASK, changelog=CHANGELOG)
    assert other.restore(log).records == 1_001
    other.put(b"0001", b"changed")
    other.delete(b"0002")
    commit(other, log, {"input": b"2"})
    with open_store(tmp_path / "a") as store:
        stats = store.restore(log)
        assert (stats.start_offset, stats.records, stats.full) == (checkpoint, 3, False)
        assert state(store) == state(other)
        assert store.metadata() == {"input": b"2"}


def test_a_crash_between_flush_and_commit(tmp_path: Path, log: EmbeddedLog) -> None:
    """The changelog got the flush, the file did not: the restore takes the flush."""
    with open_store(tmp_path) as store:
        store.put(b"a", b"1")
        commit(store, log, {"input": b"1"})
        store.put(b"b", b"2")
        producer = log.producer()
        store.flush(producer, {"input": b"2"})
        producer.flush()
    with open_store(tmp_path) as store:
        assert store.metadata() == {"input": b"1"}
        stats = store.restore(log)
        assert stats.records == 2
        assert store.metadata() == {"input": b"2"}
        assert state(store) == {b"a": b"1", b"b": b"2"}


def test_a_stale_checkpoint_restores_everything(tmp_path: Path, log: EmbeddedLog) -> None:
    """Past the changelog's tombstone retention, deletes after the checkpoint may be gone."""
    with open_store(tmp_path) as store:
        store.put(b"a", b"1")
        commit(store, log)
        stamp = store.committed.timestamp
    with open_store(tmp_path) as store:
        stats = store.restore(log, now_ms=stamp + DEFAULT_DELETE_RETENTION_MS)
        assert not stats.full
    with open_store(tmp_path) as store:
        stats = store.restore(log, now_ms=stamp + DEFAULT_DELETE_RETENTION_MS + 1)
        assert stats.full and stats.records == 2
        assert state(store) == {b"a": b"1"}


def test_a_recreated_changelog_resets_the_store(tmp_path: Path, log: EmbeddedLog) -> None:
    with open_store(tmp_path) as store:
        store.put(b"a", b"1")
        commit(store, log)
    log.admin.delete_topics([CHANGELOG])
    ensure_changelog(log.admin, APP, STORE, PARTITIONS)
    with open_store(tmp_path) as store:
        stats = store.restore(log)
        assert stats.full and state(store) == {} and store.committed.seq == 0


def test_compaction_keeps_restores_exact(tmp_path: Path, log: EmbeddedLog) -> None:
    """Compaction drops old markers and superseded values: what is left still restores."""
    log.admin.delete_topics([CHANGELOG])
    ensure_changelog(log.admin, APP, STORE, PARTITIONS, min_compaction_lag_ms=0)
    with open_store(tmp_path / "a") as store:
        for round_ in range(5):
            for i in range(50):
                store.put(b"%02d" % i, b"%d" % round_)
            store.delete(b"%02d" % round_)
            commit(store, log, {"round": b"%d" % round_})
        expected = state(store)
    assert log.maintain()[CHANGELOG] > 0
    assert len(read_changelog(log)) == 50 + 1  # latest per key (tombstones kept) + marker
    fresh = MemoryStore(STORE, TASK, changelog=CHANGELOG)
    fresh.restore(log)
    assert state(fresh) == expected
    assert fresh.metadata() == {"round": b"4"}


def test_one_process_at_a_time(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with pytest.raises(StoreLockedError):
        open_store(tmp_path, lock_timeout_s=0.05)
    store.close()
    open_store(tmp_path).close()


def test_a_file_belongs_to_one_changelog_partition(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    with pytest.raises(StateError, match="holds"):
        SqliteStore(STORE, TASK, changelog="other-changelog", directory=tmp_path)


def test_the_read_cache_is_bounded(tmp_path: Path, log: EmbeddedLog) -> None:
    with open_store(tmp_path, cache_entries=10) as store:
        for i in range(100):
            store.put(b"%03d" % i, b"v%d" % i)
        commit(store, log)
        assert len(store._cache) <= 10  # white box: clean entries were evicted
        assert all(store.get(b"%03d" % i) == b"v%d" % i for i in range(100))
        assert store.get(b"absent") is None
        store.put(b"000", b"new")
        commit(store, log)
        assert store.get(b"000") == b"new"
        assert store.approximate_size() == 100


def test_the_compaction_lag_protects_committed_values_after_a_crash(
    tmp_path: Path, log: EmbeddedLog
) -> None:
    """A crash mid-flush, then a compaction pass, then a full restore elsewhere."""
    with open_store(tmp_path / "a") as store:
        store.put(b"k", b"committed")
        commit(store, log, {"n": b"1"})
    producer = log.producer()
    producer.produce(CHANGELOG, b"uncommitted", b"k", partition=TASK)  # no marker follows
    producer.flush()
    log.maintain()  # the crashed writer's producer compacts in passing
    fresh = MemoryStore(STORE, TASK, changelog=CHANGELOG)
    stats = fresh.restore(log)
    assert (stats.discarded, stats.repaired) == (1, 1)
    assert state(fresh) == {b"k": b"committed"}


def test_a_new_file_answers_misses_from_the_cache_until_rows_come_from_elsewhere(
    tmp_path: Path, log: EmbeddedLog
) -> None:
    """A new file's rows all pass through the cache, so a key it lacks is absent without a
    read; a restore (rows from the changelog) or an eviction ends that."""
    with open_store(tmp_path / "a", cache_entries=2) as store:
        assert store.get(b"x") is None
        assert store._cached_all is True  # white box: answered without reading the file
        for i in range(5):
            store.put(b"%d" % i, b"v%d" % i)
        commit(store, log)
        assert store._cached_all is False  # evicted rows are only in the file now
        assert [store.get(b"%d" % i) for i in range(5)] == [b"v%d" % i for i in range(5)]
    with open_store(tmp_path / "b") as fresh:
        assert fresh.get(b"0") is None  # before the restore: an empty file
        fresh.restore(log)
        assert fresh.get(b"0") == b"v0"
        assert fresh._cached_all is False


def _crash(store: SqliteStore) -> None:
    """A killed process: the file keeps what was written to it, nothing more."""
    store._conn.close()  # white box: not close(), which writes what is left


def test_commits_between_file_writes_are_served_and_survive_a_crash(
    tmp_path: Path, log: EmbeddedLog
) -> None:
    store = open_store(tmp_path, write_every=4, cache_entries=5)  # the first write: 3rd
    for round_ in range(1, 3):  # two commits, neither written to the file yet
        for i in range(50):
            store.put(b"%02d" % i, b"r%d-%d" % (round_, i))
        store.delete(b"%02d" % round_)
        commit(store, log, {"input": b"%d" % round_})
    expected = {b"%02d" % i: b"r2-%d" % i for i in range(50) if i != 2}
    assert state(store) == expected
    assert all(store.get(key) == value for key, value in expected.items())  # none evicted
    assert store.get(b"02") is None
    assert store.metadata() == {"input": b"2"}
    _crash(store)
    with open_store(tmp_path, write_every=4) as reopened:
        assert reopened.metadata() == {}  # the file's commit point: before both commits
        stats = reopened.restore(log)
        assert stats.records == 2 * (50 + 1)  # both commits: 50 changes and a marker each
        assert reopened.metadata() == {"input": b"2"}
        assert state(reopened) == expected


def test_every_nth_commit_writes_the_file_and_close_writes_the_rest(
    tmp_path: Path, log: EmbeddedLog
) -> None:
    # Partition TASK's first write comes TASK commits early (see the stagger test below).
    store = open_store(tmp_path / "a", write_every=TASK + 2)
    for round_ in range(1, 4):
        store.put(b"k", b"%d" % round_)
        commit(store, log, {"input": b"%d" % round_})
    _crash(store)  # the second commit was written, the third was not
    with open_store(tmp_path / "a", write_every=TASK + 2) as reopened:
        assert reopened.metadata() == {"input": b"2"}
        assert reopened.restore(log).records == 2
        assert state(reopened) == {b"k": b"3"}
    with open_store(tmp_path / "b", write_every=5) as store:
        store.put(b"k", b"1")
        commit(store, log, {"input": b"1"})
    with open_store(tmp_path / "b", write_every=5) as reopened:  # close() wrote the commit
        assert reopened.metadata() == {"input": b"1"}
        assert state(reopened) == {b"k": b"1"}


def test_snapshots_and_expiry_see_commits_not_written_yet(tmp_path: Path, log: EmbeddedLog) -> None:
    with open_store(tmp_path / "a", write_every=10) as store:
        store.put(b"old", b"1", expires_at=100)
        store.put(b"kept", b"2")
        commit(store, log, {"input": b"1"})
        assert store.expire(100) == 1
        commit(store, log, {"input": b"2"})
        assert state(store) == {b"kept": b"2"}
        buffer = io.BytesIO()
        assert store.snapshot(buffer) == store.committed
    buffer.seek(0)
    with open_store(tmp_path / "b", write_every=10) as target:
        target.restore_snapshot(buffer)
        assert state(target) == {b"kept": b"2"}
        assert target.metadata() == {"input": b"2"}


def test_the_stores_of_a_worker_write_their_files_in_different_commits(
    tmp_path: Path, log: EmbeddedLog
) -> None:
    stores = [
        SqliteStore(STORE, partition, changelog=CHANGELOG, directory=tmp_path, write_every=4)
        for partition in range(PARTITIONS)
    ]
    written: list[set[int]] = [set() for _ in stores]
    for round_ in range(1, 9):
        for partition, store in enumerate(stores):
            store.put(b"k", b"%d" % round_)
            commit(store, log, {"input": b"%d" % round_})
            if read_commit(store._conn) == store.committed:  # white box: the file's point
                written[partition].add(round_)
    for store in stores:
        store.close()
    assert written[0] == {4, 8}  # every 4th commit
    assert written[1] == {3, 7}  # the same, one commit earlier


def test_write_every_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        open_store(tmp_path, write_every=0)


def test_the_size_counts_commits_not_written_yet(tmp_path: Path, log: EmbeddedLog) -> None:
    with open_store(tmp_path, write_every=10) as store:
        for i in range(20):
            store.put(b"%02d" % i, b"v")
        commit(store, log)
        store.delete(b"00")
        commit(store, log)
        assert store.approximate_size() == 19

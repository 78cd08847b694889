"""What only the in-memory store does: its durability is the changelog's."""

from __future__ import annotations

import pytest

from riskstream.log import EventLog
from riskstream.state import MemoryStore
from tests.unit.state.test_contract import CHANGELOG, STORE, TASK, commit, log, state

__all__ = ["log"]  # the fixture, over the memory and embedded logs


def make() -> MemoryStore:
    return MemoryStore(STORE, TASK, changelog=CHANGELOG)


def test_a_dropped_store_comes_back_as_last_flushed(log: EventLog) -> None:
    store = make()
    store.put(b"a", b"1")
    commit(store, log, {"n": b"1"})
    store.put(b"b", b"2")
    producer = log.producer()
    store.flush(producer, {"n": b"2"})
    producer.flush()  # acknowledged, but the process dies before commit()
    expected = state(store)
    store.put(b"c", b"never flushed")
    del store  # the "kill": nothing local survives
    fresh = make()
    fresh.restore(log)
    assert state(fresh) == expected
    assert fresh.metadata() == {"n": b"2"}


def test_a_flush_still_in_the_producer_is_lost(log: EventLog) -> None:
    store = make()
    store.put(b"a", b"1")
    commit(store, log, {"n": b"1"})
    store.put(b"b", b"2")
    store.flush(log.producer(linger_ms=60_000), {"n": b"2"})  # never sent
    fresh = make()
    fresh.restore(log)
    assert state(fresh) == {b"a": b"1"}
    assert fresh.metadata() == {"n": b"1"}


def test_the_key_index_follows_inserts_and_deletes() -> None:
    store = make()
    store.put(b"b", b"1")
    assert list(store.items()) == [(b"b", b"1")]
    store.put(b"a", b"1")
    store.put(b"b", b"2")
    assert list(store.items()) == [(b"a", b"1"), (b"b", b"2")]
    store.delete(b"a")
    assert list(store.items()) == [(b"b", b"2")]
    assert len(store) == 1


def test_re_expiring_keys_keeps_the_deadline_heap_small() -> None:
    store = make()
    for at in range(10_000):
        store.put(b"k", b"v", expires_at=at)
    assert store.expire(9_998) == 0
    assert len(store._deadlines) <= 2  # white box: stale deadlines were dropped
    assert store.expire(9_999) == 1


@pytest.mark.parametrize("count", [0, 1, 1_000])
def test_flush_collapses_repeated_writes(log: EventLog, count: int) -> None:
    store = make()
    for i in range(count):
        store.put(b"k", b"%d" % i)
    produced = store.flush(log.producer())
    assert produced == (2 if count else 0)

"""Embedded log maintenance as short steps: what a producer runs in passing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from riskstream.log import TopicPartition, TopicSpec
from riskstream.log.embedded import EmbeddedLog
from riskstream.log.embedded.catalog import Catalog
from riskstream.log.embedded.maintenance import maintain_topic, maintenance_steps
from riskstream.log.embedded.options import EmbeddedOptions
from riskstream.log.embedded.store import TopicStore

KEYS = 50
BATCHES = 40
PER_BATCH = 500  # 20,000 records: several compaction steps' worth


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    """A log with one compacted topic of many batches, every key written many times."""
    path = tmp_path / "log"
    with EmbeddedLog(path, {"maintenance_interval_ms": "0"}) as log:
        log.admin.create_topics([TopicSpec(name="t", compacted=True)])
        producer = log.producer(linger_ms=60_000)
        for batch in range(BATCHES):
            for i in range(PER_BATCH):
                n = batch * PER_BATCH + i
                producer.produce("t", str(n).encode(), f"k{n % KEYS}".encode())
            producer.flush()
        producer.close()
    yield path


def open_store(root: Path) -> TopicStore:
    options = EmbeddedOptions()
    catalog = Catalog(root, options)
    try:
        return catalog.open_store(catalog.require("t"))
    finally:
        catalog.close()


def latest_values(root: Path) -> dict[bytes | None, bytes | None]:
    with EmbeddedLog(root, {"maintenance_interval_ms": "0"}) as log:
        consumer = log.consumer()
        tp = TopicPartition("t", 0)
        consumer.assign([tp])
        values: dict[bytes | None, bytes | None] = {}
        count = 0
        while tp not in consumer.at_end():
            for record in consumer.poll(10_000, 0.0):
                values[record.key] = record.value
                count += 1
        consumer.close()
    assert count == KEYS  # one record per key is left
    return values


def test_a_pass_runs_in_many_steps_none_inside_a_transaction(root: Path) -> None:
    store = open_store(root)
    spec = TopicSpec(name="t", compacted=True)
    removed = 0
    steps = 0
    try:
        for count in maintenance_steps(store, spec, 0):
            assert not store.conn.in_transaction
            # Between steps another connection can take the topic's write lock at once.
            other = sqlite3.connect(store.path, timeout=0, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            other.close()
            removed += count
            steps += 1
    finally:
        store.close()
    assert steps > 5
    assert removed == BATCHES * PER_BATCH - KEYS
    last = BATCHES * PER_BATCH - KEYS
    assert latest_values(root) == {
        f"k{n % KEYS}".encode(): str(n).encode() for n in range(last, last + KEYS)
    }


def test_a_pass_cut_short_leaves_a_correct_log_that_the_next_pass_finishes(root: Path) -> None:
    store = open_store(root)
    spec = TopicSpec(name="t", compacted=True)
    try:
        steps = maintenance_steps(store, spec, 0)
        partial = 0
        while not partial:  # up to the first step that rewrote batches
            partial = next(steps)
        steps.close()
        assert not store.conn.in_transaction
        assert 0 < partial < BATCHES * PER_BATCH - KEYS
        assert partial + maintain_topic(store, spec, 0) == BATCHES * PER_BATCH - KEYS
    finally:
        store.close()
    assert len(latest_values(root)) == KEYS


def test_producers_spread_a_pass_over_their_writes(root: Path) -> None:
    with EmbeddedLog(root, {"maintenance_interval_ms": "1"}) as log:
        producer = log.producer(linger_ms=0)
        writes = 0
        while writes < 10_000:
            producer.produce("t", b"v", b"new")
            producer.flush()
            writes += 1
            if _compacted(root):
                break
        producer.close()
    assert 1 < writes < 10_000  # in more than one write, and done in the end


def _compacted(root: Path) -> bool:
    conn = sqlite3.connect(open_store(root).path)
    try:
        (records,) = conn.execute("SELECT sum(count) FROM batches").fetchone()
    finally:
        conn.close()
    return bool(records < BATCHES * PER_BATCH)

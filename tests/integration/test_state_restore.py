"""Crash safety of the state stores: a writer process killed with SIGKILL, again and again.

The child restores its store, reads the step count ``n`` from the committed metadata, and
loops: apply steps ``n, n+1, …`` (puts, deletes, an overwritten counter, keys that expire
on a step clock), then ``flush`` with metadata ``n``, ``producer.flush()``, ``commit()``.
It logs ``flush n`` before and ``commit n`` after each cycle to a side file. The parent
kills it at random moments and, after each kill, restores a fresh store (local files + the
changelog tail for ``SqliteStore``; the changelog alone for ``MemoryStore``).

The invariant: the restored metadata names a commit point ``m`` with
``last "commit" logged <= m <= last "flush" logged`` (a flush whose reports arrived may
have reached the changelog without its local commit), and the restored state is *exactly*
the state after steps ``0 … m-1``: nothing of a later, unfinished flush, nothing missing.
A full replay of the changelog into a ``MemoryStore`` must give the same state, which shows
the changelog itself stays consistent (rolled-back tails are repaired).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from riskstream.log import EventLog, Record, TopicPartition, open_log
from riskstream.state import KeyValueStore, MemoryStore, SqliteStore, ensure_changelog
from riskstream.state.base import ChangelogStore

REPO = Path(__file__).resolve().parents[2]
APP, STORE, PARTITION = "killtest", "steps", 1
CHANGELOG = f"{APP}-{STORE}-changelog"

_CHILD = """
import random, sys
from riskstream.log import EventLog, Record, TopicPartition, open_log
from riskstream.state import MemoryStore, SqliteStore
from tests.integration.test_state_restore import CHANGELOG, PARTITION, STORE, step

url, state_dir, side_file, seed, kind = sys.argv[1:6]
rng = random.Random(int(seed))
log = open_log(url, options={"maintenance_interval_ms": "300"})
if kind == "sqlite":
    store = SqliteStore(STORE, PARTITION, changelog=CHANGELOG, directory=state_dir)
else:
    store = MemoryStore(STORE, PARTITION, changelog=CHANGELOG)
store.restore(log)
n = int(store.metadata().get("n", b"0"))
producer = log.producer(linger_ms=rng.choice([0, 5, 50]))
out = open(side_file, "a")
print("ready", flush=True)
while True:
    for _ in range(rng.randint(1, 1500)):
        step(store, n)
        n += 1
    out.write(f"flush {n}\\n")
    out.flush()
    store.flush(producer, {"n": str(n).encode()})
    producer.flush()
    store.commit()
    out.write(f"commit {n}\\n")
    out.flush()
"""


def step(store: KeyValueStore, i: int) -> None:
    """Step ``i`` of the workload (the child runs it; the parent replays it as reference)."""
    store.put(b"k%d" % i, b"v%d" % i)
    if i % 5 == 0 and i >= 5:
        store.delete(b"k%d" % (i - 5))
    store.put(b"count", b"%d" % (i + 1))
    store.put(b"t%d" % i, b"t", expires_at=i + 3)  # gone three steps later
    store.expire(i)


def logged(side_file: Path, word: str) -> int:
    """The highest ``n`` the writers logged with ``word`` (each line is one ``write``)."""
    highest = 0
    for line in side_file.read_text().splitlines():
        logged_word, n = line.split()
        if logged_word == word:
            highest = max(highest, int(n))
    return highest


def read_changelog(log: EventLog, topic: str, partition: int) -> list[Record]:
    consumer = log.consumer()
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.seek(tp, 0)
    records: list[Record] = []
    try:
        while tp not in consumer.at_end():
            records.extend(consumer.poll(max_records=50_000, timeout=0.05))
    finally:
        consumer.close()
    return records


def run_child(url: str, state_dir: Path, side_file: Path, seed: int, kind: str) -> None:
    """Start a writer and SIGKILL it at a random moment after it restored."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, url, str(state_dir), str(side_file), str(seed), kind],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stderr is not None
        if child.stdout.readline().strip() != "ready":
            child.wait(timeout=30)
            pytest.fail(f"writer did not start: {child.stderr.read()}")
        time.sleep(random.Random(seed).uniform(0.02, 0.8))
        assert child.poll() is None, child.stderr.read()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
        if child.stderr is not None:
            child.stderr.close()


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "kills"), [("sqlite", 20), ("memory", 10)])
def test_killed_writers_restore_to_a_commit_point(tmp_path: Path, kind: str, kills: int) -> None:
    url = f"embedded:{tmp_path / 'log'}"
    state_dir = tmp_path / "state"
    side_file = tmp_path / "side.txt"
    side_file.touch()
    log = open_log(url)
    # A short compaction lag, so the writers' producers compact the changelog during the
    # test (every 300 ms); the parent's restore right after a kill repairs a cut-off flush
    # well within it.
    ensure_changelog(log.admin, APP, STORE, PARTITION + 1, min_compaction_lag_ms=5_000)
    reference = MemoryStore(STORE, PARTITION, changelog=CHANGELOG)
    done = 0  # steps applied to the reference
    tail_restores = 0
    try:
        for round_ in range(kills):
            run_child(url, state_dir, side_file, seed=1000 + round_, kind=kind)
            restored: ChangelogStore
            if kind == "sqlite":
                restored = SqliteStore(STORE, PARTITION, changelog=CHANGELOG, directory=state_dir)
                local_checkpoint = restored.committed.offset
            else:
                restored = MemoryStore(STORE, PARTITION, changelog=CHANGELOG)
                local_checkpoint = 0
            try:
                stats = restored.restore(log)
                committed = int(restored.metadata().get("n", b"0"))
                assert logged(side_file, "commit") <= committed <= logged(side_file, "flush")
                assert committed >= done, "a commit point went backwards"
                while done < committed:
                    step(reference, done)
                    done += 1
                expected = dict(reference.items())
                assert dict(restored.items()) == expected, f"round {round_}: n={committed}"
                if local_checkpoint:
                    # A restart reads only what follows its own checkpoint.
                    assert not stats.full and stats.start_offset == local_checkpoint
                    tail_restores += 1
            finally:
                restored.close()
            from_changelog = MemoryStore(STORE, PARTITION, changelog=CHANGELOG)
            from_changelog.restore(log)
            assert dict(from_changelog.items()) == expected
        assert done > 0
        if kind == "sqlite":
            assert tail_restores >= kills // 2
            # The writers' producers compacted the changelog while they were being killed.
            kept = len(read_changelog(log, CHANGELOG, PARTITION))
            print(f"changelog: {kept} records kept of {from_changelog.committed.offset}")
            assert kept < from_changelog.committed.offset
    finally:
        log.close()

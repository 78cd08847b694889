"""Embedded log: opening checks and repairs the directory; processes share it safely."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from riskstream.errors import LogCorruptionError
from riskstream.log import DeliveryReport, TopicPartition, TopicSpec
from riskstream.log.embedded import EmbeddedLog
from riskstream.log.embedded.options import EmbeddedOptions
from riskstream.log.embedded.store import TopicStore


def topic_files(root: Path) -> list[str]:
    return sorted(path.name for path in (root / "topics").iterdir())


def test_uncatalogued_topic_files_are_removed_on_open(tmp_path: Path) -> None:
    root = tmp_path / "log"
    with EmbeddedLog(root) as log:
        log.admin.create_topics([TopicSpec(name="kept")])
    # What a create_topics killed between writing the file and cataloguing it leaves behind.
    TopicStore.create(root / "topics" / "half.0badc0de.db", 2, EmbeddedOptions(), topic="half")
    (root / "topics" / "half.0badc0de.db-wal").write_bytes(b"")
    (root / "topics" / "stray.db-shm").write_bytes(b"x")
    with EmbeddedLog(root) as log:
        assert log.admin.list_topics() == ["kept"]
        (only,) = topic_files(root)
        assert only.startswith("kept.") and only.endswith(".db")
        log.admin.create_topics([TopicSpec(name="half")])  # the name is free again


def test_a_missing_topic_file_is_reported_not_recreated(tmp_path: Path) -> None:
    root = tmp_path / "log"
    with EmbeddedLog(root) as log:
        log.admin.create_topics([TopicSpec(name="t")])
    for name in topic_files(root):
        (root / "topics" / name).unlink()
    with EmbeddedLog(root) as log:
        consumer = log.consumer()
        with pytest.raises(LogCorruptionError):
            consumer.assign([TopicPartition("t", 0)])
        reports: list[DeliveryReport] = []
        producer = log.producer(on_delivery=reports.append)
        producer.produce("t", b"x")
        producer.flush()
        assert reports[0].error is not None and "LogCorruptionError" in reports[0].error
        assert topic_files(root) == []  # nothing silently re-created
        log.admin.delete_topics(["t"])  # the way out
        log.admin.create_topics([TopicSpec(name="t")])
        producer.produce("t", b"x")
        producer.flush()
        assert reports[-1].ok


def test_damaged_or_newer_metadata_refuses_to_open(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "meta.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(LogCorruptionError):
        EmbeddedLog(garbage)
    newer = tmp_path / "newer"
    EmbeddedLog(newer).close()
    conn = sqlite3.connect(newer / "meta.db")
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(LogCorruptionError, match="newer"):
        EmbeddedLog(newer)


def test_a_damaged_topic_file_is_a_corruption_error(tmp_path: Path) -> None:
    root = tmp_path / "log"
    with EmbeddedLog(root) as log:
        log.admin.create_topics([TopicSpec(name="t")])
    (name,) = topic_files(root)
    (root / "topics" / name).write_bytes(b"\0garbage" * 1000)
    with EmbeddedLog(root) as log, pytest.raises(LogCorruptionError):
        log.consumer().watermarks(TopicPartition("t", 0))


def test_members_of_dead_processes_are_expired_on_open(tmp_path: Path) -> None:
    root = tmp_path / "log"
    with EmbeddedLog(root) as log:
        log.admin.create_topics([TopicSpec(name="t")])
    conn = sqlite3.connect(root / "meta.db")
    with conn:
        conn.execute(
            "INSERT INTO members VALUES ('g', 'dead', '[\"t\"]', ?, 1000)",
            (time.time_ns() // 1_000_000 - 60_000,),
        )
        conn.execute("INSERT INTO owners VALUES ('g', 't', 0, 'dead')")
    conn.close()
    with EmbeddedLog(root) as log:
        consumer = log.consumer("g")
        consumer.subscribe(["t"])
        consumer.poll(1, 0.5)
        assert consumer.assignment() == [TopicPartition("t", 0)]
        consumer.close()


_WRITER = """
import sys
from riskstream.log import TopicSpec, open_log
log = open_log(sys.argv[1])
log.admin.create_topics([TopicSpec(name="shared", partitions=3)], exist_ok=True)
producer = log.producer()
for i in range(200):
    producer.produce("shared", b"%s-%d" % (sys.argv[2].encode(), i), b"%d" % i)
assert producer.flush() == 0
log.close()
"""


def test_processes_open_and_write_one_directory_at_once(tmp_path: Path) -> None:
    root = tmp_path / "log"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    procs = [
        subprocess.Popen([sys.executable, str(script), f"embedded:{root}", f"w{n}"])
        for n in range(4)
    ]
    assert [proc.wait(timeout=60) for proc in procs] == [0, 0, 0, 0]
    with EmbeddedLog(root) as log:
        consumer = log.consumer()
        tps = [TopicPartition("shared", p) for p in range(3)]
        consumer.assign(tps)
        values: list[bytes] = []
        while not set(tps) <= consumer.at_end():
            values.extend(r.value or b"" for r in consumer.poll(1000, 0.0))
        assert sorted(values) == sorted(b"w%d-%d" % (n, i) for n in range(4) for i in range(200))
        assert sum(consumer.watermarks(tp)[1] for tp in tps) == 800
        consumer.close()


def test_a_background_thread_moves_the_wal_into_the_topic_file(tmp_path: Path) -> None:
    root = tmp_path / "log"
    with EmbeddedLog(root, {"checkpoint_interval_ms": "20"}) as log:
        log.admin.create_topics([TopicSpec(name="t")])
        (name,) = topic_files(root)
        size_before = (root / "topics" / name).stat().st_size
        producer = log.producer()
        for i in range(5_000):
            producer.produce("t", b"x" * 200, b"%d" % i)
        producer.flush()
        deadline = time.monotonic() + 5
        while (root / "topics" / name).stat().st_size < size_before + 1_000_000:
            assert time.monotonic() < deadline, "WAL was not checkpointed"
            time.sleep(0.02)
        producer.close()

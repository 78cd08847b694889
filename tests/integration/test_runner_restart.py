"""SIGKILL the embedded runner mid-stream, again and again: every input still yields its
outputs exactly once, and the final state equals that of an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import msgspec

from riskstream.log import TopicPartition, TopicSpec, open_log
from riskstream.state import SqliteStore
from riskstream.stream.output import OUTPUT_ID_HEADER
from tests.integration.runner_app import PARTITIONS

EVENTS = 150_000
KILLS = 12
ROOT = Path(__file__).resolve().parents[2]


def _fill(log_dir: Path) -> None:
    log = open_log(f"embedded:{log_dir}")
    log.admin.create_topics([TopicSpec(name="events", partitions=PARTITIONS)])
    producer = log.producer()
    rng = random.Random(3)
    for i in range(EVENTS):
        user = f"user-{rng.randrange(50)}"
        event = {
            "i": i,
            "n": rng.randrange(1, 10),
            "t": 1_000_000 + i * 100 + rng.randrange(-300, 300),
        }
        producer.produce("events", msgspec.json.encode(event), user.encode(), timestamp=event["t"])
    assert producer.flush(30) == 0
    log.close()


def _child(log_dir: Path, state_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.runner_app", str(log_dir), str(state_dir)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _read(log_dir: Path, topic: str) -> list[tuple[bytes, bytes]]:
    log = open_log(f"embedded:{log_dir}")
    consumer = log.consumer()
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    out: list[tuple[bytes, bytes]] = []
    while not set(tps) <= consumer.at_end():
        for record in consumer.poll(10_000, 0.2):
            out.append((record.header(OUTPUT_ID_HEADER) or b"", record.value or b""))
    consumer.close()
    log.close()
    return out


def _state(log_dir: Path, state_dir: Path) -> dict[int, dict[bytes, bytes]]:
    log = open_log(f"embedded:{log_dir}")
    states = {}
    for partition in range(PARTITIONS):
        store = SqliteStore(
            "restart-app-state",
            partition,
            changelog="restart-app-state-changelog",
            directory=state_dir,
        )
        store.restore(log)
        states[partition] = {k: v for k, v in store.items() if not k.startswith(b"__")}
        store.close()
    log.close()
    return states


def test_sigkilled_runner_yields_each_output_once_and_the_same_state(tmp_path: Path) -> None:
    reference_log, crashed_log = tmp_path / "ref-log", tmp_path / "crash-log"
    _fill(reference_log)
    _fill(crashed_log)
    assert _child(reference_log, tmp_path / "ref-state").wait(120) == 0

    rng = random.Random(11)
    progress = []
    for _ in range(KILLS):
        child = _child(crashed_log, tmp_path / "crash-state")
        time.sleep(rng.uniform(0.4, 1.5))
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        progress.append(len(_read(crashed_log, "totals")))
    print("outputs after each kill:", progress)
    # The kills landed mid-stream: progress was made between them, and work was left.
    assert len(set(progress)) >= KILLS // 4
    assert progress[-1] < EVENTS
    assert _child(crashed_log, tmp_path / "crash-state").wait(120) == 0

    for topic in ("totals", "buckets", "restart-app.late"):
        expected = _read(reference_log, topic)
        got = _read(crashed_log, topic)
        counts = Counter(ident for ident, _ in got)
        assert [ident for ident, n in counts.items() if n > 1] == [], f"duplicates in {topic}"
        assert dict(got) == dict(expected), f"{topic} differs from the uninterrupted run"
    assert len(_read(crashed_log, "totals")) == EVENTS
    assert _state(crashed_log, tmp_path / "crash-state") == _state(
        reference_log, tmp_path / "ref-state"
    )

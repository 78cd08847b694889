"""`riskstream worker`: a SIGTERM mid-stream finishes the batch, commits and leaves the group;
nothing is lost, and the next worker carries on without duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from riskstream.errors import UnknownTopicError
from riskstream.log import TopicPartition, open_log
from tests.integration.runner_app import PARTITIONS
from tests.integration.test_runner_restart import EVENTS, ROOT, _fill, _read


def _worker(log_dir: Path, state_dir: Path) -> subprocess.Popen[bytes]:
    command = "from riskstream.cli import main; main()"
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            command,
            "worker",
            "--topology",
            "tests.integration.runner_app:topology",
            "--log",
            f"embedded:{log_dir}",
            "--state-dir",
            str(state_dir),
            "--commit-interval-ms",
            "200",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _written(log_dir: Path) -> int:
    try:
        return len(_read(log_dir, "totals"))
    except UnknownTopicError:  # the worker has not created its outputs yet
        return 0


def _committed(log_dir: Path) -> int:
    log = open_log(f"embedded:{log_dir}")
    consumer = log.consumer("restart-app")
    tps = [TopicPartition("events", p) for p in range(PARTITIONS)]
    total = sum(offset or 0 for offset in consumer.committed(tps).values())
    consumer.close()
    log.close()
    return total


def test_sigterm_commits_everything_processed_and_loses_nothing(tmp_path: Path) -> None:
    workers: list[subprocess.Popen[bytes]] = []
    try:
        _sigterm_run(tmp_path, workers)
    finally:
        for proc in workers:  # a failed assertion must not leave a worker running
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)


def _sigterm_run(tmp_path: Path, workers: list[subprocess.Popen[bytes]]) -> None:
    log_dir, state_dir = tmp_path / "log", tmp_path / "state"
    _fill(log_dir)
    first = _worker(log_dir, state_dir)
    workers.append(first)
    deadline = time.monotonic() + 60
    while _written(log_dir) < EVENTS // 10:
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.2)
    first.send_signal(signal.SIGTERM)
    assert first.wait(60) == 0
    written = len(_read(log_dir, "totals"))
    assert 0 < written < EVENTS
    assert _committed(log_dir) == written  # every output's input is committed, nothing more

    second = _worker(log_dir, state_dir)
    workers.append(second)
    while _committed(log_dir) < EVENTS:
        assert time.monotonic() < deadline + 120, "the second worker did not finish"
        time.sleep(0.5)
    second.send_signal(signal.SIGTERM)
    assert second.wait(60) == 0
    ids = [ident for ident, _ in _read(log_dir, "totals")]
    assert len(ids) == EVENTS
    assert [ident for ident, n in Counter(ids).items() if n > 1] == []

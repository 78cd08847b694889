"""`riskstream projections run|rebuild|status` as an operator runs them, in processes of
their own, on the embedded log and a SQLite or PostgreSQL query store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from riskstream.log import open_log
from riskstream.services.projections import ReadModels, TopicMap, open_store
from tests.integration.projection_scenario import FRAUD, create_topics, dump, produce, story

ROOT = Path(__file__).resolve().parents[2]


def _command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from riskstream.cli import main; main()", *args]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(*args),
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:{tmp_path / 'query.db'}"
        return
    dsn: str = request.getfixturevalue("postgres_dsn")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{dsn}?schema={schema}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def log_url(tmp_path: Path) -> str:
    url = f"embedded:{tmp_path / 'log'}"
    log = open_log(url)
    create_topics(log, TopicMap())  # the standard topic names, as the CLI reads them
    produce(log, TopicMap(), story())
    log.close()
    return url


def test_run_status_and_rebuild(store_url: str, log_url: str) -> None:
    ran = _cli(
        "projections", "run", "--until-caught-up", "--json", "--store", store_url, "--log", log_url
    )
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    assert summary["records"] == len(story())
    assert summary["applied"]["decisions"] == 4

    status = _cli("projections", "status", "--json", "--store", store_url, "--log", log_url)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["projector_lag"] == 0
    assert set(report["views"]) == {"users", "transactions", "decisions", "alerts", "rules"}
    assert all(v["current"] and v["lag"] == 0 for v in report["views"].values())

    store = open_store(store_url)
    live = dump(store)
    rebuilt = _cli(
        "projections", "rebuild", "users", "--json", "--store", store_url, "--log", log_url
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["views"] == ["users"]
    assert dump(store) == live
    summary_row = ReadModels(store).user_summary(FRAUD)
    assert summary_row is not None and summary_row.decisions == 2
    store.close()

    unknown = _cli("projections", "rebuild", "nosuch", "--store", store_url, "--log", log_url)
    assert unknown.returncode == 2
    assert "no view named 'nosuch'" in unknown.stderr and "transactions" in unknown.stderr


def test_run_stops_cleanly_on_sigterm(tmp_path: Path, log_url: str) -> None:
    store_url = f"sqlite:{tmp_path / 'query.db'}"
    process = subprocess.Popen(
        _command("projections", "run", "--json", "--store", store_url, "--log", log_url),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:  # wait until it has projected everything (read from another process)
            status = _cli("projections", "status", "--json", "--store", store_url, "--log", log_url)
            if status.returncode == 0 and json.loads(status.stdout)["projector_lag"] == 0:
                break
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the projector did not catch up"
            time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert json.loads(out)["records"] == len(story())
    assert "all committed" in err

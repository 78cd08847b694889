"""``riskstream simulate --rate --warmup`` on the memory log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from riskstream.sim import read_truth
from tests.unit.sim.test_cli import app


def _run(*args: str) -> dict[str, Any]:
    base = ["simulate", "--log", "memory:", "--rate", "2000", "--fraud-rate", "0.2", "--json"]
    result = CliRunner().invoke(app, [*base, *args])
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    assert summary["ok"] is True
    return summary


def test_the_sessions_in_flight_come_first_and_events_counts_live_ones(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    summary = _run("--warmup", "20", "--events", "400", "--truth", str(truth))
    assert summary["warmup_s"] == 20
    assert summary["backlog"] > 1_000
    assert summary["produced"] == summary["acknowledged"] == summary["backlog"] + 400
    records = list(read_truth(truth))
    assert len(records) == summary["checkouts"] == summary["truth_records"]
    times = [r.event_time for r in records]
    assert times == sorted(times)


def test_no_warm_up_sends_no_backlog() -> None:
    summary = _run("--warmup", "0", "--events", "300")
    assert summary["warmup_s"] == 0
    assert summary["backlog"] == 0
    assert summary["produced"] == 300


def test_a_duration_runs_after_the_backlog() -> None:
    summary = _run("--warmup", "10", "--duration", "0.2")
    assert summary["produced"] > summary["backlog"] > 0


def test_the_warm_up_is_for_paced_traffic_only() -> None:
    result = CliRunner().invoke(app, ["simulate", "--log", "memory:", "--warmup", "10"])
    assert result.exit_code == 2
    assert "--rate" in result.output


def test_the_warm_up_is_documented() -> None:
    result = CliRunner().invoke(app, ["simulate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--warmup" in result.output
    assert "SECONDS" in result.output

"""``riskstream simulate`` end to end on the memory log."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from riskstream.cli.simulate import simulate
from riskstream.sim import read_truth

app = typer.Typer()
app.command()(simulate)


@app.command()
def version() -> None:  # a second command, so "simulate" is addressed by name as in the CLI
    """Unused."""


def test_simulate_as_fast_as_possible_with_truth_file(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    args = ["simulate", "--log", "memory:", "--events", "20000", "--seed", "3", "--json"]
    result = CliRunner().invoke(app, [*args, "--fraud-rate", "0.1", "--truth", str(truth)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert summary["produced"] == summary["acknowledged"] == summary["events"] == 20_000
    assert sum(summary["by_type"].values()) == 20_000
    records = list(read_truth(truth))
    assert len(records) == summary["checkouts"] == summary["truth_records"]
    assert sum(r.is_fraud for r in records) == summary["fraud_checkouts"] > 0
    assert summary["scenarios"]["legit"]["checkouts"] == sum(not r.is_fraud for r in records)
    assert summary["first_event_time"].startswith("2026-01-01")


def test_simulate_renders_a_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["simulate", "--log", "memory:", "--events", "5000", "--start", "2025-06-01T00:00Z"]
    )
    assert result.exit_code == 0, result.output
    assert "events by type" in result.output
    assert "checkouts by scenario" in result.output


def test_simulate_paced_for_a_duration() -> None:
    args = ["simulate", "--log", "memory:", "--rate", "2000", "--duration", "0.5", "--json"]
    args += ["--warmup", "0"]  # the warm-up's backlog has tests of its own (test_pacing_cli)
    result = CliRunner().invoke(app, [*args, "--truth-topic"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert 500 <= summary["produced"] <= 1_500
    assert summary["mode"].startswith("paced")


def test_a_bad_start_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["simulate", "--log", "memory:", "--start", "yesterday"])
    assert result.exit_code == 2

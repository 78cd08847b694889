"""`riskstream demo` as a user runs it - a real process, small settings - on the embedded log
and on the real Kafka broker; its summary checked against what the run left on the log, in
the ground-truth file and in the read models (kept with --keep)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from riskstream.demo.namespace import Namespace
from riskstream.demo.traffic import is_live
from riskstream.demo.training import read_decisions
from riskstream.log import EventLog, TopicPartition, open_log
from riskstream.services.projections import ReadModels, open_store
from riskstream.sim import read_truth

SMALL = (
    "--users", "2700",  # one live session each: 300 events/s for 6 s start about 2,000
    "--history-days", "10",
    "--fraud-rate", "0.15",
    "--live-fraud-rate", "0.3",
    "--duration", "6",
    "--rate", "300",
    "--seed", "11",
)  # fmt: skip


def _demo(cwd: Path, *args: str) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            "from riskstream.cli import main; main()",
            "demo",
            *SMALL,
            "--out",
            str(cwd / "report"),
            "--keep",
            "--json",
            *args,
        ],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-4000:]
    return json.loads(ran.stdout), ran


def _ends(log: EventLog, topics: tuple[str, ...]) -> int:
    probe = log.consumer()
    try:
        described = log.admin.describe_topics(list(topics))
        return sum(
            probe.watermarks(TopicPartition(topic, p))[1]
            for topic, spec in described.items()
            for p in range(spec.partitions)
        )
    finally:
        probe.close()


def _check_against_the_run(summary: dict[str, Any], log: EventLog, namespace: Namespace) -> None:
    assert summary["ok"], summary["problems"]
    run_dir = Path(summary["run_dir"])

    # Decisions: one per checkout on the run's decisions topic; the live ones are counted.
    decisions = read_decisions(log, namespace)
    assert len({d.transaction_id for d in decisions}) == len(decisions)
    live = [d for d in decisions if is_live(d.transaction_id)]
    assert len(live) == summary["decided"] == summary["live_checkouts"] > 0
    assert len(decisions) == summary["history_checkouts"] + summary["live_checkouts"]
    assert Counter(d.action for d in live) == Counter(
        {a: n for a, n in summary["actions"].items() if n}
    )
    assert summary["latency"]["samples"] == len(live)
    # The catch-up decided the whole history; it may have begun while that was written.
    throughput, phases = summary["throughput"], summary["phases"]
    assert throughput["catch_up_events"] == summary["history_events"]
    overlap = throughput["catch_up_overlap_seconds"]
    assert 0 <= overlap <= min(phases["history"], phases["catch-up"]) + 0.01
    # One live session per customer: the population held enough of them.
    assert summary["live_revisits"] == 0 and summary["live_customers"] > 0

    # Everything on the engine's inputs - the simulated events and the MFA answers - was read.
    inputs = _ends(log, namespace.inputs)
    answers = summary["mfa"]["answered_passed"] + summary["mfa"]["answered_failed"]
    assert inputs == summary["events_produced"] + answers
    assert summary["events_processed"] == inputs
    assert summary["events_produced"] == summary["history_events"] + summary["live_events"]

    # Ground truth: the confusion matrix covers every live checkout exactly once.
    truth = [r for r in read_truth(run_dir / "truth.jsonl") if is_live(r.transaction_id)]
    assert {r.transaction_id for r in truth} == {d.transaction_id for d in live}
    rows = summary["scenarios"]
    cells = sum(r[k] for r in rows for k in ("allow", "review", "challenge", "block", "undecided"))
    assert cells == len(truth)
    for row in rows:
        mine = [r for r in truth if r.scenario == row["scenario"]]
        assert row["checkouts"] == len(mine)
        assert row["amount"] == pytest.approx(sum(r.amount for r in mine), abs=0.01)
    frauds = [r for r in truth if r.is_fraud]
    assert summary["fraud_amount"]["total"] == pytest.approx(sum(r.amount for r in frauds), 0.01)
    assert summary["detection"]["frauds"] == len(frauds) > 0

    # Read models: what became of each payment is what the report says.
    store = open_store(f"sqlite:{run_dir / 'query.db'}")
    try:
        models = ReadModels(store)
        statuses = {r.transaction_id: models.transaction(r.transaction_id) for r in truth}
    finally:
        store.close()
    assert all(row is not None and row.action is not None for row in statuses.values())
    cancelled = {
        tx for tx, row in statuses.items() if row is not None and row.status == "cancelled"
    }
    assert sum(r["stopped"] for r in rows) == len(cancelled)
    stopped = sum(r.amount for r in frauds if r.transaction_id in cancelled)
    assert summary["fraud_amount"]["stopped"] == pytest.approx(stopped, abs=0.01)
    held = [d for d in live if d.action in ("challenge", "block")]
    assert all(statuses[d.transaction_id].status in ("released", "cancelled") for d in held)  # type: ignore[union-attr]

    # The report: four plots, inline.
    page = Path(summary["report_html"]).read_text()
    assert page.count("<svg") == 4
    assert json.loads(Path(summary["summary_json"]).read_text())["run_id"] == summary["run_id"]


def test_demo_on_the_embedded_log(tmp_path: Path) -> None:
    summary, _ = _demo(tmp_path)
    run_dir = Path(summary["run_dir"])
    assert run_dir.is_relative_to(tmp_path / ".riskstream" / "demo")
    assert summary["namespace"] == ""  # a fresh log of its own keeps the standard names
    log = open_log(summary["log"])
    try:
        _check_against_the_run(summary, log, Namespace())
    finally:
        log.close()
    assert summary["model"]["training_frauds"] > 0 and summary["model"]["live_scored"] > 0

    again, _ = _demo(tmp_path)  # a rerun starts from nothing of the first run's
    assert again["run_id"] != summary["run_id"] and again["log"] != summary["log"]
    assert again["history_checkouts"] + again["live_checkouts"] == len(
        _decisions_of(again["log"], Namespace())
    )


def _decisions_of(url: str, namespace: Namespace) -> list[object]:
    log = open_log(url)
    try:
        return list(read_decisions(log, namespace))
    finally:
        log.close()


@pytest.mark.kafka
def test_demo_on_kafka(kafka_bootstrap: str, tmp_path: Path) -> None:
    log = open_log(f"kafka://{kafka_bootstrap}")
    before = set(log.admin.list_topics())
    try:
        summary, _ = _demo(tmp_path, "--log", f"kafka://{kafka_bootstrap}")
        namespace = Namespace(summary["namespace"])
        assert namespace.prefix == f"demo-{summary['run_id']}."
        assert namespace.decisions in set(log.admin.list_topics()) - before
        _check_against_the_run(summary, log, namespace)
    finally:
        # --keep kept the run's topics (also when it failed): they are all new and "demo-…"
        mine = [t for t in set(log.admin.list_topics()) - before if t.startswith("demo-")]
        log.admin.delete_topics(mine)
        log.close()


def test_smoke_checks_that_what_was_acknowledged_is_read_back(tmp_path: Path) -> None:
    url = f"embedded:{tmp_path / 'log'}"
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            "from riskstream.cli import main; main()",
            "smoke",
            "--events",
            "5000",
            "--log",
            url,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    summary = json.loads(ran.stdout)
    assert summary["ok"]
    assert summary["produced"] == summary["acknowledged"] == summary["consumed"] == 5000
    assert sum(summary["per_type"].values()) == 5000

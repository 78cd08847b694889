"""`riskstream train` and `riskstream backtest` on simulated traffic in an embedded log:
a model trained twice is the same model, a backtest twice is the same report to the byte, a
broken rules file is refused with every error located, a backtest leaves the log exactly
as it found it, and its thresholds come from the settings or its options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from riskstream.events import ACTIVITY_TOPICS
from riskstream.fraud.decision import encode_decision
from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.features.spec import FeatureSpecs, default_features
from riskstream.fraud.model import DAY_MS, ModelArtifact, ModelFeatureMismatch, Scorer
from riskstream.fraud.policy import Thresholds
from riskstream.fraud.rules import RuleSet, default_rules_source
from riskstream.fraud.topology import DECISIONS_TOPIC
from riskstream.log import EventLog, TopicPartition, TopicSpec, open_log
from riskstream.services.backtest import SWEEP_CUTOFFS, encode_report, run_backtest
from riskstream.services.history import read_history
from riskstream.services.models_registry import MODELS_TOPIC, read_models
from riskstream.services.replay import replay_records
from riskstream.services.training import TrainingRun, publish_trained, train_model
from riskstream.sim import DEFAULT_START_MS, LabelPolicy, SimConfig, SimWriter, TrafficSimulator
from riskstream.sim.truth import read_truth

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 2
DAYS = 6
DAY1, DAY4, DAY6 = (DEFAULT_START_MS + n * DAY_MS for n in (1, 4, 6))

# The shipped rules and one more: large orders from a new device are challenged.
CANDIDATE = (
    default_rules_source().text
    + """
rule big_order.new_device
  version 1
  when login.new_device and checkout.amount >= 300
  score 60
  action challenge
"""
)

BROKEN = """
rule promo.rush
  version 1
  when promo.valu >= 50
  score 40
  action challenge

rule velocity.burst
  version 1
  when user.checkouts_1h >= "five"
  score 20
  action review
"""


@dataclass(frozen=True)
class History:
    url: str
    truth: Path
    candidate: Path
    checkouts: int


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """Six days of traffic from 1,500 customers, fraud frequent and labelled within days,
    and production's decisions of it (the shipped rules) on risk.decisions."""
    root = tmp_path_factory.mktemp("history")
    url = f"embedded:{root / 'log'}"
    truth = root / "truth.jsonl"
    config = SimConfig(
        seed=11,
        users=1_500,
        fraud_rate=0.15,
        labels=LabelPolicy(fraction=0.9, median_days=0.5, min_days=0.1, max_days=2.0),
    )
    simulator = TrafficSimulator(config)
    log = open_log(url)
    try:
        with SimWriter(log, partitions=PARTITIONS, truth_path=truth) as writer:
            writer.write(
                simulator.events(until_ms=DEFAULT_START_MS + DAYS * DAY_MS, truth=writer.truth)
            )
        _produce_production_decisions(log)
    finally:
        log.close()
    candidate = root / "candidate.rules"
    candidate.write_text(CANDIDATE)
    yield History(url, truth, candidate, simulator.stats.total_checkouts)


def _produce_production_decisions(log: EventLog) -> None:
    """What the workers decided with the shipped rules, as they would have written it."""
    log.admin.create_topics([TopicSpec(name=DECISIONS_TOPIC, partitions=PARTITIONS)])
    producer = log.producer()
    for decision in replay_records(read_history(log, ACTIVITY_TOPICS)):
        producer.produce(
            DECISIONS_TOPIC,
            encode_decision(decision),
            decision.user_id.encode(),
            timestamp=decision.decided_at,
        )
    assert producer.flush(30) == 0


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from riskstream.cli import main; main()", *args],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _log_state(url: str) -> dict[str, list[int]]:
    """Every topic and the end offset of each of its partitions."""
    log = open_log(url)
    try:
        described = log.admin.describe_topics()
        probe = log.consumer()
        try:
            return {
                name: [
                    probe.watermarks(TopicPartition(name, number))[1]
                    for number in range(spec.partitions)
                ]
                for name, spec in sorted(described.items())
            }
        finally:
            probe.close()
    finally:
        log.close()


def _train_days_1_to_4(history: History, *extra: str) -> subprocess.CompletedProcess[str]:
    """``riskstream train --json`` as the ``trained`` fixture trains, plus ``extra``."""
    return _cli(
        "train",
        "--from",
        "2026-01-02",
        "--until",
        str(DAY4),
        "--eval-until",
        "2026-01-07T00:00:00Z",
        "--label-maturity",
        "12h",
        "--alerts-per-day",
        "20",
        "--log",
        history.url,
        "--json",
        *extra,
    )


@pytest.fixture(scope="module")
def trained(history: History) -> TrainingRun:
    """Train on days 1-4 (the last half day left to its labels), evaluate on days 4-6."""
    log = open_log(history.url)
    try:
        return train_model(
            log,
            train_from=DAY1,
            train_until=DAY4,
            eval_until=DAY6,
            label_maturity_ms=DAY_MS // 2,
            alerts_per_day=20,
            created_at=123,
        )
    finally:
        log.close()


def test_train_gives_the_same_model_from_the_same_log(
    history: History, trained: TrainingRun, tmp_path: Path
) -> None:
    run = trained
    artifact, evaluation = run.artifact, run.evaluation
    assert artifact.trained_from == DAY1 and artifact.trained_to == DAY4
    assert artifact.training_rows > 0 and artifact.training_frauds > 0
    assert evaluation.checkouts > 0 and evaluation.frauds > 0
    assert evaluation.roc_auc is not None and evaluation.roc_auc > 0.8
    assert evaluation.average_precision is not None and evaluation.precision_at_k is not None
    assert evaluation.alerts <= 2 * 20
    assert 0 < evaluation.fraud_amount_caught <= evaluation.fraud_amount
    # the checkouts of the label-maturity gap are in neither period
    assert run.checkouts > artifact.training_rows + evaluation.checkouts

    out = tmp_path / "model.bin"
    done = _train_days_1_to_4(history, "--out", str(out), "--publish", "challenger")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["version"] == artifact.version  # same log, same model, whenever it runs
    assert summary["evaluation"]["roc_auc"] == evaluation.roc_auc
    assert summary["evaluation"]["precision_at_k"] == evaluation.precision_at_k
    assert summary["training_rows"] == artifact.training_rows
    assert (summary["out"], summary["published"]) == (str(out), "challenger")
    written = ModelArtifact.from_bytes(out.read_bytes())
    assert written.version == artifact.version and written.model == artifact.model
    log = open_log(history.url)
    try:
        published = read_models(log)
    finally:
        log.close()
    assert [(slot.value, m.version) for slot, m in published.items()] == [
        ("challenger", artifact.version)
    ]
    assert published[next(iter(published))].model == out.read_bytes()


def test_the_incident_window_decides_how_far_a_label_reaches(
    history: History, trained: TrainingRun
) -> None:
    def train_with(window: str) -> subprocess.CompletedProcess[str]:
        return _train_days_1_to_4(history, "--incident-window", window)

    as_given = train_with("0")
    assert as_given.returncode == 0, as_given.stderr
    summary = json.loads(as_given.stdout)
    # the default (2h) spreads labels to their incident: the fixture trained that way
    assert summary["training_frauds"] < trained.artifact.training_frauds
    assert summary["version"] != trained.artifact.version
    unreadable = train_with("soon")
    assert unreadable.returncode == 2
    assert "--incident-window: cannot read duration 'soon'" in unreadable.stderr


def test_a_model_the_engine_cannot_serve_is_refused(history: History, trained: TrainingRun) -> None:
    specs = default_features()
    smaller = FeatureEngine(FeatureSpecs(s for s in specs.specs if s.name != "user.checkouts_1h"))
    before = _log_state(history.url).get(MODELS_TOPIC)
    log = open_log(history.url)
    try:
        with pytest.raises(ModelFeatureMismatch) as refused:
            publish_trained(log, "champion", trained.artifact, smaller)
    finally:
        log.close()
    assert refused.value.missing == ("user.checkouts_1h",)
    assert "user.checkouts_1h" in str(refused.value)
    assert _log_state(history.url).get(MODELS_TOPIC) == before  # nothing published


def test_backtest_twice_is_the_same_report_and_writes_nothing(
    history: History, trained: TrainingRun, tmp_path: Path
) -> None:
    run = trained
    model = tmp_path / "model.bin"
    model.write_bytes(run.artifact.to_bytes())
    args = (
        "backtest",
        "--from",
        "2026-01-02",
        "--to",
        str(DAY6),
        "--rules",
        str(history.candidate),
        "--model",
        str(model),
        "--truth",
        str(history.truth),
        "--log",
        history.url,
        "--json",
    )
    before = _log_state(history.url)
    first, second = _cli(*args), _cli(*args)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout
    report = json.loads(first.stdout)

    # the same report, computed in this process
    rules = RuleSet.from_text(CANDIDATE, FeatureEngine().catalogue, name="candidate.rules")
    log = open_log(history.url)
    try:
        here = run_backtest(
            log,
            rules=rules,
            model=Scorer(run.artifact, explain_above=0.1),
            start_ms=DAY1,
            end_ms=DAY6,
            truth=list(read_truth(history.truth)),
        )
    finally:
        log.close()
    assert encode_report(here).decode() == first.stdout.strip()
    assert _log_state(history.url) == before  # no topic, record or offset written

    assert report["rules_versions"] == [rules.version]
    assert report["model_versions"] == [run.artifact.version]
    assert 0 < report["checkouts"] < history.checkouts
    detection = report["detection"]
    assert detection["frauds"] > 0 and detection["flagged"] > 0
    assert 0 < detection["precision"] <= 1 and 0 < detection["recall"] <= 1
    assert sum(a["checkouts"] for a in report["actions"]) == report["checkouts"]
    assert any(r["rule"] == "big_order.new_device" for r in report["rules"])
    # labels are part of the fraud: the truth knows more frauds than the labels
    truth = report["truth"]
    assert truth["unknown"] == 0 and truth["detection"]["frauds"] >= detection["frauds"]
    assert {s["scenario"] for s in truth["scenarios"]} >= {"legit", "account_takeover"}
    # production decided every checkout with the shipped rules and no model
    diff = report["production"]
    assert (diff["compared"], diff["undecided"]) == (report["checkouts"], 0)
    assert diff["changed"] == diff["stricter"] + diff["looser"] > 0
    assert sum(t["checkouts"] for t in diff["transitions"]) == report["checkouts"]
    assert all(e["production"] != e["candidate"] for e in diff["examples"])
    replay = report["replay"]
    assert replay["dead_letters"] == 0 and replay["labels"] > 0
    # decided with the settings' thresholds, which are the shipped ones
    defaults = Thresholds()
    assert report["thresholds"] == {
        "review": defaults.review,
        "challenge": defaults.challenge,
        "block": defaults.block,
        "model_weight": defaults.model_weight,
        "model_review_from": round(defaults.review / defaults.model_weight, 6),
        "model_challenge_from": round(defaults.challenge / defaults.model_weight, 6),
        "model_block_from": round(defaults.block / defaults.model_weight, 6),
    }
    # the model alone: the fixed cut-offs, fewer flagged and less recall as they rise
    sweep = report["model_sweep"]
    assert sweep["scored"] == report["checkouts"]
    for rows, frauds in ((sweep["labels"], detection["frauds"]), (sweep["truth"], None)):
        assert [row["cutoff"] for row in rows] == list(SWEEP_CUTOFFS)
        flagged = [row["flagged"] for row in rows]
        assert flagged == sorted(flagged, reverse=True) and flagged[0] > 0
        recall = [row["recall"] for row in rows]
        assert recall == sorted(recall, reverse=True) and recall[0] > 0
        for row in rows:
            assert row["flagged"] == row["frauds_flagged"] + row["legit_flagged"]
            assert row["frauds_new"] <= row["frauds_flagged"]
        if frauds is not None:
            assert all(row["frauds_flagged"] <= frauds for row in rows)


def test_backtest_thresholds_from_options_and_settings(
    history: History, trained: TrainingRun, tmp_path: Path
) -> None:
    """With rules that never fire, the model alone decides: a checkout is challenged (or
    blocked) exactly when weight x probability reaches the challenge threshold, which is
    the model sweep's row for the cut-off challenge / weight; blocked from block / weight."""
    model = tmp_path / "model.bin"
    model.write_bytes(trained.artifact.to_bytes())
    silent = tmp_path / "silent.rules"
    silent.write_text("rule never\n  version 1\n  when checkout.amount < 0\n  score 1\n")
    log = ("--log", history.url, "--json")
    period = ("--from", str(DAY4), "--to", str(DAY6), *log)
    done = _cli(
        "backtest",
        *period,
        "--rules",
        str(silent),
        "--model",
        str(model),
        "--truth",
        str(history.truth),
        "--review",
        "25",
        "--challenge",
        "50",
        "--block",
        "250",
        "--model-weight",
        "5000",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["thresholds"] == {
        "review": 25.0,
        "challenge": 50.0,
        "block": 250.0,
        "model_weight": 5000.0,
        "model_review_from": 0.005,
        "model_challenge_from": 0.01,
        "model_block_from": 0.05,
    }
    for detection, sweep in (
        (report["detection"], report["model_sweep"]["labels"]),
        (report["truth"]["detection"], report["model_sweep"]["truth"]),
    ):
        at = {row["cutoff"]: row for row in sweep}
        challenged = at[0.01]
        assert detection["flagged"] == challenged["flagged"] > 0
        assert detection["frauds_flagged"] == challenged["frauds_flagged"]
        assert detection["fraud_amount_caught"] == challenged["fraud_amount_caught"]
        assert detection["legit_flagged"] == challenged["legit_flagged"]
        assert challenged["frauds_new"] == 0  # the decisions flagged every one of them
        assert detection["reviewed"] == at[0.005]["flagged"] - challenged["flagged"]
    actions = {a["action"]: a for a in report["actions"]}
    blocked = next(row for row in report["model_sweep"]["labels"] if row["cutoff"] == 0.05)
    assert actions["block"]["checkouts"] == blocked["flagged"] > 0
    assert actions["block"]["frauds"] == blocked["frauds_flagged"]

    # Without options, the settings decide; an option replaces just its own.
    env = {"RISKSTREAM_MODEL_WEIGHT": "250", "RISKSTREAM_BLOCK_THRESHOLD": "95"}
    configured = _cli("backtest", "--to", str(DAY1), *log, "--challenge", "70", env=env)
    assert configured.returncode == 0, configured.stderr
    thresholds = json.loads(configured.stdout)["thresholds"]
    assert (thresholds["review"], thresholds["challenge"], thresholds["block"]) == (30, 70, 95)
    assert thresholds["model_weight"] == 250.0

    disordered = _cli("backtest", *period, "--review", "70", "--challenge", "60")
    assert disordered.returncode == 2
    assert "review <= challenge <= block" in disordered.stderr
    assert disordered.stdout == ""


def test_backtest_refuses_a_broken_rules_file(history: History, tmp_path: Path) -> None:
    broken = tmp_path / "bad.rules"
    broken.write_text(BROKEN)
    before = _log_state(history.url)
    refused = _cli("backtest", "--rules", str(broken), "--log", history.url)
    assert refused.returncode == 2, refused.stderr
    assert f"{broken}:4:8: unknown-feature unknown feature 'promo.valu'" in refused.stderr
    assert f"{broken}:10:26: type-mismatch cannot compare" in refused.stderr
    assert refused.stdout == ""
    assert _log_state(history.url) == before


def test_train_refuses_what_cannot_give_a_model(history: History, tmp_path: Path) -> None:
    out = tmp_path / "never.bin"
    hour = 3_600_000
    # labels take at least a tenth of a day: none has arrived two hours in
    too_early = _cli(
        "train",
        "--from",
        str(DEFAULT_START_MS),
        "--until",
        str(DEFAULT_START_MS + 2 * hour),
        "--eval-until",
        str(DEFAULT_START_MS + 3 * hour),
        "--label-maturity",
        "1h",
        "--out",
        str(out),
        "--log",
        history.url,
    )
    assert too_early.returncode == 2, too_early.stderr
    assert "a model needs both" in too_early.stderr
    unreadable = _cli("train", "--from", "yesterday", "--until", "2026-01-05", "--log", history.url)
    assert unreadable.returncode == 2
    assert "--from: not an instant" in unreadable.stderr
    assert not out.exists()

"""`build_summary` on hand-made run facts: each figure from what the run collected."""

from __future__ import annotations

import json

import pytest

from riskstream.demo.summary import build_summary, encode_summary
from tests.unit.demo.kit import decision, facts, truth

MS = 1_000_000


def _facts():  # type: ignore[no-untyped-def]
    records = [
        truth("live-l1", "legit", 10.0),
        truth("live-l2", "legit", 20.0),
        truth("live-l3", "legit", 30.0),
        truth("live-f1", "bot_checkout", 100.0),
        truth("live-f2", "bot_checkout", 50.0),
    ]
    decisions = [
        decision("live-l1", "allow", 10.0, score=1.0, probability=0.001, latency_ms=4),
        decision("live-l2", "allow", 20.0, score=2.0, probability=0.002, latency_ms=6),
        decision("live-l3", "challenge", 30.0, score=70.0, probability=0.03, latency_ms=8),
        decision("live-f1", "block", 100.0, score=120.0, probability=0.2, latency_ms=10),
        decision("live-f2", "allow", 50.0, score=3.0, probability=0.0015, latency_ms=12),
    ]
    sent = {r.transaction_id: i * 100 * MS for i, r in enumerate(records)}
    read = {tx: at + (10 + 10 * i) * MS for i, (tx, at) in enumerate(sent.items())}
    return facts(
        started_at=1000.0,
        finished_at=1100.0,
        phases={
            "history": (1002.0, 1013.0),
            "catch-up": (1010.0, 1020.0),  # began while the history was written
            "live": (1029.0, 1091.0),
        },
        live_window=(1030.0, 1090.0),
        produced=10_500,
        acknowledged=10_500,
        history_events=10_000,
        history_checkouts=300,
        catch_up_s=4.0,
        live_events=500,
        live_s=60.0,
        live_customers=40,
        sent_ns=sent,
        read_ns=read,
        decisions=decisions,
        truth=records,
        statuses={
            "live-l1": "decided",
            "live-l2": "decided",
            "live-l3": "released",
            "live-f1": "cancelled",
            "live-f2": "decided",
        },
        mfa_outcomes={"live-l3": True},
        engine_samples=[(1020.0, 10_000), (1030.0, 10_000), (1060.0, 10_300), (1090.0, 10_500)],
        engine_processed=10_500,
        mfa_passed=1,
    )


def test_the_figures_come_from_the_facts() -> None:
    summary = build_summary(_facts())
    assert summary.ok and summary.problems == []
    assert summary.seconds == 100.0
    assert summary.events_processed == 10_500
    assert (summary.live_checkouts, summary.decided) == (5, 5)
    assert (summary.live_customers, summary.live_revisits) == (40, 0)
    assert summary.actions == {"allow": 3, "review": 0, "challenge": 1, "block": 1}
    assert summary.throughput.catch_up_events_per_s == 2_500.0
    assert summary.throughput.catch_up_overlap_seconds == 3.0
    assert summary.phases == {"history": 11.0, "catch-up": 10.0, "live": 62.0}
    assert summary.throughput.live_events_per_s == pytest.approx(500 / 60, abs=0.1)
    latency = summary.latency
    assert latency is not None
    assert latency.samples == 5 and latency.p50_ms == 30.0 and latency.max_ms == 50.0
    engine = summary.engine_latency
    assert engine is not None and engine.p50_ms == 8.0
    detection = summary.detection
    assert detection is not None
    assert (detection.frauds, detection.frauds_flagged, detection.legit_flagged) == (2, 1, 1)
    assert detection.recall == 0.5 and detection.precision == 0.5
    assert summary.fraud_amount.stopped == 100.0 and summary.fraud_amount.let_through == 50.0
    assert summary.legit.share == pytest.approx(1 / 3, abs=1e-6)
    assert summary.legit.released == 1
    assert summary.mfa.passed == 1 and summary.mfa.answered_passed == 1
    assert summary.scores["fraud"].checkouts == 2 and summary.scores["legit"].checkouts == 3
    assert summary.model is None  # no model trained in these facts
    cells = sum(r.allow + r.review + r.challenge + r.block + r.undecided for r in summary.scenarios)
    assert cells == len(_facts().truth)
    assert json.loads(encode_summary(summary))["decided"] == 5


def test_missing_pieces_are_named_and_the_run_is_not_ok() -> None:
    incomplete = _facts()
    incomplete.decisions = incomplete.decisions[:-1]  # live-f2 has no decision
    incomplete.statuses.pop("live-l1")
    incomplete.acknowledged -= 2
    summary = build_summary(incomplete)
    assert not summary.ok
    assert summary.problems == [
        "2 events not acknowledged",
        "1 live checkouts without a decision",
        "1 live checkouts missing from the read models",
    ]
    assert summary.decided == 4
    cards = {r.scenario: r for r in summary.scenarios}
    assert cards["bot_checkout"].undecided == 1


def test_customers_back_for_a_second_live_session_are_a_problem_beyond_a_few() -> None:
    few = _facts()
    few.live_customers, few.live_revisits = 200, 2  # 1 %
    assert build_summary(few).ok
    many = _facts()
    many.live_revisits = 3
    summary = build_summary(many)
    assert not summary.ok and summary.live_revisits == 3
    assert summary.problems == [
        "3 live sessions went to customers who had one already: too few customers for the "
        "live phase (--users)"
    ]

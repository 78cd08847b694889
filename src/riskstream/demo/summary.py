"""The demo's report as data: :class:`DemoSummary`, built from a run's :class:`RunFacts`.

Every figure is computed here from what the run collected (see :mod:`~riskstream.demo.facts`)
- nothing is hard-coded. Decision-level detection against the ground truth is the
backtest's (:func:`~riskstream.services.backtest.compute_report`), so a demo and a
backtest measure alike; the per-scenario matrix by action and the payments' outcomes are
:mod:`~riskstream.demo.metrics`'.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Final

import msgspec
import numpy as np

from riskstream.fraud.model import average_precision, roc_auc
from riskstream.services.backtest import CutoffStats, Detection, compute_report

from .facts import RunFacts
from .metrics import (
    ACTIONS,
    FraudMoney,
    Friction,
    LatencyStats,
    ScenarioRow,
    fraud_money,
    friction,
    latencies_ms,
    latency_stats,
    scenario_rows,
)

__all__ = [
    "LATENCY_DEFINITION",
    "DemoSummary",
    "ModelSummary",
    "ScoreStats",
    "Throughput",
    "build_summary",
    "encode_summary",
]

LATENCY_DEFINITION: Final = (
    "wall clock from the checkout's produce call (the traffic writer) to the moment its "
    "decision was read from the decisions topic (a reader process polling it), for every "
    "live checkout"
)
THROUGHPUT_DEFINITION: Final = (
    "input events the fraud engine processed per second: while it decided the history "
    "(catch-up: the history's events over the time from the engine's go, as soon as the "
    "processes were up, until every history checkout's decision was readable; the history "
    "was still being written for the first catch_up_overlap_seconds of it, on the same "
    "CPUs, so the engine may have waited for input then) and during the live phase (paced)"
)


class Throughput(msgspec.Struct, frozen=True, kw_only=True):
    catch_up_events: int
    catch_up_seconds: float
    catch_up_events_per_s: float
    catch_up_overlap_seconds: float  # of catch_up_seconds, while the history was written
    live_events_per_s: float | None  # what the engine processed while the traffic was live
    live_offered_per_s: float
    definition: str = THROUGHPUT_DEFINITION


class ModelSummary(msgspec.Struct, frozen=True, kw_only=True):
    """The champion the run trained, and how its probabilities ranked the live checkouts."""

    version: str
    features: int
    training_rows: int
    training_frauds: int
    history_decisions: int
    labelled_transactions: int
    live_scored: int
    live_roc_auc: float | None
    live_average_precision: float | None


class ScoreStats(msgspec.Struct, frozen=True, kw_only=True):
    """Quantiles of the live risk scores (rules + model) of one class."""

    checkouts: int
    p10: float | None
    p50: float | None
    p90: float | None
    p99: float | None


class Mfa(msgspec.Struct, frozen=True, kw_only=True):
    """Challenges: answers the simulated customers gave, and outcomes in the read models."""

    answered_passed: int
    answered_failed: int
    refused: int
    passed: int  # live transactions whose MFA passed (read model)
    failed: int


class DemoSummary(msgspec.Struct, frozen=True, kw_only=True):
    """The machine-readable report (``summary.json``, ``riskstream demo --json``)."""

    ok: bool
    problems: list[str]
    run_id: str
    log: str
    namespace: str
    seed: int
    users: int
    history_days: float
    fraud_rate: float
    live_fraud_rate: float
    rate: float
    duration_s: float
    seconds: float
    phases: dict[str, float]
    events_produced: int
    events_acknowledged: int
    events_processed: int
    history_events: int
    history_checkouts: int
    live_events: int
    live_checkouts: int
    live_customers: int  # customers who had their one live session
    live_revisits: int  # live sessions that found no customer without one (see traffic)
    decided: int  # live checkouts with a decision on the decisions topic
    actions: dict[str, int]
    throughput: Throughput
    latency: LatencyStats | None
    latency_definition: str
    engine_latency: LatencyStats | None  # the record's latency_ms: first stage -> decision
    model: ModelSummary | None
    detection: Detection | None  # decision level, against the ground truth
    model_sweep: list[CutoffStats] | None
    scenarios: list[ScenarioRow]
    fraud_amount: FraudMoney
    legit: Friction
    scores: dict[str, ScoreStats]
    mfa: Mfa
    fraud_service_records: int
    projected_records: int
    cpu_seconds: dict[str, float]  # per process: main (traffic, training, report), children


_encoder = msgspec.json.Encoder(order="deterministic")


def encode_summary(summary: DemoSummary) -> bytes:
    return _encoder.encode(summary)


def _score_stats(values: Sequence[float]) -> ScoreStats:
    if not values:
        return ScoreStats(checkouts=0, p10=None, p50=None, p90=None, p99=None)
    p10, p50, p90, p99 = (
        round(float(v), 3) for v in np.percentile(np.asarray(values), [10, 50, 90, 99])
    )
    return ScoreStats(checkouts=len(values), p10=p10, p50=p50, p90=p90, p99=p99)


def _rate_between(samples: Sequence[tuple[float, int]], start: float, end: float) -> float | None:
    """Events per second from the last sample at or before ``start`` (the first one after,
    if none) to the last one at or before ``end``."""
    before = [(at, count) for at, count in samples if at <= start]
    inside = [(at, count) for at, count in samples if start < at <= end]
    points = before[-1:] + inside
    if len(points) < 2 or points[-1][0] <= points[0][0]:
        return None
    return round((points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0]), 1)


def build_summary(facts: RunFacts) -> DemoSummary:
    """Every figure of the report, from ``facts``."""
    config = facts.config
    live = {d.transaction_id: d for d in facts.decisions}
    truth = facts.truth
    truth_ids = {r.transaction_id for r in truth}
    actions = {tx: d.action for tx, d in live.items()}
    backtest = compute_report(list(live.values()), (), truth=truth) if live else None
    probabilities = [
        (d.model.probability, d.transaction_id) for d in live.values() if d.model is not None
    ]
    fraud_ids = {r.transaction_id for r in truth if r.is_fraud}
    model = None
    if facts.model is not None:
        scored = [(p, tx in fraud_ids) for p, tx in probabilities if tx in truth_ids]
        a = facts.model.artifact
        model = ModelSummary(
            version=a.version,
            features=len(a.feature_names),
            training_rows=a.training_rows,
            training_frauds=a.training_frauds,
            history_decisions=facts.model.decisions,
            labelled_transactions=facts.model.labels,
            live_scored=len(scored),
            live_roc_auc=_round(roc_auc([p for p, _ in scored], [f for _, f in scored])),
            live_average_precision=_round(
                average_precision([p for p, _ in scored], [f for _, f in scored])
            ),
        )
    live_span = facts.live_window
    catch_up_rate = facts.history_events / facts.catch_up_s if facts.catch_up_s else 0.0
    problems = _problems(facts, live, truth_ids)
    return DemoSummary(
        ok=not problems,
        problems=problems,
        run_id=facts.run_id,
        log=facts.log_url,
        namespace=facts.prefix,
        seed=config.seed,
        users=config.users,
        history_days=config.history_days,
        fraud_rate=config.fraud_rate,
        live_fraud_rate=config.live_fraud_rate,
        rate=config.rate,
        duration_s=config.duration_s,
        seconds=round(facts.finished_at - facts.started_at, 2),
        phases={name: round(end - start, 2) for name, (start, end) in facts.phases.items()},
        events_produced=facts.produced,
        events_acknowledged=facts.acknowledged,
        events_processed=facts.engine_processed,
        history_events=facts.history_events,
        history_checkouts=facts.history_checkouts,
        live_events=facts.live_events,
        live_checkouts=len(facts.sent_ns),
        live_customers=facts.live_customers,
        live_revisits=facts.live_revisits,
        decided=sum(1 for tx in facts.sent_ns if tx in live),
        actions={action: sum(1 for a in actions.values() if a == action) for action in ACTIONS},
        throughput=Throughput(
            catch_up_events=facts.history_events,
            catch_up_seconds=round(facts.catch_up_s, 3),
            catch_up_events_per_s=round(catch_up_rate, 1),
            catch_up_overlap_seconds=_overlap(facts.phases, "history", "catch-up"),
            live_events_per_s=None
            if live_span is None
            else _rate_between(facts.engine_samples, *live_span),
            live_offered_per_s=config.rate,
        ),
        latency=latency_stats(latencies_ms(facts.sent_ns, facts.read_ns)),
        latency_definition=LATENCY_DEFINITION,
        engine_latency=latency_stats([float(d.latency_ms) for d in live.values()]),
        model=model,
        detection=None if backtest is None or backtest.truth is None else backtest.truth.detection,
        model_sweep=None
        if backtest is None or backtest.model_sweep is None
        else backtest.model_sweep.truth,
        scenarios=scenario_rows(truth, actions, facts.statuses),
        fraud_amount=fraud_money(truth, facts.statuses),
        legit=friction(truth, actions, facts.statuses),
        scores={
            "fraud": _score_stats([live[tx].score for tx in fraud_ids if tx in live]),
            "legit": _score_stats([live[tx].score for tx in truth_ids - fraud_ids if tx in live]),
        },
        mfa=Mfa(
            answered_passed=facts.mfa_passed,
            answered_failed=facts.mfa_failed,
            refused=facts.mfa_refused,
            passed=sum(1 for ok in facts.mfa_outcomes.values() if ok),
            failed=sum(1 for ok in facts.mfa_outcomes.values() if not ok),
        ),
        fraud_service_records=facts.fraud_service_processed,
        projected_records=facts.projected,
        cpu_seconds=dict(sorted(facts.cpu_s.items())),
    )


def _overlap(phases: Mapping[str, tuple[float, float]], first: str, second: str) -> float:
    """Seconds two phases ran at the same time (0 if either is missing)."""
    if first not in phases or second not in phases:
        return 0.0
    (a, b), (c, d) = phases[first], phases[second]
    return round(max(0.0, min(b, d) - max(a, c)), 2)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


_REVISITS_ALLOWED: Final = 0.01  # of the live customers: a few hardly change the figures


def _problems(facts: RunFacts, live: Mapping[str, object], truth_ids: set[str]) -> list[str]:
    """What makes the run's figures incomplete (an empty list: nothing)."""
    problems = []
    if facts.acknowledged != facts.produced:
        problems.append(f"{facts.produced - facts.acknowledged:,} events not acknowledged")
    undecided = [tx for tx in facts.sent_ns if tx not in live]
    if undecided:
        problems.append(f"{len(undecided):,} live checkouts without a decision")
    untrue = set(facts.sent_ns) - truth_ids
    if untrue:
        problems.append(f"{len(untrue):,} live checkouts without ground truth")
    statuses = Counter(facts.statuses.get(tx) for tx in truth_ids)
    if statuses[None]:
        problems.append(f"{statuses[None]:,} live checkouts missing from the read models")
    if facts.live_revisits > _REVISITS_ALLOWED * facts.live_customers:
        problems.append(
            f"{facts.live_revisits:,} live sessions went to customers who had one already: "
            "too few customers for the live phase (--users)"
        )
    if facts.engine_processed < facts.history_events + facts.live_events:
        problems.append(
            f"the engine processed {facts.engine_processed:,} of "
            f"{facts.history_events + facts.live_events:,} events"
        )
    return problems

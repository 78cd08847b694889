"""Backtesting a candidate policy: replay history with it, measure it, compare with production.

::

    report = run_backtest(log, rules=candidate, model=scorer, start_ms=t0, end_ms=t1)
    report.detection.precision, report.detection.recall, report.production.transitions

The candidate rules (and model, as champion) decide every checkout of ``[start_ms,
end_ms)`` in an isolated replay of the log (:mod:`riskstream.services.replay`: nothing
written, nothing committed). :func:`compute_report` - pure, no I/O - then measures those
decisions:

* against the **labels** (chargebacks, confirmed fraud reports): precision and recall of
  *flagged* (challenge or block), the same for review, the fraud amount caught, the share of
  legitimate checkouts flagged, counts by action, and each rule's hits and precision;
* against **production**: what ``risk.decisions`` decided for the same checkouts, as counts
  per (production action → candidate action) and the most changed checkouts;
* against a simulator's **ground truth**, when there is one: labels cover only part of the
  fraud, the truth covers all of it, per scenario, with the rules that fired on each (what
  catches a scenario, and what challenges legitimate customers);
* the champion model on its own, when there is one: a **model sweep** flags each checkout
  whose fraud probability reaches a cut-off, for a fixed list of cut-offs, and measures that
  against the labels and the truth. It tells how far the model could go before the
  thresholds say how far it does: with no rule firing, the model alone reaches an action
  from probability ``threshold / model_weight`` (``thresholds.model_challenge_from``).

The report is deterministic: checkouts are put in one order (checkout time, transaction id)
before anything is added up, every list is sorted, and nothing in it reads a clock, so the
same inputs give byte-identical JSON (:func:`encode_report`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Final, Protocol

import msgspec

from riskstream.events import ACTIVITY_TOPICS
from riskstream.fraud.decision import Decision, decode_decision
from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.policy import ActivePolicy, ModelScorer, StaticPolicy, Thresholds
from riskstream.fraud.rules import Action, RuleSet
from riskstream.fraud.topology import DECISIONS_TOPIC
from riskstream.log.port import EventLog
from riskstream.services.history import read_history, read_topic
from riskstream.services.hotreload import wall_clock_ms
from riskstream.services.labels import read_labels
from riskstream.services.lists import LISTS_TOPIC, read_list_entries
from riskstream.services.replay import ReplayStats, replay_records

__all__ = [
    "FLAGGED_ACTIONS",
    "SWEEP_CUTOFFS",
    "ActionCount",
    "BacktestReport",
    "ChangedCheckout",
    "CutoffStats",
    "Detection",
    "ModelSweep",
    "ProductionDiff",
    "ReplaySummary",
    "RuleStats",
    "ScenarioRule",
    "ScenarioStats",
    "ScoreThresholds",
    "Transition",
    "TrueOutcome",
    "TruthReport",
    "compute_report",
    "encode_report",
    "read_production",
    "run_backtest",
]

#: The actions that stop a payment until the customer proves who they are (or for good).
FLAGGED_ACTIONS: Final = frozenset({Action.CHALLENGE.value, Action.BLOCK.value})
_REVIEW: Final = Action.REVIEW.value
_NONE: Final = "none"  # the "production action" of a checkout production never decided
_SEVERITY: Final = {action.value: action.severity for action in Action}
_LEGIT_SCENARIO: Final = "legit"

#: The model sweep's probability cut-offs. Fraud models are trained on a rare class, so their
#: probabilities sit near the labelled base rate: the interesting cut-offs are small ones.
SWEEP_CUTOFFS: Final = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


class TrueOutcome(Protocol):
    """What a checkout really was (a simulator's ground-truth record)."""

    @property
    def transaction_id(self) -> str: ...

    @property
    def scenario(self) -> str: ...

    @property
    def is_fraud(self) -> bool: ...


# -- the report ------------------------------------------------------------------------------


class Detection(msgspec.Struct, frozen=True, kw_only=True):
    """How decisions did against one notion of fraud (labels, or ground truth).

    *Flagged* is challenge or block; review is counted apart (it stops nothing). Ratios are
    ``None`` when undefined (nothing flagged, no fraud).
    """

    checkouts: int
    frauds: int
    flagged: int
    frauds_flagged: int
    precision: float | None
    recall: float | None
    reviewed: int
    frauds_reviewed: int
    review_precision: float | None
    review_recall: float | None
    fraud_amount: float
    fraud_amount_caught: float
    fraud_amount_share: float | None
    legit: int
    legit_flagged: int
    legit_flagged_share: float | None


class ActionCount(msgspec.Struct, frozen=True, kw_only=True):
    action: str
    checkouts: int
    frauds: int
    amount: float


class RuleStats(msgspec.Struct, frozen=True, kw_only=True):
    """A rule's hits in the period, and how many of them were labelled fraud."""

    rule: str
    shadow: bool
    hits: int
    frauds: int
    precision: float | None
    fraud_amount: float


class Transition(msgspec.Struct, frozen=True, kw_only=True):
    """Checkouts production decided ``production`` and the candidate ``candidate``."""

    production: str
    candidate: str
    checkouts: int
    frauds: int


class ChangedCheckout(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: str
    user_id: str
    checkout_time: int
    amount: float
    fraud: bool
    production: str
    candidate: str
    production_score: float
    candidate_score: float
    candidate_rules: list[str]


class ProductionDiff(msgspec.Struct, frozen=True, kw_only=True):
    """The candidate against what production decided for the same checkouts.

    ``compared`` checkouts have a production decision; ``undecided`` have none (production
    had not seen them, or the decisions topic no longer holds them) and count under the
    production action ``"none"``. ``production``/``candidate`` measure both on the compared
    checkouts; ``examples`` are the most changed ones (largest change of severity, then
    largest amount).
    """

    compared: int
    undecided: int
    changed: int
    stricter: int
    looser: int
    production: Detection
    candidate: Detection
    transitions: list[Transition]
    examples: list[ChangedCheckout]


class ScenarioStats(msgspec.Struct, frozen=True, kw_only=True):
    """One ground-truth scenario: ``flagged_share`` is its recall (for ``legit``: the share
    of legitimate checkouts flagged); ``labelled`` checkouts carry a label on the log."""

    scenario: str
    checkouts: int
    labelled: int
    flagged: int
    reviewed: int
    flagged_share: float | None
    amount: float
    amount_caught: float
    amount_share: float | None


class ScenarioRule(msgspec.Struct, frozen=True, kw_only=True):
    """One rule on one ground-truth scenario: ``hits`` of its checkouts fired it, ``flagged``
    of those were challenged or blocked. On ``legit`` it names the rules behind the false
    alarms; on a fraud scenario, the rules that catch it."""

    scenario: str
    rule: str
    shadow: bool
    hits: int
    flagged: int


class TruthReport(msgspec.Struct, frozen=True, kw_only=True):
    """The candidate against the ground truth (``unknown``: decided checkouts the truth
    does not cover, left out of the figures). ``rules`` lists every rule that fired on a
    scenario, scenarios in the order of ``scenarios``, most hits first."""

    checkouts: int
    unknown: int
    detection: Detection
    scenarios: list[ScenarioStats]
    rules: list[ScenarioRule] = msgspec.field(default_factory=list)


class ScoreThresholds(msgspec.Struct, frozen=True, kw_only=True):
    """The thresholds the candidate decided with, and the fraud probability from which the
    champion alone (no rule firing) reaches each action: ``threshold / model_weight``,
    ``None`` when no probability reaches it."""

    review: float
    challenge: float
    block: float
    model_weight: float
    model_review_from: float | None
    model_challenge_from: float | None
    model_block_from: float | None

    @classmethod
    def of(cls, thresholds: Thresholds) -> ScoreThresholds:
        def reached_from(threshold: float) -> float | None:
            weight = thresholds.model_weight
            if threshold <= 0:
                return 0.0
            if weight <= 0 or threshold > weight:
                return None
            return round(threshold / weight, 6)

        return cls(
            review=thresholds.review,
            challenge=thresholds.challenge,
            block=thresholds.block,
            model_weight=thresholds.model_weight,
            model_review_from=reached_from(thresholds.review),
            model_challenge_from=reached_from(thresholds.challenge),
            model_block_from=reached_from(thresholds.block),
        )


class CutoffStats(msgspec.Struct, frozen=True, kw_only=True):
    """The model alone flagging every checkout of probability ``cutoff`` or more.

    ``frauds_new`` of the frauds it flags were not flagged by the candidate's decisions:
    what the model could add to them.
    """

    cutoff: float
    flagged: int
    frauds_flagged: int
    frauds_new: int
    precision: float | None
    recall: float | None
    fraud_amount_caught: float
    fraud_amount_share: float | None
    legit_flagged: int
    legit_flagged_share: float | None


class ModelSweep(msgspec.Struct, frozen=True, kw_only=True):
    """The champion's probabilities swept over cut-offs (ascending), against the labels and,
    when there is one, the ground truth (on the checkouts it covers). ``scored`` checkouts
    carry a champion probability; the others are left out."""

    scored: int
    labels: list[CutoffStats]
    truth: list[CutoffStats] | None = None


class ReplaySummary(msgspec.Struct, frozen=True, kw_only=True):
    """What the backtest read: events replayed, records dead-lettered in the replay, the
    labelled transactions on the log, and records that did not decode (skipped)."""

    events: int
    decisions: int
    dead_letters: int
    labels: int
    undecodable_labels: int
    undecodable_production: int


class BacktestReport(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a backtest measured; see the module docstring."""

    period_start: int | None
    period_end: int | None
    checkouts: int
    rules_versions: list[str]
    model_versions: list[str]
    features_versions: list[str]
    detection: Detection
    actions: list[ActionCount]
    rules: list[RuleStats]
    thresholds: ScoreThresholds | None = None
    model_sweep: ModelSweep | None = None
    production: ProductionDiff | None = None
    truth: TruthReport | None = None
    replay: ReplaySummary | None = None


_encoder = msgspec.json.Encoder(order="deterministic")


def encode_report(report: BacktestReport) -> bytes:
    """The report as JSON, the same bytes for the same report."""
    return _encoder.encode(report)


# -- computing it ----------------------------------------------------------------------------


def compute_report(
    decisions: Iterable[Decision],
    labels: Collection[str],
    production: Iterable[Decision] | None = None,
    truth: Iterable[TrueOutcome] | None = None,
    *,
    period_start: int | None = None,
    period_end: int | None = None,
    examples: int = 20,
    thresholds: Thresholds | None = None,
    cutoffs: Iterable[float] = SWEEP_CUTOFFS,
) -> BacktestReport:
    """Measure the candidate's ``decisions`` against ``labels`` (the transaction ids
    labelled fraud - a mapping to label times will do), and against ``production`` and
    ``truth`` when given; ``thresholds`` (what the decisions were made with) are reported
    as they are. When the decisions carry a champion probability, the model is swept over
    ``cutoffs``.

    A transaction decided twice counts once (its first decision by checkout time). Of
    production's decisions, a later one for a transaction replaces an earlier one.
    """
    candidate = _ordered(decisions)
    outcomes = None if truth is None else _outcomes(truth)

    def labelled(decision: Decision) -> bool:
        return decision.transaction_id in labels

    return BacktestReport(
        period_start=period_start,
        period_end=period_end,
        checkouts=len(candidate),
        rules_versions=sorted({d.rules_version for d in candidate}),
        model_versions=sorted({d.model.version for d in candidate if d.model is not None}),
        features_versions=sorted({d.features_version for d in candidate}),
        detection=_detection(candidate, labelled),
        actions=_actions(candidate, labelled),
        rules=_rules(candidate, labelled),
        thresholds=None if thresholds is None else ScoreThresholds.of(thresholds),
        model_sweep=_model_sweep(candidate, labelled, outcomes, sorted(set(cutoffs))),
        production=None
        if production is None
        else _production_diff(candidate, production, labelled, examples),
        truth=None if outcomes is None else _truth_report(candidate, outcomes, labels),
    )


def _ordered(decisions: Iterable[Decision]) -> list[Decision]:
    ordered = sorted(decisions, key=lambda d: (d.checkout_time, d.transaction_id))
    seen: set[str] = set()
    unique = []
    for decision in ordered:
        if decision.transaction_id not in seen:
            seen.add(decision.transaction_id)
            unique.append(decision)
    return unique


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 6) if whole else None


def _money(values: Iterable[float]) -> float:
    # fsum is exact, so the total does not depend on the order of the terms
    return round(math.fsum(values), 2)


def _detection(
    decisions: Sequence[Decision],
    is_fraud: Callable[[Decision], bool],
    *,
    actions: Callable[[Decision], str] | None = None,
) -> Detection:
    action_of = actions or (lambda d: d.action)
    fraud = [d for d in decisions if is_fraud(d)]
    flagged = [d for d in decisions if action_of(d) in FLAGGED_ACTIONS]
    caught = [d for d in fraud if action_of(d) in FLAGGED_ACTIONS]
    reviewed = sum(1 for d in decisions if action_of(d) == _REVIEW)
    fraud_reviewed = sum(1 for d in fraud if action_of(d) == _REVIEW)
    fraud_amount = _money(d.amount for d in fraud)
    caught_amount = _money(d.amount for d in caught)
    legit = len(decisions) - len(fraud)
    legit_flagged = len(flagged) - len(caught)
    return Detection(
        checkouts=len(decisions),
        frauds=len(fraud),
        flagged=len(flagged),
        frauds_flagged=len(caught),
        precision=_ratio(len(caught), len(flagged)),
        recall=_ratio(len(caught), len(fraud)),
        reviewed=reviewed,
        frauds_reviewed=fraud_reviewed,
        review_precision=_ratio(fraud_reviewed, reviewed),
        review_recall=_ratio(fraud_reviewed, len(fraud)),
        fraud_amount=fraud_amount,
        fraud_amount_caught=caught_amount,
        fraud_amount_share=_ratio(caught_amount, fraud_amount),
        legit=legit,
        legit_flagged=legit_flagged,
        legit_flagged_share=_ratio(legit_flagged, legit),
    )


def _actions(
    decisions: Sequence[Decision], is_fraud: Callable[[Decision], bool]
) -> list[ActionCount]:
    by_action: dict[str, list[Decision]] = defaultdict(list)
    for decision in decisions:
        by_action[decision.action].append(decision)
    return [
        ActionCount(
            action=action,
            checkouts=len(group),
            frauds=sum(1 for d in group if is_fraud(d)),
            amount=_money(d.amount for d in group),
        )
        for action, group in sorted(
            by_action.items(), key=lambda item: (_SEVERITY.get(item[0], 99), item[0])
        )
    ]


def _rules(decisions: Sequence[Decision], is_fraud: Callable[[Decision], bool]) -> list[RuleStats]:
    hits: dict[tuple[str, bool], list[Decision]] = defaultdict(list)
    for decision in decisions:
        for reason in decision.reasons:
            hits[reason.rule, False].append(decision)
        for reason in decision.shadow:
            hits[reason.rule, True].append(decision)
    stats = []
    for (rule, shadow), group in hits.items():
        frauds = [d for d in group if is_fraud(d)]
        stats.append(
            RuleStats(
                rule=rule,
                shadow=shadow,
                hits=len(group),
                frauds=len(frauds),
                precision=_ratio(len(frauds), len(group)),
                fraud_amount=_money(d.amount for d in frauds),
            )
        )
    return sorted(stats, key=lambda s: (-s.hits, s.rule, s.shadow))


def _production_diff(
    candidate: Sequence[Decision],
    production: Iterable[Decision],
    is_fraud: Callable[[Decision], bool],
    examples: int,
) -> ProductionDiff:
    decided: dict[str, Decision] = {}
    for decision in production:
        decided[decision.transaction_id] = decision
    compared = [d for d in candidate if d.transaction_id in decided]
    transitions: Counter[tuple[str, str]] = Counter()
    frauds: Counter[tuple[str, str]] = Counter()
    changed: list[tuple[int, Decision, Decision]] = []
    for decision in candidate:
        before = decided.get(decision.transaction_id)
        key = (before.action if before is not None else _NONE, decision.action)
        transitions[key] += 1
        frauds[key] += is_fraud(decision)
        if before is not None and before.action != decision.action:
            changed.append((_severity(decision) - _severity(before), before, decision))
    changed.sort(key=lambda c: (-abs(c[0]), -c[2].amount, c[2].transaction_id))

    def production_action(decision: Decision) -> str:
        return decided[decision.transaction_id].action

    return ProductionDiff(
        compared=len(compared),
        undecided=len(candidate) - len(compared),
        changed=len(changed),
        stricter=sum(1 for delta, _, _ in changed if delta > 0),
        looser=sum(1 for delta, _, _ in changed if delta < 0),
        production=_detection(compared, is_fraud, actions=production_action),
        candidate=_detection(compared, is_fraud),
        transitions=[
            Transition(production=p, candidate=c, checkouts=count, frauds=frauds[p, c])
            for (p, c), count in sorted(
                transitions.items(),
                key=lambda item: (_SEVERITY.get(item[0][0], -1), _SEVERITY.get(item[0][1], 99)),
            )
        ],
        examples=[
            ChangedCheckout(
                transaction_id=after.transaction_id,
                user_id=after.user_id,
                checkout_time=after.checkout_time,
                amount=after.amount,
                fraud=is_fraud(after),
                production=before.action,
                candidate=after.action,
                production_score=before.score,
                candidate_score=after.score,
                candidate_rules=sorted(reason.rule for reason in after.reasons),
            )
            for _, before, after in changed[:examples]
        ],
    )


def _severity(decision: Decision) -> int:
    return _SEVERITY.get(decision.action, 0)


def _outcomes(truth: Iterable[TrueOutcome]) -> dict[str, TrueOutcome]:
    outcomes: dict[str, TrueOutcome] = {}
    for outcome in truth:
        outcomes[outcome.transaction_id] = outcome
    return outcomes


def _truth_report(
    candidate: Sequence[Decision], outcomes: Mapping[str, TrueOutcome], labels: Collection[str]
) -> TruthReport:
    known = [d for d in candidate if d.transaction_id in outcomes]

    def really_fraud(decision: Decision) -> bool:
        return outcomes[decision.transaction_id].is_fraud

    by_scenario: dict[str, list[Decision]] = defaultdict(list)
    for decision in known:
        by_scenario[outcomes[decision.transaction_id].scenario].append(decision)
    scenarios = []
    rules: list[ScenarioRule] = []
    for scenario in sorted(by_scenario, key=lambda name: (name != _LEGIT_SCENARIO, name)):
        group = by_scenario[scenario]
        rules += _scenario_rules(scenario, group)
        flagged = [d for d in group if d.action in FLAGGED_ACTIONS]
        amount = _money(d.amount for d in group)
        caught = _money(d.amount for d in flagged)
        scenarios.append(
            ScenarioStats(
                scenario=scenario,
                checkouts=len(group),
                labelled=sum(1 for d in group if d.transaction_id in labels),
                flagged=len(flagged),
                reviewed=sum(1 for d in group if d.action == _REVIEW),
                flagged_share=_ratio(len(flagged), len(group)),
                amount=amount,
                amount_caught=caught,
                amount_share=_ratio(caught, amount),
            )
        )
    return TruthReport(
        checkouts=len(known),
        unknown=len(candidate) - len(known),
        detection=_detection(known, really_fraud),
        scenarios=scenarios,
        rules=rules,
    )


def _scenario_rules(scenario: str, group: Sequence[Decision]) -> list[ScenarioRule]:
    hits: Counter[tuple[str, bool]] = Counter()
    flagged: Counter[tuple[str, bool]] = Counter()
    for decision in group:
        caught = decision.action in FLAGGED_ACTIONS
        for reasons, shadow in ((decision.reasons, False), (decision.shadow, True)):
            for rule in {reason.rule for reason in reasons}:
                hits[rule, shadow] += 1
                flagged[rule, shadow] += caught
    return [
        ScenarioRule(
            scenario=scenario, rule=rule, shadow=shadow, hits=count, flagged=flagged[rule, shadow]
        )
        for (rule, shadow), count in sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _model_sweep(
    candidate: Sequence[Decision],
    is_fraud: Callable[[Decision], bool],
    outcomes: Mapping[str, TrueOutcome] | None,
    cutoffs: Sequence[float],
) -> ModelSweep | None:
    scored = [(d, d.model.probability) for d in candidate if d.model is not None]
    if not scored:
        return None
    truth = None
    if outcomes is not None:
        known = [(d, p) for d, p in scored if d.transaction_id in outcomes]
        truth = [
            _cutoff_stats(known, lambda d: outcomes[d.transaction_id].is_fraud, cutoff)
            for cutoff in cutoffs
        ]
    return ModelSweep(
        scored=len(scored),
        labels=[_cutoff_stats(scored, is_fraud, cutoff) for cutoff in cutoffs],
        truth=truth,
    )


def _cutoff_stats(
    scored: Sequence[tuple[Decision, float]], is_fraud: Callable[[Decision], bool], cutoff: float
) -> CutoffStats:
    fraud = [d for d, _ in scored if is_fraud(d)]
    flagged = [d for d, probability in scored if probability >= cutoff]
    caught = [d for d in flagged if is_fraud(d)]
    fraud_amount = _money(d.amount for d in fraud)
    caught_amount = _money(d.amount for d in caught)
    legit_flagged = len(flagged) - len(caught)
    return CutoffStats(
        cutoff=cutoff,
        flagged=len(flagged),
        frauds_flagged=len(caught),
        frauds_new=sum(1 for d in caught if d.action not in FLAGGED_ACTIONS),
        precision=_ratio(len(caught), len(flagged)),
        recall=_ratio(len(caught), len(fraud)),
        fraud_amount_caught=caught_amount,
        fraud_amount_share=_ratio(caught_amount, fraud_amount),
        legit_flagged=legit_flagged,
        legit_flagged_share=_ratio(legit_flagged, len(scored) - len(fraud)),
    )


# -- running it on a log ---------------------------------------------------------------------


def read_production(
    log: EventLog,
    *,
    topic: str = DECISIONS_TOPIC,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> tuple[list[Decision], int] | None:
    """Production's decisions for the checkouts of ``[start_ms, end_ms)``, in log order per
    partition, and how many records did not decode; ``None`` if ``topic`` does not exist.
    Read without a consumer group: nothing is committed."""
    if topic not in set(log.admin.list_topics()):
        return None
    decisions = []
    undecodable = 0
    for record in read_topic(log, [topic]):
        try:
            decision = decode_decision(record.value)
        except (msgspec.DecodeError, ValueError):
            undecodable += 1
            continue
        if start_ms is not None and decision.checkout_time < start_ms:
            continue
        if end_ms is not None and decision.checkout_time >= end_ms:
            continue
        decisions.append(decision)
    return decisions, undecodable


def run_backtest(
    log: EventLog,
    *,
    rules: RuleSet,
    model: ModelScorer | None = None,
    engine: FeatureEngine | None = None,
    thresholds: Thresholds | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    truth: Iterable[TrueOutcome] | None = None,
    production_topic: str = DECISIONS_TOPIC,
    examples: int = 20,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestReport:
    """Replay ``[start_ms, end_ms)`` of ``log`` deciding with ``rules`` (and ``model`` as
    champion), and report on it. Reads only: no topic, record or offset is written.

    ``progress(records replayed, records in total)`` is called every few thousand records.
    """
    engine = engine or FeatureEngine()
    thresholds = thresholds or Thresholds()
    present = set(log.admin.list_topics())
    policy = StaticPolicy(
        ActivePolicy(
            rules,
            published_lists(log, present),
            thresholds=thresholds,
            champion=model,
        )
    )
    records = read_history(log, [topic for topic in ACTIVITY_TOPICS if topic in present])
    labels = read_labels(log)
    stats = ReplayStats()
    decisions = list(
        replay_records(
            records,
            engine=engine,
            policy=policy,
            namespace="riskstream-backtest",
            start_ms=start_ms,
            end_ms=end_ms,
            stats=stats,
            progress=None if progress is None else (lambda done: progress(done, len(records))),
        )
    )
    if progress is not None:
        progress(len(records), len(records))
    found = read_production(log, topic=production_topic, start_ms=start_ms, end_ms=end_ms)
    report = compute_report(
        decisions,
        labels.times,
        production=None if found is None else found[0],
        truth=truth,
        period_start=start_ms,
        period_end=end_ms,
        examples=examples,
        thresholds=thresholds,
    )
    return msgspec.structs.replace(
        report,
        replay=ReplaySummary(
            events=stats.events,
            decisions=stats.decisions,
            dead_letters=stats.dead_letters,
            labels=len(labels),
            undecodable_labels=labels.undecodable,
            undecodable_production=0 if found is None else found[1],
        ),
    )


def published_lists(log: EventLog, present: set[str]) -> dict[str, frozenset[str]]:
    """The block and allow lists as published now (entries still in force), read without
    creating anything: a log without the lists topic has empty lists."""
    if LISTS_TOPIC not in present:
        return {}
    now = wall_clock_ms()
    lists: dict[str, set[str]] = {}
    for entry in read_list_entries(log):
        if entry.active(now):
            lists.setdefault(entry.list_ref, set()).add(entry.value)
    return {name: frozenset(values) for name, values in lists.items()}

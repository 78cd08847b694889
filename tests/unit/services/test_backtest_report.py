"""`compute_report` on hand-made decisions: every figure checked against a hand count."""

from __future__ import annotations

import random
from dataclasses import dataclass

import msgspec
import pytest

from riskstream.fraud.decision import Decision, ModelVerdict, RuleReason
from riskstream.fraud.policy import Thresholds
from riskstream.services.backtest import (
    SWEEP_CUTOFFS,
    ActionCount,
    ChangedCheckout,
    CutoffStats,
    Detection,
    RuleStats,
    ScenarioStats,
    ScoreThresholds,
    Transition,
    compute_report,
    encode_report,
)

T0 = 1_767_225_600_000


def _reason(rule: str) -> RuleReason:
    return RuleReason(rule=rule, version=1, score=10.0, action="review", features={})


def decision(
    txid: str,
    action: str,
    amount: float,
    *,
    minute: int = 0,
    rules: tuple[str, ...] = (),
    shadow: tuple[str, ...] = (),
    score: float = 0.0,
    model: str | None = None,
    probability: float = 0.5,
) -> Decision:
    return Decision(
        transaction_id=txid,
        user_id=f"u-{txid}",
        checkout_time=T0 + minute * 60_000,
        amount=amount,
        currency="EUR",
        merchant_id="m1",
        action=action,
        score=score,
        rule_score=score,
        rule_action=action,
        reasons=[_reason(rule) for rule in rules],
        shadow=[_reason(rule) for rule in shadow],
        faults=[],
        model=None
        if model is None
        else ModelVerdict(version=model, probability=probability, contributions=[]),
        challenger=None,
        rules_version="rules-v1",
        lists_version="",
        features_version="f1",
        features={},
        missing=[],
        decided_at=T0 + minute * 60_000,
        latency_ms=0,
    )


# Four labelled frauds (t1-t4), three legitimate checkouts (t5-t7).
CANDIDATE = [
    decision("t1", "block", 100.0, minute=1, rules=("r1",), score=95.0),
    decision("t2", "challenge", 50.0, minute=2, rules=("r1", "r2"), score=70.0),
    decision("t3", "allow", 30.0, minute=3),
    decision("t4", "review", 20.0, minute=4, rules=("r2",), score=35.0),
    decision("t5", "challenge", 10.0, minute=5, rules=("r2",), shadow=("r3",), score=65.0),
    decision("t6", "allow", 5.0, minute=6),
    decision("t7", "review", 7.0, minute=7, score=31.0),
]
LABELS = {"t1", "t2", "t3", "t4", "t99"}  # t99: a label for a checkout outside the period

PRODUCTION = [
    decision("t1", "challenge", 100.0, minute=1, score=60.0),
    decision("t2", "challenge", 50.0, minute=2, score=60.0),
    decision("t3", "allow", 30.0, minute=3),
    decision("t4", "allow", 20.0, minute=4),
    decision("t5", "block", 10.0, minute=5, score=90.0),  # replaced by the later decision below
    decision("t5", "allow", 10.0, minute=5),
    decision("t6", "block", 5.0, minute=6, score=100.0),
    decision("t8", "block", 99.0, minute=8),  # not a checkout of the candidate's period
]  # t7: production never decided it


@dataclass(frozen=True)
class Truth:
    transaction_id: str
    scenario: str
    is_fraud: bool


TRUTH = [
    Truth("t1", "account_takeover", True),
    Truth("t2", "account_takeover", True),
    Truth("t3", "bot_checkout", True),
    Truth("t4", "bot_checkout", True),
    Truth("t5", "promo_abuse", True),  # fraud nobody reported
    Truth("t6", "legit", False),
    Truth("t0", "legit", False),  # outside the period
]  # t7: not covered by the truth


def test_detection_against_the_labels() -> None:
    report = compute_report(CANDIDATE, LABELS, period_start=T0, period_end=T0 + 3_600_000)
    assert (report.period_start, report.period_end, report.checkouts) == (
        T0,
        T0 + 3_600_000,
        7,
    )
    assert report.detection == Detection(
        checkouts=7,
        frauds=4,
        flagged=3,
        frauds_flagged=2,
        precision=0.666667,
        recall=0.5,
        reviewed=2,
        frauds_reviewed=1,
        review_precision=0.5,
        review_recall=0.25,
        fraud_amount=200.0,
        fraud_amount_caught=150.0,
        fraud_amount_share=0.75,
        legit=3,
        legit_flagged=1,
        legit_flagged_share=0.333333,
    )
    assert report.actions == [
        ActionCount(action="allow", checkouts=2, frauds=1, amount=35.0),
        ActionCount(action="review", checkouts=2, frauds=1, amount=27.0),
        ActionCount(action="challenge", checkouts=2, frauds=1, amount=60.0),
        ActionCount(action="block", checkouts=1, frauds=1, amount=100.0),
    ]
    assert report.rules == [
        RuleStats(rule="r2", shadow=False, hits=3, frauds=2, precision=0.666667, fraud_amount=70.0),
        RuleStats(rule="r1", shadow=False, hits=2, frauds=2, precision=1.0, fraud_amount=150.0),
        RuleStats(rule="r3", shadow=True, hits=1, frauds=0, precision=0.0, fraud_amount=0.0),
    ]
    assert (report.rules_versions, report.model_versions, report.features_versions) == (
        ["rules-v1"],
        [],
        ["f1"],
    )
    assert report.production is None and report.truth is None and report.replay is None


def test_labels_may_be_a_mapping_to_label_times() -> None:
    as_set = compute_report(CANDIDATE, LABELS)
    as_times = compute_report(CANDIDATE, dict.fromkeys(LABELS, T0 + 86_400_000))
    assert as_set == as_times


def test_diff_against_production() -> None:
    diff = compute_report(CANDIDATE, LABELS, production=PRODUCTION, examples=3).production
    assert diff is not None
    assert (diff.compared, diff.undecided, diff.changed, diff.stricter, diff.looser) == (
        6,
        1,
        4,
        3,
        1,
    )
    assert diff.transitions == [
        Transition(production="none", candidate="review", checkouts=1, frauds=0),
        Transition(production="allow", candidate="allow", checkouts=1, frauds=1),
        Transition(production="allow", candidate="review", checkouts=1, frauds=1),
        Transition(production="allow", candidate="challenge", checkouts=1, frauds=0),
        Transition(production="challenge", candidate="challenge", checkouts=1, frauds=1),
        Transition(production="challenge", candidate="block", checkouts=1, frauds=1),
        Transition(production="block", candidate="allow", checkouts=1, frauds=0),
    ]
    # most changed first: block -> allow (3 steps), allow -> challenge (2), then by amount
    assert diff.examples == [
        ChangedCheckout(
            transaction_id="t6",
            user_id="u-t6",
            checkout_time=T0 + 6 * 60_000,
            amount=5.0,
            fraud=False,
            production="block",
            candidate="allow",
            production_score=100.0,
            candidate_score=0.0,
            candidate_rules=[],
        ),
        ChangedCheckout(
            transaction_id="t5",
            user_id="u-t5",
            checkout_time=T0 + 5 * 60_000,
            amount=10.0,
            fraud=False,
            production="allow",
            candidate="challenge",
            production_score=0.0,
            candidate_score=65.0,
            candidate_rules=["r2"],
        ),
        ChangedCheckout(
            transaction_id="t1",
            user_id="u-t1",
            checkout_time=T0 + 60_000,
            amount=100.0,
            fraud=True,
            production="challenge",
            candidate="block",
            production_score=60.0,
            candidate_score=95.0,
            candidate_rules=["r1"],
        ),
    ]
    # both measured on the six checkouts production decided
    assert (diff.production.flagged, diff.production.frauds_flagged) == (3, 2)
    assert (diff.production.precision, diff.production.recall) == (0.666667, 0.5)
    assert (diff.production.fraud_amount_caught, diff.production.legit_flagged) == (150.0, 1)
    assert (diff.candidate.checkouts, diff.candidate.flagged, diff.candidate.precision) == (
        6,
        3,
        0.666667,
    )
    assert diff.candidate.reviewed == 1  # t7, the review production never decided, is out


def test_against_the_ground_truth() -> None:
    truth = compute_report(CANDIDATE, LABELS, truth=TRUTH).truth
    assert truth is not None
    assert (truth.checkouts, truth.unknown) == (6, 1)
    assert truth.detection == Detection(
        checkouts=6,
        frauds=5,
        flagged=3,
        frauds_flagged=3,
        precision=1.0,
        recall=0.6,
        reviewed=1,
        frauds_reviewed=1,
        review_precision=1.0,
        review_recall=0.2,
        fraud_amount=210.0,
        fraud_amount_caught=160.0,
        fraud_amount_share=0.761905,
        legit=1,
        legit_flagged=0,
        legit_flagged_share=0.0,
    )
    assert truth.scenarios == [
        ScenarioStats(
            scenario="legit",
            checkouts=1,
            labelled=0,
            flagged=0,
            reviewed=0,
            flagged_share=0.0,
            amount=5.0,
            amount_caught=0.0,
            amount_share=0.0,
        ),
        ScenarioStats(
            scenario="account_takeover",
            checkouts=2,
            labelled=2,
            flagged=2,
            reviewed=0,
            flagged_share=1.0,
            amount=150.0,
            amount_caught=150.0,
            amount_share=1.0,
        ),
        ScenarioStats(
            scenario="bot_checkout",
            checkouts=2,
            labelled=2,
            flagged=0,
            reviewed=1,
            flagged_share=0.0,
            amount=50.0,
            amount_caught=0.0,
            amount_share=0.0,
        ),
        ScenarioStats(
            scenario="promo_abuse",
            checkouts=1,
            labelled=0,
            flagged=1,
            reviewed=0,
            flagged_share=1.0,
            amount=10.0,
            amount_caught=10.0,
            amount_share=1.0,
        ),
    ]


def test_same_inputs_in_any_order_give_the_same_bytes() -> None:
    first = encode_report(compute_report(CANDIDATE, LABELS, PRODUCTION, TRUTH))
    rng = random.Random(5)
    for _ in range(5):
        candidate, truth = CANDIDATE[:], TRUTH[:]
        rng.shuffle(candidate)
        rng.shuffle(truth)
        again = encode_report(compute_report(candidate, set(LABELS), PRODUCTION, truth))
        assert again == first
    decoded = msgspec.json.decode(first)
    assert decoded["detection"]["precision"] == 0.666667


def test_a_checkout_decided_twice_counts_once() -> None:
    twice = [*CANDIDATE, decision("t1", "allow", 100.0, minute=9)]
    report = compute_report(twice, LABELS)
    assert report.checkouts == 7
    assert report.detection == compute_report(CANDIDATE, LABELS).detection


def test_nothing_to_measure_gives_no_ratios() -> None:
    report = compute_report([], set(), production=[], truth=[])
    assert report.checkouts == 0 and report.actions == [] and report.rules == []
    d = report.detection
    assert (d.precision, d.recall, d.fraud_amount_share, d.legit_flagged_share) == (
        None,
        None,
        None,
        None,
    )
    assert report.production is not None and report.production.transitions == []
    assert report.truth is not None and report.truth.scenarios == []


@pytest.mark.parametrize("model", ["m-1", None])
def test_model_versions_are_reported(model: str | None) -> None:
    report = compute_report([decision("t1", "allow", 1.0, model=model)], set())
    assert report.model_versions == ([model] if model else [])
    assert (report.model_sweep is not None) == (model is not None)


# The champion's probabilities: labelled fraud s1, s2, s6; the truth also knows s3 is fraud
# (unreported) and does not cover s7; s8 was decided without a model.
SCORED = [
    decision("s1", "block", 100.0, minute=1, model="m", probability=0.6),
    decision("s2", "allow", 40.0, minute=2, model="m", probability=0.3),
    decision("s3", "allow", 25.0, minute=3, model="m", probability=0.05),
    decision("s4", "challenge", 10.0, minute=4, model="m", probability=0.02),
    decision("s5", "allow", 5.0, minute=5, model="m", probability=0.005),
    decision("s6", "allow", 8.0, minute=6, model="m", probability=0.001),
    decision("s7", "review", 12.0, minute=7, model="m", probability=0.01),
    decision("s8", "allow", 1000.0, minute=8),
]
SCORED_LABELS = {"s1", "s2", "s6", "s8"}
SCORED_TRUTH = [
    Truth("s1", "account_takeover", True),
    Truth("s2", "bot_checkout", True),
    Truth("s3", "promo_abuse", True),
    Truth("s4", "legit", False),
    Truth("s5", "legit", False),
    Truth("s6", "card_testing", True),
    Truth("s8", "account_takeover", True),
]
CUTOFFS = (0.5, 0.01, 0.9, 0.1, 0.01)  # unsorted, one twice


def test_the_model_sweep_against_labels_and_truth() -> None:
    sweep = compute_report(SCORED, SCORED_LABELS, truth=SCORED_TRUTH, cutoffs=CUTOFFS).model_sweep
    assert sweep is not None
    assert sweep.scored == 7  # s8 has no probability: in neither figure
    # labels: frauds s1 s2 s6 (148.0), legitimate s3 s4 s5 s7; a cut-off includes its value
    assert sweep.labels == [
        CutoffStats(
            cutoff=0.01,
            flagged=5,  # s1 s2 s3 s4 s7
            frauds_flagged=2,
            frauds_new=1,  # s2: allowed by the decisions
            precision=0.4,
            recall=0.666667,
            fraud_amount_caught=140.0,
            fraud_amount_share=0.945946,
            legit_flagged=3,
            legit_flagged_share=0.75,
        ),
        CutoffStats(
            cutoff=0.1,
            flagged=2,
            frauds_flagged=2,
            frauds_new=1,
            precision=1.0,
            recall=0.666667,
            fraud_amount_caught=140.0,
            fraud_amount_share=0.945946,
            legit_flagged=0,
            legit_flagged_share=0.0,
        ),
        CutoffStats(
            cutoff=0.5,
            flagged=1,
            frauds_flagged=1,
            frauds_new=0,  # s1 was blocked already
            precision=1.0,
            recall=0.333333,
            fraud_amount_caught=100.0,
            fraud_amount_share=0.675676,
            legit_flagged=0,
            legit_flagged_share=0.0,
        ),
        CutoffStats(
            cutoff=0.9,
            flagged=0,
            frauds_flagged=0,
            frauds_new=0,
            precision=None,
            recall=0.0,
            fraud_amount_caught=0.0,
            fraud_amount_share=0.0,
            legit_flagged=0,
            legit_flagged_share=0.0,
        ),
    ]
    # truth, on s1-s6: frauds s1 s2 s3 s6 (173.0), legitimate s4 s5
    assert sweep.truth == [
        CutoffStats(
            cutoff=0.01,
            flagged=4,
            frauds_flagged=3,
            frauds_new=2,  # s2 and s3
            precision=0.75,
            recall=0.75,
            fraud_amount_caught=165.0,
            fraud_amount_share=0.953757,
            legit_flagged=1,
            legit_flagged_share=0.5,
        ),
        CutoffStats(
            cutoff=0.1,
            flagged=2,
            frauds_flagged=2,
            frauds_new=1,
            precision=1.0,
            recall=0.5,
            fraud_amount_caught=140.0,
            fraud_amount_share=0.809249,
            legit_flagged=0,
            legit_flagged_share=0.0,
        ),
        CutoffStats(
            cutoff=0.5,
            flagged=1,
            frauds_flagged=1,
            frauds_new=0,
            precision=1.0,
            recall=0.25,
            fraud_amount_caught=100.0,
            fraud_amount_share=0.578035,
            legit_flagged=0,
            legit_flagged_share=0.0,
        ),
        CutoffStats(
            cutoff=0.9,
            flagged=0,
            frauds_flagged=0,
            frauds_new=0,
            precision=None,
            recall=0.0,
            fraud_amount_caught=0.0,
            fraud_amount_share=0.0,
            legit_flagged=0,
            legit_flagged_share=0.0,
        ),
    ]


def test_the_sweep_uses_the_fixed_cutoffs_and_is_deterministic() -> None:
    report = compute_report(SCORED, SCORED_LABELS)
    assert report.model_sweep is not None and report.model_sweep.truth is None
    assert [c.cutoff for c in report.model_sweep.labels] == list(SWEEP_CUTOFFS)
    assert list(SWEEP_CUTOFFS) == sorted(SWEEP_CUTOFFS)
    first = encode_report(compute_report(SCORED, SCORED_LABELS, truth=SCORED_TRUTH))
    rng = random.Random(3)
    for _ in range(5):
        scored, truth = SCORED[:], SCORED_TRUTH[:]
        rng.shuffle(scored)
        rng.shuffle(truth)
        assert encode_report(compute_report(scored, set(SCORED_LABELS), truth=truth)) == first


@pytest.mark.parametrize(
    ("thresholds", "review_from", "challenge_from", "block_from"),
    [
        (Thresholds(review=30, challenge=60, block=90, model_weight=2000), 0.015, 0.03, 0.045),
        (Thresholds(review=30, challenge=60, block=90, model_weight=60), 0.5, 1.0, None),
        (Thresholds(review=30, challenge=60, block=90, model_weight=0), None, None, None),
        (Thresholds(review=0, challenge=60, block=90, model_weight=300), 0.0, 0.2, 0.3),
    ],
)
def test_the_thresholds_and_what_the_model_alone_reaches(
    thresholds: Thresholds,
    review_from: float | None,
    challenge_from: float | None,
    block_from: float | None,
) -> None:
    report = compute_report(SCORED, SCORED_LABELS, thresholds=thresholds)
    assert report.thresholds == ScoreThresholds(
        review=thresholds.review,
        challenge=thresholds.challenge,
        block=thresholds.block,
        model_weight=thresholds.model_weight,
        model_review_from=review_from,
        model_challenge_from=challenge_from,
        model_block_from=block_from,
    )
    assert compute_report(SCORED, SCORED_LABELS).thresholds is None

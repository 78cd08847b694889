"""Ground truth matches the checkouts; labels come days later, only for fraud; ratios."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskstream.events import Chargeback, Checkout, Event, FraudReported
from riskstream.sim import LEGIT, SCENARIOS, GroundTruth, TruthFile, read_truth
from riskstream.sim.session import LabelPolicy
from tests.unit.sim.kit import DAY, Run, simulate

LABELS = (Chargeback, FraudReported)


def _labels(events: list[Event]) -> list[Chargeback | FraudReported]:
    return [e for e in events if isinstance(e, LABELS)]


def test_one_truth_record_per_checkout_in_stream_order(fraud_run: Run) -> None:
    checkouts = [e for e in fraud_run.events if type(e) is Checkout]
    assert [r.transaction_id for r in fraud_run.truth] == [c.transaction_id for c in checkouts]
    for record, checkout in zip(fraud_run.truth, checkouts, strict=True):
        assert record.user_id == checkout.user_id
        assert record.event_time == checkout.event_time
        assert record.amount == checkout.amount
        assert record.merchant_id == checkout.merchant_id
        assert record.is_fraud == (record.scenario != LEGIT)
        assert record.scenario in (LEGIT, *SCENARIOS)
        assert (record.incident_id is None) == (not record.is_fraud)


def test_every_scenario_occurs_and_is_counted(fraud_run: Run) -> None:
    stats = fraud_run.simulator.stats
    for name in SCENARIOS:
        assert stats.checkouts[name] > 0, name
        assert stats.incidents[name] > 0, name
    assert stats.total_checkouts == len(fraud_run.truth)
    assert stats.events == len(fraud_run.events)
    assert stats.by_type["Checkout"] == len(fraud_run.truth)


def test_labels_only_for_fraud_and_days_after_the_checkout(fraud_run: Run) -> None:
    truth = {r.transaction_id: r for r in fraud_run.truth}
    labels = _labels(fraud_run.events)
    assert len(labels) > 100
    policy = fraud_run.simulator.config.labels
    for label in labels:
        record = truth[label.transaction_id]  # labels only for checkouts already seen
        assert record.is_fraud
        assert label.user_id == record.user_id
        assert record.label == ("chargeback" if type(label) is Chargeback else "fraud_reported")
        assert label.event_time == record.label_time
        delay = label.event_time - record.event_time
        assert policy.min_days * DAY <= delay <= policy.max_days * DAY
        if type(label) is Chargeback:
            assert label.amount == record.amount
            assert label.reason_code
    assert len({label.transaction_id for label in labels}) == len(labels)


def test_every_scheduled_label_inside_the_stream_arrives(fraud_run: Run) -> None:
    end = fraud_run.end_ms
    due = {
        r.transaction_id for r in fraud_run.truth if r.label_time is not None and r.label_time < end
    }
    arrived = {label.transaction_id for label in _labels(fraud_run.events)}
    assert arrived == due


def test_a_realistic_part_of_the_fraud_gets_labelled(fraud_run: Run) -> None:
    fraud = [r for r in fraud_run.truth if r.is_fraud]
    labelled = sum(r.label is not None for r in fraud)
    assert 0.7 <= labelled / len(fraud) <= 0.9  # LabelPolicy.fraction = 0.8
    kinds = {r.label for r in fraud if r.label}
    assert kinds == {"chargeback", "fraud_reported"}
    chargebacks = sum(r.label == "chargeback" for r in fraud)
    assert chargebacks > labelled / 2


def test_label_policy_is_configurable() -> None:
    policy = LabelPolicy(fraction=1.0, median_days=2.0, min_days=1.0, max_days=3.0)
    run = simulate(60_000, seed=2, fraud_rate=0.2, labels=policy)
    fraud = [r for r in run.truth if r.is_fraud]
    assert fraud and all(r.label is not None for r in fraud)
    for record in fraud:
        assert record.label_time is not None
        assert DAY <= record.label_time - record.event_time <= 3 * DAY
    none = simulate(30_000, seed=2, fraud_rate=0.2, labels=LabelPolicy(fraction=0.0))
    assert not _labels(none.events)


def test_fraud_is_a_small_share_of_checkouts_by_default(default_run: Run) -> None:
    stats = default_run.simulator.stats
    assert stats.total_checkouts > 8_000
    assert 0.004 <= stats.fraud_share <= 0.025  # target 1 %
    assert stats.fraud_checkouts > 0


def test_fraud_rate_zero_means_no_fraud_and_no_labels() -> None:
    run = simulate(50_000, seed=3, fraud_rate=0.0)
    assert not any(r.is_fraud for r in run.truth)
    assert not _labels(run.events)


@pytest.mark.parametrize("target", [0.02, 0.1])
def test_the_fraud_rate_is_roughly_met(target: float) -> None:
    run = simulate(200_000, seed=6, fraud_rate=target)
    share = run.simulator.stats.fraud_share
    assert target / 2 <= share <= target * 2


def test_truth_file_round_trip(tmp_path: Path, fraud_run: Run) -> None:
    path = tmp_path / "truth" / "run.jsonl"
    with TruthFile(path) as sink:
        sink.write_many(fraud_run.truth)
    assert sink.written == len(fraud_run.truth)
    assert list(read_truth(path)) == fraud_run.truth
    assert path.read_bytes().count(b"\n") == len(fraud_run.truth)


def test_truth_never_enters_the_event_stream(fraud_run: Run) -> None:
    for event in fraud_run.events:
        assert not isinstance(event, GroundTruth)
        assert not hasattr(event, "scenario")
        assert not hasattr(event, "is_fraud")

"""The ranking metrics and the evaluation against hand-computed values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from riskstream.fraud.model import (
    DAY_MS,
    LabeledCheckout,
    average_precision,
    evaluate,
    roc_auc,
    top_k_per_day,
)
from tests.unit.fraud.model.synthetic import T0


def test_roc_auc_counts_the_pairs_a_fraud_wins() -> None:
    # frauds at 0.9 and 0.7; legit at 0.8 and 0.6: 0.9 beats both, 0.7 beats one -> 3 of 4
    assert roc_auc([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(0.75)
    assert roc_auc([0.9, 0.8, 0.1], [1, 1, 0]) == pytest.approx(1.0)
    assert roc_auc([0.1, 0.8, 0.9], [1, 0, 0]) == pytest.approx(0.0)


def test_roc_auc_counts_a_tie_as_half() -> None:
    # the fraud ties one legit (1/2) and beats the other (1) -> 1.5 / 2
    assert roc_auc([0.5, 0.5, 0.2], [1, 0, 0]) == pytest.approx(0.75)
    assert roc_auc([0.3, 0.3, 0.3, 0.3], [1, 0, 1, 0]) == pytest.approx(0.5)


def test_roc_auc_is_undefined_for_one_class() -> None:
    assert roc_auc([0.1, 0.2], [0, 0]) is None
    assert roc_auc([0.1, 0.2], [1, 1]) is None
    assert roc_auc([], []) is None


def test_average_precision_by_hand() -> None:
    # ranked: F(0.9) L(0.8) F(0.7) L(0.6): precision 1 at recall .5, 2/3 at recall 1
    assert average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(
        0.5 * 1 + 0.5 * 2 / 3
    )
    assert average_precision([0.9, 0.8, 0.1], [1, 1, 0]) == pytest.approx(1.0)


def test_average_precision_takes_tied_scores_together() -> None:
    # thresholds 0.9 (0 of 1), 0.5 (1 of 3: recall .5), 0.1 (2 of 4: recall 1)
    assert average_precision([0.9, 0.5, 0.5, 0.1], [0, 1, 0, 1]) == pytest.approx(
        0.5 * (1 / 3) + 0.5 * (2 / 4)
    )
    assert average_precision([0.5, 0.5], [1, 0]) == pytest.approx(0.5)
    assert average_precision([0.5, 0.5], [0, 0]) is None


def test_top_k_per_day_takes_each_days_highest_scores() -> None:
    times = [T0 + 1, T0 + 2, T0 + 3, T0 + 4, T0 + DAY_MS, T0 + DAY_MS + 1]
    scores = [0.1, 0.9, 0.5, 0.7, 0.2, 0.3]
    assert top_k_per_day(scores, times, 2).tolist() == [False, True, False, True, True, True]
    assert top_k_per_day(scores, times, 1).tolist() == [False, True, False, False, False, True]
    assert not top_k_per_day(scores, times, 0).any()
    assert top_k_per_day([], [], 3).tolist() == []


def test_top_k_per_day_breaks_ties_by_row_order() -> None:
    assert top_k_per_day([0.5, 0.5, 0.5], [T0, T0 + 1, T0 + 2], 2).tolist() == [True, True, False]


class ScoreFeature:
    """A predictor reading its score from the ``s`` feature (the metrics, not a model, are
    under test here)."""

    def predict(self, feature_dicts: Sequence[Mapping[str, object]]) -> npt.NDArray[np.float64]:
        return np.array([f["s"] for f in feature_dicts], dtype=np.float64)


def row(i: int, day: int, score: float, amount: float, label_time: int | None) -> LabeledCheckout:
    return LabeledCheckout(
        transaction_id=f"t{i}",
        user_id="u",
        event_time=T0 + day * DAY_MS + i,
        amount=amount,
        features={"s": score},
        label_time=label_time,
    )


def test_evaluation_at_an_alert_budget_by_hand() -> None:
    late = T0 + 40 * DAY_MS
    rows = [
        # day 0: alerts go to t0 (fraud, 100) and t1 (legit); t2 (fraud, 50) is missed
        row(0, 0, 0.9, 100.0, late),
        row(1, 0, 0.8, 10.0, None),
        row(2, 0, 0.3, 50.0, late),
        row(3, 0, 0.1, 10.0, None),
        # day 1: alerts go to t4 (fraud, 30) and t5 (fraud, 20)
        row(4, 1, 0.7, 30.0, late),
        row(5, 1, 0.6, 20.0, late),
        row(6, 1, 0.2, 10.0, None),
    ]
    ev = evaluate(ScoreFeature(), rows, alerts_per_day=2)
    assert (ev.checkouts, ev.frauds, ev.days) == (7, 4, 2)
    assert ev.alerts == 4
    assert ev.frauds_caught == 3
    assert ev.legit_flagged == 1
    assert ev.precision_at_k == pytest.approx(3 / 4)
    assert ev.recall_at_k == pytest.approx(3 / 4)
    assert ev.fraud_amount == pytest.approx(200.0)
    assert ev.fraud_amount_caught == pytest.approx(150.0)
    assert ev.fraud_amount_share == pytest.approx(0.75)
    # frauds 0.9, 0.7, 0.6, 0.3 against legit 0.8, 0.2, 0.1: 3 + 2 + 2 + 2 wins of 12
    assert ev.roc_auc == pytest.approx(9 / 12)
    assert ev.fraud_rate == pytest.approx(4 / 7)


def test_evaluation_labels_as_of_a_time() -> None:
    rows = [row(0, 0, 0.9, 100.0, T0 + 5 * DAY_MS), row(1, 0, 0.1, 10.0, None)]
    early = evaluate(ScoreFeature(), rows, alerts_per_day=1, labels_as_of=T0 + DAY_MS)
    assert early.frauds == 0
    assert early.roc_auc is None
    assert early.precision_at_k == 0.0
    assert early.fraud_amount_share is None
    assert evaluate(ScoreFeature(), rows, alerts_per_day=1).frauds == 1


def test_evaluation_of_nothing() -> None:
    ev = evaluate(ScoreFeature(), [], alerts_per_day=3)
    assert (ev.checkouts, ev.alerts, ev.days) == (0, 0, 0)
    assert ev.precision_at_k is None and ev.roc_auc is None and ev.fraud_rate is None
    assert set(ev.as_metrics()) >= {"roc_auc", "precision_at_k", "fraud_amount_share"}

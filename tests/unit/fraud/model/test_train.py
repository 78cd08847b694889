"""Training: deterministic, point-in-time, and good enough to rank held-out fraud."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np
import pytest

from riskstream.fraud.model import (
    DAY_MS,
    Dataset,
    LabeledCheckout,
    ModelArtifact,
    TrainedModel,
    TrainingError,
    evaluate,
    label_at,
    train,
)
from tests.unit.fraud.model.conftest import MATURITY, TRAIN_UNTIL
from tests.unit.fraud.model.synthetic import FAST_PARAMS, T0


def version_of(rows: Sequence[LabeledCheckout], seed: int = 0) -> str:
    model = train(
        rows,
        train_until=TRAIN_UNTIL,
        label_maturity_ms=MATURITY,
        params=FAST_PARAMS,
        seed=seed,
    )
    return ModelArtifact.from_model(model, created_at=0).version


def test_training_is_deterministic(rows: list[LabeledCheckout], model: TrainedModel) -> None:
    again = train(rows, train_until=TRAIN_UNTIL, label_maturity_ms=MATURITY, params=FAST_PARAMS)
    assert again.model_text() == model.model_text()
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    first = ModelArtifact.from_model(model, created_at=1).version
    assert version_of(shuffled) == first  # the read order does not matter
    assert version_of(rows, seed=1) != first  # the seed does (bagging, feature sampling)


def test_the_model_ranks_a_later_period(dataset: Dataset, model: TrainedModel) -> None:
    held_out = dataset.split(TRAIN_UNTIL, MATURITY).evaluation
    assert held_out.first_event_time is not None and held_out.first_event_time >= TRAIN_UNTIL
    assert held_out.frauds >= 30
    result = evaluate(model, held_out, alerts_per_day=10)
    assert result.roc_auc is not None and result.roc_auc > 0.8
    assert (
        result.average_precision is not None
        and result.average_precision > held_out.frauds / len(held_out)
    )


def test_training_sees_only_labels_known_at_train_until(model: TrainedModel) -> None:
    training = model.training
    assert training.labels_as_of == TRAIN_UNTIL
    late = [
        i
        for i, r in enumerate(training.rows)
        if r.label_time is not None and r.label_time > TRAIN_UNTIL
    ]
    known = [
        i
        for i, r in enumerate(training.rows)
        if r.label_time is not None and r.label_time <= TRAIN_UNTIL
    ]
    assert late and known  # the synthetic delays put frauds on both sides
    assert not training.labels[late].any()  # fraud, but not yet known to be
    assert training.labels[known].all()
    assert training.labels.tolist() == [label_at(r, TRAIN_UNTIL) for r in training.rows]


def test_training_leaves_out_immature_checkouts(
    rows: list[LabeledCheckout], model: TrainedModel
) -> None:
    cutoff = TRAIN_UNTIL - MATURITY
    assert all(r.event_time < cutoff for r in model.training)
    assert len(model.training) == sum(1 for r in rows if r.event_time < cutoff)
    assert any(cutoff <= r.event_time < TRAIN_UNTIL for r in rows)


def test_positive_weight_and_probability_correction(model: TrainedModel) -> None:
    frauds = model.training.frauds
    legit = len(model.training) - frauds
    assert model.pos_weight == pytest.approx(math.sqrt(legit / frauds))
    assert model.params["scale_pos_weight"] == model.pos_weight
    assert model.params["deterministic"] is True and model.params["seed"] == 0
    matrix = model.encoder.encode([r.features for r in model.training.rows[:50]])
    raw = model.booster.predict(matrix, raw_score=True)
    np.testing.assert_allclose(model.log_odds(matrix), raw - math.log(model.pos_weight))
    # weighted, the model would overstate fraud; corrected, it is near the base rate
    mean = float(model.predict([r.features for r in model.training.rows]).mean())
    assert mean == pytest.approx(frauds / len(model.training), rel=0.5)


def test_is_unbalance_and_an_explicit_weight(dataset: Dataset) -> None:
    unbalanced = train(
        dataset,
        train_until=TRAIN_UNTIL,
        label_maturity_ms=MATURITY,
        params={**FAST_PARAMS, "is_unbalance": True},
    )
    frauds = unbalanced.training.frauds
    assert unbalanced.pos_weight == pytest.approx((len(unbalanced.training) - frauds) / frauds)
    assert "is_unbalance" not in unbalanced.params
    fixed = train(
        dataset,
        train_until=TRAIN_UNTIL,
        label_maturity_ms=MATURITY,
        params={**FAST_PARAMS, "scale_pos_weight": 2.0},
    )
    assert fixed.pos_weight == 2.0
    with pytest.raises(ValueError, match="scale_pos_weight"):
        train(
            dataset,
            train_until=TRAIN_UNTIL,
            label_maturity_ms=MATURITY,
            params={"scale_pos_weight": 0},
        )


def test_training_needs_both_classes() -> None:
    legit = [LabeledCheckout(f"t{i}", "u", T0 + i, 1.0, {}, None) for i in range(20)]
    with pytest.raises(TrainingError, match="0 fraud and 20 legitimate"):
        train(legit, train_until=T0 + DAY_MS, label_maturity_ms=0)
    with pytest.raises(TrainingError, match="no checkouts"):
        train(legit, train_until=T0, label_maturity_ms=0)
    # frauds whose labels arrive after train_until do not count
    late = [LabeledCheckout(f"t{i}", "u", T0 + i, 1.0, {}, T0 + 2 * DAY_MS) for i in range(20)]
    with pytest.raises(TrainingError, match="0 fraud"):
        train(late, train_until=T0 + DAY_MS, label_maturity_ms=0)

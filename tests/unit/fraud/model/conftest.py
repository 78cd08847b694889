"""One synthetic data set and one model trained on it, shared by the module's tests."""

from __future__ import annotations

import pytest

from riskstream.fraud.model import (
    DAY_MS,
    Dataset,
    LabeledCheckout,
    ModelArtifact,
    TrainedModel,
    train,
)
from tests.unit.fraud.model.synthetic import FAST_PARAMS, T0, checkouts

TRAIN_UNTIL = T0 + 20 * DAY_MS
MATURITY = 5 * DAY_MS
CREATED_AT = T0 + 21 * DAY_MS


@pytest.fixture(scope="session")
def rows() -> list[LabeledCheckout]:
    return checkouts(4_000, days=30, seed=1)


@pytest.fixture(scope="session")
def dataset(rows: list[LabeledCheckout]) -> Dataset:
    return Dataset(rows)


@pytest.fixture(scope="session")
def model(dataset: Dataset) -> TrainedModel:
    return train(dataset, train_until=TRAIN_UNTIL, label_maturity_ms=MATURITY, params=FAST_PARAMS)


@pytest.fixture(scope="session")
def artifact(model: TrainedModel) -> ModelArtifact:
    return ModelArtifact.from_model(model, created_at=CREATED_AT, metrics={"roc_auc": 0.9})

"""The model artifact: versioned by content, round-tripped, checked against the engine."""

from __future__ import annotations

import pickle

import msgspec
import pytest

from riskstream.errors import RiskstreamError
from riskstream.fraud.model import (
    ARTIFACT_FORMAT,
    ArtifactError,
    LabeledCheckout,
    ModelArtifact,
    ModelError,
    ModelFeatureMismatch,
    Scorer,
    TrainedModel,
    model_features,
)
from riskstream.fraud.rules import EXPECTED_FEATURES
from tests.unit.fraud.model.conftest import CREATED_AT, MATURITY, TRAIN_UNTIL


def test_artifact_describes_its_model(artifact: ModelArtifact, model: TrainedModel) -> None:
    assert artifact.format == ARTIFACT_FORMAT
    assert artifact.feature_names == model_features()
    assert artifact.trained_to == TRAIN_UNTIL
    assert artifact.label_maturity_ms == MATURITY
    assert artifact.trained_from is None
    assert artifact.training_rows == len(model.training)
    assert artifact.training_frauds == model.training.frauds
    assert artifact.created_at == CREATED_AT
    assert artifact.metrics == {"roc_auc": 0.9}
    assert artifact.params["num_iterations"] == 30
    assert artifact.model == model.model_text()
    login_country = artifact.features[artifact.feature_names.index("login.country")]
    assert login_country.vocabulary == ("DE", "FR", "GB", "NL", "US", "XX")
    assert len(artifact.version) == 16


def test_version_ignores_when_it_was_made_and_how_it_scored(
    artifact: ModelArtifact, model: TrainedModel
) -> None:
    other = ModelArtifact.from_model(model, created_at=CREATED_AT + 99, metrics={"x": 1})
    assert other.version == artifact.version
    assert artifact.with_metrics({"roc_auc": 0.5}).version == artifact.version


def test_round_trip_scores_identically(
    artifact: ModelArtifact, rows: list[LabeledCheckout]
) -> None:
    data = artifact.to_bytes()
    back = ModelArtifact.from_bytes(data)
    assert back == artifact
    assert back.to_bytes() == data
    features = [r.features for r in rows[:200]]
    assert Scorer(back).score_batch(features) == Scorer(artifact).score_batch(features)


def test_damaged_or_foreign_bytes_are_refused(artifact: ModelArtifact) -> None:
    with pytest.raises(ArtifactError, match="not a model artifact"):
        ModelArtifact.from_bytes(b"\x00garbage")
    tampered = msgspec.structs.replace(artifact, pos_weight=artifact.pos_weight * 2)
    with pytest.raises(ArtifactError, match="fails its content hash"):
        ModelArtifact.from_bytes(tampered.to_bytes())
    future = msgspec.structs.replace(artifact, format=ARTIFACT_FORMAT + 1)
    with pytest.raises(ArtifactError, match="format 2 is not supported"):
        ModelArtifact.from_bytes(future.to_bytes())
    with pytest.raises(ArtifactError, match="malformed"):
        ModelArtifact.from_bytes(msgspec.msgpack.encode({"format": ARTIFACT_FORMAT}))


def test_engine_features_must_cover_the_model(artifact: ModelArtifact) -> None:
    engine = [n for n in EXPECTED_FEATURES if n not in ("login.country", "account.age_ms")]
    engine.append("session.brand_new_signal")
    with pytest.raises(ModelFeatureMismatch) as caught:
        artifact.check_features(engine)
    error = caught.value
    assert error.missing == ("account.age_ms", "login.country")
    assert "session.brand_new_signal" in error.unused
    assert "device.id" in error.unused  # ids are engine features the model never reads
    assert "account.age_ms, login.country" in str(error)
    assert isinstance(error, ModelError) and isinstance(error, RiskstreamError)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (copy.missing, copy.unused) == (error.missing, error.unused)


def test_extra_engine_features_are_allowed(artifact: ModelArtifact) -> None:
    unused = artifact.check_features([*EXPECTED_FEATURES, "z.extra"])
    assert unused == tuple(sorted({"z.extra", *EXPECTED_FEATURES} - set(model_features())))
    assert artifact.check_features(artifact.feature_names) == ()

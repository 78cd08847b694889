"""Batch scoring and its explanations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskstream.fraud.model import (
    Contribution,
    FeatureValueError,
    LabeledCheckout,
    ModelArtifact,
    Scorer,
    TrainedModel,
)


@pytest.fixture(scope="module")
def features(rows: list[LabeledCheckout]) -> list[dict[str, object]]:
    return [dict(r.features) for r in rows[:300]]


def test_scores_match_the_trained_model(
    artifact: ModelArtifact, model: TrainedModel, features: list[dict[str, object]]
) -> None:
    scorer = Scorer(artifact)
    scores = scorer.score_batch(features, contributions=False)
    probabilities = [s.probability for s in scores]
    np.testing.assert_allclose(probabilities, model.predict(features))
    np.testing.assert_allclose(probabilities, scorer.predict(features))
    assert all(s.model_version == artifact.version and s.top_contributions == () for s in scores)
    assert all(math.isclose(s.probability, 1 / (1 + math.exp(-s.log_odds))) for s in scores)


def test_a_batch_scores_like_its_rows(
    artifact: ModelArtifact, features: list[dict[str, object]]
) -> None:
    scorer = Scorer(artifact)
    batch = scorer.score_batch(features[:16])
    assert batch == [scorer.score_batch([f])[0] for f in features[:16]]
    assert scorer.score_batch([]) == []
    assert scorer.predict([]).shape == (0,)


def test_contributions_and_bias_add_up_to_the_log_odds(
    artifact: ModelArtifact, features: list[dict[str, object]]
) -> None:
    scorer = Scorer(artifact)
    matrix = scorer.encode(features)
    contributions = scorer.contributions(matrix)
    assert contributions.shape == (len(features), len(scorer.feature_names) + 1)
    np.testing.assert_allclose(contributions.sum(axis=1), scorer.log_odds(matrix), atol=1e-9)


def test_top_contributions_are_the_largest_with_their_values(
    artifact: ModelArtifact, features: list[dict[str, object]]
) -> None:
    scorer = Scorer(artifact)
    scores = scorer.score_batch(features)
    contributions = scorer.contributions(scorer.encode(features))[:, :-1]
    names = scorer.feature_names
    for f, score, row in zip(features, scores, contributions, strict=True):
        top = score.top_contributions
        assert 1 <= len(top) <= 3
        magnitudes = [abs(c.contribution) for c in top]
        assert magnitudes == sorted(magnitudes, reverse=True)
        assert magnitudes[0] == pytest.approx(np.abs(row).max())
        for c in top:
            assert isinstance(c, Contribution)
            assert c.contribution == pytest.approx(row[names.index(c.feature)])
            assert c.value == f.get(c.feature)  # the engine's value, not the encoded one
    # the strong synthetic signals lead the explanations of the riskiest rows
    riskiest = max(scores, key=lambda s: s.probability)
    assert {c.feature for c in riskiest.top_contributions} & {
        "login.new_device",
        "account.age_ms",
        "device.distinct_accounts_24h",
        "login.country",
    }


def test_only_rows_above_the_threshold_are_explained(
    artifact: ModelArtifact, features: list[dict[str, object]]
) -> None:
    threshold = 0.1
    scores = Scorer(artifact, explain_above=threshold).score_batch(features)
    above = [s for s in scores if s.probability >= threshold]
    assert above and len(above) < len(scores)
    assert all(s.top_contributions for s in above)
    assert all(not s.top_contributions for s in scores if s.probability < threshold)
    plain = Scorer(artifact).score_batch(features, contributions=False)
    assert [s.probability for s in plain] == [s.probability for s in scores]
    top1 = Scorer(artifact, top=1).score_batch(features[:5])
    assert all(len(s.top_contributions) == 1 for s in top1)
    assert all(not s.top_contributions for s in Scorer(artifact, top=0).score_batch(features[:5]))


def test_a_bad_feature_value_is_named(
    artifact: ModelArtifact, features: list[dict[str, object]]
) -> None:
    bad = [*features[:3], {**features[3], "device.age_ms": "old"}]
    with pytest.raises(FeatureValueError, match=r"'device\.age_ms'"):
        Scorer(artifact).score_batch(bad)

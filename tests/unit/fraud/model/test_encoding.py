"""Feature dicts to the model's matrix."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskstream.fraud.model import (
    ID_FEATURES,
    EncodedFeature,
    FeatureEncoder,
    FeatureKind,
    FeatureValueError,
    model_features,
)
from riskstream.fraud.rules import EXPECTED_FEATURES, FeatureCatalogue

ENCODER = FeatureEncoder(
    [
        EncodedFeature("checkout.amount", FeatureKind.NUMBER),
        EncodedFeature("login.new_device", FeatureKind.BOOL),
        EncodedFeature("login.country", FeatureKind.CATEGORY, ("DE", "FR")),
        EncodedFeature("account.age_ms", FeatureKind.NUMBER),
    ]
)


def test_model_features_leave_out_ids_and_timestamps() -> None:
    names = model_features()
    assert not set(names) & ID_FEATURES
    assert {"login.country", "checkout.country", "checkout.amount", "login.new_device"} <= set(
        names
    )
    assert list(names) == [n for n in EXPECTED_FEATURES if n in names]  # catalogue order
    assert len(names) == len(EXPECTED_FEATURES) - len(ID_FEATURES)
    custom = FeatureCatalogue.of({"a": "number", "when": "timestamp", "s": "string"})
    assert model_features(custom) == ("a", "s")


def test_encoding_numbers_bools_categories_and_missing() -> None:
    matrix = ENCODER.encode(
        [
            {
                "checkout.amount": 12.5,
                "login.new_device": True,
                "login.country": "FR",
                "account.age_ms": 86_400_000,
            },
            {"checkout.amount": 3, "login.new_device": False, "login.country": "ZZ"},
            {"checkout.amount": None, "login.country": None, "device.id": "ignored"},
        ]
    )
    assert matrix.dtype == np.float64
    assert matrix.shape == (3, 4)
    assert matrix[0].tolist() == [12.5, 1.0, 2.0, 86_400_000.0]
    assert matrix[1, :3].tolist() == [3.0, 0.0, 0.0]  # an unknown country is code 0
    assert math.isnan(matrix[1, 3])  # absent
    assert all(math.isnan(v) for v in matrix[2])  # None or absent: missing


def test_a_batch_encodes_like_its_rows() -> None:
    rows = [
        {"checkout.amount": float(i), "login.new_device": i % 2 == 0, "login.country": "DE"}
        for i in range(20)
    ]
    batch = ENCODER.encode(rows)
    single = np.vstack([ENCODER.encode([r]) for r in rows])
    np.testing.assert_array_equal(batch, single)
    assert ENCODER.encode([]).shape == (0, 4)


def test_values_of_the_wrong_type_name_their_feature() -> None:
    with pytest.raises(FeatureValueError, match=r"'checkout\.amount'") as caught:
        ENCODER.encode([{"checkout.amount": 1.0}, {"checkout.amount": "lots"}])
    assert caught.value.feature == "checkout.amount"
    with pytest.raises(FeatureValueError, match=r"'login\.country'"):
        ENCODER.encode([{"login.country": 49}])
    with pytest.raises(FeatureValueError, match=r"'login\.country'"):
        ENCODER.encode([{"login.country": ["DE"]}])


def test_fit_learns_a_vocabulary_of_frequent_strings() -> None:
    rows = (
        [{"login.country": "DE"}] * 30
        + [{"login.country": "FR"}] * 20
        + [{"login.country": "NL"}] * 12
        + [{"login.country": "XX"}] * 2
        + [{"login.country": None}] * 5
    )
    encoder = FeatureEncoder.fit(rows, features=["login.country", "account.age_ms"])
    assert encoder.features == (
        EncodedFeature("login.country", FeatureKind.CATEGORY, ("DE", "FR", "NL")),
        EncodedFeature("account.age_ms", FeatureKind.NUMBER),
    )
    assert encoder.categorical == (0,)
    top2 = FeatureEncoder.fit(rows, features=["login.country"], max_categories=2)
    assert top2.features[0].vocabulary == ("DE", "FR")


def test_fit_refuses_features_it_cannot_type() -> None:
    with pytest.raises(ValueError, match="not in the catalogue: nope"):
        FeatureEncoder.fit([], features=["nope"])
    catalogue = FeatureCatalogue.of({"when": "timestamp"})
    with pytest.raises(ValueError, match="cannot be a model input"):
        FeatureEncoder.fit([], features=["when"], catalogue=catalogue)
    with pytest.raises(ValueError, match="twice"):
        FeatureEncoder([EncodedFeature("a", FeatureKind.NUMBER)] * 2)


def test_default_fit_covers_the_model_features() -> None:
    encoder = FeatureEncoder.fit([{"login.country": "DE"}] * 10)
    assert encoder.names == model_features()
    assert encoder == FeatureEncoder(encoder.features)

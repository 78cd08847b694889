"""The feature engine and thresholds a deployment is configured with (``RISKSTREAM_*``)."""

from __future__ import annotations

from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.features.spec import FeatureSpecs
from riskstream.fraud.policy import Thresholds
from riskstream.settings import Settings

__all__ = ["engine_from", "thresholds_from"]


def engine_from(settings: Settings) -> FeatureEngine:
    """The feature engine the settings declare (the shipped features by default)."""
    if settings.features_file is None:
        return FeatureEngine()
    return FeatureEngine(FeatureSpecs.from_file(settings.features_file))


def thresholds_from(settings: Settings) -> Thresholds:
    return Thresholds(
        review=settings.review_threshold,
        challenge=settings.challenge_threshold,
        block=settings.block_threshold,
        model_weight=settings.model_weight,
    )

"""Errors of the fraud model: training, artifacts, and the model/feature-engine contract.

They join the tree of :class:`riskstream.errors.RiskstreamError` as one subtree::

    ModelError
    ├── TrainingError            no model can be trained from these rows (no rows, one class)
    ├── ArtifactError            bytes that are not a valid model artifact (or fail its hash)
    ├── ModelFeatureMismatch     the feature engine lacks features the model needs
    └── FeatureValueError        a feature value the encoder cannot read (a string for a number)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from riskstream.errors import RiskstreamError

__all__ = [
    "ArtifactError",
    "FeatureValueError",
    "ModelError",
    "ModelFeatureMismatch",
    "TrainingError",
]


class ModelError(RiskstreamError):
    """Root of the fraud model's errors."""


class TrainingError(ModelError):
    """The training period cannot give a model: no rows, or only one class of label."""


class ArtifactError(ModelError):
    """Bytes that do not decode to a model artifact, or whose content fails its version hash."""


class ModelFeatureMismatch(ModelError):
    """The feature engine does not provide every feature the model needs.

    ``missing`` names the features the model needs and the engine lacks (why it was refused);
    ``unused`` the engine's features the model does not read (allowed, listed for the record).
    Both are sorted.
    """

    def __init__(self, missing: Iterable[str], unused: Iterable[str] = ()) -> None:
        self.missing: tuple[str, ...] = tuple(sorted(missing))
        self.unused: tuple[str, ...] = tuple(sorted(unused))
        message = (
            f"the model needs {len(self.missing)} feature(s) the engine does not provide: "
            + ", ".join(self.missing)
        )
        if self.unused:
            message += f"; engine features the model does not use: {', '.join(self.unused)}"
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (ModelFeatureMismatch, (self.missing, self.unused))


class FeatureValueError(ModelError):
    """A feature value of a type the encoder cannot read (``feature`` names it)."""

    def __init__(self, feature: str, value: object, expected: str) -> None:
        self.feature = feature
        self.value = value
        self.expected = expected
        super().__init__(f"feature {feature!r}: expected {expected}, got {value!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (FeatureValueError, (self.feature, self.value, self.expected))

"""The model artifact: a trained model as versioned, self-describing bytes.

::

    artifact = ModelArtifact.from_model(model, created_at=clock_ms, metrics=ev.as_metrics())
    data = artifact.to_bytes()                  # msgpack; store it, publish it
    artifact = ModelArtifact.from_bytes(data)   # or ArtifactError
    artifact.check_features(engine_feature_names)   # or ModelFeatureMismatch

``version`` is a hash of what decides the model's scores - the LightGBM model text, the
ordered features with their vocabularies, the parameters, the training period and the
positive-class weight - and of nothing else: training twice on the same rows with the same
seed gives the same version, whenever it runs. ``created_at`` and ``metrics`` describe the
artifact without changing the model, so they stay out of the hash. ``from_bytes`` recomputes
the hash, so a damaged or hand-edited artifact is refused rather than scored with.

Feature contract: the model must find every feature it reads in what the engine provides;
extra engine features are fine (the model ignores them). A feature the model lists but never
splits on is still required - the list is the encoder's column order, and an engine that
stopped providing it has drifted from what the model was trained on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import lightgbm as lgb
import msgspec

from riskstream.fraud.model.encoding import EncodedFeature, FeatureEncoder
from riskstream.fraud.model.errors import ArtifactError, ModelFeatureMismatch
from riskstream.fraud.model.train import ParamValue, TrainedModel

__all__ = ["ARTIFACT_FORMAT", "MetricValue", "ModelArtifact"]

#: The layout of :meth:`ModelArtifact.to_bytes`; bumped when it changes incompatibly.
ARTIFACT_FORMAT = 1

MetricValue = float | int | None


class ModelArtifact(msgspec.Struct, frozen=True, kw_only=True):
    """A trained fraud model with everything needed to score with it and to trust it.

    The model was trained on the checkouts with ``trained_from <= event_time < trained_to -
    label_maturity_ms`` (``trained_from`` ``None``: from the first one), labeled with the
    labels that had arrived by ``trained_to``. ``created_at`` is epoch milliseconds.
    """

    format: int
    version: str
    features: tuple[EncodedFeature, ...]
    trained_from: int | None
    trained_to: int
    label_maturity_ms: int
    training_rows: int
    training_frauds: int
    params: dict[str, ParamValue]
    pos_weight: float
    model: str
    created_at: int
    metrics: dict[str, MetricValue] = {}

    @classmethod
    def from_model(
        cls,
        model: TrainedModel,
        *,
        created_at: int,
        metrics: Mapping[str, MetricValue] | None = None,
    ) -> ModelArtifact:
        """The artifact of a trained model; ``created_at`` comes from the caller's clock."""
        training = model.training
        unversioned = cls(
            format=ARTIFACT_FORMAT,
            version="",
            features=model.encoder.features,
            trained_from=training.start,
            trained_to=model.train_until,
            label_maturity_ms=model.label_maturity_ms,
            training_rows=len(training),
            training_frauds=training.frauds,
            params=dict(sorted(model.params.items())),
            pos_weight=model.pos_weight,
            model=model.model_text(),
            created_at=created_at,
            metrics=dict(metrics or {}),
        )
        return msgspec.structs.replace(unversioned, version=_content_hash(unversioned))

    def with_metrics(self, metrics: Mapping[str, MetricValue]) -> ModelArtifact:
        """The same model with other metrics (the version does not change)."""
        return msgspec.structs.replace(self, metrics=dict(metrics))

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The features the model reads, in column order."""
        return tuple(f.name for f in self.features)

    def encoder(self) -> FeatureEncoder:
        return FeatureEncoder(self.features)

    def booster(self) -> lgb.Booster:
        """A LightGBM booster loaded from the model text."""
        return lgb.Booster(model_str=self.model)

    def check_features(self, engine_features: Iterable[str]) -> tuple[str, ...]:
        """Check the model against the features an engine provides.

        Returns the engine's features the model does not use (sorted; allowed). Raises
        :class:`ModelFeatureMismatch` naming every feature the model needs and the engine
        lacks.
        """
        provided = set(engine_features)
        needed = set(self.feature_names)
        missing = needed - provided
        unused = provided - needed
        if missing:
            raise ModelFeatureMismatch(missing, unused)
        return tuple(sorted(unused))

    def to_bytes(self) -> bytes:
        return _ENCODER.encode(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelArtifact:
        """Decode an artifact; :class:`ArtifactError` if the bytes are not one, are of
        another format, or do not match their version hash."""
        try:
            header = _HEADER.decode(data)
        except msgspec.DecodeError as exc:
            raise ArtifactError(f"not a model artifact: {exc}") from None
        if header.format != ARTIFACT_FORMAT:
            raise ArtifactError(
                f"model artifact format {header.format} is not supported "
                f"(this version reads format {ARTIFACT_FORMAT})"
            )
        try:
            artifact = _DECODER.decode(data)
        except msgspec.DecodeError as exc:
            raise ArtifactError(f"malformed model artifact: {exc}") from None
        expected = _content_hash(artifact)
        if expected != artifact.version:
            raise ArtifactError(
                f"model artifact {artifact.version} fails its content hash ({expected})"
            )
        return artifact

    def __repr__(self) -> str:
        return (
            f"ModelArtifact(version={self.version!r}, features={len(self.features)}, "
            f"trained_to={self.trained_to})"
        )


class _Header(msgspec.Struct):
    format: int


# The fields whose content decides the version (everything but version, created_at, metrics).
_HASHED = (
    "format",
    "features",
    "trained_from",
    "trained_to",
    "label_maturity_ms",
    "training_rows",
    "training_frauds",
    "params",
    "pos_weight",
    "model",
)
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(ModelArtifact)
_HEADER = msgspec.msgpack.Decoder(_Header)


def _content_hash(artifact: ModelArtifact) -> str:
    # msgpack of the hashed fields in a fixed order, params sorted by name: the same content
    # always gives the same bytes
    content: list[object] = []
    for name in _HASHED:
        value = getattr(artifact, name)
        content.append(sorted(value.items()) if isinstance(value, dict) else value)
    return hashlib.sha256(_ENCODER.encode(content)).hexdigest()[:16]

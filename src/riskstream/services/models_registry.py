"""ML models on the compacted topic ``risk.models``: publish, and follow with hot reload.

Two slots: ``champion`` (the model decisions use) and ``challenger`` (scored alongside, in
shadow). The key is the slot, the value a :class:`PublishedModel` as JSON - the metadata
and the model's bytes (base64). A tombstone removes the challenger; the champion is only
ever replaced, so a stray tombstone of it is rejected. The bytes are opaque here: the
caller's ``validate(artifact, metadata)`` turns them into a usable model or raises.

::

    publish_model(log, "challenger", artifact, ModelMetadata(version="m-7", features=(...),
                  trained_from=t0, trained_to=t1, metrics={"auc": 0.91}))

    book = ModelBook(log, load_model)      # load_model(bytes, ModelMetadata) -> Model or raise
    book.wait_caught_up(30)
    champion = book.current_champion()     # ActiveModel[Model] | None: one attribute load

A model that fails validation (or does not decode) is rejected: the slot keeps its previous
model, and the rejection is kept (:attr:`ModelBook.rejections`), logged and counted in
``riskstream_models_rejected_total{slot}``. Within one batch the newest valid model of each
slot applies, so a book started later ends in the same state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Final, Generic, TypeVar

import msgspec
from prometheus_client import CollectorRegistry

from riskstream.log.port import EventLog
from riskstream.services.compacted import (
    Change,
    ChangeBatch,
    CompactedFollower,
    ensure_compacted_topics,
    put,
    read_compacted,
)
from riskstream.services.hotreload import (
    Clock,
    Rejected,
    Rejection,
    RejectionLog,
    newest_valid,
    rejection_counter,
    wall_clock_ms,
)

__all__ = [
    "MODELS_TOPIC",
    "ActiveModel",
    "ModelBook",
    "ModelMetadata",
    "ModelSlot",
    "PublishedModel",
    "publish_model",
    "read_models",
    "retire_challenger",
]

_log = logging.getLogger(__name__)

MODELS_TOPIC: Final = "risk.models"

T = TypeVar("T")


class ModelSlot(StrEnum):
    """Where a model serves: ``champion`` decides, ``challenger`` is scored in shadow."""

    CHAMPION = "champion"
    CHALLENGER = "challenger"


class ModelMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """What a model is: its version, the features it reads (in order), the event-time span
    it was trained on and its evaluation metrics. Times are epoch ms; ``created_at`` is
    stamped at publish time when left out."""

    version: str
    features: tuple[str, ...]
    trained_from: int
    trained_to: int
    metrics: dict[str, float] = msgspec.field(default_factory=dict)
    created_at: int | None = None


class PublishedModel(msgspec.Struct, frozen=True, kw_only=True):
    """A model as published on ``risk.models`` (``model``: the bytes, base64 in JSON)."""

    slot: ModelSlot
    version: str
    features: tuple[str, ...]
    trained_from: int
    trained_to: int
    metrics: dict[str, float] = msgspec.field(default_factory=dict)
    created_at: int
    model: bytes

    @property
    def metadata(self) -> ModelMetadata:
        """Everything but the slot and the bytes."""
        return ModelMetadata(
            version=self.version,
            features=self.features,
            trained_from=self.trained_from,
            trained_to=self.trained_to,
            metrics=self.metrics,
            created_at=self.created_at,
        )


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(PublishedModel)


def publish_model(
    log: EventLog,
    slot: ModelSlot | str,
    artifact: bytes,
    metadata: ModelMetadata,
    *,
    now: int | None = None,
    topic: str = MODELS_TOPIC,
) -> PublishedModel:
    """Publish ``artifact`` into ``slot`` (replacing what is there); returns the record."""
    slot = ModelSlot(slot)
    if not metadata.version:
        raise ValueError("a published model needs a version")
    created = metadata.created_at
    published = PublishedModel(
        slot=slot,
        version=metadata.version,
        features=tuple(metadata.features),
        trained_from=metadata.trained_from,
        trained_to=metadata.trained_to,
        metrics=dict(metadata.metrics),
        created_at=created if created is not None else (wall_clock_ms() if now is None else now),
        model=bytes(artifact),
    )
    ensure_compacted_topics(log, topic)
    put(log, topic, [(slot.value.encode(), _encoder.encode(published))])
    return published


def retire_challenger(log: EventLog, *, topic: str = MODELS_TOPIC) -> None:
    """Remove the challenger (a tombstone); the champion is only ever replaced."""
    ensure_compacted_topics(log, topic)
    put(log, topic, [(ModelSlot.CHALLENGER.value.encode(), None)])


def read_models(
    log: EventLog, *, topic: str = MODELS_TOPIC, timeout: float = 30.0
) -> dict[ModelSlot, PublishedModel]:
    """The published models by slot; records that do not decode are left out."""
    ensure_compacted_topics(log, topic)
    found: dict[ModelSlot, PublishedModel] = {}
    for key, value in read_compacted(log, topic, timeout=timeout).items():
        try:
            published = _decode(key, value)
        except Rejected:
            continue
        found[published.slot] = published
    return found


def _decode(key: bytes, value: bytes) -> PublishedModel:
    try:
        published = _decoder.decode(value)
    except msgspec.DecodeError as exc:
        raise Rejected([f"not a published model: {exc}"]) from exc
    if published.slot.value.encode() != key:
        raise Rejected(
            [f"model for {published.slot.value} published under the key {key!r}"],
            version=published.version,
        )
    return published


@dataclass(frozen=True, slots=True)
class ActiveModel(Generic[T]):
    """A validated model in a slot: what ``validate`` made of it, and its metadata."""

    slot: ModelSlot
    model: T
    metadata: ModelMetadata
    loaded_at: int

    @property
    def version(self) -> str:
        return self.metadata.version


class ModelBook(Generic[T]):
    """Follows ``risk.models``; see the module docstring.

    ``validate(artifact, metadata)`` runs on the follower's thread for each new model and
    returns what :meth:`current_champion`/:meth:`current_challenger` hand out; any exception
    rejects the model.
    """

    def __init__(
        self,
        log: EventLog,
        validate: Callable[[bytes, ModelMetadata], T],
        *,
        topic: str = MODELS_TOPIC,
        clock: Clock = wall_clock_ms,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.topic = topic
        self._validate = validate
        self._clock = clock
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._rejected = rejection_counter(
            self.registry,
            "riskstream_models_rejected",
            "Published models that were not applied (the slot kept its previous model).",
            "slot",
        )
        self._rejections = RejectionLog(clock)
        # Each slot is swapped whole; only the follower's thread writes them.
        self._champion: ActiveModel[T] | None = None
        self._challenger: ActiveModel[T] | None = None
        ensure_compacted_topics(log, topic)
        self._follower = CompactedFollower(log, topic, on_change=self._changed)

    def current_champion(self) -> ActiveModel[T] | None:
        """The champion in force, if one was published and validated."""
        return self._champion

    def current_challenger(self) -> ActiveModel[T] | None:
        """The challenger in force, if any."""
        return self._challenger

    @property
    def rejections(self) -> tuple[Rejection, ...]:
        """The latest rejected models, oldest first."""
        return self._rejections.all()

    @property
    def caught_up(self) -> bool:
        return self._follower.caught_up

    def wait_caught_up(self, timeout: float | None = None) -> bool:
        """Wait until everything published before the book started is applied."""
        return self._follower.wait_caught_up(timeout)

    # -- following -----------------------------------------------------------------------

    def _changed(self, batch: ChangeBatch) -> None:
        for slot in ModelSlot:
            load: Callable[[bytes], ActiveModel[T]] = partial(self._load, slot)
            found = newest_valid(batch.changes, slot.value.encode(), load, self._reject)
            if found is None:
                continue
            change, loaded = found
            if loaded is None and slot is ModelSlot.CHAMPION:
                self._reject(change, Rejected(["the champion cannot be removed, only replaced"]))
                continue
            self._install(slot, loaded)

    def _load(self, slot: ModelSlot, value: bytes) -> ActiveModel[T]:
        published = _decode(slot.value.encode(), value)
        metadata = published.metadata
        try:
            model = self._validate(published.model, metadata)
        except Exception as exc:  # validate is the caller's code: any failure rejects
            raise Rejected([f"{type(exc).__name__}: {exc}"], version=published.version) from exc
        return ActiveModel(slot, model, metadata, self._clock())

    def _install(self, slot: ModelSlot, model: ActiveModel[T] | None) -> None:
        if slot is ModelSlot.CHAMPION:
            previous, self._champion = self._champion, model
        else:
            previous, self._challenger = self._challenger, model
        _log.info(
            "model %s: %s -> %s",
            slot.value,
            previous.version if previous is not None else "none",
            model.version if model is not None else "none",
        )

    def _reject(self, change: Change, rejected: Rejected) -> None:
        self._rejected.labels(change.key.decode(errors="replace")).inc()
        self._rejections.record(self.topic, change, rejected)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Stop following (the current models stay readable)."""
        self._follower.close()

    def __enter__(self) -> ModelBook[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Training a fraud model from the log: replay, label, train, evaluate, publish.

::

    run = train_model(log, train_from=t0, train_until=t1, eval_until=t2,
                      label_maturity_ms=30 * DAY_MS, created_at=now_ms)
    run.evaluation.roc_auc, run.artifact.version
    publish_trained(log, "challenger", run.artifact, engine)   # ModelFeatureMismatch if stale

The features come from replaying history through the fraud topology
(:func:`~riskstream.services.replay.replay_records`), so the model learns from exactly the
values the workers will score it with: no offline twin of the feature code. Everything
before ``train_from`` only warms the profiles up. Each label is carried to the rest of its
incident (:func:`~riskstream.fraud.model.propagate_labels`: the same device in the same
country within ``incident_window_ms``), for training and evaluation alike. The split and
what counts as a label at which time are :mod:`riskstream.fraud.model`'s (labels known at
``train_until`` for training, every label for the evaluation). The same log gives the same
rows in the same order, hence the same model version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from riskstream.events import ACTIVITY_TOPICS
from riskstream.fraud.decision import Decision
from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.model import (
    DEFAULT_ALERTS_PER_DAY,
    DEFAULT_INCIDENT_WINDOW_MS,
    Evaluation,
    FeatureValue,
    LabeledCheckout,
    ModelArtifact,
    ParamValue,
    propagate_labels,
    train_and_evaluate,
)
from riskstream.fraud.policy import ActivePolicy, StaticPolicy
from riskstream.fraud.rules import RuleSet
from riskstream.log.port import EventLog
from riskstream.services.history import read_history
from riskstream.services.labels import Labels, read_labels
from riskstream.services.models_registry import (
    MODELS_TOPIC,
    ModelMetadata,
    ModelSlot,
    PublishedModel,
    publish_model,
)
from riskstream.services.replay import ReplayStats, replay_records

__all__ = [
    "ReplayProgress",
    "TrainingRun",
    "check_periods",
    "labeled_rows",
    "model_metadata",
    "publish_trained",
    "train_model",
]

ReplayProgress = Callable[[int, int], None]
"""``(records replayed, records in total)``, called every few thousand records."""


@dataclass(frozen=True, slots=True)
class TrainingRun:
    """A trained model, its evaluation and what it was made from.

    ``checkouts`` were replayed in ``[train_from, eval_until)``; ``labels`` are every label
    on the log (the split decides which ones training may see).
    """

    artifact: ModelArtifact
    evaluation: Evaluation
    checkouts: int
    labels: Labels
    replay: ReplayStats


def labeled_rows(
    decisions: Iterable[Decision],
    label_times: Mapping[str, int],
    *,
    incident_window_ms: int | None = None,
) -> list[LabeledCheckout]:
    """One row per decided checkout: the features it was decided with and its label time
    (with ``incident_window_ms``, each label also reaches the rest of its incident)."""
    rows = []
    for decision in decisions:
        features: dict[str, FeatureValue] = decision.features
        rows.append(
            LabeledCheckout(
                transaction_id=decision.transaction_id,
                user_id=decision.user_id,
                event_time=decision.checkout_time,
                amount=decision.amount,
                features=features,
                label_time=label_times.get(decision.transaction_id),
            )
        )
    if incident_window_ms is None:
        return rows
    return propagate_labels(rows, window_ms=incident_window_ms)


def check_periods(
    train_from: int, train_until: int, eval_until: int | None, label_maturity_ms: int
) -> None:
    """``ValueError`` unless training has a span and the evaluation follows it."""
    if label_maturity_ms < 0:
        raise ValueError(f"the label maturity must not be negative, got {label_maturity_ms}")
    if train_until - label_maturity_ms <= train_from:
        raise ValueError(
            "the training period is empty: --from must be before --until minus the label maturity"
        )
    if eval_until is not None and eval_until <= train_until:
        raise ValueError("--eval-until must be after --until")


def train_model(
    log: EventLog,
    *,
    train_from: int,
    train_until: int,
    eval_until: int | None,
    label_maturity_ms: int,
    created_at: int,
    alerts_per_day: int = DEFAULT_ALERTS_PER_DAY,
    engine: FeatureEngine | None = None,
    params: Mapping[str, ParamValue] | None = None,
    seed: int = 0,
    progress: ReplayProgress | None = None,
    incident_window_ms: int | None = DEFAULT_INCIDENT_WINDOW_MS,
) -> TrainingRun:
    """Train on ``[train_from, train_until - label_maturity_ms)`` with the labels known at
    ``train_until`` and evaluate on ``[train_until, eval_until)`` with every label, each
    label carried to its incident within ``incident_window_ms`` (``None``: as labelled).

    Raises ``ValueError`` for periods out of order and
    :class:`~riskstream.fraud.model.TrainingError` when the training period lacks fraud or
    legitimate checkouts.
    """
    check_periods(train_from, train_until, eval_until, label_maturity_ms)
    engine = engine or FeatureEngine()
    present = set(log.admin.list_topics())
    records = read_history(log, [topic for topic in ACTIVITY_TOPICS if topic in present])
    labels = read_labels(log)
    # The features do not depend on the rules: replay without any, it is only slower with.
    policy = StaticPolicy(ActivePolicy(RuleSet.empty()))
    stats = ReplayStats()
    decisions = replay_records(
        records,
        engine=engine,
        policy=policy,
        namespace="riskstream-train",
        start_ms=train_from,
        end_ms=eval_until,
        stats=stats,
        progress=None if progress is None else (lambda done: progress(done, len(records))),
    )
    rows = labeled_rows(decisions, labels.times, incident_window_ms=incident_window_ms)
    if progress is not None:
        progress(len(records), len(records))
    artifact, evaluation = train_and_evaluate(
        rows,
        train_from=train_from,
        train_until=train_until,
        eval_until=eval_until,
        label_maturity_ms=label_maturity_ms,
        alerts_per_day=alerts_per_day,
        created_at=created_at,
        params=params,
        seed=seed,
        catalogue=engine.catalogue,
    )
    return TrainingRun(artifact, evaluation, len(rows), labels, stats)


def model_metadata(artifact: ModelArtifact) -> ModelMetadata:
    """What the registry keeps beside the bytes (undefined metrics are left out)."""
    metrics = {
        name: float(value) for name, value in sorted(artifact.metrics.items()) if value is not None
    }
    return ModelMetadata(
        version=artifact.version,
        features=artifact.feature_names,
        trained_from=artifact.trained_from if artifact.trained_from is not None else 0,
        trained_to=artifact.trained_to,
        metrics=metrics,
        created_at=artifact.created_at,
    )


def publish_trained(
    log: EventLog,
    slot: ModelSlot | str,
    artifact: ModelArtifact,
    engine: FeatureEngine | None = None,
    *,
    topic: str = MODELS_TOPIC,
) -> PublishedModel:
    """Publish ``artifact`` into ``slot`` of the models ``topic`` after checking it against
    the engine's features: :class:`~riskstream.fraud.model.ModelFeatureMismatch` (nothing
    published) names what the engine lacks."""
    artifact.check_features((engine or FeatureEngine()).feature_names)
    return publish_model(log, slot, artifact.to_bytes(), model_metadata(artifact), topic=topic)

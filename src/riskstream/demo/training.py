"""Training the demo's model on the history the engine has just decided, and publishing it.

``riskstream train`` replays the log through the fraud topology to get each checkout's
features. Here the running engine has just decided the whole history, and every decision
record carries the feature values it was decided with - computed by the same code, point in
time - so the demo reads them back from the decisions topic instead of computing them a
second time: rows are :func:`~riskstream.services.training.labeled_rows` of those decisions
with the labels on the log (chargebacks, fraud reports), and the fit is
:func:`~riskstream.fraud.model.train_and_evaluate`'s. The model is then checked against the
engine's features and published as champion on the run's models topic, where the worker
picks it up without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from riskstream.fraud.decision import Decision
from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.model import (
    DEFAULT_INCIDENT_WINDOW_MS,
    Evaluation,
    ModelArtifact,
    train_and_evaluate,
)
from riskstream.log.port import EventLog
from riskstream.services.backtest import read_production
from riskstream.services.labels import read_labels
from riskstream.services.models_registry import ModelSlot
from riskstream.services.training import labeled_rows, publish_trained
from riskstream.sim.population import DAY_MS

from .namespace import Namespace

__all__ = ["TrainedModel", "read_decisions", "train_on_history"]


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """The champion a run trained: what it learned from, and on which period."""

    artifact: ModelArtifact
    evaluation: Evaluation
    decisions: int  # history decisions read back
    labels: int  # transactions labelled fraud on the log
    train_from: int
    train_until: int
    label_maturity_ms: int

    @property
    def version(self) -> str:
        return self.artifact.version


def read_decisions(log: EventLog, namespace: Namespace) -> list[Decision]:
    """Every decision on the run's decisions topic (the engine wrote them all: a record
    that does not decode is a fault, not input to skip)."""
    found = read_production(log, topic=namespace.decisions)
    if found is None:
        return []
    decisions, undecodable = found
    if undecodable:
        raise ValueError(f"{undecodable} records of {namespace.decisions} do not decode")
    return decisions


def train_on_history(
    log: EventLog,
    namespace: Namespace,
    *,
    history_start: int,
    history_end: int,
    engine: FeatureEngine,
    created_at: int,
    seed: int = 0,
) -> TrainedModel:
    """Train on the history's decisions with the labels known at its end, and publish the
    model as champion (:class:`~riskstream.fraud.model.TrainingError` when the period
    lacks fraud or legitimate checkouts; ``ModelFeatureMismatch`` if the engine cannot
    serve it). The first sixth of the history only warms the profiles up; the last
    checkouts, whose labels are mostly still due, are left out (the label maturity: a
    third of the history, at most a week)."""
    span = history_end - history_start
    train_from = history_start + span // 6
    maturity = min(7 * DAY_MS, span // 3)
    decisions = read_decisions(log, namespace)
    labels = read_labels(log, topic=namespace.labels)
    # Labels spread to their incident, as `riskstream train` trains.
    rows = labeled_rows(decisions, labels.times, incident_window_ms=DEFAULT_INCIDENT_WINDOW_MS)
    artifact, evaluation = train_and_evaluate(
        rows,
        train_from=train_from,
        train_until=history_end,
        eval_until=None,
        label_maturity_ms=maturity,
        created_at=created_at,
        seed=seed,
        catalogue=engine.catalogue,
    )
    publish_trained(log, ModelSlot.CHAMPION, artifact, engine, topic=namespace.models)
    return TrainedModel(
        artifact=artifact,
        evaluation=evaluation,
        decisions=len(decisions),
        labels=len(labels),
        train_from=train_from,
        train_until=history_end,
        label_maturity_ms=maturity,
    )

"""What ``riskstream train`` runs once the feature replay has produced labeled checkouts:
train on one period, evaluate on the next, and render the result."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from riskstream.fraud.model.artifact import ModelArtifact
from riskstream.fraud.model.dataset import Dataset, LabeledCheckout
from riskstream.fraud.model.evaluate import DEFAULT_ALERTS_PER_DAY, Evaluation, evaluate
from riskstream.fraud.model.train import ParamValue, fit
from riskstream.fraud.rules.catalogue import ValueType
from riskstream.fraud.rules.expected import EXPECTED_FEATURES

__all__ = ["render_evaluation", "train_and_evaluate"]


def train_and_evaluate(
    rows: Iterable[LabeledCheckout],
    *,
    train_from: int | None,
    train_until: int,
    eval_until: int | None,
    label_maturity_ms: int,
    alerts_per_day: int = DEFAULT_ALERTS_PER_DAY,
    created_at: int,
    params: Mapping[str, ParamValue] | None = None,
    seed: int = 0,
    catalogue: Mapping[str, ValueType] = EXPECTED_FEATURES,
) -> tuple[ModelArtifact, Evaluation]:
    """Train on ``[train_from, train_until - label_maturity_ms)`` with the labels known at
    ``train_until``, evaluate on ``[train_until, eval_until)`` with every label, and return
    the artifact (its metrics are the evaluation's) and the evaluation. The model reads
    every non-id feature of ``catalogue`` (the feature engine's, declared ones included)."""
    split = Dataset(rows).split(
        train_until, label_maturity_ms, train_from=train_from, eval_until=eval_until
    )
    model = fit(
        split.train,
        train_until=train_until,
        label_maturity_ms=label_maturity_ms,
        params=params,
        seed=seed,
        catalogue=catalogue,
    )
    evaluation = evaluate(model, split.evaluation, alerts_per_day=alerts_per_day)
    artifact = ModelArtifact.from_model(
        model, created_at=created_at, metrics=evaluation.as_metrics()
    )
    return artifact, evaluation


def _day(ms: int | None) -> str:
    if ms is None:
        return "…"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")


def _ratio(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def render_evaluation(evaluation: Evaluation) -> str:
    """A plain two-column table of the evaluation."""
    e = evaluation
    k = e.alerts_per_day
    rows = [
        ("period", f"{_day(e.period_start)} .. {_day(e.period_end)} UTC ({e.days} days)"),
        ("checkouts", f"{e.checkouts:,}"),
        ("frauds", f"{e.frauds:,} ({_share(e.fraud_rate)})"),
        ("ROC AUC", _ratio(e.roc_auc)),
        ("average precision", _ratio(e.average_precision)),
        ("alerts", f"{e.alerts:,} ({k:,} a day)"),
        (f"precision at {k}/day", f"{_ratio(e.precision_at_k)} ({e.frauds_caught:,} frauds)"),
        (f"recall at {k}/day", _ratio(e.recall_at_k)),
        (
            "fraud amount caught",
            f"{e.fraud_amount_caught:,.2f} of {e.fraud_amount:,.2f} "
            f"({_share(e.fraud_amount_share)})",
        ),
        ("legit checkouts flagged", f"{e.legit_flagged:,}"),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)

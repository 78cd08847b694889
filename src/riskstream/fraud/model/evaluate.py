"""Evaluating a model on a later period, the way it would have worked in production.

::

    evaluation = evaluate(model, split.evaluation, alerts_per_day=50)
    evaluation.roc_auc, evaluation.precision_at_k, evaluation.fraud_amount_share

Besides the ranking metrics (ROC AUC, average precision), the figures that matter to a fraud
team are those of its alert budget: if analysts review ``k`` checkouts a day, the ``k``
highest-scored checkouts of each day, how many of those are fraud (precision), how much of
the period's fraud amount they catch, and how many legitimate customers they bother.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from riskstream.fraud.model.dataset import DAY_MS, LabeledCheckout, LabeledRows, label_at
from riskstream.fraud.model.metrics import average_precision, roc_auc, top_k_per_day

__all__ = ["DEFAULT_ALERTS_PER_DAY", "Evaluation", "Predictor", "evaluate"]

DEFAULT_ALERTS_PER_DAY = 100


class Predictor(Protocol):
    """Anything that gives fraud probabilities for feature dicts (a trained model, a scorer)."""

    def predict(self, feature_dicts: Sequence[Mapping[str, object]]) -> npt.NDArray[np.float64]: ...


class Evaluation(msgspec.Struct, frozen=True, kw_only=True):
    """How a model ranked one period's checkouts.

    ``period_start``/``period_end`` bound the period (``None``: open); ``days`` counts the
    UTC days with checkouts. The ``*_at_k`` figures and ``alerts``/``frauds_caught``/
    ``legit_flagged`` are those of the ``alerts_per_day`` highest scores of each day.
    Ratios are ``None`` when undefined (no fraud, no alert).
    """

    period_start: int | None
    period_end: int | None
    checkouts: int
    frauds: int
    days: int
    roc_auc: float | None
    average_precision: float | None
    alerts_per_day: int
    alerts: int
    frauds_caught: int
    legit_flagged: int
    precision_at_k: float | None
    recall_at_k: float | None
    fraud_amount: float
    fraud_amount_caught: float
    fraud_amount_share: float | None

    @property
    def fraud_rate(self) -> float | None:
        return self.frauds / self.checkouts if self.checkouts else None

    def as_metrics(self) -> dict[str, float | int | None]:
        """The figures as a flat mapping (for a model artifact or a JSON summary)."""
        return {f: getattr(self, f) for f in self.__struct_fields__}


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def evaluate(
    model: Predictor,
    rows: LabeledRows | Iterable[LabeledCheckout],
    *,
    alerts_per_day: int = DEFAULT_ALERTS_PER_DAY,
    labels_as_of: int | None = None,
) -> Evaluation:
    """Score ``rows`` with ``model`` and measure the ranking against their labels.

    ``rows`` as :class:`LabeledRows` (e.g. ``split.evaluation``) keep their labels; any
    other iterable is labeled as of ``labels_as_of`` (``None``: every label known).
    """
    if isinstance(rows, LabeledRows):
        period, labels = rows.rows, rows.labels
        start, end = rows.start, rows.end
    else:
        period = tuple(rows)
        labels = np.fromiter((label_at(r, labels_as_of) for r in period), np.bool_, len(period))
        start = end = None
    n = len(period)
    times = np.fromiter((r.event_time for r in period), np.int64, n)
    amounts = np.fromiter((r.amount for r in period), np.float64, n)
    scores = model.predict([r.features for r in period]) if n else np.zeros(0, dtype=np.float64)
    alerted = top_k_per_day(scores, times, alerts_per_day)
    caught = alerted & labels
    frauds = int(labels.sum())
    fraud_amount = float(amounts[labels].sum())
    caught_amount = float(amounts[caught].sum())
    return Evaluation(
        period_start=start,
        period_end=end,
        checkouts=n,
        frauds=frauds,
        days=len(np.unique(times // DAY_MS)),
        roc_auc=roc_auc(scores, labels),
        average_precision=average_precision(scores, labels),
        alerts_per_day=alerts_per_day,
        alerts=int(alerted.sum()),
        frauds_caught=int(caught.sum()),
        legit_flagged=int((alerted & ~labels).sum()),
        precision_at_k=_ratio(int(caught.sum()), int(alerted.sum())),
        recall_at_k=_ratio(int(caught.sum()), frauds),
        fraud_amount=fraud_amount,
        fraud_amount_caught=caught_amount,
        fraud_amount_share=_ratio(caught_amount, fraud_amount),
    )

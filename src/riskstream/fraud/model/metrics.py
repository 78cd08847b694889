"""Ranking metrics in NumPy: ROC AUC, average precision, and the daily alert budget.

Scores only need an order; ties are handled the way the usual definitions handle them (the
AUC counts a tied fraud/legit pair as half; average precision steps only between distinct
scores). A metric that is undefined for the input (one class only) is ``None``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from riskstream.fraud.model.dataset import DAY_MS

__all__ = ["average_precision", "roc_auc", "top_k_per_day"]

Scores = npt.NDArray[np.float64]
Labels = npt.NDArray[np.bool_]


def _average_ranks(scores: Scores) -> npt.NDArray[np.float64]:
    """1-based ranks of ``scores`` ascending, tied scores sharing their mean rank."""
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    # start of each run of equal scores, and its length
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    lengths = np.diff(np.r_[starts, len(scores)])
    mean_rank = starts + (lengths + 1) / 2.0
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, lengths)
    return ranks


def roc_auc(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float | None:
    """Probability that a random fraud outscores a random legitimate row (ties count half)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.bool_)
    positives = int(y.sum())
    negatives = len(y) - positives
    if not positives or not negatives:
        return None
    rank_sum = float(_average_ranks(s)[y].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def average_precision(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float | None:
    """Sum over the distinct score thresholds, highest first, of precision at the threshold
    times the recall it adds (the area under the step precision-recall curve)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.bool_)
    positives = int(y.sum())
    if not positives:
        return None
    order = np.argsort(-s, kind="stable")
    ordered = s[order]
    true_pos = np.cumsum(y[order])
    # the last row of each run of equal scores: a threshold takes the whole run
    ends = np.flatnonzero(np.r_[ordered[1:] != ordered[:-1], True])
    tp = true_pos[ends].astype(np.float64)
    precision = tp / (ends + 1)
    recall_gain = np.diff(np.r_[0.0, tp]) / positives
    return float(np.sum(precision * recall_gain))


def top_k_per_day(
    scores: npt.ArrayLike, event_times: npt.ArrayLike, k: int, *, day_ms: int = DAY_MS
) -> npt.NDArray[np.bool_]:
    """The rows an analyst team with ``k`` alerts a day would see: each (UTC) day's ``k``
    highest scores. Equal scores go to the earlier row, so the choice is deterministic."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    s = np.asarray(scores, dtype=np.float64)
    days = np.asarray(event_times, dtype=np.int64) // day_ms
    n = len(s)
    if not n:
        return np.zeros(0, dtype=np.bool_)
    order = np.lexsort((np.arange(n), -s, days))
    ordered_days = days[order]
    starts = np.flatnonzero(np.r_[True, ordered_days[1:] != ordered_days[:-1]])
    rank_in_day = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    alerted = np.zeros(n, dtype=np.bool_)
    alerted[order[rank_in_day < k]] = True
    return alerted

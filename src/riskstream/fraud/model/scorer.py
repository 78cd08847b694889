"""Scoring checkouts in batches, with the features that drove each score.

::

    scorer = Scorer(artifact, explain_above=0.05)
    for score in scorer.score_batch(feature_dicts):
        score.probability, score.top_contributions   # ((feature, contribution, value), ...)

A batch is encoded into one matrix and scored in one LightGBM call. Contributions are
LightGBM's ``pred_contrib`` (TreeSHAP): per feature, how much it moved the row's log-odds
away from the model's average; with the bias they add up to the row's log-odds. They cost
far more than the score (see ``benchmarks/model.py``), so they are computed - in a second
batch call - only for the rows whose probability reaches ``explain_above``; the other rows
get no contributions. ``contributions=False`` skips them for a whole batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import msgspec
import numpy as np
import numpy.typing as npt

from riskstream.fraud.model.artifact import ModelArtifact
from riskstream.fraud.model.dataset import FeatureValue
from riskstream.fraud.model.train import sigmoid

__all__ = ["Contribution", "Score", "Scorer"]


class Contribution(NamedTuple):
    """One feature's push on a score: log-odds added (positive: towards fraud), and the
    feature's value as the engine gave it."""

    feature: str
    contribution: float
    value: FeatureValue


class Score(msgspec.Struct, frozen=True):
    """A checkout's fraud probability, its log-odds, the model that gave it and - when it
    was explained - its strongest contributions, largest ``|contribution|`` first."""

    probability: float
    log_odds: float
    model_version: str
    top_contributions: tuple[Contribution, ...] = ()


class Scorer:
    """Scores feature dicts with one model artifact (check its features first:
    :meth:`ModelArtifact.check_features`)."""

    __slots__ = ("_artifact", "_booster", "_encoder", "_explain_above", "_offset", "_top")

    def __init__(
        self, artifact: ModelArtifact, *, explain_above: float = 0.0, top: int = 3
    ) -> None:
        if top < 0:
            raise ValueError(f"top must be >= 0, got {top}")
        self._artifact = artifact
        self._booster = artifact.booster()
        self._encoder = artifact.encoder()
        self._offset = -math.log(artifact.pos_weight)
        self._explain_above = explain_above
        self._top = top

    @property
    def artifact(self) -> ModelArtifact:
        return self._artifact

    @property
    def version(self) -> str:
        return self._artifact.version

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self._encoder.names

    def encode(self, feature_dicts: Sequence[Mapping[str, object]]) -> npt.NDArray[np.float64]:
        return self._encoder.encode(feature_dicts)

    def log_odds(self, matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Fraud log-odds of encoded rows."""
        raw = self._booster.predict(matrix, raw_score=True, num_threads=1)
        return np.asarray(raw, dtype=np.float64) + self._offset

    def predict(self, feature_dicts: Sequence[Mapping[str, object]]) -> npt.NDArray[np.float64]:
        """Fraud probabilities, without contributions."""
        if not feature_dicts:
            return np.zeros(0, dtype=np.float64)
        return sigmoid(self.log_odds(self.encode(feature_dicts)))

    def contributions(self, matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Per encoded row, each feature's contribution to the log-odds and, in the last
        column, the bias; a row's sum is its log-odds."""
        contrib = self._booster.predict(matrix, pred_contrib=True, num_threads=1)
        out = np.asarray(contrib, dtype=np.float64).reshape(len(matrix), len(self._encoder) + 1)
        out[:, -1] += self._offset
        return out

    def score_batch(
        self, feature_dicts: Sequence[Mapping[str, object]], *, contributions: bool = True
    ) -> list[Score]:
        """One :class:`Score` per feature dict, in order."""
        if not feature_dicts:
            return []
        matrix = self.encode(feature_dicts)
        log_odds = self.log_odds(matrix)
        probabilities = sigmoid(log_odds)
        tops: dict[int, tuple[Contribution, ...]] = {}
        if contributions and self._top:
            explained = np.flatnonzero(probabilities >= self._explain_above)
            if len(explained):
                tops = self._explain(feature_dicts, matrix, explained)
        version = self._artifact.version
        return [
            Score(p, x, version, tops.get(i, ()))
            for i, (p, x) in enumerate(zip(probabilities.tolist(), log_odds.tolist(), strict=True))
        ]

    def _explain(
        self,
        feature_dicts: Sequence[Mapping[str, object]],
        matrix: npt.NDArray[np.float64],
        rows: npt.NDArray[np.intp],
    ) -> dict[int, tuple[Contribution, ...]]:
        contrib = self.contributions(matrix[rows])[:, :-1]
        top = min(self._top, contrib.shape[1])
        # the top columns by |contribution|, largest first (ties: the earlier feature)
        order = np.argsort(-np.abs(contrib), axis=1, kind="stable")[:, :top]
        picked = np.take_along_axis(contrib, order, axis=1)
        names = self._encoder.names
        tops = {}
        for i, columns, values in zip(rows.tolist(), order.tolist(), picked.tolist(), strict=True):
            get = feature_dicts[i].get
            tops[i] = tuple(
                Contribution(names[j], c, get(names[j]))
                for j, c in zip(columns, values, strict=True)
                if c != 0.0
            )
        return tops

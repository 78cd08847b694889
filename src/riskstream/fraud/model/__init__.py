"""The fraud model: training a gradient-boosted model on labeled checkouts, evaluating it
on a later period, a versioned artifact, and a batch scorer that explains its scores.

::

    from riskstream.fraud.model import DAY_MS, ModelArtifact, Scorer, train_and_evaluate

    artifact, evaluation = train_and_evaluate(
        rows, train_from=None, train_until=t, eval_until=None,
        label_maturity_ms=30 * DAY_MS, alerts_per_day=100, created_at=now_ms,
    )
    data = artifact.to_bytes()

    artifact = ModelArtifact.from_bytes(data)
    artifact.check_features(engine_feature_names)      # ModelFeatureMismatch if it lacks any
    scorer = Scorer(artifact, explain_above=0.05)
    scores = scorer.score_batch(feature_dicts)         # probability, top 3 contributions

Rows (:class:`LabeledCheckout`) carry each checkout's features as of its event time and
when its first fraud label arrived; training at ``train_until`` sees only the labels that
had arrived by then and leaves out the checkouts of the last ``label_maturity_ms``
(:mod:`.dataset`). The model reads the non-id features of the feature catalogue
(:mod:`.encoding`). Like the rest of :mod:`riskstream.fraud`, nothing here does I/O or
reads a clock: artifacts are bytes, times are passed in.
"""

from riskstream.fraud.model.artifact import ARTIFACT_FORMAT, MetricValue, ModelArtifact
from riskstream.fraud.model.cli_support import render_evaluation, train_and_evaluate
from riskstream.fraud.model.dataset import (
    DAY_MS,
    DEFAULT_INCIDENT_KEYS,
    DEFAULT_INCIDENT_WINDOW_MS,
    Dataset,
    FeatureValue,
    LabeledCheckout,
    LabeledRows,
    Split,
    first_label_times,
    label_at,
    labeled_checkout,
    propagate_labels,
)
from riskstream.fraud.model.encoding import (
    ID_FEATURES,
    EncodedFeature,
    FeatureEncoder,
    FeatureKind,
    model_features,
)
from riskstream.fraud.model.errors import (
    ArtifactError,
    FeatureValueError,
    ModelError,
    ModelFeatureMismatch,
    TrainingError,
)
from riskstream.fraud.model.evaluate import (
    DEFAULT_ALERTS_PER_DAY,
    Evaluation,
    Predictor,
    evaluate,
)
from riskstream.fraud.model.metrics import average_precision, roc_auc, top_k_per_day
from riskstream.fraud.model.scorer import Contribution, Score, Scorer
from riskstream.fraud.model.train import DEFAULT_PARAMS, ParamValue, TrainedModel, fit, train

__all__ = [
    "ARTIFACT_FORMAT",
    "DAY_MS",
    "DEFAULT_ALERTS_PER_DAY",
    "DEFAULT_INCIDENT_KEYS",
    "DEFAULT_INCIDENT_WINDOW_MS",
    "DEFAULT_PARAMS",
    "ID_FEATURES",
    "ArtifactError",
    "Contribution",
    "Dataset",
    "EncodedFeature",
    "Evaluation",
    "FeatureEncoder",
    "FeatureKind",
    "FeatureValue",
    "FeatureValueError",
    "LabeledCheckout",
    "LabeledRows",
    "MetricValue",
    "ModelArtifact",
    "ModelError",
    "ModelFeatureMismatch",
    "ParamValue",
    "Predictor",
    "Score",
    "Scorer",
    "Split",
    "TrainedModel",
    "TrainingError",
    "average_precision",
    "evaluate",
    "first_label_times",
    "fit",
    "label_at",
    "labeled_checkout",
    "model_features",
    "propagate_labels",
    "render_evaluation",
    "roc_auc",
    "top_k_per_day",
    "train",
    "train_and_evaluate",
]

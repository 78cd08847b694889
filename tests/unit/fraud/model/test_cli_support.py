"""Train, evaluate and render: what ``riskstream train`` runs."""

from __future__ import annotations

from riskstream.fraud.model import (
    DAY_MS,
    LabeledCheckout,
    ModelArtifact,
    render_evaluation,
    train_and_evaluate,
)
from tests.unit.fraud.model.conftest import CREATED_AT, MATURITY, TRAIN_UNTIL
from tests.unit.fraud.model.synthetic import FAST_PARAMS, T0


def test_train_and_evaluate(rows: list[LabeledCheckout]) -> None:
    eval_until = TRAIN_UNTIL + 7 * DAY_MS
    artifact, evaluation = train_and_evaluate(
        rows,
        train_from=T0 + DAY_MS,
        train_until=TRAIN_UNTIL,
        eval_until=eval_until,
        label_maturity_ms=MATURITY,
        alerts_per_day=10,
        created_at=CREATED_AT,
        params=FAST_PARAMS,
    )
    assert artifact.trained_from == T0 + DAY_MS
    assert artifact.trained_to == TRAIN_UNTIL
    assert artifact.metrics == evaluation.as_metrics()
    assert (evaluation.period_start, evaluation.period_end) == (TRAIN_UNTIL, eval_until)
    assert evaluation.days == 7
    assert evaluation.checkouts == sum(1 for r in rows if TRAIN_UNTIL <= r.event_time < eval_until)
    assert evaluation.alerts == 70
    assert evaluation.roc_auc is not None and evaluation.roc_auc > 0.8
    assert ModelArtifact.from_bytes(artifact.to_bytes()) == artifact

    table = render_evaluation(evaluation)
    lines = table.splitlines()
    assert lines[0].startswith("period ") and "(7 days)" in lines[0]
    assert "2023-12-05 00:00 .. 2023-12-12 00:00 UTC" in lines[0]
    assert any(line.startswith("ROC AUC") and f"{evaluation.roc_auc:.4f}" in line for line in lines)
    assert any(line.startswith("precision at 10/day") for line in lines)
    assert any(line.startswith("legit checkouts flagged") for line in lines)

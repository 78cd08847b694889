"""Models change under a running `riskstream worker`: a champion published while it runs
starts scoring checkouts, a challenger scores beside it without deciding, and a model whose
features the engine cannot serve is refused at load - the champion stays."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from riskstream.events import ACTIVITY_TOPICS, DEFAULT_PARTITIONS
from riskstream.fraud.decision import Decision
from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.features.spec import FeatureSpecs, default_features
from riskstream.fraud.model import DAY_MS, ModelArtifact
from riskstream.fraud.policy import Thresholds
from riskstream.log import TopicSpec, open_log
from riskstream.services.models_registry import publish_model
from riskstream.services.training import model_metadata, publish_trained, train_model
from riskstream.sim import DEFAULT_START_MS, LabelPolicy, SimConfig, SimWriter, TrafficSimulator
from tests.integration.test_hot_reload import Shop, _worker

DAYS = 5
EXTRA = "\nfeature user.checkouts_2h = count of checkout per user over 2h\n"


def _train(log_dir: Path, *, seed: int, engine: FeatureEngine | None = None) -> ModelArtifact:
    log = open_log(f"embedded:{log_dir}")
    try:
        return train_model(
            log,
            train_from=DEFAULT_START_MS + DAY_MS,
            train_until=DEFAULT_START_MS + 4 * DAY_MS,
            eval_until=DEFAULT_START_MS + DAYS * DAY_MS,
            label_maturity_ms=DAY_MS // 2,
            created_at=0,
            engine=engine,
            params={"num_iterations": 20 + seed},
            seed=seed,
        ).artifact
    finally:
        log.close()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    log_dir = tmp_path_factory.mktemp("history") / "log"
    config = SimConfig(
        seed=5,
        users=800,
        fraud_rate=0.15,
        labels=LabelPolicy(fraction=0.9, median_days=0.3, min_days=0.1, max_days=1.0),
    )
    log = open_log(f"embedded:{log_dir}")
    try:
        with SimWriter(log, partitions=2) as writer:
            writer.write(TrafficSimulator(config).events(until_ms=DEFAULT_START_MS + DAYS * DAY_MS))
    finally:
        log.close()
    return log_dir


def _until(shop: Shop, accept: object, timeout: float = 60.0) -> Decision:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        decision = shop.decide(1)
        if accept(decision):  # type: ignore[operator]
            return decision
    raise AssertionError("the worker never switched models")


@pytest.mark.slow
def test_models_hot_reload_on_a_running_worker(history: Path, tmp_path: Path) -> None:
    champion = _train(history, seed=0)
    challenger = _train(history, seed=1)
    wider_engine = FeatureEngine(FeatureSpecs.from_text(default_features_text() + EXTRA))
    unservable = _train(history, seed=2, engine=wider_engine)
    assert "user.checkouts_2h" in unservable.feature_names
    assert len({champion.version, challenger.version, unservable.version}) == 3

    log_dir = tmp_path / "log"
    log = open_log(f"embedded:{log_dir}")
    log.admin.create_topics(
        [TopicSpec(name=t, partitions=DEFAULT_PARTITIONS) for t in ACTIVITY_TOPICS]
    )
    worker = _worker(log_dir, tmp_path / "state")
    shop = Shop(log)
    weight = Thresholds().model_weight
    try:
        assert shop.decide(1).model is None
        publish_trained(log, "champion", champion)
        scored = _until(shop, lambda d: d.model is not None)
        assert scored.model is not None and scored.model.version == champion.version
        assert 0.0 <= scored.model.probability <= 1.0
        assert scored.score == pytest.approx(
            scored.rule_score + weight * scored.model.probability, abs=1e-3
        )
        assert scored.challenger is None

        publish_trained(log, "challenger", challenger)
        both = _until(shop, lambda d: d.challenger is not None)
        assert both.challenger is not None and both.challenger.version == challenger.version
        assert both.model is not None and both.model.version == champion.version
        # The challenger is recorded, never counted.
        assert both.score == pytest.approx(
            both.rule_score + weight * both.model.probability, abs=1e-3
        )

        # Published behind the CLI's check: the worker refuses it at load.
        publish_model(log, "champion", unservable.to_bytes(), model_metadata(unservable))
        time.sleep(2)
        after = shop.decide(1)
        assert after.model is not None and after.model.version == champion.version
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()
    assert worker.returncode == 0


def default_features_text() -> str:
    specs = default_features()
    return "\n".join(f"feature {spec.name} = {spec.expression}" for spec in specs.specs)

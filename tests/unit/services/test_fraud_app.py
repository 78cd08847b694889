"""The published policy a worker decides with, followed on the topics it is given: an
isolated run's prefixed rules, lists and models, while the standard topics stay untouched."""

from __future__ import annotations

from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.model import DAY_MS, ModelArtifact, train
from riskstream.fraud.rules import ListKind, RuleSet, default_rule_set
from riskstream.log import open_log
from riskstream.services.fraud_app import PublishedPolicy
from riskstream.services.lists import LISTS_TOPIC, ListName, add_list_entry
from riskstream.services.models_registry import MODELS_TOPIC, ModelSlot, publish_model
from riskstream.services.rules_topic import RULES_TOPIC, publish_rules
from riskstream.services.training import model_metadata
from tests.unit.fraud.model.synthetic import FAST_PARAMS, T0, checkouts

PREFIX = "run-1."
RULES = """
rule run.huge_amount
  version 1
  when checkout.amount >= 5000
  score 90
  action block
"""


def _artifact() -> ModelArtifact:
    model = train(
        checkouts(2_000, days=20, seed=3),
        train_until=T0 + 20 * DAY_MS,
        label_maturity_ms=2 * DAY_MS,
        params=FAST_PARAMS,
    )
    return ModelArtifact.from_model(model, created_at=T0 + 21 * DAY_MS)


def test_a_policy_follows_the_topics_it_is_given() -> None:
    log = open_log("memory:")
    engine = FeatureEngine()
    rules = RuleSet.from_text(RULES, engine.catalogue, name="run.rules")
    publish_rules(log, rules, topic=PREFIX + RULES_TOPIC)
    add_list_entry(log, ListName.BLOCKLIST, ListKind.DEVICE, "d-stolen", topic=PREFIX + LISTS_TOPIC)
    artifact = _artifact()
    publish_model(
        log,
        ModelSlot.CHAMPION,
        artifact.to_bytes(),
        model_metadata(artifact),
        topic=PREFIX + MODELS_TOPIC,
    )
    named = PublishedPolicy(
        log,
        engine,
        rules_topic=PREFIX + RULES_TOPIC,
        lists_topic=PREFIX + LISTS_TOPIC,
        models_topic=PREFIX + MODELS_TOPIC,
    )
    standard = PublishedPolicy(log, engine)
    try:
        assert named.wait_caught_up(30) and standard.wait_caught_up(30)

        policy = named.current()
        assert [rule.id for rule in policy.rules.rules] == ["run.huge_amount"]
        assert policy.lists["blocklist.device"] == {"d-stolen"}
        champion = named.models.current_champion()
        assert champion is not None and champion.version == artifact.version
        assert policy.champion is champion.model
        assert named.current() is policy  # nothing changed: the same snapshot

        # The standard topics hold nothing: the shipped rules, empty lists, no model.
        fallback = standard.current()
        assert fallback.rules.version == default_rule_set(engine.catalogue).version
        assert not fallback.lists["blocklist.device"]
        assert fallback.champion is None
    finally:
        named.close()
        standard.close()
        log.close()

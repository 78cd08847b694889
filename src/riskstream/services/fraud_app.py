"""The fraud engine as a worker runs it: the topology with the *published* policy.

A worker follows ``risk.rules``, ``risk.lists`` and ``risk.models`` in background threads
(:class:`~riskstream.services.rulebook.RuleBook`,
:class:`~riskstream.services.models_registry.ModelBook`); :class:`PublishedPolicy` hands the
decision stage one immutable snapshot of what is in force, rebuilt only when something
changed. A rule set or model that fails validation never reaches it: the previous one stays.
Each of the three topics can be named (an isolated run follows its own, prefixed ones).

    riskstream worker            # runs fraud_worker_topology(log) by default
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.model import ModelArtifact, Scorer
from riskstream.fraud.policy import ActivePolicy, Thresholds
from riskstream.fraud.rules import default_rule_set
from riskstream.fraud.topology import fraud_topology
from riskstream.log.port import EventLog
from riskstream.services.engine_config import engine_from, thresholds_from
from riskstream.services.models_registry import MODELS_TOPIC, ActiveModel, ModelBook, ModelMetadata
from riskstream.services.rulebook import LISTS_TOPIC, RULES_TOPIC, ActiveRules, RuleBook
from riskstream.settings import Settings
from riskstream.stream.topology import Topology

__all__ = [
    "EXPLAIN_ABOVE",
    "PublishedPolicy",
    "fraud_worker_topology",
    "load_scorer",
]

logger = logging.getLogger(__name__)

#: Model scores at or above this probability get their feature contributions computed.
EXPLAIN_ABOVE: Final = 0.1
_CATCH_UP_S: Final = 30.0


def load_scorer(engine: FeatureEngine, artifact: bytes, metadata: ModelMetadata) -> Scorer:
    """Validate a published model against the engine and make it ready to score; raises
    (and the model is rejected) on damaged bytes or a feature list the engine cannot serve."""
    model = ModelArtifact.from_bytes(artifact)
    model.check_features(engine.feature_names)
    return Scorer(model, explain_above=EXPLAIN_ABOVE)


class PublishedPolicy:
    """A :class:`~riskstream.fraud.policy.PolicySource` following the policy published on
    ``rules_topic``, ``lists_topic`` and ``models_topic``."""

    def __init__(
        self,
        log: EventLog,
        engine: FeatureEngine,
        *,
        thresholds: Thresholds | None = None,
        rule_set_name: str = "default",
        rules_topic: str = RULES_TOPIC,
        lists_topic: str = LISTS_TOPIC,
        models_topic: str = MODELS_TOPIC,
    ) -> None:
        self.thresholds = thresholds or Thresholds()
        self.rules = RuleBook(
            log,
            engine.catalogue,
            rule_set_name,
            fallback=default_rule_set(engine.catalogue),
            rules_topic=rules_topic,
            lists_topic=lists_topic,
        )
        try:
            self.models: ModelBook[Scorer] = ModelBook(
                log, lambda raw, meta: load_scorer(engine, raw, meta), topic=models_topic
            )
        except BaseException:
            self.rules.close()
            raise
        self._lock = threading.Lock()
        self._built: tuple[object, ...] = ()
        self._policy = self._build(self.rules.current(), None, None)

    def wait_caught_up(self, timeout: float) -> bool:
        """Block until what was published before the worker started is loaded."""
        return self.rules.wait_caught_up(timeout) and self.models.wait_caught_up(timeout)

    def current(self) -> ActivePolicy:
        rules = self.rules.current()
        champion = self.models.current_champion()
        challenger = self.models.current_challenger()
        built = (rules, champion, challenger)
        if all(a is b for a, b in zip(built, self._built, strict=False)) and self._built:
            return self._policy
        with self._lock:
            self._policy = self._build(rules, champion, challenger)
            self._built = built
        return self._policy

    def _build(
        self,
        rules: ActiveRules,
        champion: ActiveModel[Scorer] | None,
        challenger: ActiveModel[Scorer] | None,
    ) -> ActivePolicy:
        return ActivePolicy(
            rules.rules,
            rules.lists,
            self.thresholds,
            champion=champion.model if champion is not None else None,
            challenger=challenger.model if challenger is not None else None,
            lists_version=rules.lists_version,
        )

    def close(self) -> None:
        self.rules.close()
        self.models.close()


def fraud_worker_topology(
    log: EventLog,
    *,
    rules_topic: str = RULES_TOPIC,
    lists_topic: str = LISTS_TOPIC,
    models_topic: str = MODELS_TOPIC,
) -> Topology:
    """The fraud topology deciding with what is published on ``log`` (on the topics named),
    configured by the ``RISKSTREAM_*`` settings (features file, thresholds)."""
    settings = Settings()
    engine = engine_from(settings)
    policy = PublishedPolicy(
        log,
        engine,
        thresholds=thresholds_from(settings),
        rules_topic=rules_topic,
        lists_topic=lists_topic,
        models_topic=models_topic,
    )
    if not policy.wait_caught_up(_CATCH_UP_S):
        logger.warning(
            "published rules/models not fully read after %ss; starting anyway", _CATCH_UP_S
        )
    return fraud_topology(engine=engine, policy=policy)

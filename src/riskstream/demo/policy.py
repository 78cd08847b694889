"""The policy the demo's engine decides with: published rules, lists and models, followed on
the run's own topics.

It is :class:`~riskstream.services.fraud_app.PublishedPolicy` with topic names: the rule
book and the model book follow ``<prefix>risk.rules``, ``<prefix>risk.lists`` and
``<prefix>risk.models``, so the model a run trains is published where only that run's worker
reads it. The snapshot handed to the decision stage is rebuilt only when something changed.
"""

from __future__ import annotations

import threading

from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.model import Scorer
from riskstream.fraud.policy import ActivePolicy, Thresholds
from riskstream.fraud.rules import default_rule_set
from riskstream.log.port import EventLog
from riskstream.services.fraud_app import load_scorer
from riskstream.services.models_registry import ModelBook
from riskstream.services.rulebook import RuleBook

from .namespace import Namespace

__all__ = ["RunPolicy"]


class RunPolicy:
    """A :class:`~riskstream.fraud.policy.PolicySource` following ``namespace``'s topics."""

    def __init__(
        self, log: EventLog, engine: FeatureEngine, namespace: Namespace, thresholds: Thresholds
    ) -> None:
        self.thresholds = thresholds
        self.rules = RuleBook(
            log,
            engine.catalogue,
            fallback=default_rule_set(engine.catalogue),
            rules_topic=namespace.rules,
            lists_topic=namespace.lists,
        )
        try:
            self.models: ModelBook[Scorer] = ModelBook(
                log, lambda raw, meta: load_scorer(engine, raw, meta), topic=namespace.models
            )
        except BaseException:
            self.rules.close()
            raise
        self._lock = threading.Lock()
        self._built: tuple[object, ...] = ()
        self._policy = ActivePolicy(self.rules.current().rules, thresholds=thresholds)

    def wait_caught_up(self, timeout: float) -> bool:
        return self.rules.wait_caught_up(timeout) and self.models.wait_caught_up(timeout)

    @property
    def champion_version(self) -> str | None:
        champion = self.models.current_champion()
        return None if champion is None else champion.version

    def current(self) -> ActivePolicy:
        rules = self.rules.current()
        champion = self.models.current_champion()
        built = (rules, champion)
        if self._built and all(a is b for a, b in zip(built, self._built, strict=True)):
            return self._policy
        with self._lock:
            self._policy = ActivePolicy(
                rules.rules,
                rules.lists,
                self.thresholds,
                champion=None if champion is None else champion.model,
                lists_version=rules.lists_version,
            )
            self._built = built
        return self._policy

    def close(self) -> None:
        self.rules.close()
        self.models.close()

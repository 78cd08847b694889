"""The topics of one demo run: the standard names, or all of them under the run's prefix.

A run on a fresh embedded log keeps the standard names (``events.checkout``,
``risk.decisions`` …), so every other ``riskstream`` command works on the log it leaves. A
run on a log that may hold other data (Kafka, an embedded log named with ``--log``) puts
every topic and consumer group under ``demo-<run id>.``: nothing of earlier runs - nor of
production - is read, counted or changed, the published model included, and the run's
topics can be deleted afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from riskstream.events import ACTIVITY_TOPICS, TRANSACTIONS_TOPIC
from riskstream.fraud.topology import ALERTS_TOPIC, DECISIONS_TOPIC, FraudConfig
from riskstream.services.fraud_service import FraudServiceConfig
from riskstream.services.labels import LABEL_TOPIC
from riskstream.services.lists import LISTS_TOPIC
from riskstream.services.models_registry import MODELS_TOPIC
from riskstream.services.projections import DEFAULT_GROUP, TopicMap
from riskstream.services.rules_topic import RULES_TOPIC

__all__ = ["Namespace"]

_STANDARD: Final = (
    *ACTIVITY_TOPICS,
    DECISIONS_TOPIC,
    ALERTS_TOPIC,
    TRANSACTIONS_TOPIC,
    MODELS_TOPIC,
    RULES_TOPIC,
    LISTS_TOPIC,
)


@dataclass(frozen=True, slots=True)
class Namespace:
    """Where one run's topics are: ``prefix`` + the standard name (``""``: the standard)."""

    prefix: str = ""

    @classmethod
    def for_run(cls, run_id: str) -> Namespace:
        return cls(f"demo-{run_id}.")

    def topic(self, standard: str) -> str:
        return self.prefix + standard

    @property
    def inputs(self) -> tuple[str, ...]:
        """The engine's input topics (co-partitioned by user)."""
        return tuple(self.topic(t) for t in ACTIVITY_TOPICS)

    @property
    def decisions(self) -> str:
        return self.topic(DECISIONS_TOPIC)

    @property
    def labels(self) -> str:
        return self.topic(LABEL_TOPIC)

    @property
    def transactions(self) -> str:
        return self.topic(TRANSACTIONS_TOPIC)

    @property
    def models(self) -> str:
        return self.topic(MODELS_TOPIC)

    @property
    def rules(self) -> str:
        return self.topic(RULES_TOPIC)

    @property
    def lists(self) -> str:
        return self.topic(LISTS_TOPIC)

    def fraud(self) -> FraudConfig:
        """The fraud engine's names (application, inputs, outputs) in this namespace."""
        default = FraudConfig()
        if not self.prefix:
            return default
        return FraudConfig(
            application=self.topic(default.application),
            input_topics=self.inputs,
            decisions_topic=self.decisions,
            alerts_topic=self.topic(default.alerts_topic),
            dlq_namespace=self.prefix,
        )

    def fraud_service(self, *, mfa_timeout_ms: int) -> FraudServiceConfig:
        return FraudServiceConfig(mfa_timeout_ms=mfa_timeout_ms).prefixed(self.prefix)

    def projections(self) -> TopicMap:
        """Where the read models' standard topics are."""
        return TopicMap.prefixed(self.prefix, _STANDARD) if self.prefix else TopicMap()

    @property
    def projector_group(self) -> str:
        return self.topic(DEFAULT_GROUP)

    def owns(self, topic: str) -> bool:
        """Whether ``topic`` belongs to this run (only meaningful with a prefix: the
        run's dead-letter and internal topics carry it too, not always first)."""
        return bool(self.prefix) and self.prefix in topic

"""The fraud topology: events in, one explained decision per checkout out.

::

    events.* (co-partitioned by user)
      └─ profile   (user profiles: fold events, read user features, ask the entities)
          └─ rekey entity   → <app>-entity-repartition, keyed "<entity>:<id>"
              └─ entities   (device / instrument / ip / merchant profiles answer)
                  └─ rekey by-user → <app>-by-user-repartition, keyed by user
                      └─ decide (gather the parts, rules + models → Decision)
                          ├─ risk.decisions   (every decision)
                          └─ risk.alerts      (decisions at the alert threshold or above)

Two hops through the log let one device's profile see every user's touches and still keep
the work partitioned: adding workers splits users and entities alike. Records are never
dropped as late (the lateness bound is generous): out-of-order events are still decided, and
point-in-time reads keep them from seeing the future.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from riskstream.events import ACTIVITY_TOPICS, Event
from riskstream.events.codec import codec_for
from riskstream.fraud.decide_stage import DEFAULT_PART_TIMEOUT_MS, DecisionStage, Pending
from riskstream.fraud.decision import Decision, encode_decision
from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.features.entity_stage import EntityProfile, EntityStage
from riskstream.fraud.features.messages import (
    CheckoutPart,
    EntityMessage,
    decode_entity_message,
    decode_part,
    encode_message,
)
from riskstream.fraud.features.profile import UserProfile
from riskstream.fraud.features.profile_stage import UserStage
from riskstream.fraud.policy import PolicySource, StaticPolicy, default_policy
from riskstream.stream.topology import Topology

__all__ = [
    "ALERTS_TOPIC",
    "DECISIONS_TOPIC",
    "FRAUD_APPLICATION",
    "FraudConfig",
    "fraud_topology",
]

FRAUD_APPLICATION: Final = "riskstream-fraud"
DECISIONS_TOPIC: Final = "risk.decisions"
ALERTS_TOPIC: Final = "risk.alerts"
_LATENESS_MS: Final = 400 * 86_400_000  # never drop a checkout as late


@dataclass(frozen=True, kw_only=True)
class FraudConfig:
    """Names and knobs of one fraud topology (a backtest gets its own namespace)."""

    application: str = FRAUD_APPLICATION
    input_topics: tuple[str, ...] = ACTIVITY_TOPICS
    decisions_topic: str = DECISIONS_TOPIC
    alerts_topic: str = ALERTS_TOPIC
    part_timeout_ms: int = DEFAULT_PART_TIMEOUT_MS
    dlq_namespace: str = ""  # an isolated replay prefixes its dead-letter topics

    @classmethod
    def isolated(cls, namespace: str) -> FraudConfig:
        """A namespace of its own (backtests, training replays): internal, output and
        dead-letter topics all carry ``namespace``; only the input topics are shared."""
        return cls(
            application=namespace,
            decisions_topic=f"{namespace}.decisions",
            alerts_topic=f"{namespace}.alerts",
            dlq_namespace=f"{namespace}.",
        )


def _event_time(event: Event) -> int:
    return event.event_time


def _route(message: EntityMessage) -> bytes:
    return message.route.encode()


def _user(part: CheckoutPart) -> bytes:
    return part.facts.user_id.encode()


def _decision_key(decision: Decision) -> bytes:
    return decision.user_id.encode()


def fraud_topology(
    config: FraudConfig | None = None,
    *,
    engine: FeatureEngine | None = None,
    policy: PolicySource | None = None,
) -> Topology:
    """The fraud topology; ``policy`` defaults to the shipped rules without a model."""
    config = config or FraudConfig()
    engine = engine or FeatureEngine()
    policy = policy or StaticPolicy(default_policy(engine.catalogue))
    topology = Topology(
        config.application, allowed_lateness_ms=_LATENESS_MS, dlq_namespace=config.dlq_namespace
    )
    decode: dict[str, Any] = {topic: codec_for(topic).decode for topic in config.input_topics}
    decisions = (
        topology.source("events", config.input_topics, decode=decode, event_time=_event_time)
        .process("profile", UserStage(engine), state_type=UserProfile | None)
        .rekey("entity", _route, encode=encode_message, decode=decode_entity_message)
        .process("entities", EntityStage(engine), state_type=EntityProfile | None)
        .rekey("by-user", _user, encode=encode_message, decode=decode_part)
        .process(
            "decide",
            DecisionStage(
                policy, features_version=engine.version, part_timeout_ms=config.part_timeout_ms
            ),
            state_type=Pending | None,
        )
    )
    decisions.to(config.decisions_topic, encode=encode_decision, key=_decision_key)
    active = policy  # thresholds may change with the published policy: read them per decision
    decisions.filter(
        "alerts", lambda d: d.severity >= active.current().thresholds.alert_at.severity
    ).to(config.alerts_topic, encode=encode_decision, key=_decision_key)
    return topology

"""The topics the API writes and reads, under an optional namespace prefix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from riskstream.events import ACTIVITY_TOPICS, Checkout
from riskstream.fraud.topology import DECISIONS_TOPIC
from riskstream.log.port import EventLog
from riskstream.log.records import TopicSpec

__all__ = ["TIMEOUTS_TOPIC", "ApiTopics"]

#: Checkouts the API answered by its timeout policy (see ``riskstream.services.api.timeouts``).
TIMEOUTS_TOPIC: Final = "risk.api.timeouts"


@dataclass(frozen=True, slots=True)
class ApiTopics:
    """Topic names, each ``prefix`` + the standard name."""

    prefix: str = ""

    def event(self, topic: str) -> str:
        """Where events of the standard topic ``topic`` go."""
        return self.prefix + topic

    @property
    def checkouts(self) -> str:
        return self.prefix + Checkout.topic

    @property
    def decisions(self) -> str:
        return self.prefix + DECISIONS_TOPIC

    @property
    def timeouts(self) -> str:
        return self.prefix + TIMEOUTS_TOPIC

    def ensure(self, log: EventLog, partitions: int) -> None:
        """Create what is missing: the activity topics (co-partitioned, as the engine needs
        them), the decisions topic (the engine's sink, so the waiter can assign it before the
        first worker starts) and the timeouts topic."""
        names = [self.event(topic) for topic in ACTIVITY_TOPICS]
        names += [self.decisions, self.timeouts]
        existing = set(log.admin.list_topics())
        missing = [
            TopicSpec(name=name, partitions=partitions) for name in names if name not in existing
        ]
        if missing:
            log.admin.create_topics(missing, exist_ok=True)

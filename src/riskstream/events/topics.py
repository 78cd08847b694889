"""The event topics and which event kinds each one carries.

User-activity topics are co-partitioned (same partition count, keyed by user id), so one
stream task joins all of a user's events. Later layers register their own topics (decisions,
MFA, transaction state) in their own modules with :func:`topic_of`'s mapping in mind.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from riskstream.events.schemas import (
    AddressChanged,
    Chargeback,
    Checkout,
    Click,
    Event,
    FraudReported,
    Login,
    MfaChallengeIssued,
    MfaCompleted,
    MouseMovement,
    ProfileUpdated,
    PromoApplied,
    TransactionCancelled,
    TransactionPaused,
    TransactionReleased,
)

__all__ = [
    "ACTIVITY_TOPICS",
    "DEFAULT_PARTITIONS",
    "EVENT_TYPES",
    "TOPIC_EVENTS",
    "TRANSACTIONS_TOPIC",
    "TRANSACTION_EVENT_TYPES",
    "topic_of",
]

DEFAULT_PARTITIONS: Final = 8

EVENT_TYPES: Final[tuple[type[Event], ...]] = (
    Login,
    Click,
    MouseMovement,
    PromoApplied,
    Checkout,
    AddressChanged,
    ProfileUpdated,
    Chargeback,
    FraudReported,
    MfaCompleted,
)

#: The Fraud Service's event-sourced transaction lifecycle (keyed by user id).
TRANSACTIONS_TOPIC: Final = "risk.transactions"
TRANSACTION_EVENT_TYPES: Final[tuple[type[Event], ...]] = (
    TransactionPaused,
    MfaChallengeIssued,
    TransactionReleased,
    TransactionCancelled,
)


def _group_by_topic(types: tuple[type[Event], ...]) -> dict[str, tuple[type[Event], ...]]:
    grouped: dict[str, list[type[Event]]] = {}
    for event_type in types:
        grouped.setdefault(event_type.topic, []).append(event_type)
    return {topic: tuple(members) for topic, members in grouped.items()}


TOPIC_EVENTS: Final = MappingProxyType(
    _group_by_topic(EVENT_TYPES) | _group_by_topic(TRANSACTION_EVENT_TYPES)
)
"""Topic name -> the event kinds it carries."""

ACTIVITY_TOPICS: Final[tuple[str, ...]] = tuple(_group_by_topic(EVENT_TYPES))
"""The topics the fraud engine reads: everything users do, and the labels."""


def topic_of(event: Event) -> str:
    """The topic an event belongs on."""
    return event.topic

"""What the offers service reads, writes and waits for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from riskstream.events import (
    TRANSACTIONS_TOPIC,
    Chargeback,
    Checkout,
    Click,
    MouseMovement,
    PromoApplied,
)
from riskstream.fraud.topology import DECISIONS_TOPIC

__all__ = ["OFFERS_APPLICATION", "OFFERS_TOPIC", "OFFER_ACTIVITY_TOPICS", "OffersConfig"]

OFFERS_APPLICATION: Final = "riskstream-offers"
OFFERS_TOPIC: Final = "marketing.offers"

#: The activity the service needs: carts and sessions (clicks, pointer movement, promos),
#: checkouts that end a cart, and labels (a chargeback flags the account). Logins and
#: account changes say nothing about a cart, so they are not read.
OFFER_ACTIVITY_TOPICS: Final[tuple[str, ...]] = (
    Click.topic,
    MouseMovement.topic,
    PromoApplied.topic,
    Checkout.topic,
    Chargeback.topic,  # events.label
)

_MINUTE: Final = 60_000


@dataclass(frozen=True, kw_only=True)
class OffersConfig:
    """Names and knobs of the offers service (durations in milliseconds).

    * ``idle_ms`` — a cart with no cart activity and no checkout for this long gets an offer.
    * ``session_gap_ms`` — a session whose latest event is older than this (by the clock)
      has ended: no offer. It also keeps a replay of old history or a long backlog from
      sending offers for carts that are long gone; it must exceed ``idle_ms``.
    * ``cooldown_ms`` — at most one offer per user this often (and never two per session).
    * ``flag_window_ms`` — a review/challenge/block decision, a pause, a cancelled
      transaction or a fraud label keeps the user out of offers this long.
    * ``max_score`` — a user whose latest decision scored this much or more is not low-risk.
    * ``valid_ms`` — how long an offer may be redeemed.
    """

    application: str = OFFERS_APPLICATION
    activity_topics: tuple[str, ...] = OFFER_ACTIVITY_TOPICS
    decisions_topic: str = DECISIONS_TOPIC
    transactions_topic: str = TRANSACTIONS_TOPIC
    offers_topic: str = OFFERS_TOPIC
    idle_ms: int = 10 * _MINUTE
    session_gap_ms: int = 30 * _MINUTE
    cooldown_ms: int = 60 * _MINUTE
    flag_window_ms: int = 24 * 60 * _MINUTE
    max_score: float = 30.0
    valid_ms: int = 60 * _MINUTE

    def __post_init__(self) -> None:
        for name in ("idle_ms", "session_gap_ms", "flag_window_ms", "valid_ms"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.cooldown_ms < 0:
            raise ValueError("cooldown_ms must not be negative")
        if self.session_gap_ms <= self.idle_ms:
            raise ValueError(
                "session_gap_ms must exceed idle_ms: a cart goes idle within a session"
            )
        if not self.activity_topics:
            raise ValueError("the offers service needs at least one activity topic")

    @property
    def input_topics(self) -> tuple[str, ...]:
        """Every topic the service reads, co-partitioned by user id."""
        return (*self.activity_topics, self.decisions_topic, self.transactions_topic)

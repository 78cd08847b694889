"""The offers topology and the topics it needs.

::

    events.click · events.mouse · events.promo · events.checkout · events.label
    risk.decisions · risk.transactions          (co-partitioned, keyed by user id)
      └─ offers  (carts, flags, idle timers per user)
          └─ marketing.offers  (one JSON Offer per idle cart of a low-risk user)

Its own consumer group (the application name) reads the same topics as production and never
moves anyone else's offsets. Its dead letters go to ``<application>.dlq.<topic>``, apart from
the fraud engine's.
"""

from __future__ import annotations

from typing import Any, Final

from riskstream.errors import ConfigError
from riskstream.events import TRANSACTIONS_TOPIC, Event, codec_for
from riskstream.fraud.decision import Decision, decode_decision
from riskstream.log import EventLog, TopicSpec
from riskstream.services.offers.config import OffersConfig
from riskstream.services.offers.offer import Offer, encode_offer
from riskstream.services.offers.stage import OfferStage
from riskstream.services.offers.state import UserOffers
from riskstream.stream import Topology

__all__ = ["ensure_offer_topics", "offers_topology"]

_LATENESS_MS: Final = 400 * 86_400_000  # timers run on processing time: nothing is late


def _event_time(value: Event | Decision) -> int:
    return value.checkout_time if isinstance(value, Decision) else value.event_time


def _user(offer: Offer) -> bytes:
    return offer.user_id.encode()


def offers_topology(
    config: OffersConfig | None = None, stage: OfferStage | None = None
) -> Topology:
    """The offers topology (``stage`` lets a caller keep the step to read its outcomes)."""
    config = config or OffersConfig()
    stage = stage or OfferStage(config)
    topology = Topology(
        config.application,
        allowed_lateness_ms=_LATENESS_MS,
        dlq_namespace=f"{config.application}.",
    )
    decode: dict[str, Any] = {topic: codec_for(topic).decode for topic in config.activity_topics}
    decode[config.decisions_topic] = decode_decision
    # By the schema, not the name: a renamed topic (tests, a namespace) carries the same.
    decode[config.transactions_topic] = codec_for(TRANSACTIONS_TOPIC).decode
    (
        topology.source("inputs", config.input_topics, decode=decode, event_time=_event_time)
        .process("offers", stage, state_type=UserOffers | None)
        .to(config.offers_topic, encode=encode_offer, key=_user)
    )
    return topology


def ensure_offer_topics(log: EventLog, config: OffersConfig, *, partitions: int) -> int:
    """Create the inputs that do not exist yet, with the partition count of those that do
    (``partitions`` if none does); returns the count. Inputs with different counts are
    refused: a user's events would land in different tasks."""
    topics = config.input_topics
    present = set(log.admin.list_topics())
    described = log.admin.describe_topics([t for t in topics if t in present])
    counts = {name: spec.partitions for name, spec in described.items()}
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{name}={count}" for name, count in sorted(counts.items()))
        raise ConfigError(f"the offers inputs are not co-partitioned: {listed}")
    if counts:
        partitions = next(iter(counts.values()))
    missing = [TopicSpec(name=t, partitions=partitions) for t in topics if t not in counts]
    if missing:
        log.admin.create_topics(missing, exist_ok=True)
    return partitions

"""Offers for legitimate users: an in-the-moment offer when a low-risk user's cart idles.

An independent consumer group reads the users' activity beside the fraud engine's decisions
and the Fraud Service's transaction lifecycle (all keyed by user) and writes one offer per
idle cart to ``marketing.offers`` - never to a user who is flagged, paused or challenged.
"""

from riskstream.services.offers.config import (
    OFFER_ACTIVITY_TOPICS,
    OFFERS_APPLICATION,
    OFFERS_TOPIC,
    OffersConfig,
)
from riskstream.services.offers.offer import Offer, decode_offer, encode_offer, offer_id
from riskstream.services.offers.stage import OfferStage, is_cart_page
from riskstream.services.offers.state import Cart, UserOffers
from riskstream.services.offers.topology import ensure_offer_topics, offers_topology

__all__ = [
    "OFFERS_APPLICATION",
    "OFFERS_TOPIC",
    "OFFER_ACTIVITY_TOPICS",
    "Cart",
    "Offer",
    "OfferStage",
    "OffersConfig",
    "UserOffers",
    "decode_offer",
    "encode_offer",
    "ensure_offer_topics",
    "is_cart_page",
    "offer_id",
    "offers_topology",
]

"""The offer record on ``marketing.offers``, and how an offer is chosen for a cart.

One offer per session at most, so its id derives from the user and the session alone: a
timer replayed after a crash produces the same id, and downstream systems deduplicate by it.
"""

from __future__ import annotations

import hashlib
from typing import Final

import msgspec

from riskstream.services.offers.state import Cart

__all__ = ["Offer", "decode_offer", "encode_offer", "offer_id", "personalise"]

FIRST_ORDER_PERCENT: Final = 10.0
RETURNING_PERCENT: Final = 5.0


class Offer(msgspec.Struct, frozen=True, kw_only=True):
    """A personalised in-the-moment offer for a cart left idle (times: epoch ms)."""

    offer_id: str
    user_id: str
    session_id: str
    kind: str  # percent_off | free_shipping
    value: float  # the percentage for percent_off; 0 for free_shipping
    reason: str
    cart_value: float | None  # known when a promo was applied to the cart
    promo: str | None  # the promo code already on the cart
    cart_opened_at: int  # event time of the session's first cart signal
    idle_since: int  # event time of its latest cart signal
    offered_at: int  # when the offer was made (processing time)
    expires_at: int
    risk_score: float | None  # the user's latest decision score, if any


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Offer)


def encode_offer(offer: Offer) -> bytes:
    return _encoder.encode(offer)


def decode_offer(raw: bytes | None) -> Offer:
    if raw is None:
        raise ValueError("offer record without a value")
    return _decoder.decode(raw)


def offer_id(user_id: str, session_id: str) -> str:
    """The deterministic id of a session's offer."""
    digest = hashlib.blake2b(f"{user_id}\x1f{session_id}".encode(), digest_size=10)
    return f"offer-{digest.hexdigest()}"


def personalise(cart: Cart, *, returning: bool, idle_ms: int) -> tuple[str, float, str]:
    """``(kind, value, reason)`` for a cart: discounts do not stack on a promo already
    applied (free shipping instead), a first order gets the larger discount."""
    idle = (
        f"cart idle {idle_ms // 60_000} min without checkout"
        if idle_ms >= 60_000
        else (f"cart idle {idle_ms // 1000} s without checkout")
    )
    if cart.promo is not None:
        value = "" if cart.value is None else f" on a cart of {cart.value:.2f}"
        return "free_shipping", 0.0, f"{idle}; promo {cart.promo} already applied{value}"
    if not returning:
        return "percent_off", FIRST_ORDER_PERCENT, f"{idle}; first order"
    return "percent_off", RETURNING_PERCENT, f"{idle}; returning customer"

"""The touch: the one flat record declared aggregates read.

Every event that matters to an entity's features becomes a :class:`Touch` for each entity it
touches (the user, the device, the instrument, the IP, the merchant); the aggregates never
see the events themselves. A touch names its event kind and its event time; every other
field is optional, ``None`` when the event does not carry it. For ``chargeback`` and
``fraud_reported`` the time is when the label arrived (its own event time), not the time of
the transaction it is about, so label counts are point-in-time too.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import msgspec

__all__ = ["ENTITIES", "TOUCH_FIELDS", "TOUCH_KINDS", "Touch"]


class Touch(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One event as one entity's aggregates see it."""

    kind: str
    """login | click | mouse | promo | checkout | address_changed | profile_updated |
    chargeback | fraud_reported"""
    time: int
    """Epoch milliseconds: the event time (for labels: when the label arrived)."""
    user: str | None = None
    device: str | None = None
    ip: str | None = None
    instrument: str | None = None
    merchant: str | None = None
    country: str | None = None
    bin_country: str | None = None
    amount: float | None = None
    """Checkout amount, chargeback amount."""
    discount: float | None = None
    """Promo discount value."""
    success: bool | None = None
    """Login success."""
    promo: bool | None = None
    """Checkout: a promo was applied in its session."""
    cross_border: bool | None = None
    """Checkout: the card was issued in another country than the checkout's."""
    account_age: int | None = None
    """Checkout: milliseconds since the user's account was first seen."""


#: The event kinds a touch may have.
TOUCH_KINDS: Final[tuple[str, ...]] = (
    "login",
    "click",
    "mouse",
    "promo",
    "checkout",
    "address_changed",
    "profile_updated",
    "chargeback",
    "fraud_reported",
)

#: The fields aggregates may read (all but ``kind`` and ``time``), with their type:
#: ``"string"``, ``"number"`` or ``"bool"``.
TOUCH_FIELDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "user": "string",
        "device": "string",
        "ip": "string",
        "instrument": "string",
        "merchant": "string",
        "country": "string",
        "bin_country": "string",
        "amount": "number",
        "discount": "number",
        "success": "bool",
        "promo": "bool",
        "cross_border": "bool",
        "account_age": "number",
    }
)

#: The entities aggregates may be kept per; each is also the touch field holding its id.
ENTITIES: Final[tuple[str, ...]] = ("user", "device", "instrument", "ip", "merchant")

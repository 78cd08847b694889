"""What the simulated shop sells and how people reach it: categories, promos, pages, agents.

Amounts follow a log-normal distribution per merchant category (median and shape from the
usual e-commerce basket sizes); promo codes are either a percentage or a fixed amount, some
only above a minimum cart. A promo worth at least :data:`HIGH_VALUE_PROMO` is "high value"
(the threshold the seed promo-abuse rule uses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "CATEGORIES",
    "CHARGEBACK_REASONS",
    "HIGH_VALUE_CODES",
    "HIGH_VALUE_PROMO",
    "PROMOS",
    "Category",
    "Promo",
    "UserAgents",
]

HIGH_VALUE_PROMO: Final = 50.0
"""A discount at or above this (in the currency's major unit) is a high-value promo."""


@dataclass(frozen=True, slots=True)
class Category:
    """A merchant category: how popular it is and what baskets cost there."""

    name: str
    weight: float
    median: float  # median basket, log-normal
    sigma: float  # log-normal shape
    items_per_100: float  # mean items per 100 of basket value, for item counts


CATEGORIES: Final = (
    Category("grocery", 14.0, 42.0, 0.45, 6.0),
    Category("fashion", 18.0, 65.0, 0.6, 2.5),
    Category("electronics", 10.0, 160.0, 0.95, 0.8),
    Category("home", 10.0, 80.0, 0.7, 2.0),
    Category("beauty", 9.0, 34.0, 0.5, 5.0),
    Category("books_media", 8.0, 22.0, 0.55, 6.0),
    Category("digital_goods", 8.0, 14.0, 0.8, 7.0),
    Category("gift_cards", 5.0, 50.0, 0.6, 2.0),
    Category("travel", 5.0, 340.0, 0.7, 0.4),
    Category("gaming", 6.0, 30.0, 0.8, 4.0),
    Category("sports", 7.0, 70.0, 0.7, 2.0),
)


@dataclass(frozen=True, slots=True)
class Promo:
    """A promotion code: ``percent`` of the cart or a ``fixed`` amount off."""

    code: str
    kind: str  # percent | fixed
    value: float
    min_cart: float
    legit_weight: float  # how often legitimate customers use it

    def discount(self, cart: float) -> float:
        """The discount on a cart (never more than the cart)."""
        raw = cart * self.value / 100 if self.kind == "percent" else self.value
        return round(min(raw, cart), 2)


PROMOS: Final = (
    Promo("WELCOME10", "percent", 10, 0, 20.0),
    Promo("FREESHIP", "fixed", 4.95, 20, 25.0),
    Promo("SAVE5", "fixed", 5, 25, 15.0),
    Promo("SPRING15", "percent", 15, 0, 12.0),
    Promo("SUMMER20", "percent", 20, 40, 8.0),
    Promo("LOYAL25", "fixed", 25, 150, 5.0),
    Promo("NEWUSER20", "percent", 20, 0, 4.0),
    Promo("VIP50", "percent", 50, 100, 0.6),
    Promo("STAFF40", "percent", 40, 0, 0.3),
    Promo("BIGSPENDER100", "fixed", 100, 500, 0.4),
)
HIGH_VALUE_CODES: Final = ("VIP50", "STAFF40", "BIGSPENDER100")
"""Codes fraudsters hunt for (leaked staff and VIP codes)."""

CHARGEBACK_REASONS: Final = (
    ("10.4", 0.55),  # Visa: other fraud, card-absent environment
    ("4837", 0.3),  # Mastercard: no cardholder authorisation
    ("F29", 0.1),  # Amex: card not present
    ("UA02", 0.05),  # Discover: fraud, card not present
)


class UserAgents:
    """User-agent strings by device kind, and the ones automation gives itself away with."""

    DESKTOP: Final = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36",
    )
    MOBILE: Final = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Mobile Safari/537.36",
        "ShopApp/5.12.0 (iOS 18.1; iPhone15,2)",
        "ShopApp/5.11.3 (Android 14; Pixel 7)",
    )
    TABLET: Final = (
        "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.6 Mobile/15E148 Safari/604.1",
    )
    AUTOMATION: Final = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",  # a headless browser with a spoofed agent
        "python-requests/2.32.3",
    )

    @classmethod
    def of(cls, kind: str) -> tuple[str, ...]:
        """The agents of a device kind (desktop, mobile, tablet, bot)."""
        return {
            "desktop": cls.DESKTOP,
            "mobile": cls.MOBILE,
            "tablet": cls.TABLET,
            "bot": cls.AUTOMATION,
        }[kind]

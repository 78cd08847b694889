"""What the offers service remembers per user: open carts, and why not to offer.

Everything is derived from the user's events, so the state is changelogged by the runner and
restored after a crash like any other step's. Each map is bounded: a user who never leaves
cannot grow it without end.
"""

from __future__ import annotations

from typing import Final, TypeVar

import msgspec

__all__ = ["Cart", "UserOffers", "remember"]

_MAX_CARTS: Final = 8
_MAX_REMEMBERED: Final = 32

V = TypeVar("V")


class Cart(msgspec.Struct, gc=False, array_like=True):
    """An open cart in one session (times are event times unless named otherwise)."""

    opened: int  # the first cart signal
    last: int  # the latest cart signal: the cart is idle from here
    seen: int  # the session's latest event of any kind
    due: int  # processing time at which it is idle long enough, unless something happens
    value: float | None = None  # the cart value, once a promo told it
    promo: str | None = None  # the promo code applied to it, if any


class UserOffers(msgspec.Struct, gc=False, array_like=True):
    """One user's carts, flags and offers."""

    carts: dict[str, Cart] = msgspec.field(default_factory=dict)  # session -> open cart
    offered: dict[str, int] = msgspec.field(default_factory=dict)  # session -> offer time
    flags: dict[str, int] = msgspec.field(default_factory=dict)  # transaction -> flag time
    held: dict[str, int] = msgspec.field(default_factory=dict)  # paused, not yet resolved
    cleared: dict[str, int] = msgspec.field(default_factory=dict)  # released transactions
    score: float | None = None  # the latest decision's score (None: none, or released)
    scored_tx: str = ""  # ...its transaction
    scored_at: int = -1  # ...its checkout time
    returning: bool = False  # has had a checkout allowed
    last_offer: int | None = None  # processing time of the latest offer

    def open_cart(self, session: str, cart: Cart) -> None:
        """Track a new cart; the stalest goes when there are too many."""
        self.carts[session] = cart
        if len(self.carts) > _MAX_CARTS:
            stalest = min(self.carts, key=lambda s: self.carts[s].seen)
            del self.carts[stalest]

    def latest_session(self) -> str | None:
        """The session of the most recently active open cart."""
        if not self.carts:
            return None
        return max(self.carts, key=lambda s: self.carts[s].seen)

    def flagged_since(self, since: int) -> bool:
        """Whether anything flagged the user at or after event time ``since``."""
        return any(at >= since for at in self.flags.values())

    def prune_flags(self, before: int) -> None:
        """Forget flags older than event time ``before`` (they can no longer count)."""
        for transaction in [t for t, at in self.flags.items() if at < before]:
            del self.flags[transaction]


def remember(entries: dict[str, V], key: str, value: V, limit: int = _MAX_REMEMBERED) -> None:
    """Set ``entries[key]``, forgetting the oldest insertions beyond ``limit``."""
    entries.pop(key, None)  # re-inserted at the end: the newest
    entries[key] = value
    while len(entries) > limit:
        del entries[next(iter(entries))]

"""A small, deterministic generator of user sessions for smoke runs and benchmarks.

A session is a login, a few clicks with mouse-movement summaries, sometimes a promo code, and
usually a checkout; now and then an address change or (for an earlier checkout) a chargeback.
Event ids derive from the seed and a counter, so the same seed yields the same events.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from riskstream.events import (
    AddressChanged,
    Chargeback,
    Checkout,
    Click,
    Event,
    Login,
    MouseMovement,
    PromoApplied,
)

__all__ = ["SessionSimulator"]

_COUNTRIES = ("DE", "FR", "GB", "US", "NL", "ES", "IT", "PL", "BR", "NG")
_PAGES = ("/", "/search", "/product", "/cart", "/checkout")
_PROMOS = ("WELCOME10", "SPRING25", "VIP50", "FREESHIP")


class SessionSimulator:
    """Yields events of interleaved user sessions in event-time order per user."""

    def __init__(
        self, *, users: int = 1000, seed: int = 7, start_ms: int = 1_767_225_600_000
    ) -> None:
        self._rng = random.Random(seed)
        self._users = [f"user-{i:06d}" for i in range(users)]
        self._home = {user: self._rng.choice(_COUNTRIES) for user in self._users}
        self._clock = start_ms
        self._seq = 0
        self._seed = seed
        self._checkouts: list[tuple[str, str, float]] = []

    def events(self, count: int) -> Iterator[Event]:
        """Exactly ``count`` events."""
        produced = 0
        while True:
            for event in self._session():
                if produced == count:
                    return
                produced += 1
                yield event

    def _id(self) -> str:
        self._seq += 1
        return f"sim-{self._seed}-{self._seq}"

    def _tick(self, low_ms: int, high_ms: int) -> int:
        self._clock += self._rng.randint(low_ms, high_ms)
        return self._clock

    def _session(self) -> Iterator[Event]:
        rng = self._rng
        user = rng.choice(self._users)
        country = self._home[user] if rng.random() < 0.95 else rng.choice(_COUNTRIES)
        device = f"dev-{user}-{rng.randint(0, 2)}"
        ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        session = self._id()
        yield Login(
            event_id=self._id(),
            event_time=self._tick(100, 2000),
            device_id=device,
            ip=ip,
            country=country,
            success=rng.random() > 0.05,
            user_agent="Mozilla/5.0",
            user_id=user,
            source="sim",
        )
        for index in range(rng.randint(1, 5)):
            yield Click(
                event_id=self._id(),
                event_time=self._tick(200, 5000),
                session_id=session,
                page=rng.choice(_PAGES),
                first_in_session=index == 0,
                device_id=device,
                user_id=user,
                source="sim",
            )
            yield MouseMovement(
                event_id=self._id(),
                event_time=self._tick(10, 500),
                session_id=session,
                sample_count=rng.randint(10, 200),
                duration_ms=rng.randint(200, 4000),
                path_length=rng.uniform(50, 2000),
                straightness=rng.uniform(0.3, 0.99),
                mean_speed=rng.uniform(0.05, 1.5),
                max_speed=rng.uniform(1.0, 6.0),
                user_id=user,
                source="sim",
            )
        cart = round(rng.uniform(5, 800), 2)
        if rng.random() < 0.2:
            yield PromoApplied(
                event_id=self._id(),
                event_time=self._tick(100, 3000),
                session_id=session,
                code=rng.choice(_PROMOS),
                discount_value=round(cart * rng.choice((0.1, 0.25, 0.5)), 2),
                cart_value=cart,
                device_id=device,
                user_id=user,
                source="sim",
            )
        if rng.random() < 0.03:
            yield AddressChanged(
                event_id=self._id(),
                event_time=self._tick(100, 3000),
                address_hash=f"addr-{rng.getrandbits(32):08x}",
                device_id=device,
                user_id=user,
                source="sim",
            )
        if rng.random() < 0.7:
            transaction = self._id()
            self._checkouts.append((user, transaction, cart))
            yield Checkout(
                event_id=self._id(),
                event_time=self._tick(500, 8000),
                transaction_id=transaction,
                amount=cart,
                currency="EUR",
                merchant_id=f"merchant-{rng.randint(1, 50)}",
                item_count=rng.randint(1, 6),
                instrument_fingerprint=f"card-{user}-{rng.randint(0, 1)}",
                bin_country=self._home[user],
                device_id=device,
                ip=ip,
                country=country,
                shipping_address_hash=f"addr-{user}",
                session_id=session,
                user_id=user,
                source="sim",
            )
        if self._checkouts and rng.random() < 0.01:
            victim, transaction, amount = self._checkouts[rng.randrange(len(self._checkouts))]
            yield Chargeback(
                event_id=self._id(),
                event_time=self._tick(100, 1000),
                user_id=victim,
                source="acquirer",
                transaction_id=transaction,
                amount=amount,
                reason_code="10.4",
            )

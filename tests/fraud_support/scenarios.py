"""Hand-written event sequences for the fraud engine's tests.

``seed_scenario`` is the account takeover the product exists to catch: a user with a settled
history (one device, one country) logs in from a new device in another country and applies
a high-value promo within 30 s of the session's first click, then checks out. Its near
misses change one thing each, and the rule must stay quiet.
"""

from __future__ import annotations

from dataclasses import dataclass

from riskstream.events import Checkout, Click, Event, Login, PromoApplied
from riskstream.events.codec import codec_for
from riskstream.log.records import Record

__all__ = [
    "DAY",
    "NEAR_MISSES",
    "START",
    "Variant",
    "as_records",
    "checkout",
    "history",
    "seed_scenario",
]

START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY = 86_400_000
SECOND = 1_000


@dataclass(frozen=True)
class Variant:
    """One way the takeover session may look; the defaults are the seed scenario."""

    name: str = "seed"
    device: str = "dev-new"
    country: str = "BR"
    promo_after_first_click_s: float = 20
    promo_value: float = 60.0
    flagged: bool = True


NEAR_MISSES = (
    Variant("promo at 31 s", promo_after_first_click_s=31, flagged=False),
    Variant("same country", country="DE", flagged=False),
    Variant("known device", device="dev-home", flagged=False),
    Variant("low-value promo", promo_value=20.0, flagged=False),
)


def history(user: str, *, days: int = 10, start: int = START) -> list[Event]:
    """A settled customer: a login and a small checkout from home every day."""
    events: list[Event] = []
    for day in range(days):
        at = start + day * DAY
        events.append(
            Login(
                event_id=f"{user}-login-{day}",
                user_id=user,
                event_time=at,
                device_id="dev-home",
                ip="10.0.0.1",
                country="DE",
                latitude=52.52,
                longitude=13.40,
            )
        )
        events.append(
            Click(
                event_id=f"{user}-click-{day}",
                user_id=user,
                event_time=at + 5 * SECOND,
                session_id=f"{user}-s{day}",
                page="/",
                first_in_session=True,
            )
        )
        events.append(checkout(user, f"{user}-tx-{day}", at + 120 * SECOND, f"{user}-s{day}", 40.0))
    return events


def checkout(user: str, txid: str, at: int, session: str, amount: float, **extra: str) -> Checkout:
    fields = {
        "device_id": "dev-home",
        "ip": "10.0.0.1",
        "country": "DE",
        "instrument_fingerprint": f"{user}-card",
        "bin_country": "DE",
        "shipping_address_hash": f"{user}-home",
        "merchant_id": "m-1",
    }
    fields.update(extra)
    return Checkout(
        event_id=f"{txid}-checkout",
        user_id=user,
        event_time=at,
        transaction_id=txid,
        amount=amount,
        currency="EUR",
        item_count=1,
        session_id=session,
        **fields,  # type: ignore[arg-type]
    )


def seed_scenario(
    user: str, variant: Variant = Variant(), *, day: int = 10
) -> tuple[list[Event], str]:
    """The user's history, then the takeover session; returns the events and the checkout's
    transaction id."""
    at = START + day * DAY
    session = f"{user}-takeover"
    txid = f"{user}-tx-takeover"
    lat, lon = (-23.55, -46.63) if variant.country == "BR" else (52.52, 13.40)
    first_click = at + 10 * SECOND
    promo_at = first_click + int(variant.promo_after_first_click_s * SECOND)
    events = history(user, days=day)
    events += [
        Login(
            event_id=f"{user}-login-takeover",
            user_id=user,
            event_time=at,
            device_id=variant.device,
            ip="203.0.113.7",
            country=variant.country,
            latitude=lat,
            longitude=lon,
        ),
        Click(
            event_id=f"{user}-click-takeover",
            user_id=user,
            event_time=first_click,
            session_id=session,
            page="/",
            first_in_session=True,
        ),
        PromoApplied(
            event_id=f"{user}-promo-takeover",
            user_id=user,
            event_time=promo_at,
            session_id=session,
            code="BIG60",
            discount_value=variant.promo_value,
            cart_value=300.0,
            device_id=variant.device,
        ),
        checkout(
            user,
            txid,
            promo_at + 5 * SECOND,
            session,
            240.0,
            device_id=variant.device,
            ip="203.0.113.7",
            country=variant.country,
        ),
    ]
    return events, txid


def as_records(events: list[Event]) -> list[Record]:
    """The events as the log would hold them (one partition per topic, in time order)."""
    offsets: dict[str, int] = {}
    records = []
    for event in sorted(events, key=lambda e: e.event_time):
        topic = event.topic
        offset = offsets.get(topic, 0)
        offsets[topic] = offset + 1
        value = codec_for(topic).encode(event)
        records.append(Record(topic, 0, offset, event.event_time, event.key, value))
    return records

"""Events as touches: what each event tells the profiles of the entities it names."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from riskstream.events import (
    AddressChanged,
    Chargeback,
    Checkout,
    Click,
    Event,
    FraudReported,
    Login,
    MouseMovement,
    ProfileUpdated,
    PromoApplied,
)
from riskstream.fraud.features.profile import UserProfile, has_promo, label_target
from riskstream.fraud.features.touch import Touch

__all__ = ["TOUCH_KIND_OF", "touch_of", "touched_types"]

#: The touch kind of each event type that makes a touch (other events make none).
TOUCH_KIND_OF: Final[dict[type[Event], str]] = {
    Checkout: "checkout",
    Login: "login",
    Click: "click",
    MouseMovement: "mouse",
    PromoApplied: "promo",
    Chargeback: "chargeback",
    FraudReported: "fraud_reported",
    AddressChanged: "address_changed",
    ProfileUpdated: "profile_updated",
}


def touched_types(kinds: Collection[str]) -> frozenset[type[Event]]:
    """The event types whose touches are of one of ``kinds``: the only ones worth a touch
    when nothing else reads them (most traffic is clicks and pointer moves)."""
    return frozenset(cls for cls, kind in TOUCH_KIND_OF.items() if kind in kinds)


def touch_of(event: Event, profile: UserProfile) -> Touch | None:
    """The touch of ``event`` (read *before* the event is folded into ``profile``)."""
    user, time = event.user_id, event.event_time
    if isinstance(event, Checkout):
        return Touch(
            "checkout",
            time,
            user=user,
            device=event.device_id,
            ip=event.ip,
            instrument=event.instrument_fingerprint,
            merchant=event.merchant_id,
            country=event.country,
            bin_country=event.bin_country,
            amount=event.amount,
            promo=has_promo(profile, event.session_id),
            cross_border=event.bin_country != event.country,
            account_age=time - min(profile.first_seen, time),
        )
    if isinstance(event, Login):
        return Touch(
            "login",
            time,
            user=user,
            device=event.device_id,
            ip=event.ip,
            country=event.country,
            success=event.success,
        )
    if isinstance(event, Click):
        return Touch("click", time, user=user, device=event.device_id)
    if isinstance(event, MouseMovement):
        return Touch("mouse", time, user=user)
    if isinstance(event, PromoApplied):
        login = profile.login
        device = event.device_id or (login.device if login is not None else None)
        return Touch("promo", time, user=user, device=device, discount=event.discount_value)
    if isinstance(event, Chargeback | FraudReported):
        target = label_target(profile, event)
        instrument, merchant = target if target is not None else (None, None)
        kind = "chargeback" if isinstance(event, Chargeback) else "fraud_reported"
        amount = event.amount if isinstance(event, Chargeback) else None
        return Touch(kind, time, user=user, instrument=instrument, merchant=merchant, amount=amount)
    if isinstance(event, AddressChanged):
        return Touch("address_changed", time, user=user, device=event.device_id)
    if isinstance(event, ProfileUpdated):
        return Touch("profile_updated", time, user=user, device=event.device_id)
    return None

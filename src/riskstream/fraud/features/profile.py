"""The live risk profile of one user, and the features a checkout reads from it.

The profile folds every event of the user (they arrive co-partitioned, in event-time order):
known devices, countries, instruments and shipping addresses with their first-seen times, the
latest login, the recent sessions (first click, promo, pointer statistics), the last
geolocated position and the travel speed it implied, account changes, the user's recent
transactions (so a late chargeback can be routed to the card and merchant it concerns), and
the declared per-user aggregates.

"New" is relative to history: a user with no known device has no "new device" (the first
login of an account is its baseline, not a takeover signal); account age covers that case.
Every read happens *before* the checkout itself is folded in, so a checkout never sees
itself or anything later.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

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
from riskstream.fraud.features.aggregates import AggregateState, EntityAggregates
from riskstream.fraud.features.travel import great_circle_km, speed_kmh

__all__ = ["LastLogin", "SessionFacts", "UserProfile", "checkout_features", "fold"]

MAX_KNOWN: Final = 64  # devices, instruments, addresses remembered per user
MAX_COUNTRIES: Final = 32
MAX_SESSIONS: Final = 4
MAX_TRANSACTIONS: Final = 256  # recent checkouts kept to route late labels


class SessionFacts(msgspec.Struct, gc=False, array_like=True):
    """What one browsing session did before its checkout."""

    id: str
    last_seen: int
    first_click: int | None = None
    promo_value: float | None = None
    promo_cart_value: float | None = None
    promo_code: str | None = None
    promo_time: int | None = None
    mouse_samples: int = 0
    mouse_straightness_sum: float = 0.0  # straightness x samples, for a sample-weighted mean
    mouse_path: float = 0.0
    mouse_duration: int = 0
    mouse_max_speed: float = 0.0


class LastLogin(msgspec.Struct, gc=False, array_like=True):
    time: int
    device: str
    country: str
    new_device: bool
    new_country: bool


class UserProfile(msgspec.Struct, gc=False, array_like=True):
    first_seen: int
    aggregates: AggregateState
    devices: dict[str, int] = msgspec.field(default_factory=dict)
    countries: dict[str, int] = msgspec.field(default_factory=dict)
    instruments: dict[str, int] = msgspec.field(default_factory=dict)
    addresses: dict[str, int] = msgspec.field(default_factory=dict)
    sessions: list[SessionFacts] = msgspec.field(default_factory=list)
    login: LastLogin | None = None
    address_changed_at: int | None = None
    profile_changed_at: int | None = None
    email_hash: str | None = None
    geo: tuple[int, float, float] | None = None  # last geolocated event: time, lat, lon
    travel_speed: float | None = None
    travel_distance: float | None = None
    transactions: dict[str, tuple[str, str]] = msgspec.field(default_factory=dict)


def _remember(known: dict[str, int], value: str, time: int, limit: int) -> None:
    """Note ``value`` as seen (first-seen time kept); forget the oldest beyond ``limit``."""
    first = known.get(value)
    if first is None or time < first:
        known[value] = time
        if len(known) > limit:
            del known[min(known, key=known.__getitem__)]


def _session(profile: UserProfile, session_id: str | None, time: int) -> SessionFacts | None:
    """The session ``session_id`` (created on first sight); the latest when no id is given."""
    sessions = profile.sessions
    if session_id is None:
        return sessions[-1] if sessions else None
    for session in sessions:
        if session.id == session_id:
            if time > session.last_seen:  # noqa: PLR1730 - hot path: a compare beats max()
                session.last_seen = time
            return session
    session = SessionFacts(session_id, time)
    sessions.append(session)
    if len(sessions) > MAX_SESSIONS:
        del sessions[0]
    return session


def fold(profile: UserProfile, event: Event) -> None:
    """Fold one event into the profile (aggregates are the caller's: they need touches)."""
    time = event.event_time
    if time < profile.first_seen:  # noqa: PLR1730 - hot path: a compare beats min()
        profile.first_seen = time
    # most traffic first: clicks, then pointer moves
    if type(event) is Click:
        session = _session(profile, event.session_id, time)
        if session is not None and (session.first_click is None or time < session.first_click):
            session.first_click = time
    elif type(event) is MouseMovement:
        session = _session(profile, event.session_id, time)
        if session is not None:
            samples = event.sample_count
            session.mouse_samples += samples
            session.mouse_straightness_sum += event.straightness * samples
            session.mouse_path += event.path_length
            session.mouse_duration += event.duration_ms
            if event.max_speed > session.mouse_max_speed:  # noqa: PLR1730 - a compare beats max()
                session.mouse_max_speed = event.max_speed
    elif isinstance(event, PromoApplied):
        session = _session(profile, event.session_id, time)
        if session is not None:
            session.promo_value = event.discount_value
            session.promo_cart_value = event.cart_value
            session.promo_code = event.code
            session.promo_time = time
    elif isinstance(event, Login):
        _fold_login(profile, event)
    elif isinstance(event, Checkout):
        _fold_checkout(profile, event)
    elif isinstance(event, AddressChanged):
        profile.address_changed_at = time
    elif isinstance(event, ProfileUpdated):
        profile.profile_changed_at = time
        if event.email_hash is not None:
            profile.email_hash = event.email_hash


def _fold_login(profile: UserProfile, login: Login) -> None:
    time = login.event_time
    if login.latitude is not None and login.longitude is not None:
        if profile.geo is not None and profile.geo[0] <= time:
            distance = great_circle_km(
                profile.geo[1], profile.geo[2], login.latitude, login.longitude
            )
            profile.travel_distance = distance
            profile.travel_speed = speed_kmh(distance, time - profile.geo[0])
        profile.geo = (time, login.latitude, login.longitude)
    if not login.success:
        return  # a failed login proves nothing about the user's devices or countries
    profile.login = LastLogin(
        time,
        login.device_id,
        login.country,
        new_device=bool(profile.devices) and login.device_id not in profile.devices,
        new_country=bool(profile.countries) and login.country not in profile.countries,
    )
    _remember(profile.devices, login.device_id, time, MAX_KNOWN)
    _remember(profile.countries, login.country, time, MAX_COUNTRIES)


def _fold_checkout(profile: UserProfile, checkout: Checkout) -> None:
    time = checkout.event_time
    _remember(profile.devices, checkout.device_id, time, MAX_KNOWN)
    _remember(profile.countries, checkout.country, time, MAX_COUNTRIES)
    _remember(profile.instruments, checkout.instrument_fingerprint, time, MAX_KNOWN)
    _remember(profile.addresses, checkout.shipping_address_hash, time, MAX_KNOWN)
    transactions = profile.transactions
    transactions[checkout.transaction_id] = (checkout.instrument_fingerprint, checkout.merchant_id)
    if len(transactions) > MAX_TRANSACTIONS:
        del transactions[next(iter(transactions))]


def label_target(profile: UserProfile, label: Chargeback | FraudReported) -> tuple[str, str] | None:
    """The (instrument, merchant) a late label concerns, if the checkout is remembered."""
    return profile.transactions.get(label.transaction_id)


def _seconds(start: int | None, end: int | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start) / 1000


def checkout_features(
    profile: UserProfile, checkout: Checkout, aggregates: EntityAggregates
) -> dict[str, Any]:
    """The user-side features of ``checkout``, as of its event time (before it is folded)."""
    time = checkout.event_time
    login = profile.login
    session = _session_view(profile, checkout.session_id)
    first_click = None if session is None else session.first_click
    features: dict[str, Any] = aggregates.read(profile.aggregates, time)
    features.update(
        {
            "checkout.amount": checkout.amount,
            "checkout.currency": checkout.currency,
            "checkout.country": checkout.country,
            "checkout.bin_country": checkout.bin_country,
            "checkout.item_count": checkout.item_count,
            "checkout.seconds_after_first_click": _seconds(first_click, time),
            "checkout.new_shipping_address": checkout.shipping_address_hash
            not in profile.addresses,
            "checkout.cross_border": checkout.bin_country != checkout.country,
            "checkout.amount_to_usual": _to_usual(
                checkout.amount, features.get("user.avg_checkout_amount_30d")
            ),
            "user.email_hash": profile.email_hash,
            "account.age_ms": time - profile.first_seen,
            "account.ms_since_address_change": _since(profile.address_changed_at, time),
            "account.ms_since_profile_change": _since(profile.profile_changed_at, time),
            "device.id": checkout.device_id,
            "instrument.id": checkout.instrument_fingerprint,
            "instrument.bin": checkout.bin,
            "instrument.new_for_user": checkout.instrument_fingerprint not in profile.instruments,
            "ip.address": checkout.ip,
            "merchant.id": checkout.merchant_id,
            "travel.speed_kmh": profile.travel_speed,
            "travel.distance_km": profile.travel_distance,
        }
    )
    if login is not None and login.time <= time:
        features["login.new_device"] = login.new_device
        features["login.new_country"] = login.new_country
        features["login.country"] = login.country
        features["session.ms_since_login"] = time - login.time
    if session is not None:
        if session.promo_time is not None and session.promo_time <= time:
            features["promo.value"] = session.promo_value
            features["promo.cart_value"] = session.promo_cart_value
            features["promo.code"] = session.promo_code
            features["promo.seconds_after_first_click"] = _seconds(first_click, session.promo_time)
        if session.mouse_samples:
            features["mouse.samples"] = session.mouse_samples
            features["mouse.straightness"] = session.mouse_straightness_sum / session.mouse_samples
            duration = session.mouse_duration
            features["mouse.mean_speed"] = session.mouse_path / duration if duration > 0 else None
            features["mouse.max_speed"] = session.mouse_max_speed
            mean = features["mouse.mean_speed"]
            features["mouse.speed_ratio"] = session.mouse_max_speed / mean if mean else None
    return features


def _to_usual(amount: float, usual: object) -> float | None:
    """``amount`` in multiples of the user's usual order (null without an order history)."""
    if not isinstance(usual, int | float) or usual <= 0:
        return None
    return amount / usual


def has_promo(profile: UserProfile, session_id: str | None) -> bool:
    session = _session_view(profile, session_id)
    return session is not None and session.promo_time is not None


def _session_view(profile: UserProfile, session_id: str | None) -> SessionFacts | None:
    """The checkout's session without creating one (reads must not change the profile)."""
    sessions = profile.sessions
    if session_id is None:
        return sessions[-1] if sessions else None
    for session in sessions:
        if session.id == session_id:
            return session
    return None


def _since(at: int | None, time: int) -> int | None:
    return None if at is None or at > time else time - at

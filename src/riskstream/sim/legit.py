"""Legitimate customers: how ordinary sessions look, and how customers travel and change devices.

A session starts with a landing click, usually a login from one of the customer's usual
devices where they are, then page views (log-normal dwell times, pointer summaries on devices
with a mouse) and, for about a third of sessions, a cart and a checkout with a basket drawn
from the merchant category's log-normal distribution, sometimes with a promo code. Now and
then a customer changes address, updates their profile, gets a new phone, or travels —
never faster than a plane allows since they were last seen. A few orders ship somewhere
else than home (a gift, the office, a pickup point) without any change of address.
"""

from __future__ import annotations

import math
import random
from typing import Final

from riskstream.sim.catalog import PROMOS, Category
from riskstream.sim.draws import Weighted, below, lognormal
from riskstream.sim.geo import COUNTRIES, Country, distance_km
from riskstream.sim.population import (
    DAY_MS,
    Device,
    User,
    device_kind,
    new_device,
    new_instrument,
)
from riskstream.sim.session import Session, World

__all__ = ["MAX_TRAVEL_KMH", "SIGNUP_RATE", "basket", "legit_session", "locate", "signup_session"]

MAX_TRAVEL_KMH: Final = 750.0
"""Legitimate travel is never faster than this between two sightings (plus a margin)."""
_TRAVEL_MARGIN_MS: Final = 90 * 60_000  # airports, taxis
_TRIP_RATE: Final = 0.01  # chance a session at home is the first one of a trip
_DEVICE_CHANGE_RATE: Final = 0.008
_LOGIN_RATE: Final = 0.65  # the rest are remembered sessions
_FAILED_LOGIN_RATE: Final = 0.04
_ADDRESS_CHANGE_RATE: Final = 0.008
_PROFILE_UPDATE_RATE: Final = 0.004
_PROMO_RATE: Final = 0.14
_GIFT_RATE: Final = 0.04  # orders shipped elsewhere: a gift, the office, a pickup point
SIGNUP_RATE: Final = 0.01
"""Share of ordinary sessions that are a new customer signing up."""
_WELCOME: Final = (next(p for p in PROMOS if p.code == "WELCOME10"),) * 3 + (
    next(p for p in PROMOS if p.code == "NEWUSER20"),
)
_DESTINATIONS: Final = Weighted(list(COUNTRIES.values()), [c.travel for c in COUNTRIES.values()])
_LEGIT_PROMOS: Final = Weighted(PROMOS, [p.legit_weight for p in PROMOS])
_PROFILE_FIELDS: Final = (("password",), ("phone",), ("email",), ("email", "phone"))


def basket(rng: random.Random, category: Category) -> tuple[float, int]:
    """A cart value (log-normal for the category) and a plausible item count."""
    value = lognormal(rng, category.median, category.sigma, 1.0, 20_000.0)
    items = round(value * category.items_per_100 / 100 * rng.uniform(0.6, 1.4))
    return round(value, 2), min(60, max(1, items))


def _reachable(user: User, lat: float, lon: float, when: float) -> bool:
    if user.last_seen_ms == -math.inf:
        return True
    hours_needed = distance_km(user.lat, user.lon, lat, lon) / MAX_TRAVEL_KMH
    return when - user.last_seen_ms >= hours_needed * 3_600_000 + _TRAVEL_MARGIN_MS


def locate(world: World, user: User, when: float) -> None:
    """Move the customer home after a trip, or off on one, if a plane could have made it."""
    rng = world.rng
    if not user.at_home:
        home = user.home
        lat, lon = user.city[1], user.city[2]
        if when >= user.away_until_ms and _reachable(user, lat, lon, when):
            user.country, user.lat, user.lon, user.away_until_ms = home.code, lat, lon, 0.0
        return
    if rng.random() >= _TRIP_RATE:
        return
    destination: Country = _DESTINATIONS.pick(rng)
    if destination.code == user.home.code:
        return
    _, lat, lon = destination.cities[below(rng, len(destination.cities))]
    lat, lon = lat + rng.uniform(-0.05, 0.05), lon + rng.uniform(-0.05, 0.05)
    if _reachable(user, lat, lon, when):
        user.country, user.lat, user.lon = destination.code, lat, lon
        user.away_until_ms = when + lognormal(rng, 5.0, 0.6, 1.0, 30.0) * DAY_MS
        user.visited = (*user.visited, destination.code)


def _device(world: World, user: User) -> Device:
    rng = world.rng
    if rng.random() < _DEVICE_CHANGE_RATE:
        device = new_device(rng, device_kind(rng))
        user.devices.insert(0, device)  # the new phone or laptop becomes the usual one
        del user.devices[4:]
        return device
    devices = user.devices
    if len(devices) == 1 or rng.random() < 0.6:
        return devices[0]
    return devices[below(rng, len(devices))]


def _ip(rng: random.Random, user: User, device: Device) -> str:
    if user.at_home and (device.kind != "mobile" or rng.random() < 0.5):
        return user.home_ip  # the household connection
    country = COUNTRIES[user.country]
    prefix = country.prefixes[below(rng, len(country.prefixes))]
    return f"{prefix}{below(rng, 256)}.{1 + below(rng, 254)}"  # carrier or hotel network


def legit_session(world: World, user: User, start: float) -> None:
    """One ordinary visit by ``user`` starting at ``start``."""
    rng = world.rng
    device = _device(world, user)
    locate(world, user, start)
    session = Session(
        world,
        user.user_id,
        device,
        ip=_ip(rng, user, device),
        country=user.country,
        lat=user.lat,
        lon=user.lon,
        start_ms=start,
    )
    mouse = device.has_mouse
    session.click("/" if rng.random() < 0.55 else f"/product/{below(rng, 200_000):06d}")
    if mouse:
        session.mouse()
    if rng.random() < _LOGIN_RATE:
        session.dwell(5_000, 0.6, 1_500, 60_000)
        if rng.random() < _FAILED_LOGIN_RATE:  # a typo or a forgotten password
            for _ in range(1 + (rng.random() < 0.35)):
                session.login(success=False)
                session.wait(4_000, 20_000)
        session.login()
    if rng.random() < _ADDRESS_CHANGE_RATE:
        session.dwell(20_000, 0.5, 5_000, 120_000)
        user.address_hash = f"addr-{rng.getrandbits(64):016x}"
        session.address_changed(user.address_hash)
    if rng.random() < _PROFILE_UPDATE_RATE:
        session.dwell(20_000, 0.5, 5_000, 120_000)
        fields = _PROFILE_FIELDS[below(rng, len(_PROFILE_FIELDS))]
        if "email" in fields:
            user.email_hash = f"{rng.getrandbits(128):032x}"
        session.profile_updated(
            fields,
            email_hash=user.email_hash if "email" in fields else None,
            phone_hash=user.phone_hash if "phone" in fields else None,
        )
    pages = min(40, 1 + int(rng.expovariate(0.25)))
    for _ in range(pages):
        session.dwell(14_000, 0.9, 800, 600_000)
        session.browse()
        if mouse:
            session.mouse()
            if rng.random() < 0.3:
                session.mouse()
    if rng.random() < 0.2 + 0.025 * min(pages, 8):
        _purchase(world, session, user)
        if rng.random() < 0.05:
            _purchase(world, session, user)
    user.last_seen_ms = max(user.last_seen_ms, session.t)


def signup_session(world: World, start: float) -> None:
    """A new customer: signs up on their device, often buys with a welcome code, returns."""
    rng, population = world.rng, world.population
    user = population.fresh_account(rng, start)
    user.devices.append(new_device(rng, device_kind(rng)))
    user.instruments.append(new_instrument(rng, user.home.code))
    population.join(user)
    device = user.devices[0]
    session = Session(
        world,
        user.user_id,
        device,
        ip=_ip(rng, user, device),
        country=user.country,
        lat=user.lat,
        lon=user.lon,
        start_ms=start,
    )
    session.click("/")
    session.dwell(20_000, 0.6, 3_000, 300_000)
    session.click("/signup")
    session.dwell(40_000, 0.5, 10_000, 300_000)
    session.profile_updated(
        ("email", "password", "phone"), email_hash=user.email_hash, phone_hash=user.phone_hash
    )
    session.wait(1_000, 5_000)
    session.login()
    for _ in range(1 + int(rng.expovariate(0.3))):
        session.dwell(14_000, 0.9, 800, 600_000)
        session.browse()
        if device.has_mouse:
            session.mouse()
    if rng.random() < 0.45:
        _purchase(world, session, user, welcome=True)
    user.last_seen_ms = session.t


def _purchase(world: World, session: Session, user: User, *, welcome: bool = False) -> None:
    rng = world.rng
    merchant = world.population.merchant(rng)
    cart, items = basket(rng, merchant.category)
    mouse = session.device.has_mouse
    session.dwell(8_000, 0.7, 1_000, 120_000)
    session.click("/cart")
    if mouse:
        session.mouse()
    discount = 0.0
    if rng.random() < (0.6 if welcome else _PROMO_RATE):
        promo = _WELCOME[below(rng, len(_WELCOME))] if welcome else _LEGIT_PROMOS.pick(rng)
        if cart >= promo.min_cart:
            session.dwell(9_000, 0.7, 2_000, 90_000)
            discount = promo.discount(cart)
            session.promo(promo.code, discount, cart)
    session.dwell(6_000, 0.6, 1_500, 60_000)
    session.click("/checkout")
    if mouse:
        session.mouse()
    session.dwell(25_000, 0.6, 5_000, 300_000)
    cards = user.instruments
    card = cards[0] if len(cards) == 1 or rng.random() < 0.75 else cards[below(rng, len(cards))]
    shipping = user.address_hash
    if rng.random() < _GIFT_RATE:
        shipping = f"addr-{rng.getrandbits(64):016x}"
    session.checkout(
        amount=max(0.5, cart - discount),
        merchant=merchant,
        instrument=card,
        items=items,
        shipping=shipping,
    )

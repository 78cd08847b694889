"""Labelled fraud scenarios: each one writes an attack's events and marks its checkouts fraud.

Every scenario is a function of the world and a start time that emits one incident: the
events an attacker causes (on a victim's account or on accounts they open), each checkout
with its ground truth (scenario name, incident id), and — for the part of the fraud that is
ever reported — a chargeback or fraud report days later. :data:`SCENARIOS` lists them with
their default weights and the signature a detector should find (the unit tests check each
signature on the generated events).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from riskstream.sim.catalog import HIGH_VALUE_PROMO, PROMOS
from riskstream.sim.draws import Weighted, lognormal
from riskstream.sim.geo import COUNTRIES, HOSTING_PREFIXES, Country, distance_km
from riskstream.sim.population import Instrument, Merchant, User, new_device, new_instrument
from riskstream.sim.session import Session, World

__all__ = ["SCENARIOS", "Scenario"]

_FRAUD_ORIGINS: Final = Weighted(list(COUNTRIES.values()), [c.fraud for c in COUNTRIES.values()])
_SHOPPER_COUNTRIES: Final = Weighted(
    list(COUNTRIES.values()), [c.shoppers for c in COUNTRIES.values()]
)
_PROMO: Final = {p.code: p for p in PROMOS}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an attacker appears to be: an IP and where it geolocates."""

    ip: str
    country: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Scenario:
    """A fraud pattern: how to inject one incident, how common it is, what gives it away."""

    name: str
    run: Callable[[World, float], None]
    weight: float  # default share of fraud incidents
    expected_checkouts: float  # mean checkouts per incident (calibrates the fraud rate)
    signature: str


def _origin(rng: random.Random, avoid: set[str], hosting: float) -> Origin:
    """An attacker location outside ``avoid``: a data-centre IP or a residential one."""
    if rng.random() < hosting:
        candidates = [(p, c) for p, c in HOSTING_PREFIXES if c not in avoid]
        if candidates:
            prefix, code = candidates[rng.randrange(len(candidates))]
            _, lat, lon = COUNTRIES[code].cities[0]
            return Origin(f"{prefix}{rng.randrange(256)}.{rng.randrange(1, 255)}", code, lat, lon)
    country: Country = _FRAUD_ORIGINS.pick(rng)
    while country.code in avoid:
        country = _FRAUD_ORIGINS.pick(rng)
    return _residential(rng, country)


def _residential(rng: random.Random, country: Country) -> Origin:
    prefix = country.prefixes[rng.randrange(len(country.prefixes))]
    _, lat, lon = country.cities[rng.randrange(len(country.cities))]
    return Origin(
        f"{prefix}{rng.randrange(256)}.{rng.randrange(1, 255)}",
        country.code,
        lat + rng.uniform(-0.05, 0.05),
        lon + rng.uniform(-0.05, 0.05),
    )


def _known_places(user: User) -> set[str]:
    return {user.home.code, user.country, *user.visited}


def _attack(world: World, user: User, origin: Origin, kind: str, start: float) -> Session:
    device = new_device(world.rng, kind)
    return Session(
        world,
        user.user_id,
        device,
        ip=origin.ip,
        country=origin.country,
        lat=origin.lat,
        lon=origin.lon,
        start_ms=start,
    )


def _signup(session: Session, user: User) -> None:
    """A new account's first event: the profile with its email and phone."""
    session.profile_updated(
        ("email", "password", "phone"), email_hash=user.email_hash, phone_hash=user.phone_hash
    )
    session.wait(8_000, 45_000)


def _drop_address(rng: random.Random) -> str:
    return f"addr-{rng.getrandbits(64):016x}"


def _merchant(world: World, *categories: str) -> Merchant:
    rng = world.rng
    return world.population.merchant(rng, categories[rng.randrange(len(categories))])


def _card(user: User, rng: random.Random) -> Instrument:
    cards = user.instruments
    return cards[rng.randrange(len(cards))]


# -- the scenarios -------------------------------------------------------------------------


def account_takeover(world: World, start: float) -> None:
    """Stolen credentials: new device, new country, profile hijack, fast high-value order."""
    rng, name = world.rng, "account_takeover"
    victim = world.population.victim(rng)
    incident = world.incident_id(name)
    origin = _origin(rng, _known_places(victim), hosting=0.35)
    s = _attack(world, victim, origin, "desktop" if rng.random() < 0.7 else "mobile", start)
    if rng.random() < 0.5:  # credential stuffing gets there after a few misses
        for _ in range(rng.randint(1, 4)):
            s.login(success=False)
            s.wait(1_500, 8_000)
    s.login()
    s.wait(1_500, 6_000)
    s.click("/account")
    if s.device.has_mouse:
        s.mouse()
    shipping = victim.address_hash
    if rng.random() < 0.5:
        s.wait(5_000, 20_000)
        s.profile_updated(("email", "password"), email_hash=f"{rng.getrandbits(128):032x}")
    if rng.random() < 0.65:
        s.wait(5_000, 30_000)
        shipping = _drop_address(rng)
        s.address_changed(shipping)
    for _ in range(1 + (rng.random() < 0.4)):
        for _ in range(rng.randint(1, 3)):
            s.wait(3_000, 15_000)
            s.browse()
        s.wait(2_000, 10_000)
        s.click("/checkout")
        s.wait(5_000, 25_000)
        s.checkout(
            amount=lognormal(rng, 950, 0.5, 350, 6_000),
            merchant=_merchant(world, "electronics", "electronics", "gift_cards", "travel"),
            instrument=_card(victim, rng),
            items=rng.randint(1, 3),
            shipping=shipping,
            scenario=name,
            incident=incident,
        )


def promo_abuse(world: World, start: float) -> None:
    """The seed pattern: new device, unusual country, high-value promo within 30 s of the
    first click, then checkout."""
    rng, name = world.rng, "promo_abuse"
    victim = world.population.victim(rng)
    incident = world.incident_id(name)
    origin = _origin(rng, _known_places(victim), hosting=0.2)
    s = _attack(world, victim, origin, "desktop" if rng.random() < 0.6 else "mobile", start)
    s.login()
    s.wait(800, 4_000)
    s.click("/deals")
    first = s.t
    s.wait(1_500, 4_000)
    s.click("/cart")
    cart = round(lognormal(rng, 420, 0.45, 160, 3_000), 2)
    code = (
        "BIGSPENDER100"
        if cart >= 500 and rng.random() < 0.4
        else ("VIP50", "STAFF40")[rng.random() < 0.3]
    )
    discount = _PROMO[code].discount(cart)
    s.t = first + rng.uniform(5_000, 26_000)
    s.promo(code, discount, cart)  # >= HIGH_VALUE_PROMO: carts of 160+ with these codes
    if s.device.has_mouse:
        s.mouse()
    s.wait(2_000, 15_000)
    s.click("/checkout")
    s.wait(4_000, 30_000)
    stolen = rng.random() < 0.3
    s.checkout(
        amount=cart - discount,
        merchant=_merchant(world, "electronics", "fashion", "gift_cards"),
        instrument=new_instrument(rng, _SHOPPER_COUNTRIES.pick(rng).code)
        if stolen
        else _card(victim, rng),
        items=rng.randint(1, 4),
        shipping=_drop_address(rng) if rng.random() < 0.6 else victim.address_hash,
        scenario=name,
        incident=incident,
    )


def card_testing(world: World, start: float) -> None:
    """Checking stolen cards: a burst of tiny charges across many cards from one device."""
    rng, name, pop = world.rng, "card_testing", world.population
    incident = world.incident_id(name)
    origin = _origin(rng, set(), hosting=0.6)
    fresh = rng.random() < 0.7
    account = pop.fresh_account(rng, start) if fresh else pop.victim(rng)
    scripted = rng.random() < 0.6
    s = _attack(world, account, origin, "bot" if scripted else "desktop", start)
    if fresh:
        _signup(s, account)
    s.login()
    s.wait(1_000, 5_000)
    s.click(f"/c/{('digital_goods', 'gift_cards', 'gaming')[rng.randrange(3)]}")
    merchant = _merchant(world, "digital_goods", "gaming", "gift_cards")
    tests = rng.randint(8, 30)
    cards = [
        new_instrument(rng, _SHOPPER_COUNTRIES.pick(rng).code)
        for _ in range(rng.randint(max(5, tests // 2), tests))
    ]
    shipping = _drop_address(rng)
    for index in range(tests):
        s.wait(2_500, 15_000)
        if scripted and rng.random() < 0.5:
            s.t -= 800  # the summary lands just before the charge, inside the pause
            s.mouse(scripted=True)
        amount = 1.0 if rng.random() < 0.2 else round(rng.uniform(0.5, 4.99), 2)
        card = cards[index] if index < len(cards) else cards[rng.randrange(len(cards))]
        s.checkout(
            amount=amount,
            merchant=merchant,
            instrument=card,
            items=1,
            shipping=shipping,
            scenario=name,
            incident=incident,
        )
    if rng.random() < 0.45:  # cash out on a card that passed
        s.wait(60_000, 900_000)
        s.click("/checkout")
        s.checkout(
            amount=lognormal(rng, 600, 0.5, 150, 3_000),
            merchant=_merchant(world, "electronics", "gift_cards"),
            instrument=cards[rng.randrange(len(cards))],
            items=rng.randint(1, 3),
            shipping=shipping,
            scenario=name,
            incident=incident,
        )


def velocity_attack(world: World, start: float) -> None:
    """A hijacked account drained fast: many mid-size orders in minutes, from home's country."""
    rng, name = world.rng, "velocity_attack"
    victim = world.population.victim(rng)
    incident = world.incident_id(name)
    origin = _residential(rng, victim.home)  # a residential proxy in the victim's country
    s = _attack(world, victim, origin, "desktop" if rng.random() < 0.6 else "mobile", start)
    s.login()
    s.wait(1_000, 5_000)
    s.click("/deals")
    shipping = _drop_address(rng)
    for index in range(rng.randint(6, 18)):
        s.wait(15_000, 60_000)
        s.click("/checkout")
        s.wait(2_000, 8_000)
        s.checkout(
            amount=lognormal(rng, 140, 0.6, 40, 900),
            merchant=world.population.merchant(rng),
            instrument=victim.instruments[index % len(victim.instruments)],
            items=rng.randint(1, 4),
            shipping=shipping,
            scenario=name,
            incident=incident,
        )


def impossible_travel(world: World, start: float) -> None:
    """The customer logs in where they are; minutes later "they" log in continents away
    (a stolen session cookie or password) and buy."""
    rng, name = world.rng, "impossible_travel"
    victim = world.population.victim(rng)
    incident = world.incident_id(name)
    home_device = victim.devices[0]
    real = Session(
        world,
        victim.user_id,
        home_device,
        ip=victim.home_ip if victim.at_home else _residential(rng, COUNTRIES[victim.country]).ip,
        country=victim.country,
        lat=victim.lat,
        lon=victim.lon,
        start_ms=start,
    )
    real.click("/")
    real.wait(2_000, 10_000)
    real.login()
    login_at = real.t
    for _ in range(rng.randint(1, 3)):
        real.dwell(14_000, 0.8, 1_000, 120_000)
        real.browse()
    victim.last_seen_ms = max(victim.last_seen_ms, real.t)
    far = _far_origin(rng, victim)
    km = distance_km(victim.lat, victim.lon, far.lat, far.lon)
    latest_ms = min(3 * 3_600_000.0, km / 1_500 * 3_600_000)  # at least 1500 km/h
    attacker_start = login_at + rng.uniform(min(10 * 60_000.0, latest_ms / 2), latest_ms)
    hijack = rng.random() < 0.5  # a stolen session keeps the victim's device fingerprint
    s = Session(
        world,
        victim.user_id,
        home_device if hijack else new_device(rng, "desktop"),
        ip=far.ip,
        country=far.country,
        lat=far.lat,
        lon=far.lon,
        start_ms=attacker_start,
    )
    s.login()
    s.wait(1_000, 5_000)
    s.click("/deals")
    for _ in range(rng.randint(1, 3)):
        s.wait(5_000, 40_000)
        s.browse()
    s.wait(3_000, 20_000)
    s.click("/checkout")
    s.wait(5_000, 30_000)
    s.checkout(
        amount=lognormal(rng, 450, 0.6, 120, 4_000),
        merchant=_merchant(world, "electronics", "gift_cards", "fashion", "travel"),
        instrument=_card(victim, rng),
        items=rng.randint(1, 3),
        shipping=_drop_address(rng),
        scenario=name,
        incident=incident,
    )


def _far_origin(rng: random.Random, victim: User) -> Origin:
    avoid = _known_places(victim)
    best: Origin | None = None
    best_km = -1.0
    for _ in range(24):
        origin = _residential(rng, _FRAUD_ORIGINS.pick(rng))
        if origin.country in avoid:
            continue
        km = distance_km(victim.lat, victim.lon, origin.lat, origin.lon)
        if km >= 3_000:
            return origin
        if km > best_km:
            best, best_km = origin, km
    if best is None or best_km < 1_000:
        far = max(
            (c for c in COUNTRIES.values() if c.code not in avoid),
            key=lambda c: distance_km(victim.lat, victim.lon, c.cities[0][1], c.cities[0][2]),
        )
        return _residential(rng, far)
    return best


def multi_account_promo(world: World, start: float) -> None:
    """One device signs up account after account to redeem the new-customer promo."""
    rng, name, pop = world.rng, "multi_account_promo", world.population
    incident = world.incident_id(name)
    country = _FRAUD_ORIGINS.pick(rng) if rng.random() < 0.5 else _SHOPPER_COUNTRIES.pick(rng)
    device = new_device(rng, "desktop" if rng.random() < 0.7 else "mobile")
    code = ("NEWUSER20", "WELCOME10", "VIP50")[min(2, int(rng.random() * 2.4))]
    shipping = _drop_address(rng)
    shared_cards = [new_instrument(rng, country.code) for _ in range(2)]
    rotate = rng.random() < 0.5
    origin = _residential(rng, country)
    cursor = start
    for _ in range(rng.randint(5, 14)):
        account = pop.fresh_account(rng, cursor, country)
        if rotate:
            origin = _residential(rng, country)
        s = Session(
            world,
            account.user_id,
            device,
            ip=origin.ip,
            country=origin.country,
            lat=origin.lat,
            lon=origin.lon,
            start_ms=cursor,
        )
        _signup(s, account)
        s.login()
        s.wait(1_000, 4_000)
        s.click("/")
        for _ in range(rng.randint(0, 2)):
            s.wait(3_000, 15_000)
            s.browse()
        s.wait(2_000, 10_000)
        s.click("/cart")
        cart = round(lognormal(rng, 110 if code == "VIP50" else 70, 0.4, 25, 400), 2)
        discount = _PROMO[code].discount(cart)
        s.wait(3_000, 20_000)
        s.promo(code, discount, cart)
        s.wait(5_000, 40_000)
        s.click("/checkout")
        s.wait(5_000, 25_000)
        s.checkout(
            amount=max(0.5, cart - discount),
            merchant=_merchant(world, "fashion", "beauty", "gaming", "electronics"),
            instrument=shared_cards[rng.randrange(2)]
            if rng.random() < 0.4
            else new_instrument(rng, country.code),
            items=rng.randint(1, 3),
            shipping=shipping,
            scenario=name,
            incident=incident,
        )
        cursor = s.t + rng.uniform(30_000, 300_000)


def bot_checkout(world: World, start: float) -> None:
    """Automation: scripted pointer (straight lines, constant speed), checkout in seconds."""
    rng, name, pop = world.rng, "bot_checkout", world.population
    incident = world.incident_id(name)
    origin = _origin(rng, set(), hosting=0.8)
    fresh = rng.random() < 0.5
    account = pop.fresh_account(rng, start) if fresh else pop.victim(rng)
    s = _attack(world, account, origin, "bot", start)
    if fresh:
        _signup(s, account)
    s.login()
    s.wait(300, 1_200)
    s.click(f"/product/{rng.randrange(200_000):06d}")
    s.mouse(scripted=True)
    for _ in range(rng.randint(0, 2)):
        s.wait(200, 900)
        s.browse()
        s.mouse(scripted=True)
    s.wait(200, 900)
    s.click("/cart")
    s.mouse(scripted=True)
    s.wait(200, 800)
    s.click("/checkout")
    merchant = _merchant(world, "fashion", "electronics", "sports", "gaming")
    card = _card(account, rng) if account.instruments else new_instrument(rng, origin.country)
    shipping = _drop_address(rng)
    for _ in range(1 + (rng.random() < 0.5) + (rng.random() < 0.25)):
        s.wait(300, 1_500)
        s.checkout(
            amount=lognormal(rng, 260, 0.5, 60, 2_000),
            merchant=merchant,
            instrument=card,
            items=rng.randint(1, 2),
            shipping=shipping,
            scenario=name,
            incident=incident,
        )
        s.wait(1_000, 4_000)


def compromised_merchant(world: World, start: float) -> None:
    """Stolen cards cashed out through a compromised (colluding or breached) merchant."""
    rng, name, pop = world.rng, "compromised_merchant", world.population
    incident = world.incident_id(name)
    merchant = pop.compromised[rng.randrange(len(pop.compromised))]
    origin = _origin(rng, set(), hosting=0.4)
    fresh = rng.random() < 0.6
    account = pop.fresh_account(rng, start) if fresh else pop.victim(rng)
    s = _attack(world, account, origin, "desktop", start)
    if fresh:
        _signup(s, account)
    s.login()
    s.wait(1_000, 5_000)
    s.click(f"/c/{merchant.category.name}")
    s.mouse()
    for _ in range(rng.randint(1, 3)):
        s.dwell(10_000, 0.6, 2_000, 60_000)
        s.browse()
        s.mouse()
    issuers = [c for c in COUNTRIES.values() if c.code != origin.country]
    cards = [
        new_instrument(rng, issuers[rng.randrange(len(issuers))].code)
        for _ in range(1 + (rng.random() < 0.4))
    ]
    shipping = _drop_address(rng)
    for _ in range(1 + (rng.random() < 0.5) + (rng.random() < 0.2)):
        s.wait(5_000, 40_000)
        s.click("/checkout")
        s.wait(5_000, 20_000)
        s.checkout(
            amount=lognormal(rng, 280, 0.6, 60, 2_500),
            merchant=merchant,
            instrument=cards[rng.randrange(len(cards))],
            items=rng.randint(1, 3),
            shipping=shipping,
            scenario=name,
            incident=incident,
        )


SCENARIOS: Final = MappingProxyType(
    {
        s.name: s
        for s in (
            Scenario(
                "account_takeover",
                account_takeover,
                3.0,
                1.4,
                "login (often after failed attempts) from a device new to the account in a "
                "country the customer never was in; often email/password and shipping address "
                "changed; checkout >= 350 within minutes of the login",
            ),
            Scenario(
                "promo_abuse",
                promo_abuse,
                3.0,
                1.0,
                "login from a new device in an unusual country; promo with discount >= "
                f"{HIGH_VALUE_PROMO:g} within 30 s of the session's first click; then checkout",
            ),
            Scenario(
                "card_testing",
                card_testing,
                0.3,
                19.5,
                "one device: 8-30 checkouts under 5.00 within 10 minutes across >= 5 cards "
                "(mixed BIN countries), sometimes a large cash-out after",
            ),
            Scenario(
                "velocity_attack",
                velocity_attack,
                0.5,
                12.0,
                "one account, new device, home country: 6-18 checkouts of 40-900 within "
                "20 minutes, one drop address",
            ),
            Scenario(
                "impossible_travel",
                impossible_travel,
                2.0,
                1.0,
                "two successful logins of one account implying > 1500 km/h, then a checkout "
                "from the far one (half the time on the victim's own device fingerprint)",
            ),
            Scenario(
                "multi_account_promo",
                multi_account_promo,
                0.5,
                9.5,
                "one device: 5-14 freshly signed-up accounts within 2 hours, each applying the "
                "same promo code and checking out, shipping to one address",
            ),
            Scenario(
                "bot_checkout",
                bot_checkout,
                2.0,
                1.75,
                "bot user agent, data-centre IP; pointer straightness >= 0.985 at constant "
                "speed (max/mean <= 1.06); checkout within seconds of the first click",
            ),
            Scenario(
                "compromised_merchant",
                compromised_merchant,
                2.0,
                1.7,
                "checkouts at one of the few compromised merchants with stolen cards whose BIN "
                "country differs from where the buyer is",
            ),
        )
    }
)
"""Scenario name -> :class:`Scenario`."""

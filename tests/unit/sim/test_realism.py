"""The legitimate traffic looks like a shop's: mix, amounts, promos, logins, rhythm, schema."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from datetime import UTC, datetime

from riskstream.events import (
    AddressChanged,
    Checkout,
    Click,
    Event,
    Login,
    MouseMovement,
    ProfileUpdated,
    PromoApplied,
    codec_for,
)
from riskstream.sim.catalog import PROMOS
from riskstream.sim.geo import COUNTRIES
from riskstream.sim.population import Population
from riskstream.sim.rhythm import DAY_FACTORS, HOUR_FACTORS, intensity
from tests.unit.sim.kit import DAY, Run


def _legit(run: Run) -> list[Checkout]:
    return [run.checkouts[r.transaction_id] for r in run.truth if not r.is_fraud]


def test_the_event_mix(default_run: Run) -> None:
    kinds = Counter(type(e) for e in default_run.events)
    total = len(default_run.events)
    assert kinds[Click] == max(kinds.values())  # page views dominate
    assert 0.02 <= kinds[Checkout] / total <= 0.06
    assert 0.03 <= kinds[Login] / total <= 0.12
    assert 0.1 <= kinds[MouseMovement] / total <= 0.45
    assert kinds[PromoApplied] < kinds[Checkout] / 4
    assert 0 < kinds[AddressChanged] < kinds[Checkout] / 10
    assert 0 < kinds[ProfileUpdated] < kinds[Checkout] / 10


def test_checkout_amounts_are_log_normal_like(default_run: Run) -> None:
    amounts = sorted(c.amount for c in _legit(default_run))
    median = statistics.median(amounts)
    assert 30 <= median <= 150
    assert statistics.fmean(amounts) > median * 1.1  # right-skewed
    assert amounts[int(len(amounts) * 0.99)] > 5 * median  # a long tail
    assert amounts[0] > 0
    logs = [math.log(a) for a in amounts]
    # roughly symmetric in log space
    skew = statistics.fmean(logs) - statistics.median(logs)
    assert abs(skew) < 0.25
    assert {c.currency for c in _legit(default_run)} == {"EUR"}


def test_promos_come_from_the_catalog_and_reduce_the_bill(default_run: Run) -> None:
    catalog = {p.code: p for p in PROMOS}
    legit_sessions = {c.session_id for c in _legit(default_run)}
    checked = 0
    for event in default_run.events:
        if type(event) is not PromoApplied or event.session_id not in legit_sessions:
            continue
        promo = catalog[event.code]
        assert 0 < event.discount_value <= event.cart_value
        assert event.discount_value == promo.discount(event.cart_value)
        checkout = next(  # the checkout that follows the promo in its session
            e
            for e in default_run.by_session[event.session_id]
            if type(e) is Checkout and e.event_time > event.event_time
        )
        assert checkout.amount == round(max(0.5, event.cart_value - event.discount_value), 2)
        checked += 1
    assert checked > 200


def test_logins_mostly_from_usual_devices_at_home_with_occasional_failures(
    default_run: Run,
) -> None:
    fraud_users = {r.user_id for r in default_run.truth if r.is_fraud}
    logins = [
        login
        for user, logins in default_run.logins.items()
        if user not in fraud_users
        for login in logins
    ]
    usual = at_home = failed = 0
    for login in logins:
        customer = default_run.customer(login.user_id)
        assert customer is not None
        usual += login.device_id in {d.device_id for d in customer.devices}
        at_home += login.country == customer.home.code
        failed += not login.success
        assert login.country in COUNTRIES
        assert login.latitude is not None
    assert usual / len(logins) > 0.97
    assert 0.9 < at_home / len(logins) < 0.995  # some customers are travelling
    assert 0.005 < failed / len(logins) < 0.08


def test_devices_change_and_customers_travel_now_and_then(default_run: Run) -> None:
    config = default_run.simulator.config
    initial = Population(seed=config.seed, users=config.users, start_ms=config.start_ms)
    fraud_users = {r.user_id for r in default_run.truth if r.is_fraud}
    new_devices: set[str] = set()
    abroad = 0
    for user, logins in default_run.logins.items():
        if user in fraud_users:
            continue
        before = initial.user(int(user.removeprefix("user-")))
        known = {d.device_id for d in before.devices}
        new_devices.update(x.device_id for x in logins if x.device_id not in known)
        abroad += any(x.country != before.home.code for x in logins)
    assert 20 < len(new_devices) < len(default_run.logins) // 10
    assert 20 < abroad < len(default_run.logins) // 10


def test_checkouts_reference_the_population(default_run: Run) -> None:
    merchants = {m.merchant_id for m in default_run.simulator.population.merchants}
    for checkout in _legit(default_run):
        assert checkout.merchant_id in merchants
        assert checkout.bin_country in COUNTRIES
        customer = default_run.customer(checkout.user_id)
        assert customer is not None
        assert checkout.instrument_fingerprint in {i.fingerprint for i in customer.instruments}
        assert checkout.item_count >= 1


def test_daily_rhythm_evenings_busy_nights_quiet(default_run: Run) -> None:
    starts = Counter(
        datetime.fromtimestamp(e.event_time / 1000, UTC).hour
        for e in default_run.events
        if type(e) is Click and e.first_in_session
    )
    evening = sum(starts[h] for h in (18, 19, 20, 21))
    night = sum(starts[h] for h in (2, 3, 4, 5))
    assert evening > 5 * night
    span = default_run.end_ms - default_run.events[0].event_time
    assert span > 4 * DAY  # the default run covers several days


def test_rhythm_factors_average_to_one() -> None:
    assert abs(sum(HOUR_FACTORS) / 24 - 1) < 1e-9
    assert abs(sum(DAY_FACTORS) / 7 - 1) < 1e-9
    week = [intensity(h * 3_600_000) for h in range(24 * 7)]
    assert abs(sum(week) / len(week) - 1) < 1e-9
    # 1970-01-04 was a Sunday: the busiest day of the week
    sunday = intensity(3 * 86_400_000 + 20 * 3_600_000)
    tuesday = intensity(5 * 86_400_000 + 20 * 3_600_000)
    assert sunday > tuesday


def test_every_event_survives_its_topic_codec(fraud_run: Run) -> None:
    events: list[Event] = fraud_run.events[:20_000]
    for event in events:
        codec = codec_for(event.topic)
        assert codec.decode(codec.encode(event)) == event


def test_new_customers_sign_up_and_come_back(default_run: Run) -> None:
    population = default_run.simulator.population
    signups = [
        e
        for e in default_run.events
        if type(e) is ProfileUpdated
        and population.customer(e.user_id) is not None
        and int(e.user_id.removeprefix("user-")) >= population.users
    ]
    assert len(signups) > 50
    returning = sum(
        1
        for e in signups
        if sum(
            1 for c in default_run.events_of(e.user_id) if type(c) is Click and c.first_in_session
        )
        > 1
    )
    assert returning > 5
    joined = {e.user_id for e in signups}
    assert all(not r.is_fraud for r in default_run.truth if r.user_id in joined)


def test_most_orders_ship_home_and_a_few_elsewhere_without_a_change_of_address(
    default_run: Run,
) -> None:
    # a gift, the office, a pickup point: a new destination is not by itself a takeover
    moved = {e.user_id for e in default_run.events if type(e) is AddressChanged}
    home = elsewhere = 0
    for checkout in _legit(default_run):
        customer = default_run.customer(checkout.user_id)
        if customer is None or checkout.user_id in moved:
            continue
        if checkout.shipping_address_hash == customer.address_hash:
            home += 1
        else:
            elsewhere += 1
    assert 0.01 < elsewhere / (home + elsewhere) < 0.08

"""Every injected scenario shows the signature a detector should find in the events."""

from __future__ import annotations

import itertools

import pytest

from riskstream.events import Checkout, Login, PromoApplied
from riskstream.sim import HIGH_VALUE_PROMO, SCENARIOS
from riskstream.sim.geo import speed_kmh
from tests.unit.sim.kit import HOUR, Run, only

MINUTE = 60_000


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    return {name: only(name) for name in SCENARIOS}


def _enough(incidents: dict[str, list[Checkout]], at_least: int = 5) -> None:
    assert len(incidents) >= at_least, f"only {len(incidents)} complete incidents"


def _is_new_device(run: Run, login: Login) -> bool:
    customer = run.customer(login.user_id)
    usual = {d.device_id for d in customer.devices} if customer else set()
    seen_before = any(
        other.device_id == login.device_id and other.event_time < login.event_time
        for other in run.logins[login.user_id]
        if other.success
    )
    return login.device_id not in usual and not seen_before


def _is_unusual_country(run: Run, login: Login) -> bool:
    """Neither home nor anywhere the customer logged in from (on their own devices) before."""
    customer = run.customer(login.user_id)
    assert customer is not None
    own = {d.device_id for d in customer.devices}
    been = {
        other.country
        for other in run.logins[login.user_id]
        if other.event_time < login.event_time and other.device_id in own
    }
    return login.country != customer.home.code and login.country not in been


def test_promo_abuse_the_seed_pattern(runs: dict[str, Run]) -> None:
    """New device + unusual country + promo >= high value within 30 s of the first click,
    then a checkout."""
    run = runs["promo_abuse"]
    incidents = run.incidents("promo_abuse")
    _enough(incidents, 50)
    for (checkout,) in incidents.values():
        assert checkout.session_id is not None
        login = run.session_login(checkout)
        first = run.first_click(checkout.session_id)
        (promo,) = run.promos(checkout.session_id)
        assert _is_new_device(run, login)
        assert _is_unusual_country(run, login)
        assert promo.discount_value >= HIGH_VALUE_PROMO
        assert 0 <= promo.event_time - first.event_time <= 30_000
        assert login.event_time <= first.event_time < promo.event_time < checkout.event_time
        assert checkout.amount == pytest.approx(promo.cart_value - promo.discount_value)


def test_account_takeover_new_device_new_country_fast_high_value(runs: dict[str, Run]) -> None:
    run = runs["account_takeover"]
    incidents = run.incidents("account_takeover")
    _enough(incidents, 50)
    for checkouts in incidents.values():
        login = run.session_login(checkouts[0])
        assert _is_new_device(run, login)
        assert _is_unusual_country(run, login)
        assert checkouts[0].amount >= 350
        assert checkouts[0].event_time - login.event_time <= 10 * MINUTE


def test_card_testing_bursts_of_small_amounts_across_cards(runs: dict[str, Run]) -> None:
    run = runs["card_testing"]
    incidents = run.incidents("card_testing")
    _enough(incidents)
    for checkouts in incidents.values():
        small = [c for c in checkouts if c.amount < 5]
        assert len(small) >= 8
        assert len({c.device_id for c in checkouts}) == 1
        assert len({c.instrument_fingerprint for c in small}) >= 5
        assert small[-1].event_time - small[0].event_time <= 10 * MINUTE
        assert all(c.amount >= 150 for c in checkouts if c not in small)  # the cash-out


def test_velocity_attack_many_checkouts_within_minutes(runs: dict[str, Run]) -> None:
    run = runs["velocity_attack"]
    incidents = run.incidents("velocity_attack")
    _enough(incidents)
    for checkouts in incidents.values():
        assert len(checkouts) >= 6
        assert checkouts[5].event_time - checkouts[0].event_time <= 20 * MINUTE
        assert len({c.user_id for c in checkouts}) == 1
        customer = run.customer(checkouts[0].user_id)
        assert customer is not None
        assert checkouts[0].country == customer.home.code  # stays under the country radar


def test_impossible_travel_faster_than_a_plane(runs: dict[str, Run]) -> None:
    run = runs["impossible_travel"]
    incidents = run.incidents("impossible_travel")
    _enough(incidents, 50)
    for (checkout,) in incidents.values():
        login = run.session_login(checkout)
        earlier = [
            other
            for other in run.logins[login.user_id]
            if other.success and other.event_time < login.event_time
        ]
        previous = earlier[-1]
        assert previous.latitude is not None and previous.longitude is not None
        assert login.latitude is not None and login.longitude is not None
        speed = speed_kmh(
            previous.latitude,
            previous.longitude,
            previous.event_time,
            login.latitude,
            login.longitude,
            login.event_time,
        )
        assert speed > 1_000
        assert login.event_time - previous.event_time <= 3 * HOUR
        assert checkout.country == login.country != previous.country


def test_multi_account_promo_many_fresh_accounts_on_one_device(runs: dict[str, Run]) -> None:
    run = runs["multi_account_promo"]
    incidents = run.incidents("multi_account_promo", margin_ms=12 * HOUR)
    _enough(incidents)
    for checkouts in incidents.values():
        users = {c.user_id for c in checkouts}
        assert len(users) >= 5 and len(users) == len(checkouts)
        assert len({c.device_id for c in checkouts}) == 1
        assert len({c.shipping_address_hash for c in checkouts}) == 1
        assert checkouts[-1].event_time - checkouts[0].event_time <= 2 * HOUR
        codes = set()
        for checkout in checkouts:
            assert run.customer(checkout.user_id) is None  # opened by the fraudster
            assert checkout.session_id is not None
            (promo,) = run.promos(checkout.session_id)
            assert promo.event_time < checkout.event_time
            codes.add(promo.code)
        assert len(codes) == 1


def test_bot_checkout_scripted_mouse_and_seconds_to_pay(runs: dict[str, Run]) -> None:
    run = runs["bot_checkout"]
    incidents = run.incidents("bot_checkout")
    _enough(incidents, 50)
    for checkouts in incidents.values():
        session = checkouts[0].session_id
        assert session is not None
        moves = run.mouse(session)
        assert moves
        for move in moves:
            assert move.straightness >= 0.97
            assert move.max_speed <= 1.1 * move.mean_speed
            assert move.sample_count == move.duration_ms // 10  # evenly sampled
        assert checkouts[0].event_time - run.first_click(session).event_time <= 15_000


def test_compromised_merchant_stolen_cards_at_a_bad_shop(runs: dict[str, Run]) -> None:
    run = runs["compromised_merchant"]
    bad = {m.merchant_id for m in run.simulator.population.compromised}
    incidents = run.incidents("compromised_merchant")
    _enough(incidents, 50)
    for checkouts in incidents.values():
        for checkout in checkouts:
            assert checkout.merchant_id in bad
            assert checkout.bin_country != checkout.country
    # the bad shops' fraud rate stands far above everyone else's
    fraud_at = {m: [0, 0] for m in ("bad", "other")}
    for record in run.truth:
        slot = fraud_at["bad" if record.merchant_id in bad else "other"]
        slot[0] += record.is_fraud
        slot[1] += 1
    bad_rate = fraud_at["bad"][0] / fraud_at["bad"][1]
    other_rate = fraud_at["other"][0] / fraud_at["other"][1]
    assert bad_rate > 10 * max(other_rate, 1e-3)


def test_human_mouse_movement_is_never_robot_straight(runs: dict[str, Run]) -> None:
    run = runs["bot_checkout"]
    fraud_sessions = {run.checkouts[r.transaction_id].session_id for r in run.truth if r.is_fraud}
    human = [
        e
        for session, events in run.by_session.items()
        if session not in fraud_sessions
        for e in run.mouse(session)
    ]
    assert len(human) > 1_000
    assert max(m.straightness for m in human) <= 0.95
    assert min(m.max_speed / m.mean_speed for m in human) >= 2.0


def test_legit_travel_is_never_impossible(default_run: Run) -> None:
    # Customers no fraudster touched: consecutive logins are always reachable by plane.
    touched = {r.user_id for r in default_run.truth if r.is_fraud}
    checked = 0
    for user, logins in default_run.logins.items():
        if user in touched:
            continue
        for before, after in itertools.pairwise(logins):
            assert before.latitude is not None and before.longitude is not None
            assert after.latitude is not None and after.longitude is not None
            speed = speed_kmh(
                before.latitude,
                before.longitude,
                before.event_time,
                after.latitude,
                after.longitude,
                after.event_time,
            )
            assert speed < 1_000, (before, after)
            checked += 1
    assert checked > 5_000


def test_the_seed_pattern_is_rare_in_legitimate_traffic(default_run: Run) -> None:
    run = default_run
    legit = [run.checkouts[r.transaction_id] for r in run.truth if not r.is_fraud]
    matches = 0
    for checkout in legit:
        assert checkout.session_id is not None
        promos: list[PromoApplied] = run.promos(checkout.session_id)
        if not promos or promos[0].discount_value < HIGH_VALUE_PROMO:
            continue
        first = run.first_click(checkout.session_id)
        if promos[0].event_time - first.event_time > 30_000:
            continue
        logins = [
            login
            for login in run.logins[checkout.user_id]
            if login.success and first.event_time - 60_000 <= login.event_time <= first.event_time
        ]
        if logins and _is_new_device(run, logins[0]) and _is_unusual_country(run, logins[0]):
            matches += 1
    assert matches <= len(legit) // 1_000

"""Every built-in profile feature and the cross-user entity aggregates, on hand-written
event sequences through the whole fraud topology."""

from __future__ import annotations

from typing import Any

import pytest

from riskstream.events import (
    AddressChanged,
    Chargeback,
    Click,
    Event,
    FraudReported,
    Login,
    MouseMovement,
    ProfileUpdated,
    PromoApplied,
)
from riskstream.fraud.decision import Decision, decode_decision
from riskstream.fraud.topology import fraud_topology
from riskstream.services.replay import replay_records
from riskstream.testing import TestDriver
from tests.fraud_support.scenarios import DAY, START, as_records, checkout
from tests.unit.fraud.engine.support import failing_entities

S = 1_000
H = 3_600_000


def _decisions(events: list[Event], partitions: int = 2) -> dict[str, Decision]:
    return {d.transaction_id: d for d in replay_records(as_records(events), partitions=partitions)}


def _features(events: list[Event], txid: str) -> dict[str, Any]:
    return _decisions(events)[txid].features


def _login(user: str, at: int, **fields: Any) -> Login:
    values: dict[str, Any] = {"device_id": "d-1", "ip": "10.0.0.1", "country": "DE"}
    values.update(fields)
    return Login(event_id=f"{user}-login-{at}", user_id=user, event_time=at, **values)


def test_login_session_promo_and_checkout_features() -> None:
    events: list[Event] = [
        _login("u", START),
        checkout("u", "t0", START + 60 * S, "s0", 10.0),
        _login("u", START + DAY, device_id="d-2", country="FR"),
        Click(
            event_id="c1",
            user_id="u",
            event_time=START + DAY + 5 * S,
            session_id="s1",
            page="/",
            first_in_session=True,
        ),
        PromoApplied(
            event_id="p1",
            user_id="u",
            event_time=START + DAY + 12 * S,
            session_id="s1",
            code="X",
            discount_value=15.0,
            cart_value=90.0,
        ),
        checkout(
            "u",
            "t1",
            START + DAY + 20 * S,
            "s1",
            75.0,
            device_id="d-2",
            shipping_address_hash="elsewhere",
            instrument_fingerprint="card-2",
        ),
    ]
    first = _features(events, "t0")
    assert first["login.new_device"] is False  # no history: the first login is the baseline
    assert first["login.new_country"] is False
    assert first["checkout.new_shipping_address"] is True
    assert first["instrument.new_for_user"] is True
    assert "promo.value" not in first

    f = _features(events, "t1")
    assert f["login.new_device"] is True
    assert f["login.new_country"] is True
    assert f["login.country"] == "FR"
    assert f["session.ms_since_login"] == 20 * S
    assert f["promo.value"] == 15.0
    assert f["promo.cart_value"] == 90.0
    assert f["promo.code"] == "X"
    assert f["promo.seconds_after_first_click"] == 7.0
    assert f["checkout.seconds_after_first_click"] == 15.0
    assert f["checkout.amount"] == 75.0
    assert f["checkout.new_shipping_address"] is True
    assert f["instrument.new_for_user"] is True
    assert f["account.age_ms"] == DAY + 20 * S
    assert f["device.id"] == "d-2"
    assert f["device.age_ms"] == 20 * S  # first seen at this login
    assert f["user.checkouts_24h"] == 1  # 40 s short of a day ago
    assert f["user.checkouts_1h"] == 0
    assert f["user.avg_checkout_amount_30d"] == 10.0


def test_account_changes_and_email() -> None:
    events: list[Event] = [
        _login("u", START),
        AddressChanged(event_id="a1", user_id="u", event_time=START + 10 * S, address_hash="new"),
        ProfileUpdated(
            event_id="pu",
            user_id="u",
            event_time=START + 30 * S,
            fields=("email",),
            email_hash="e-hash",
        ),
        checkout("u", "t", START + 90 * S, "s", 20.0),
    ]
    f = _features(events, "t")
    assert f["account.ms_since_address_change"] == 80 * S
    assert f["account.ms_since_profile_change"] == 60 * S
    assert f["user.email_hash"] == "e-hash"
    fresh = _features([_login("v", START), checkout("v", "t", START + S, "s", 1.0)], "t")
    assert fresh["account.ms_since_address_change"] is None


def test_impossible_travel() -> None:
    events: list[Event] = [
        _login("u", START, latitude=52.52, longitude=13.40),  # Berlin
        _login("u", START + H, latitude=40.71, longitude=-74.01),  # New York, an hour later
        checkout("u", "t", START + H + 60 * S, "s", 20.0),
    ]
    f = _features(events, "t")
    assert f["travel.distance_km"] == pytest.approx(6385, rel=0.01)
    assert f["travel.speed_kmh"] == pytest.approx(6385, rel=0.01)


def test_mouse_statistics_of_the_session() -> None:
    def batch(n: int, at: int, straight: float, path: float, duration: int, peak: float) -> Event:
        return MouseMovement(
            event_id=f"m{n}",
            user_id="u",
            event_time=at,
            session_id="s",
            sample_count=100,
            duration_ms=duration,
            path_length=path,
            straightness=straight,
            mean_speed=path / duration,
            max_speed=peak,
        )

    events: list[Event] = [
        _login("u", START),
        batch(1, START + S, 1.0, 4_000.0, 1_000, 5.0),
        batch(2, START + 2 * S, 0.9, 2_000.0, 1_000, 3.0),
        checkout("u", "t", START + 3 * S, "s", 20.0),
        checkout("u", "t-other", START + 4 * S, "s-no-mouse", 20.0),
    ]
    f = _features(events, "t")
    assert f["mouse.samples"] == 200
    assert f["mouse.straightness"] == pytest.approx(0.95)
    assert f["mouse.mean_speed"] == pytest.approx(3.0)
    assert f["mouse.max_speed"] == 5.0
    assert "mouse.samples" not in _features(events, "t-other")


def test_device_and_ip_profiles_hear_from_every_account() -> None:
    events: list[Event] = []
    for n in range(4):
        user = f"u{n}"
        at = START + n * 60 * S
        events.append(_login(user, at, device_id="shared", ip="198.51.100.9"))
        events.append(
            checkout(
                user,
                f"t{n}",
                at + 30 * S,
                "s",
                3.0,
                device_id="shared",
                ip="198.51.100.9",
                instrument_fingerprint=f"card-{n}",
                bin_country=["US", "GB", "BR", "US"][n],
            )
        )
    decisions = _decisions(events)
    last = decisions["t3"].features
    assert last["device.distinct_accounts_24h"] == 4  # three earlier accounts and this login
    assert last["device.distinct_instruments_24h"] == 3  # the earlier checkouts' cards only
    assert last["device.distinct_bin_countries_24h"] == 3
    assert last["device.checkouts_1h"] == 3
    assert last["ip.distinct_accounts_1h"] == 4
    assert decisions["t0"].features["device.distinct_instruments_24h"] == 0
    # Cards from three issuing countries on one device, none matching the checkout's (DE).
    fired = {reason.rule for reason in decisions["t3"].reasons}
    assert "card_testing.foreign_bins_on_device" in fired
    assert "card_testing.foreign_bins_on_device" not in {r.rule for r in decisions["t2"].reasons}


def test_labels_count_from_when_they_arrived_never_before() -> None:
    card = {"instrument_fingerprint": "card-x"}
    events: list[Event] = [
        _login("a", START),
        checkout("a", "first", START + 60 * S, "s", 100.0, **card),
        # The chargeback for "first" arrives ten days later.
        Chargeback(
            event_id="cb",
            user_id="a",
            event_time=START + 10 * DAY,
            transaction_id="first",
            amount=100.0,
        ),
        _login("b", START + 5 * DAY),
        checkout("b", "before-label", START + 5 * DAY + 60 * S, "s", 50.0, **card),
        _login("c", START + 11 * DAY),
        checkout("c", "after-label", START + 11 * DAY + 60 * S, "s", 50.0, **card),
        FraudReported(
            event_id="fr", user_id="a", event_time=START + 11 * DAY + 30 * S, transaction_id="first"
        ),
    ]
    decisions = _decisions(events)
    before = decisions["before-label"].features
    after = decisions["after-label"].features
    assert before["instrument.chargebacks_90d"] == 0  # the fraud had happened, not its label
    assert after["instrument.chargebacks_90d"] == 1
    assert before["instrument.distinct_accounts_30d"] == 1
    assert after["instrument.distinct_accounts_30d"] == 2
    assert after["merchant.chargeback_rate_90d"] == pytest.approx(1 / 2)
    assert after["merchant.fraud_reports_90d"] == 1
    assert before["merchant.fraud_reports_90d"] == 0
    assert "risk.charged_back_card" in {r.rule for r in decisions["after-label"].reasons}
    assert "risk.charged_back_card" not in {r.rule for r in decisions["before-label"].reasons}


def test_failed_logins_and_promo_counts() -> None:
    events: list[Event] = [_login("u", START)]
    for n in range(6):
        events.append(_login("u", START + DAY + n * S, device_id="attacker", success=False))
    events.append(_login("u", START + DAY + 10 * S, device_id="attacker"))
    for n in range(3):
        events.append(
            PromoApplied(
                event_id=f"p{n}",
                user_id="u",
                event_time=START + DAY + (20 + n) * S,
                session_id="s",
                code=f"C{n}",
                discount_value=5.0,
                cart_value=50.0,
                device_id="attacker",
            )
        )
    events.append(checkout("u", "t", START + DAY + 60 * S, "s", 30.0, device_id="attacker"))
    decision = _decisions(events)["t"]
    f = decision.features
    assert f["user.failed_logins_10m"] == 6
    assert f["user.promo_uses_24h"] == 3
    assert f["device.promo_uses_24h"] == 3
    assert "ato.credential_stuffing" in {r.rule for r in decision.reasons}


def test_an_event_from_the_far_future_is_dead_lettered_not_folded() -> None:
    topology = fraud_topology()
    driver = TestDriver(topology, start_time=START)
    future = _login("u", START + 2 * DAY)
    records = as_records([future])
    driver.pipe(records[0].topic, records[0].value, key=records[0].key, timestamp=START)
    dead = driver.dead_letters("events.login")
    assert len(dead) == 1
    reason = dict(dead[0].headers)
    assert any(b"ahead of processing time" in value for value in reason.values())
    assert driver.state("profile", b"u") is None


def test_a_profile_that_fails_answers_with_its_error_and_the_checkout_is_decided() -> None:
    topology = failing_entities("ip", "ip profile unavailable")
    driver = TestDriver(topology, start_time=START)
    for record in as_records([_login("u", START), checkout("u", "t", START + S, "s", 5.0)]):
        driver.pipe(record.topic, record.value, key=record.key, timestamp=record.timestamp)
    (output,) = driver.read("risk.decisions")
    decision = decode_decision(output.value)
    assert decision.missing == ["ip: RuntimeError: ip profile unavailable"]
    assert "ip.distinct_accounts_1h" not in decision.features
    assert decision.features["device.distinct_accounts_24h"] == 0  # the other parts answered
    assert decision.features["login.new_device"] is False

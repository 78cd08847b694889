"""The features that put a checkout in context - its card against its place, its amount
against the user's usual, the pointer's speed profile, a device's last ten minutes and a
merchant's labels and day - on hand-written event sequences through the whole fraud
topology."""

from __future__ import annotations

from typing import Any

import pytest

from riskstream.events import Chargeback, Event, FraudReported, Login, MouseMovement
from riskstream.fraud.decision import Decision
from riskstream.fraud.features.engine import PROFILE_FEATURES, FeatureEngine
from riskstream.fraud.features.profile import UserProfile
from riskstream.fraud.features.routing import touch_of
from riskstream.fraud.model import model_features
from riskstream.services.replay import replay_records
from tests.fraud_support.scenarios import DAY, START, as_records, checkout

S = 1_000
M = 60_000
H = 3_600_000


def _decisions(events: list[Event]) -> dict[str, Decision]:
    return {d.transaction_id: d for d in replay_records(as_records(events), partitions=2)}


def _features(events: list[Event], txid: str) -> dict[str, Any]:
    return _decisions(events)[txid].features


def _login(user: str, at: int, **fields: Any) -> Login:
    values: dict[str, Any] = {"device_id": "d-1", "ip": "10.0.0.1", "country": "DE"}
    values.update(fields)
    return Login(event_id=f"{user}-login-{at}", user_id=user, event_time=at, **values)


def test_the_profile_features_are_in_the_catalogue_and_model_inputs() -> None:
    engine = FeatureEngine()
    names = {feature.name for feature in PROFILE_FEATURES}
    assert names == {"checkout.cross_border", "checkout.amount_to_usual", "mouse.speed_ratio"}
    assert names <= set(engine.catalogue)
    assert names <= set(model_features(engine.catalogue))
    assert all(feature.description for feature in PROFILE_FEATURES)


def test_cross_border_compares_the_cards_country_with_the_checkouts() -> None:
    events: list[Event] = [
        _login("u", START),
        checkout("u", "home", START + M, "s", 20.0),
        checkout("u", "abroad", START + 2 * M, "s", 20.0, bin_country="BR"),
    ]
    decisions = _decisions(events)
    assert decisions["home"].features["checkout.cross_border"] is False
    assert decisions["abroad"].features["checkout.cross_border"] is True


def test_amount_to_usual_needs_an_order_history() -> None:
    events: list[Event] = [
        _login("u", START),
        checkout("u", "first", START + M, "s", 50.0),
        checkout("u", "second", START + DAY, "s2", 30.0),
        checkout("u", "big", START + 2 * DAY, "s3", 400.0),
    ]
    decisions = _decisions(events)
    assert decisions["first"].features["checkout.amount_to_usual"] is None
    assert decisions["second"].features["checkout.amount_to_usual"] == pytest.approx(0.6)
    assert decisions["big"].features["checkout.amount_to_usual"] == pytest.approx(10.0)


def test_speed_ratio_is_peak_over_mean_pointer_speed() -> None:
    def batch(n: int, at: int, path: float, peak: float) -> Event:
        return MouseMovement(
            event_id=f"m{n}",
            user_id="u",
            event_time=at,
            session_id="s",
            sample_count=50,
            duration_ms=1_000,
            path_length=path,
            straightness=0.99,
            mean_speed=path / 1_000,
            max_speed=peak,
        )

    events: list[Event] = [
        _login("u", START),
        batch(1, START + S, 2_000.0, 2.1),  # a script: steady 2 px/ms
        batch(2, START + 2 * S, 2_000.0, 2.05),
        checkout("u", "t", START + 3 * S, "s", 20.0),
        checkout("u", "no-mouse", START + 4 * S, "other", 20.0),
    ]
    decisions = _decisions(events)
    assert decisions["t"].features["mouse.speed_ratio"] == pytest.approx(1.05)
    assert "mouse.speed_ratio" not in decisions["no-mouse"].features


def test_checkouts_per_device_in_ten_minutes() -> None:
    events: list[Event] = []
    for n in range(4):
        user = f"u{n}"
        at = START + n * 2 * M
        events.append(_login(user, at, device_id="rig"))
        events.append(
            checkout(user, f"t{n}", at + 30 * S, "s", 2.0, device_id="rig" if n < 3 else "rig-2")
        )
    events.append(checkout("u9", "later", START + 20 * M, "s", 2.0, device_id="rig"))
    decisions = _decisions(events)
    assert [decisions[f"t{n}"].features["device.checkouts_10m"] for n in range(4)] == [0, 1, 2, 0]
    assert decisions["later"].features["device.checkouts_10m"] == 0  # 15.5 min after the last
    assert decisions["later"].features["device.checkouts_1h"] == 3


def test_merchant_labels_and_todays_mix() -> None:
    events: list[Event] = []
    for n in range(4):
        user = f"u{n}"
        at = START + n * H
        events.append(_login(user, at))
        events.append(
            checkout(
                user,
                f"t{n}",
                at + M,
                "s",
                150.0,
                merchant_id="m-bad",
                bin_country="US" if n % 2 else "DE",
            )
        )
    # u0 is an old customer: first seen long before the others
    events.insert(0, _login("u0", START - 10 * DAY))
    events.append(
        Chargeback(
            event_id="cb",
            user_id="u1",
            event_time=START + 2 * DAY,
            transaction_id="t1",
            amount=150.0,
            reason_code="10.4",
        )
    )
    events.append(
        FraudReported(
            event_id="fr",
            user_id="u3",
            event_time=START + 2 * DAY + H,
            transaction_id="t3",
            reporter="customer",
        )
    )
    events.append(_login("late", START + 3 * DAY))
    events.append(checkout("late", "after", START + 3 * DAY + M, "s", 10.0, merchant_id="m-bad"))
    decisions = _decisions(events)
    f = decisions["t3"].features
    assert f["merchant.checkouts_24h"] == 3
    assert f["merchant.cross_border_checkouts_24h"] == 1  # t1's US card
    assert f["merchant.young_account_checkouts_24h"] == 2  # u1 and u2, not old u0
    assert (f["merchant.chargeback_rate_90d"], f["merchant.fraud_reports_90d"]) == (0.0, 0)
    after = decisions["after"].features
    assert after["merchant.chargeback_rate_90d"] == 0.25  # one chargeback, four checkouts
    assert after["merchant.fraud_reports_90d"] == 1
    assert after["merchant.checkouts_24h"] == 0


def test_checkout_touches_carry_their_context() -> None:
    engine = FeatureEngine()
    profile = UserProfile(START, engine.aggregates["user"].new_state())
    first = checkout("u", "t", START + H, "s", 10.0, bin_country="US")
    touch = touch_of(first, profile)
    assert touch is not None
    assert (touch.cross_border, touch.account_age) == (True, H)
    again = touch_of(checkout("u", "t2", START + 2 * H, "s", 10.0), profile)
    assert again is not None
    assert (again.cross_border, again.account_age) == (False, 2 * H)
    # a checkout older than the first event the profile holds is of an account age 0
    early = touch_of(checkout("u", "t0", START - H, "s", 10.0), profile)
    assert early is not None and early.account_age == 0

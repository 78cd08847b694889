"""The default rules on hand-written attacks through the whole fraud topology: each attack is
challenged (or blocked) for the reason its rule names, and the honest customer next to it -
one thing changed - is not."""

from __future__ import annotations

from typing import Any

from riskstream.events import (
    AddressChanged,
    Chargeback,
    Click,
    Event,
    Login,
    MouseMovement,
    ProfileUpdated,
    PromoApplied,
)
from riskstream.fraud.decision import Decision
from riskstream.services.replay import replay_records
from tests.fraud_support.scenarios import DAY, START, as_records, checkout, history

S = 1_000
M = 60_000
H = 3_600_000
AT = START + 10 * DAY  # after ten days of history
FLAGGED = ("challenge", "block")


def _decide(events: list[Event]) -> dict[str, Decision]:
    return {d.transaction_id: d for d in replay_records(as_records(events), partitions=2)}


def _fired(decision: Decision) -> set[str]:
    return {reason.rule for reason in decision.reasons}


def _login(user: str, at: int, **fields: Any) -> Login:
    values: dict[str, Any] = {
        "device_id": "dev-home",
        "ip": "10.0.0.1",
        "country": "DE",
        "latitude": 52.52,
        "longitude": 13.40,
    }
    values.update(fields)
    return Login(event_id=f"{user}-login-{at}", user_id=user, event_time=at, **values)


def _click(user: str, at: int, session: str) -> Click:
    return Click(
        event_id=f"{user}-click-{at}",
        user_id=user,
        event_time=at,
        session_id=session,
        page="/",
        first_in_session=True,
    )


def _signup(user: str, at: int, device: str, **fields: Any) -> list[Event]:
    """A new account's first events: its profile, then a login on ``device``."""
    return [
        ProfileUpdated(
            event_id=f"{user}-signup",
            user_id=user,
            event_time=at,
            fields=("email", "password", "phone"),
            email_hash=f"{user}-mail",
            device_id=device,
        ),
        _login(user, at + 20 * S, device_id=device, **fields),
    ]


# -- account takeover ------------------------------------------------------------------------


def _takeover(amount: float, *, failed: int = 0) -> tuple[list[Event], str]:
    events = history("victim")
    far = {"device_id": "dev-thief", "ip": "203.0.113.9", "country": "BR"}
    far |= {"latitude": -23.55, "longitude": -46.63}
    events += [_login("victim", AT + n * 5 * S, success=False, **far) for n in range(failed)]
    events.append(_login("victim", AT + M, **far))
    events.append(
        checkout("victim", "tx-ato", AT + 4 * M, "ato", amount, device_id="dev-thief", country="BR")
    )
    return events, "tx-ato"


def test_a_takeover_spending_big_from_a_new_device_abroad_is_challenged() -> None:
    events, txid = _takeover(950.0, failed=2)
    decision = _decide(events)[txid]
    assert {"ato.new_device_new_country_spend", "ato.failed_logins_new_place"} <= _fired(decision)
    assert decision.action in FLAGGED
    reason = next(r for r in decision.reasons if r.rule == "ato.new_device_new_country_spend")
    assert reason.features == {
        "login.new_device": True,
        "login.new_country": True,
        "checkout.amount": 950.0,
    }


def test_the_same_login_with_a_small_order_and_no_failed_logins_is_not_challenged() -> None:
    events, txid = _takeover(240.0)
    decision = _decide(events)[txid]
    assert not _fired(decision) & {
        "ato.new_device_new_country_spend",
        "ato.failed_logins_new_place",
    }
    assert decision.action not in FLAGGED


# -- card testing ----------------------------------------------------------------------------


def _card_test(
    tests: int, *, bin_country: str = "US", cash_out: float | None = None
) -> list[Event]:
    events = _signup("tester", START, "dev-rig", country="NL")
    for n in range(tests):
        events.append(
            checkout(
                "tester",
                f"test-{n}",
                START + M + n * 20 * S,
                "s",
                1.5,
                device_id="dev-rig",
                country="NL",
                instrument_fingerprint=f"stolen-{n}",
                bin_country=bin_country,
                shipping_address_hash="drop",
            )
        )
    if cash_out is not None:
        events.append(
            checkout(
                "tester",
                "cash-out",
                START + 30 * M,
                "s2",
                cash_out,
                device_id="dev-rig",
                country="NL",
                instrument_fingerprint="stolen-1",
                bin_country=bin_country,
                shipping_address_hash="drop",
            )
        )
    return events


def test_card_testing_is_stopped_from_the_first_foreign_card_and_its_cash_out_too() -> None:
    decisions = _decide(_card_test(6, cash_out=640.0))
    first = decisions["test-0"]
    assert _fired(first) == {"card_testing.fresh_device_foreign_card"}
    assert "card_testing.second_card_tiny_amount" in _fired(decisions["test-2"])
    assert all(decisions[f"test-{n}"].action in FLAGGED for n in range(6))
    cash_out = decisions["cash-out"]
    assert "card_testing.cash_out" in _fired(cash_out)
    assert cash_out.action in FLAGGED


def test_card_testing_with_home_cards_is_caught_from_the_third_card() -> None:
    decisions = _decide(_card_test(4, bin_country="NL"))
    assert decisions["test-0"].action not in FLAGGED  # nothing to tell it from a first buy
    assert decisions["test-1"].action not in FLAGGED  # one card before it on the device
    assert "card_testing.second_card_tiny_amount" in _fired(decisions["test-2"])


# -- velocity --------------------------------------------------------------------------------


def _drain(device: str, orders: int = 4, *, shipping: str = "drop") -> list[Event]:
    events = history("drained")
    events.append(_login("drained", AT, device_id=device))
    events += [
        checkout(
            "drained",
            f"order-{n}",
            AT + M + n * 40 * S,
            "s",
            140.0,
            device_id=device,
            merchant_id=f"m-{n}",
            shipping_address_hash=shipping,
        )
        for n in range(orders)
    ]
    return events


def test_an_account_drained_from_a_new_device_is_challenged_from_its_third_order() -> None:
    decisions = _decide(_drain("dev-proxy"))
    first, second = decisions["order-0"], decisions["order-1"]
    assert _fired(first) == {"risk.new_device_new_destination"}
    assert _fired(second) == {"velocity.repeat_on_new_device"}
    assert (first.action, second.action) == ("review", "review")
    third, fourth = decisions["order-2"], decisions["order-3"]
    assert {"velocity.checkouts_per_hour", "velocity.repeat_on_new_device"} <= _fired(third)
    assert third.action in FLAGGED
    assert "velocity.hourly_burst" in _fired(fourth)
    assert fourth.action in FLAGGED


def test_a_busy_customer_on_their_own_device_is_only_reviewed() -> None:
    decisions = _decide(_drain("dev-home", shipping="drained-home"))
    assert [decisions[f"order-{n}"].action for n in range(4)] == [
        "allow",
        "allow",
        "review",
        "challenge",  # a fourth order within the hour asks for proof, never more
    ]


# -- impossible travel -----------------------------------------------------------------------


def test_a_login_continents_away_is_challenged_and_the_customer_back_home_is_not() -> None:
    events = history("traveller")
    events.append(_login("traveller", AT - 30 * M))  # at home in Berlin, half an hour before
    stolen = {"device_id": "dev-home", "ip": "203.0.113.50", "country": "VN"}
    events.append(_login("traveller", AT, **stolen, latitude=21.03, longitude=105.85))
    events.append(checkout("traveller", "far", AT + 5 * M, "s1", 450.0, country="VN"))
    events.append(_login("traveller", AT + 2 * H))  # home again: Berlin, the usual device
    events.append(checkout("traveller", "home", AT + 2 * H + 5 * M, "s2", 45.0))
    decisions = _decide(events)
    assert "travel.impossible" in _fired(decisions["far"])
    assert decisions["far"].action in FLAGGED
    assert "travel.impossible" not in _fired(decisions["home"])
    assert decisions["home"].features["travel.speed_kmh"] > 1000  # fast, yet back home
    assert decisions["home"].action not in FLAGGED


# -- multi-account promo abuse ---------------------------------------------------------------


def _promo_account(user: str, at: int, device: str) -> list[Event]:
    session = f"{user}-s"
    events = _signup(user, at, device)
    events += [
        _click(user, at + M, session),
        PromoApplied(
            event_id=f"{user}-promo",
            user_id=user,
            event_time=at + 2 * M,
            session_id=session,
            code="NEWUSER20",
            discount_value=14.0,
            cart_value=70.0,
            device_id=device,
        ),
        checkout(user, f"{user}-tx", at + 3 * M, session, 56.0, device_id=device),
    ]
    return events


def test_a_second_fresh_account_taking_a_promo_on_one_device_is_challenged() -> None:
    events = _promo_account("a1", START, "dev-farm") + _promo_account("a2", START + H, "dev-farm")
    events += _promo_account("b1", START, "dev-b") + _promo_account("b2", START + H, "dev-c")
    decisions = _decide(events)
    assert decisions["a1-tx"].action not in FLAGGED
    second = decisions["a2-tx"]
    assert "promo_abuse.fresh_accounts_one_device" in _fired(second)
    assert second.action == "challenge"
    assert decisions["b2-tx"].action not in FLAGGED  # its own device


# -- bots ------------------------------------------------------------------------------------


def _pointer(user: str, at: int, straight: float, mean: float, peak: float) -> MouseMovement:
    return MouseMovement(
        event_id=f"{user}-mouse-{at}",
        user_id=user,
        event_time=at,
        session_id=f"{user}-s",
        sample_count=60,
        duration_ms=600,
        path_length=mean * 600,
        straightness=straight,
        mean_speed=mean,
        max_speed=peak,
    )


def test_a_scripted_pointer_is_challenged_and_a_quick_human_is_not() -> None:
    events: list[Event] = []
    for user, straight, peak in (("bot", 0.995, 2.1), ("human", 0.93, 5.5)):
        events += history(user, days=3)
        events += [
            _click(user, AT, f"{user}-s"),
            _pointer(user, AT + S, straight, 1.9, peak),
            _pointer(user, AT + 2 * S, straight, 1.9, peak),
            checkout(user, f"{user}-tx", AT + 4 * S, f"{user}-s", 260.0),
        ]
    decisions = _decide(events)
    assert "bot.robotic_mouse" in _fired(decisions["bot-tx"])
    assert decisions["bot-tx"].action == "challenge"
    assert "bot.robotic_mouse" not in _fired(decisions["human-tx"])
    assert decisions["human-tx"].action not in FLAGGED


# -- stolen cards ----------------------------------------------------------------------------


def test_a_fresh_account_paying_with_a_foreign_card_is_challenged() -> None:
    events = _signup("newbie", START, "dev-new")
    events.append(
        checkout(
            "newbie", "foreign", START + 2 * M, "s", 280.0, device_id="dev-new", bin_country="RO"
        )
    )
    events += _signup("local", START, "dev-local")
    events.append(checkout("local", "home-card", START + 2 * M, "s", 280.0, device_id="dev-local"))
    decisions = _decide(events)
    assert _fired(decisions["foreign"]) == {"risk.fresh_account_foreign_card"}
    assert decisions["foreign"].action == "challenge"
    assert decisions["home-card"].action == "allow"


def test_a_customer_seen_for_the_first_time_is_not_a_fresh_account() -> None:
    # no sign-up: an established customer whose history predates what the engine holds
    events: list[Event] = [
        _login("regular", START, device_id="dev-laptop"),
        checkout(
            "regular",
            "first-seen",
            START + 2 * M,
            "s",
            280.0,
            device_id="dev-laptop",
            bin_country="GB",
        ),
    ]
    decision = _decide(events)["first-seen"]
    assert decision.features["account.age_ms"] == 2 * M
    assert "risk.fresh_account_foreign_card" not in _fired(decision)
    assert decision.action == "allow"


def test_a_new_foreign_card_at_a_merchant_with_chargebacks_is_challenged() -> None:
    events: list[Event] = []
    for n in range(10):  # the shop's history: ten orders, one charged back
        user = f"c{n}"
        events.append(_login(user, START + n * H, device_id=f"dev-{n}"))
        events.append(
            checkout(
                user,
                f"shop-{n}",
                START + n * H + M,
                "s",
                80.0,
                merchant_id="m-breached",
                device_id=f"dev-{n}",
            )
        )
    events.append(
        Chargeback(
            event_id="cb",
            user_id="c3",
            event_time=START + 2 * DAY,
            transaction_id="shop-3",
            amount=80.0,
            reason_code="10.4",
        )
    )
    events += history("buyer", days=5)
    at = START + 5 * DAY
    events.append(_login("buyer", at, device_id="dev-fresh"))
    events.append(
        checkout(
            "buyer",
            "foreign",
            at + M,
            "s",
            180.0,
            merchant_id="m-breached",
            device_id="dev-fresh",
            instrument_fingerprint="card-tr",
            bin_country="TR",
        )
    )
    events.append(
        checkout(
            "buyer",
            "own-card",
            at + 2 * M,
            "s2",
            180.0,
            merchant_id="m-breached",
            device_id="dev-fresh",
        )
    )
    decisions = _decide(events)
    foreign = decisions["foreign"]
    assert foreign.features["merchant.chargeback_rate_90d"] == 0.1
    assert "risk.risky_merchant_foreign_card" in _fired(foreign)
    assert foreign.action == "challenge"
    assert "risk.risky_merchant_foreign_card" not in _fired(decisions["own-card"])


def test_a_charged_back_card_is_challenged_on_another_account_only() -> None:
    events = history("owner", days=3)
    events.append(
        Chargeback(
            event_id="cb-owner",
            user_id="owner",
            event_time=START + 3 * DAY,
            transaction_id="owner-tx-1",
            amount=40.0,
            reason_code="10.4",
        )
    )
    events += history("owner", days=5, start=START + 4 * DAY)[-3:]  # the owner buys again
    events.append(_login("other", START + 6 * DAY, device_id="dev-other"))
    events.append(
        checkout(
            "other",
            "borrowed",
            START + 6 * DAY + M,
            "s",
            40.0,
            device_id="dev-other",
            instrument_fingerprint="owner-card",
        )
    )
    decisions = _decide(events)
    assert "risk.charged_back_card" in _fired(decisions["borrowed"])
    assert decisions["borrowed"].action == "challenge"
    again = decisions["owner-tx-4"]
    assert again.features["instrument.chargebacks_90d"] == 1
    assert "risk.charged_back_card" not in _fired(again)


def test_an_order_to_a_new_address_after_changing_it_is_not_a_new_destination() -> None:
    events = history("mover", days=5)
    at = START + 5 * DAY
    events.append(
        AddressChanged(
            event_id="moved", user_id="mover", event_time=at - DAY, address_hash="new-flat"
        )
    )
    events.append(_login("mover", at, device_id="dev-new-phone"))
    events.append(
        checkout(
            "mover",
            "moved-in",
            at + M,
            "s",
            60.0,
            device_id="dev-new-phone",
            shipping_address_hash="new-flat",
        )
    )
    decisions = _decide(events)
    assert "risk.new_device_new_destination" not in _fired(decisions["moved-in"])
    assert decisions["moved-in"].action == "allow"

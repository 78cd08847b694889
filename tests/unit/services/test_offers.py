"""The offers step through the test driver: hand-written sequences of one user's events,
decisions and transaction lifecycle, on a virtual clock."""

from __future__ import annotations

import pytest

from riskstream.events import (
    TRANSACTIONS_TOPIC,
    Chargeback,
    Checkout,
    Click,
    Event,
    Login,
    MfaChallengeIssued,
    MfaCompleted,
    MouseMovement,
    PromoApplied,
    TransactionCancelled,
    TransactionPaused,
    TransactionReleased,
    codec_for,
)
from riskstream.fraud.decision import Decision, encode_decision
from riskstream.fraud.topology import DECISIONS_TOPIC
from riskstream.services.offers import (
    OFFERS_TOPIC,
    Offer,
    OffersConfig,
    OfferStage,
    decode_offer,
    is_cart_page,
    offer_id,
    offers_topology,
)
from riskstream.testing import TestDriver

T0 = 1_767_225_600_000  # 2026-01-01T00:00Z
SECOND = 1_000
MINUTE = 60 * SECOND
IDLE = 10 * MINUTE
CONFIG = OffersConfig(idle_ms=IDLE, session_gap_ms=30 * MINUTE, cooldown_ms=60 * MINUTE)
USER = "u-1"

_seq = iter(range(1, 1_000_000))


class Shop:
    """One driver, and a shorthand for what a user does at the driver's clock."""

    def __init__(self, config: OffersConfig = CONFIG, partitions: int = 2) -> None:
        self.stage = OfferStage(config)
        self.driver = TestDriver(
            offers_topology(config, self.stage), partitions=partitions, start_time=T0
        )

    @property
    def now(self) -> int:
        return self.driver.clock.now()

    def send(self, event: Event) -> None:
        self.driver.pipe(
            event.topic, codec_for(event.topic).encode(event), key=event.key, timestamp=self.now
        )

    def click(self, page: str, session: str = "s-1", user: str = USER) -> None:
        self.send(
            Click(event_id=_id(), user_id=user, event_time=self.now, session_id=session, page=page)
        )

    def mouse(self, session: str = "s-1") -> None:
        self.send(
            MouseMovement(
                event_id=_id(),
                user_id=USER,
                event_time=self.now,
                session_id=session,
                sample_count=40,
                duration_ms=900,
                path_length=420.0,
                straightness=0.6,
                mean_speed=0.46,
                max_speed=1.9,
            )
        )

    def promo(self, cart: float, session: str | None = "s-1") -> None:
        self.send(
            PromoApplied(
                event_id=_id(),
                user_id=USER,
                event_time=self.now,
                session_id=session,
                code="SPRING15",
                discount_value=round(cart * 0.15, 2),
                cart_value=cart,
            )
        )

    def checkout(self, txid: str, session: str | None = "s-1") -> None:
        self.send(
            Checkout(
                event_id=_id(),
                user_id=USER,
                event_time=self.now,
                transaction_id=txid,
                amount=80.0,
                currency="EUR",
                merchant_id="m-1",
                item_count=2,
                instrument_fingerprint="card-1",
                bin_country="DE",
                device_id="d-1",
                ip="10.0.0.1",
                country="DE",
                shipping_address_hash="addr-1",
                session_id=session,
            )
        )

    def decision(
        self, txid: str, action: str, score: float, checkout_time: int | None = None
    ) -> None:
        decided = self.now if checkout_time is None else checkout_time
        value = decision(txid, action, score, decided)
        self.driver.pipe(
            DECISIONS_TOPIC, encode_decision(value), key=USER.encode(), timestamp=decided
        )

    def lifecycle(self, event: Event) -> None:
        self.driver.pipe(
            TRANSACTIONS_TOPIC,
            codec_for(TRANSACTIONS_TOPIC).encode(event),
            key=event.key,
            timestamp=self.now,
        )

    def wait(self, ms: int) -> None:
        self.driver.advance_time(ms)

    def offers(self) -> list[Offer]:
        return [decode_offer(output.value) for output in self.driver.read(OFFERS_TOPIC)]


def _id() -> str:
    return f"ev-{next(_seq)}"


def decision(
    txid: str, action: str, score: float, checkout_time: int, user: str = USER
) -> Decision:
    return Decision(
        transaction_id=txid,
        user_id=user,
        checkout_time=checkout_time,
        amount=80.0,
        currency="EUR",
        merchant_id="m-1",
        action=action,
        score=score,
        rule_score=score,
        rule_action=action,
        reasons=[],
        shadow=[],
        faults=[],
        model=None,
        challenger=None,
        rules_version="r1",
        lists_version="l1",
        features_version="f1",
        features={},
        missing=[],
        decided_at=checkout_time + 5,
        latency_ms=5,
    )


def browse_to_cart(shop: Shop, session: str = "s-1") -> None:
    shop.click("/", session)
    shop.wait(20 * SECOND)
    shop.click("/product/000042", session)
    shop.wait(30 * SECOND)
    shop.click("/cart", session)


def returning_customer(shop: Shop) -> None:
    """An earlier purchase, allowed with a low score."""
    shop.decision("tx-old", "allow", 3.0, checkout_time=shop.now - 3 * 86_400_000)


# -- offered -------------------------------------------------------------------------------


def test_a_legitimate_users_idle_cart_gets_exactly_one_offer() -> None:
    shop = Shop()
    returning_customer(shop)
    browse_to_cart(shop)
    cart_at = shop.now
    shop.wait(IDLE - SECOND)
    assert shop.offers() == []  # not idle long enough yet
    shop.wait(2 * SECOND)
    (offer,) = shop.offers()
    assert offer.user_id == USER
    assert offer.session_id == "s-1"
    assert offer.offer_id == offer_id(USER, "s-1")
    assert (offer.kind, offer.value) == ("percent_off", 5.0)
    assert "returning customer" in offer.reason
    assert offer.idle_since == cart_at == offer.cart_opened_at
    assert offer.offered_at == shop.now
    assert offer.expires_at == shop.now + CONFIG.valid_ms
    assert offer.risk_score == 3.0
    # The same session idles again: still one offer per session.
    shop.click("/cart")
    shop.wait(2 * IDLE)
    assert shop.offers() == []
    assert shop.stage.outcomes == {"offered": 1}


def test_the_offer_is_personalised_from_the_cart_and_the_history() -> None:
    shop = Shop()
    browse_to_cart(shop)
    shop.wait(IDLE + SECOND)
    (first_order,) = shop.offers()
    assert (first_order.kind, first_order.value) == ("percent_off", 10.0)
    assert "first order" in first_order.reason

    shop = Shop(OffersConfig(idle_ms=IDLE, cooldown_ms=0))
    returning_customer(shop)
    browse_to_cart(shop)
    shop.wait(10 * SECOND)
    shop.promo(120.0, session=None)  # a promo without a session joins the open cart
    shop.wait(IDLE + SECOND)
    (with_promo,) = shop.offers()
    assert (with_promo.kind, with_promo.value) == ("free_shipping", 0.0)
    assert (with_promo.cart_value, with_promo.promo) == (120.0, "SPRING15")
    assert "promo SPRING15 already applied on a cart of 120.00" in with_promo.reason


def test_cart_activity_restarts_the_idle_clock_and_browsing_keeps_the_session_alive() -> None:
    shop = Shop()
    browse_to_cart(shop)
    shop.wait(IDLE - MINUTE)
    shop.promo(60.0)  # still working on the cart
    shop.wait(IDLE - MINUTE)
    shop.mouse()
    shop.click("/product/000043")
    assert shop.offers() == []
    shop.wait(MINUTE + SECOND)
    (offer,) = shop.offers()
    assert offer.idle_since == offer.offered_at - IDLE - SECOND


def test_the_idle_timer_survives_a_restart() -> None:
    shop = Shop()
    browse_to_cart(shop)
    shop.wait(IDLE // 2)
    shop.driver.restart()
    shop.wait(IDLE // 2 + SECOND)
    (offer,) = shop.offers()
    assert offer.session_id == "s-1"


def test_every_user_is_followed_on_their_own_partition() -> None:
    shop = Shop(partitions=4)
    for number in range(6):
        shop.click("/cart", session=f"s-{number}", user=f"u-{number}")
    shop.wait(IDLE + SECOND)
    offers = shop.offers()
    assert sorted(o.user_id for o in offers) == [f"u-{n}" for n in range(6)]
    assert len({o.offer_id for o in offers}) == 6


# -- not offered ---------------------------------------------------------------------------


def test_a_checkout_before_the_idle_time_means_no_offer() -> None:
    shop = Shop()
    browse_to_cart(shop)
    shop.wait(2 * MINUTE)
    shop.checkout("tx-1")
    shop.decision("tx-1", "allow", 4.0)
    shop.wait(2 * IDLE)
    assert shop.offers() == []


def test_a_checkout_naming_no_session_closes_every_cart() -> None:
    shop = Shop()
    browse_to_cart(shop, "s-1")
    browse_to_cart(shop, "s-2")
    shop.checkout("tx-1", session=None)
    shop.wait(2 * IDLE)
    assert shop.offers() == []


def test_a_flagged_user_gets_no_offer() -> None:
    shop = Shop()
    returning_customer(shop)
    shop.checkout("tx-1", session="s-0")
    shop.decision("tx-1", "challenge", 72.0)  # flagged, in an earlier session
    shop.wait(5 * MINUTE)
    browse_to_cart(shop)
    shop.wait(2 * IDLE)
    assert shop.offers() == []
    assert shop.stage.outcomes == {"flagged": 1}


@pytest.mark.parametrize("action", ["review", "block"])
def test_review_and_block_decisions_flag_too(action: str) -> None:
    shop = Shop()
    shop.decision("tx-1", action, 40.0 if action == "review" else 95.0)
    browse_to_cart(shop)
    shop.wait(2 * IDLE)
    assert shop.offers() == []


def test_a_flag_expires_after_its_window() -> None:
    config = OffersConfig(idle_ms=IDLE, flag_window_ms=60 * MINUTE)
    shop = Shop(config)
    shop.decision("tx-1", "review", 35.0, checkout_time=shop.now - 2 * 60 * MINUTE)
    shop.decision("tx-2", "allow", 2.0)  # the latest decision is low-risk
    browse_to_cart(shop)
    shop.wait(IDLE + SECOND)
    assert len(shop.offers()) == 1


def test_a_high_score_is_not_low_risk_even_when_allowed() -> None:
    shop = Shop(OffersConfig(idle_ms=IDLE, max_score=20.0))
    shop.decision("tx-1", "allow", 25.0)
    browse_to_cart(shop)
    shop.wait(2 * IDLE)
    assert shop.offers() == []
    assert shop.stage.outcomes == {"risky": 1}


def test_a_paused_transaction_holds_offers_until_it_is_released() -> None:
    shop = Shop()
    shop.checkout("tx-1", session="s-0")
    shop.lifecycle(
        TransactionPaused(
            event_id=_id(), user_id=USER, event_time=shop.now, transaction_id="tx-1",
            action="challenge", score=65.0,
        )
    )  # fmt: skip
    shop.lifecycle(
        MfaChallengeIssued(
            event_id=_id(), user_id=USER, event_time=shop.now, transaction_id="tx-1",
            challenge_id="ch-1", channel="sms", expires_at=shop.now + 5 * MINUTE,
        )
    )  # fmt: skip
    browse_to_cart(shop)
    shop.wait(2 * IDLE)
    assert shop.offers() == []
    assert shop.stage.outcomes == {"paused": 1}

    shop.lifecycle(
        TransactionReleased(
            event_id=_id(), user_id=USER, event_time=shop.now, transaction_id="tx-1",
            reason="mfa passed",
        )
    )  # fmt: skip
    browse_to_cart(shop, "s-2")
    shop.wait(IDLE + SECOND)
    (offer,) = shop.offers()
    assert offer.session_id == "s-2"


def test_release_clears_the_challenge_that_paused_the_transaction() -> None:
    shop = Shop()
    shop.checkout("tx-1", session="s-0")
    shop.decision("tx-1", "challenge", 70.0)
    shop.lifecycle(
        TransactionPaused(
            event_id=_id(), user_id=USER, event_time=shop.now, transaction_id="tx-1",
            action="challenge", score=70.0,
        )
    )  # fmt: skip
    browse_to_cart(shop)
    shop.wait(2 * IDLE)
    assert shop.offers() == []  # flagged and paused
    shop.send(
        MfaCompleted(
            event_id=_id(), user_id=USER, event_time=shop.now, transaction_id="tx-1",
            challenge_id="ch-1", passed=True,
        )
    )  # fmt: skip
    shop.lifecycle(
        TransactionReleased(
            event_id=_id(), user_id=USER, event_time=shop.now, transaction_id="tx-1",
            reason="mfa passed",
        )
    )  # fmt: skip
    # The decision arriving again afterwards (a replay) does not flag the user once more.
    shop.decision("tx-1", "challenge", 70.0, checkout_time=shop.now - 25 * MINUTE)
    browse_to_cart(shop, "s-2")
    shop.wait(IDLE + SECOND)
    assert [o.session_id for o in shop.offers()] == ["s-2"]


def test_a_cancelled_transaction_keeps_the_user_flagged() -> None:
    shop = Shop()
    shop.lifecycle(
        TransactionPaused(
            event_id=_id(), user_id=USER, event_time=shop.now, transaction_id="tx-1",
            action="challenge", score=65.0,
        )
    )  # fmt: skip
    shop.lifecycle(
        TransactionCancelled(
            event_id=_id(), user_id=USER, event_time=shop.now, transaction_id="tx-1",
            reason="mfa failed",
        )
    )  # fmt: skip
    browse_to_cart(shop)
    shop.wait(2 * IDLE)
    assert shop.offers() == []
    assert shop.stage.outcomes == {"flagged": 1}


def test_a_chargeback_flags_the_user() -> None:
    shop = Shop()
    shop.send(
        Chargeback(
            event_id=_id(), user_id=USER, event_time=shop.now, transaction_id="tx-9",
            amount=300.0,
        )
    )  # fmt: skip
    browse_to_cart(shop)
    shop.wait(2 * IDLE)
    assert shop.offers() == []


def test_one_offer_per_user_within_the_cooldown() -> None:
    shop = Shop()
    browse_to_cart(shop, "s-1")
    shop.wait(IDLE + SECOND)
    assert len(shop.offers()) == 1
    browse_to_cart(shop, "s-2")
    shop.wait(IDLE + SECOND)
    assert shop.offers() == []
    assert shop.stage.outcomes == {"offered": 1, "cooldown": 1}


def test_history_read_late_sends_no_offers() -> None:
    shop = Shop()
    shop.wait(3 * 60 * MINUTE)
    old = shop.now - 2 * 60 * MINUTE  # a backlog: carts from two hours ago
    shop.send(Click(event_id=_id(), user_id=USER, event_time=old, session_id="s-1", page="/cart"))
    shop.wait(2 * IDLE)
    assert shop.offers() == []
    assert shop.driver.state("offers", USER.encode()) is None


def test_a_session_that_ended_before_the_timer_fired_gets_nothing() -> None:
    config = OffersConfig(idle_ms=IDLE, session_gap_ms=IDLE + MINUTE)
    shop = Shop(config)
    shop.click("/cart")
    shop.wait(IDLE // 2)
    # The runner stalls: the timer fires long after the session went quiet.
    shop.driver.clock.advance(IDLE + 2 * MINUTE)
    shop.wait(0)
    assert shop.offers() == []
    assert shop.stage.outcomes == {"session_ended": 1}


def test_cart_pages() -> None:
    assert is_cart_page("/cart")
    assert is_cart_page("/cart/")
    assert is_cart_page("/checkout?step=2")
    assert is_cart_page("/cart/items/3")
    assert not is_cart_page("/")
    assert not is_cart_page("/cartoons")
    assert not is_cart_page("/product/cart")


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="session_gap_ms"):
        OffersConfig(idle_ms=IDLE, session_gap_ms=IDLE)
    with pytest.raises(ValueError, match="idle_ms"):
        OffersConfig(idle_ms=0)


def test_events_that_say_nothing_about_carts_or_risk_keep_no_state() -> None:
    config = OffersConfig(activity_topics=(*CONFIG.activity_topics, Login.topic))
    shop = Shop(config)
    shop.send(
        Login(event_id=_id(), user_id=USER, event_time=shop.now, device_id="d-1", ip="10.0.0.1",
              country="DE")
    )  # fmt: skip
    shop.click("/product/000042")  # browsing without a cart
    shop.checkout("tx-1")  # a checkout with no cart open
    assert shop.driver.state("offers", USER.encode()) is None

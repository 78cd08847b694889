"""The default rule set: it parses and type-checks, and each rule catches its attack."""

from __future__ import annotations

from typing import Any

import pytest

from riskstream.fraud.policy import Thresholds
from riskstream.fraud.rules import (
    DEFAULT_RULES_NAME,
    EXPECTED_FEATURES,
    Action,
    RuleSet,
    ValueType,
    check_sources,
    default_rule_set,
    default_rules_source,
)
from riskstream.fraud.rules import expected as expected_module

DAY = 86_400_000

# An ordinary checkout: a returning user on a known device, nothing unusual.
ORDINARY: dict[str, Any] = {
    "login.new_device": False,
    "login.new_country": False,
    "login.country": "DE",
    "session.ms_since_login": 240_000,
    "checkout.amount": 64.9,
    "checkout.currency": "EUR",
    "checkout.country": "DE",
    "checkout.bin_country": "DE",
    "checkout.item_count": 2,
    "checkout.seconds_after_first_click": 180.0,
    "checkout.new_shipping_address": False,
    "user.email_hash": "e-1",
    "user.checkouts_1m": 0,
    "user.checkouts_1h": 1,
    "user.checkouts_24h": 1,
    "user.checkout_amount_1h": 64.9,
    "user.checkout_amount_24h": 64.9,
    "user.avg_checkout_amount_30d": 55.0,
    "user.failed_logins_10m": 0,
    "user.distinct_instruments_24h": 1,
    "user.promo_uses_24h": 0,
    "account.age_ms": 400 * DAY,
    "device.id": "dev-1",
    "device.age_ms": 300 * DAY,
    "device.distinct_instruments_24h": 1,
    "device.distinct_accounts_24h": 1,
    "device.distinct_bin_countries_24h": 1,
    "device.promo_uses_24h": 0,
    "device.checkouts_1h": 1,
    "instrument.id": "card-1",
    "instrument.bin": "411111",
    "instrument.new_for_user": False,
    "instrument.chargebacks_90d": 0,
    "instrument.distinct_accounts_30d": 1,
    "instrument.promo_uses_24h": 0,
    "ip.address": "192.0.2.10",
    "ip.distinct_accounts_1h": 1,
    "merchant.id": "m-1",
    "merchant.chargeback_rate_90d": 0.002,
    "merchant.fraud_reports_90d": 0,
    "travel.speed_kmh": 3.0,
    "travel.distance_km": 0.4,
    "mouse.samples": 220,
    "mouse.straightness": 0.62,
    "mouse.mean_speed": 0.8,
    "mouse.max_speed": 6.0,
}

# For each default rule, what turns the ordinary checkout into its attack.
ATTACKS: dict[str, dict[str, Any]] = {
    "ato.new_device_promo_rush": {
        "login.new_device": True,
        "login.new_country": True,
        "promo.value": 60,
        "promo.cart_value": 400,
        "promo.seconds_after_first_click": 9,
    },
    "ato.credential_stuffing": {"user.failed_logins_10m": 7, "login.new_device": True},
    "ato.address_change_then_spend": {
        "account.ms_since_address_change": 20 * 60_000,
        "login.new_device": True,
        "checkout.new_shipping_address": True,
        "checkout.amount": 450.0,
    },
    "ato.profile_change_new_country": {
        "account.ms_since_profile_change": 5 * 60_000,
        "login.new_country": True,
    },
    "ato.new_device_new_country_spend": {
        "login.new_device": True,
        "login.new_country": True,
        "checkout.amount": 950.0,
    },
    "ato.failed_logins_new_place": {
        "user.failed_logins_10m": 2,
        "login.new_device": True,
        "login.new_country": True,
    },
    "card_testing.many_cards_one_device": {
        "device.distinct_instruments_24h": 6,
        "checkout.amount": 1.0,
    },
    "card_testing.cash_out": {"device.distinct_instruments_24h": 12, "checkout.amount": 640.0},
    "card_testing.second_card_tiny_amount": {
        "device.distinct_instruments_24h": 2,
        "checkout.amount": 1.0,
        "instrument.new_for_user": True,
    },
    "card_testing.fresh_device_foreign_card": {
        "device.age_ms": 40_000,
        "checkout.amount": 2.5,
        "checkout.bin_country": "PL",
    },
    "card_testing.small_amount_burst": {
        "user.checkouts_1h": 8,
        "checkout.amount": 1.5,
        "instrument.new_for_user": True,
    },
    "card_testing.foreign_bins_on_device": {
        "device.distinct_bin_countries_24h": 4,
        "checkout.bin_country": "US",
    },
    "velocity.checkouts_per_minute": {"user.checkouts_1m": 4},
    "velocity.checkouts_per_hour": {"user.checkouts_1h": 2},
    "velocity.hourly_burst": {"user.checkouts_1h": 6},
    "velocity.repeat_on_new_device": {"user.checkouts_1h": 1, "login.new_device": True},
    "velocity.spend_spike": {"user.checkout_amount_24h": 1_500.0},
    "velocity.accounts_per_ip": {"ip.distinct_accounts_1h": 25},
    "travel.impossible": {
        "travel.speed_kmh": 4_200.0,
        "travel.distance_km": 2_100.0,
        "login.new_country": True,
    },
    "travel.country_hop": {
        "travel.speed_kmh": 800.0,
        "login.new_country": True,
        "checkout.amount": 350.0,
    },
    "promo_abuse.shared_device": {
        "promo.value": 10,
        "promo.cart_value": 80,
        "device.distinct_accounts_24h": 4,
        "device.promo_uses_24h": 4,
    },
    "promo_abuse.fresh_accounts_one_device": {
        "promo.value": 7.0,
        "promo.cart_value": 70,
        "device.distinct_accounts_24h": 2,
        "account.age_ms": 90_000,
    },
    "promo_abuse.shared_card": {
        "promo.value": 10,
        "promo.cart_value": 80,
        "instrument.distinct_accounts_30d": 5,
        "instrument.promo_uses_24h": 3,
    },
    "promo_abuse.fresh_account_big_discount": {
        "account.age_ms": 3 * 3_600_000,
        "promo.value": 40,
        "promo.cart_value": 70,
    },
    "bot.robotic_mouse": {
        "mouse.straightness": 0.995,
        "mouse.mean_speed": 1.9,
        "mouse.max_speed": 2.3,
    },
    "bot.headless_speed_checkout": {
        "mouse.samples": None,
        "mouse.straightness": None,
        "mouse.mean_speed": None,
        "mouse.max_speed": None,
        "checkout.seconds_after_first_click": 2.0,
    },
    "lists.blocked": {"ip.address": "203.0.113.66"},
    "lists.trusted_device": {"device.id": "dev-trusted"},
    "risk.charged_back_card": {"instrument.chargebacks_90d": 1, "instrument.new_for_user": True},
    "risk.risky_merchant_new_account": {
        "merchant.chargeback_rate_90d": 0.03,
        "checkout.amount": 800.0,
        "account.age_ms": 12 * DAY,
    },
    "risk.risky_merchant_foreign_card": {
        "merchant.chargeback_rate_90d": 0.05,
        "checkout.bin_country": "TR",
        "instrument.new_for_user": True,
        "device.age_ms": 3 * 60_000,
    },
    "risk.fresh_account_foreign_card": {
        "account.age_ms": 100_000,
        "account.ms_since_profile_change": 95_000,
        "device.age_ms": 80_000,
        "checkout.amount": 280.0,
        "checkout.bin_country": "RO",
    },
    "risk.new_device_new_destination": {
        "login.new_device": True,
        "checkout.new_shipping_address": True,
    },
}

# For a new rule, the attack with one thing changed that an honest customer does: the rule
# must stay silent (each is applied on top of the rule's attack above).
NEAR_MISSES: dict[str, tuple[str, dict[str, Any]]] = {
    "ato.new_device_new_country_spend": (
        "the seed near miss's 240 order",
        {"checkout.amount": 240.0},
    ),
    "ato.failed_logins_new_place": ("a typo at home", {"login.new_country": False}),
    "card_testing.cash_out": ("a family's three cards", {"device.distinct_instruments_24h": 3}),
    "card_testing.second_card_tiny_amount": (
        "a second card the user already had",
        {"instrument.new_for_user": False},
    ),
    "card_testing.fresh_device_foreign_card": (
        "a new phone an hour old",
        {"device.age_ms": 3_600_000},
    ),
    "velocity.hourly_burst": ("a third order within the hour", {"user.checkouts_1h": 2}),
    "velocity.repeat_on_new_device": (
        "two orders on the usual device",
        {"login.new_device": False},
    ),
    "travel.impossible": (
        "back home on the usual device after a stolen login abroad",
        {"login.new_country": False, "login.new_device": False},
    ),
    "promo_abuse.fresh_accounts_one_device": (
        "a household's second, older account",
        {"account.age_ms": 2 * DAY},
    ),
    "bot.robotic_mouse": (
        "a straight flick that speeds up and slows down",
        {"mouse.max_speed": 6.0},
    ),
    "risk.charged_back_card": (
        "the cardholder's own card after their dispute",
        {"instrument.new_for_user": False},
    ),
    "risk.risky_merchant_foreign_card": (
        "a foreign card the customer has used before",
        {"instrument.new_for_user": False},
    ),
    "risk.fresh_account_foreign_card": (
        "a new customer with a card from home",
        {"checkout.bin_country": "DE"},
    ),
    "risk.new_device_new_destination": (
        "an order to the address changed yesterday",
        {"account.ms_since_address_change": DAY},
    ),
}

LISTS = {
    "blocklist.ip": {"203.0.113.66"},
    "blocklist.device": {"dev-bad"},
    "allowlist.device": {"dev-trusted"},
}


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return default_rule_set()


def test_the_default_file_parses_and_type_checks() -> None:
    source = default_rules_source()
    assert source.name == DEFAULT_RULES_NAME
    rules, errors = check_sources([source], EXPECTED_FEATURES)
    assert errors == []
    assert len(rules) == 33


def test_it_covers_the_attacks_an_analyst_expects(rules: RuleSet) -> None:
    families = {r.id.split(".")[0] for r in rules}
    assert families == {
        "ato",
        "card_testing",
        "velocity",
        "travel",
        "promo_abuse",
        "bot",
        "lists",
        "risk",
    }
    assert all(r.description for r in rules)
    assert set(ATTACKS) == {r.id for r in rules}


def test_an_ordinary_checkout_is_allowed(rules: RuleSet) -> None:
    result = rules.evaluate(ORDINARY, LISTS)
    assert (result.fired, result.shadow_hits, result.faults) == ((), (), ())
    assert result.action is Action.ALLOW


def test_a_checkout_with_nothing_known_is_allowed(rules: RuleSet) -> None:
    # a brand-new pipeline, every feature null: no rule may fire on missing data alone
    result = rules.evaluate({}, {})
    assert (result.fired, result.action, result.faults) == ((), Action.ALLOW, ())


@pytest.mark.parametrize("rule_id", sorted(ATTACKS))
def test_each_rule_catches_its_attack(rules: RuleSet, rule_id: str) -> None:
    features = {k: v for k, v in {**ORDINARY, **ATTACKS[rule_id]}.items() if v is not None}
    result = rules.evaluate(features, LISTS)
    rule = rules[rule_id]
    hits = result.shadow_hits if rule.shadow else result.fired
    assert rule_id in [h.rule_id for h in hits]
    assert not result.faults
    hit = next(h for h in hits if h.rule_id == rule_id)
    assert set(hit.features) == set(rule.used_features)


def test_every_feature_read_is_expected_and_documented(rules: RuleSet) -> None:
    assert set(rules.used_features) <= set(EXPECTED_FEATURES)
    doc = expected_module.__doc__ or ""
    for name in EXPECTED_FEATURES:
        family, _, rest = name.partition(".")
        stem = rest.rsplit("_", 1)[0] if rest.endswith(("_1m", "_1h", "_24h")) else rest
        assert f"{family}.{stem}" in doc, name
    assert EXPECTED_FEATURES["account.age_ms"] is ValueType.DURATION
    assert set(ORDINARY) <= set(EXPECTED_FEATURES)


def test_trusted_devices_lower_the_score_but_never_override_a_block(rules: RuleSet) -> None:
    features = {**ORDINARY, "device.id": "dev-trusted", "ip.address": "203.0.113.66"}
    result = rules.evaluate(features, LISTS)
    assert [h.rule_id for h in result.fired] == ["lists.blocked", "lists.trusted_device"]
    assert (result.score, result.action) == (70, Action.BLOCK)


def test_a_blocked_device_is_blocked(rules: RuleSet) -> None:
    result = rules.evaluate({**ORDINARY, "device.id": "dev-bad"}, LISTS)
    assert result.action is Action.BLOCK
    assert result.fired[0].features["device.id"] == "dev-bad"


def test_the_new_users_spend_threshold_defaults_to_1000(rules: RuleSet) -> None:
    new_user = {**ORDINARY, "user.checkout_amount_24h": 999.0}
    del new_user["user.avg_checkout_amount_30d"]
    assert not rules.evaluate(new_user).fired
    new_user["user.checkout_amount_24h"] = 1_000.0
    assert [h.rule_id for h in rules.evaluate(new_user).fired] == ["velocity.spend_spike"]
    big_spender = {**ORDINARY, "user.avg_checkout_amount_30d": 400.0}
    big_spender["user.checkout_amount_24h"] = 1_900.0
    assert not rules.evaluate(big_spender).fired


@pytest.mark.parametrize("rule_id", sorted(NEAR_MISSES))
def test_each_new_rule_stays_silent_on_its_near_miss(rules: RuleSet, rule_id: str) -> None:
    _, change = NEAR_MISSES[rule_id]
    features = {**ORDINARY, **ATTACKS[rule_id], **change}
    result = rules.evaluate({k: v for k, v in features.items() if v is not None}, LISTS)
    assert rule_id not in [h.rule_id for h in result.fired]
    assert not result.faults


def _decided(rules: RuleSet, features: dict[str, Any]) -> Action:
    """The action a decision takes from the rules alone: the strongest of theirs and the one
    their summed score reaches under the default thresholds."""
    result = rules.evaluate(features, LISTS)
    by_score = Thresholds().action_for(result.score)
    return max(result.action, by_score, key=lambda action: action.severity)


def test_a_heavy_buyer_on_a_known_device_is_reviewed_not_challenged(rules: RuleSet) -> None:
    third = {**ORDINARY, "user.checkouts_1h": 2}
    assert [h.rule_id for h in rules.evaluate(third, LISTS).fired] == [
        "velocity.checkouts_per_hour"
    ]
    assert _decided(rules, third) is Action.REVIEW
    fourth = {**ORDINARY, "user.checkouts_1h": 3}
    assert rules.evaluate(fourth, LISTS).score == 60
    assert _decided(rules, fourth) is Action.CHALLENGE  # never a block


def test_a_drained_account_is_challenged_from_its_third_order(rules: RuleSet) -> None:
    # the first order ships to a new address from a new device: reviewed
    first = {
        **ORDINARY,
        "login.new_device": True,
        "checkout.new_shipping_address": True,
        "user.checkouts_1h": 0,
    }
    assert _decided(rules, first) is Action.REVIEW
    # the second, within the hour, from that device: reviewed (the model weighs the rest)
    second = {**first, "checkout.new_shipping_address": False, "user.checkouts_1h": 1}
    assert _decided(rules, second) is Action.REVIEW
    third = {**second, "user.checkouts_1h": 2}
    assert _decided(rules, third) is Action.CHALLENGE
    assert {h.rule_id for h in rules.evaluate(third, LISTS).fired} == {
        "velocity.checkouts_per_hour",
        "velocity.repeat_on_new_device",
    }

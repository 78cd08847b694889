"""The seed rule of issue 5 and its near misses, on hand-written checkout features.

*A user logs in from a new device, in a country different from their usual ones, and
applies a high-value promo code within 30 s of their first click - flag the checkout.*
"""

from __future__ import annotations

from typing import Any

import pytest

from riskstream.fraud.rules import (
    EXPECTED_FEATURES,
    Action,
    RuleHit,
    RuleSet,
    default_rule_set,
)

SEED = """\
rule ato.new_device_promo_rush
  version 3
  description "New device in an unusual country, high-value promo within 30 s of the first click"
  when login.new_device and login.new_country
       and promo.value >= 50 and promo.seconds_after_first_click <= 30
  score 60
  action challenge
"""

ATTACK: dict[str, Any] = {
    "login.new_device": True,
    "login.new_country": True,
    "login.country": "BR",
    "promo.value": 80.0,
    "promo.code": "SPRING80",
    "promo.seconds_after_first_click": 12.5,
    "checkout.amount": 240.0,
}


@pytest.fixture(scope="module")
def seed() -> RuleSet:
    return RuleSet.from_text(SEED, EXPECTED_FEATURES, name="seed.rules")


def test_the_attack_is_challenged_with_the_values_that_made_it(seed: RuleSet) -> None:
    result = seed.evaluate(ATTACK)
    assert result.fired == (
        RuleHit(
            "ato.new_device_promo_rush",
            3,
            60,
            Action.CHALLENGE,
            False,
            {
                "login.new_device": True,
                "login.new_country": True,
                "promo.value": 80.0,
                "promo.seconds_after_first_click": 12.5,
            },
        ),
    )
    assert (result.score, result.action) == (60, Action.CHALLENGE)


def test_the_edges_are_inclusive(seed: RuleSet) -> None:
    edge = {**ATTACK, "promo.value": 50, "promo.seconds_after_first_click": 30}
    assert seed.evaluate(edge).action is Action.CHALLENGE


@pytest.mark.parametrize(
    ("near_miss", "change"),
    [
        ("promo at 31 s", {"promo.seconds_after_first_click": 31}),
        ("promo at 30.5 s", {"promo.seconds_after_first_click": 30.5}),
        ("same country as usual", {"login.new_country": False}),
        ("a known device", {"login.new_device": False}),
        ("a low-value promo", {"promo.value": 49.99}),
        ("no promo at all", {"promo.value": None, "promo.seconds_after_first_click": None}),
        ("no first click seen", {"promo.seconds_after_first_click": None}),
        ("login unknown", {"login.new_device": None, "login.new_country": None}),
    ],
)
def test_near_misses_are_allowed(seed: RuleSet, near_miss: str, change: dict[str, Any]) -> None:
    features = {k: v for k, v in {**ATTACK, **change}.items() if v is not None}
    result = seed.evaluate(features)
    assert result.fired == (), near_miss
    assert (result.score, result.action) == (0, Action.ALLOW)


def test_the_default_rule_set_ships_the_seed_rule_and_challenges_the_attack() -> None:
    rules = default_rule_set()
    rule = rules["ato.new_device_promo_rush"]
    (seed,) = RuleSet.from_text(SEED, EXPECTED_FEATURES)
    assert rule == seed
    assert not rule.shadow
    result = rules.evaluate(ATTACK)
    assert [h.rule_id for h in result.fired] == ["ato.new_device_promo_rush"]
    assert result.action is Action.CHALLENGE
    for change in ({"promo.seconds_after_first_click": 31}, {"login.new_country": False}):
        assert "ato.new_device_promo_rush" not in [
            h.rule_id for h in rules.evaluate({**ATTACK, **change}).fired
        ]

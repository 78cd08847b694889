"""Evaluating rule sets: null semantics, durations, lists, shadow mode, actions, results."""

from __future__ import annotations

from typing import Any

import pytest

from riskstream.fraud.rules import (
    Action,
    Evaluation,
    FeatureCatalogue,
    RuleHit,
    RuleSet,
    RuleSetError,
    RuleSource,
)

CATALOGUE = FeatureCatalogue.of(
    {
        "x": "number",
        "y": "number",
        "flag": "bool",
        "other": "bool",
        "s": "string",
        "age": "duration-ms",
        "since": "duration-ms",
        "at": "timestamp",
        "then": "timestamp",
        "device.id": "string",
        "ip.address": "string",
    }
)


def when(condition: str, features: dict[str, Any], lists: Any = None) -> bool:
    """Whether a one-rule set with this condition fires."""
    rules = RuleSet.from_text(f"rule r version 1 when {condition}", CATALOGUE)
    result = rules.evaluate(features, lists or {})
    assert not result.faults
    return bool(result.fired)


# -- null ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "condition",
    [
        "x > 1",
        "x < 1",
        "x == 1",
        "x != 1",
        "not (x == 1)",
        "not (x > 1)",
        "x in [1, 2]",
        "x not in [1, 2]",
        "x between 0 and 10",
        "x not between 0 and 10",
        "x + 1 > 0",
        "-x < 0",
        "abs(x) >= 0",
        "max(x, 1) >= 1",
        "flag",
        "not flag",
        "flag == true",
        "flag != true",
        "flag or false",
        "not (flag and true)",
        's == ""',
        'lower(s) != "a"',
        'startswith(s, "")',
        'not startswith(s, "a")',
        "len(s) >= 0",
        "s in blocklist.device",
        "s not in blocklist.device",
        "age < 1h",
        "at - then > 0ms",
    ],
)
def test_a_missing_feature_never_fires_a_rule_nor_its_negation(condition: str) -> None:
    assert not when(condition, {})
    assert not when(condition, dict.fromkeys(CATALOGUE))  # explicit None: the same


def test_null_is_tested_with_is_null() -> None:
    assert when("x is null", {})
    assert when("x is null", {"x": None})
    assert not when("x is null", {"x": 0})
    assert when("x is not null", {"x": 0})
    assert not when("x is not null", {})
    assert when("flag is null", {"flag": None})
    assert when("x + y is null", {"x": 1})  # arithmetic with null is null
    assert when("lower(s) is null", {})


def test_kleene_logic_known_answers_win_over_unknowns() -> None:
    assert when("flag or x > 1", {"x": 2})  # unknown or true: true
    assert not when("flag and x > 1", {"x": 2})  # unknown and true: unknown
    assert when("not (flag and x > 1)", {"x": 0})  # unknown and false: false, so not: true
    assert not when("not (flag or x > 1)", {"x": 0})  # unknown or false: unknown


def test_coalesce_supplies_a_default() -> None:
    assert when("coalesce(x, 0) == 0", {})
    assert when("coalesce(x, y, 7) == 7", {"y": None})
    assert when("coalesce(x, y, 7) == 3", {"y": 3})
    assert when("not coalesce(flag, false)", {})


def test_division_by_zero_is_null() -> None:
    assert when("x / y is null", {"x": 1, "y": 0})
    assert when("x % y is null", {"x": 1, "y": 0})
    assert not when("x / y > 0", {"x": 1, "y": 0})
    assert when("x / y == 0.5", {"x": 1, "y": 2})
    assert when("age / since == 2", {"age": 2_000, "since": 1_000})


# -- values --------------------------------------------------------------------------------


def test_durations_are_milliseconds() -> None:
    assert when("age < 30s", {"age": 29_999})
    assert not when("age < 30s", {"age": 30_000})
    assert when("age == 1h30m", {"age": 5_400_000})
    assert when("age >= 7d", {"age": 7 * 86_400_000})
    assert when("age == 250ms", {"age": 250})
    assert when("age * 2 == 1m", {"age": 30_000})
    assert when("at - then <= 5m", {"at": 1_000_300_000, "then": 1_000_000_000})
    assert when("then + 10s == at", {"at": 1_000_010_000, "then": 1_000_000_000})
    assert when("max(age, since) == 2s and min(at, then) == then", {
        "age": 1_000, "since": 2_000, "at": 5, "then": 3,
    })  # fmt: skip


def test_strings() -> None:
    features = {"s": "GiftCard-50"}
    assert when('lower(s) == "giftcard-50"', features)
    assert when('upper(s) == "GIFTCARD-50"', features)
    assert when('startswith(lower(s), "gift")', features)
    assert when('endswith(s, "-50")', features)
    assert when('contains(s, "Card")', features)
    assert not when('contains(s, "card")', features)
    assert when("len(s) == 11", features)
    assert when('s in ["a", "GiftCard-50"]', features)
    assert when('s != "giftcard-50"', features)  # case-sensitive


def test_arithmetic_and_precedence() -> None:
    assert when("x + y * 2 == 7", {"x": 1, "y": 3})
    assert when("(x + y) * 2 == 8", {"x": 1, "y": 3})
    assert when("x - y - 1 == -3", {"x": 1, "y": 3})
    assert when("-x == -1 and x % 2 == 1", {"x": 1})
    assert when("x between y and y + 1", {"x": 4, "y": 3})
    assert when("x between 3 and 4 and x not between 5 and 9", {"x": 4})
    assert when("x between 4 and 4", {"x": 4})  # bounds included


def test_constant_sub_expressions_are_folded_and_still_right() -> None:
    assert when("x > 2 * 30 - 10", {"x": 51})
    assert not when("x > 2 * 30 - 10", {"x": 50})
    assert when("1 < 2 and x == 1", {"x": 1})
    assert not when("1 > 2 or x == 2", {"x": 1})
    assert not when("x > 1 / 0", {"x": 1})  # null constant: never true
    assert when("50 <= x", {"x": 50})  # constant on the left


# -- lists ---------------------------------------------------------------------------------


def test_named_lists() -> None:
    lists = {"blocklist.device": {"d1", "d2"}, "allowlist.ip": frozenset({"10.0.0.1"})}
    assert when("device.id in blocklist.device", {"device.id": "d1"}, lists)
    assert not when("device.id in blocklist.device", {"device.id": "d3"}, lists)
    assert when("device.id not in blocklist.device", {"device.id": "d3"}, lists)
    assert when("ip.address in allowlist.ip", {"ip.address": "10.0.0.1"}, lists)
    # a list that is not there is empty
    assert not when("device.id in blocklist.bin", {"device.id": "d1"}, lists)
    assert when("device.id not in blocklist.bin", {"device.id": "d1"}, lists)


def test_list_literals() -> None:
    assert when("x in [1, 2.5, 3]", {"x": 2.5})
    assert when("x not in [1, 2]", {"x": 3})
    assert not when("x in []", {"x": 3})
    assert when("age in [30s, 1m]", {"age": 60_000})
    assert when("flag in [true]", {"flag": True})


# -- rule sets -----------------------------------------------------------------------------

RULES = """\
rule small
  version 1
  when x > 0
  score 10
  action review

rule medium
  version 4
  description "x and y"
  when x > 1 and y > 1
  score 20
  action challenge

rule large
  version 2
  when x > 2
  score 30.5
  action block

rule trusted
  version 1
  when flag
  score -15

rule candidate
  version 7
  when x > 0 and s == "new"
  score 99
  action block
  shadow
"""


@pytest.fixture
def rules() -> RuleSet:
    return RuleSet.from_text(RULES, CATALOGUE, name="test.rules")


def test_nothing_fires_allow_and_zero(rules: RuleSet) -> None:
    result = rules.evaluate({"x": 0})
    assert result == Evaluation(ruleset_version=rules.version)
    assert result.action is Action.ALLOW
    assert result.score == 0


def test_scores_add_up_and_the_strongest_action_wins(rules: RuleSet) -> None:
    result = rules.evaluate({"x": 1})
    assert [h.rule_id for h in result.fired] == ["small"]
    assert (result.score, result.action) == (10, Action.REVIEW)

    result = rules.evaluate({"x": 2, "y": 2})
    assert [h.rule_id for h in result.fired] == ["small", "medium"]
    assert (result.score, result.action) == (30, Action.CHALLENGE)

    result = rules.evaluate({"x": 3, "y": 2, "flag": True})
    assert [h.rule_id for h in result.fired] == ["small", "medium", "large", "trusted"]
    assert (result.score, result.action) == (45.5, Action.BLOCK)

    result = rules.evaluate({"flag": True})
    assert (result.score, result.action) == (-15, Action.ALLOW)


def test_action_precedence() -> None:
    assert [a.severity for a in Action] == [0, 1, 2, 3]
    assert max([Action.REVIEW, Action.BLOCK, Action.ALLOW], key=lambda a: a.severity) is (
        Action.BLOCK
    )
    for weaker, stronger in [("allow", "review"), ("review", "challenge"), ("challenge", "block")]:
        text = (
            f"rule a version 1 when true action {stronger}\n"
            f"rule b version 1 when true action {weaker}\n"
        )
        result = RuleSet.from_text(text, CATALOGUE).evaluate({})
        assert result.action is Action(stronger)


def test_shadow_rules_are_recorded_never_enforced(rules: RuleSet) -> None:
    result = rules.evaluate({"x": 1, "s": "new"})
    assert [h.rule_id for h in result.fired] == ["small"]
    assert result.shadow_hits == (
        RuleHit("candidate", 7, 99, Action.BLOCK, True, {"x": 1, "s": "new"}),
    )
    assert (result.score, result.action) == (10, Action.REVIEW)  # the block is not enforced
    assert rules["candidate"].shadow
    assert not rules["small"].shadow


def test_hits_carry_the_feature_values_their_rule_read(rules: RuleSet) -> None:
    result = rules.evaluate({"x": 2, "y": 5, "s": "old", "age": 1})
    medium = result.fired[1]
    assert medium == RuleHit("medium", 4, 20, Action.CHALLENGE, False, {"x": 2, "y": 5})
    text = "rule r version 1 when x > 1 or y > 1 or s is null"
    result = RuleSet.from_text(text, CATALOGUE).evaluate({"x": 2})
    assert result.fired[0].features == {"x": 2, "y": None, "s": None}


def test_used_features_in_order_of_first_use() -> None:
    text = (
        'rule r version 1 when (y > x or lower(s) == "a") and device.id in blocklist.ip and x > 1'
    )
    (rule,) = RuleSet.from_text(text, CATALOGUE)
    assert rule.used_features == ("y", "x", "s", "device.id")
    assert rule.used_lists == ("blocklist.ip",)


def test_a_rule_that_raises_is_reported_and_does_not_fire(rules: RuleSet) -> None:
    result = rules.evaluate({"x": "not a number", "flag": True})
    assert [h.rule_id for h in result.fired] == ["trusted"]
    assert [f.rule_id for f in result.faults] == ["small", "medium", "large", "candidate"]
    assert result.faults[0].error.startswith("TypeError: ")
    assert result.faults[3].shadow


def test_a_rule_set_is_immutable_and_versioned_by_content(rules: RuleSet) -> None:
    with pytest.raises(AttributeError):
        rules._rules = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        rules.version = "x"  # type: ignore[misc]
    same = RuleSet.from_text(RULES, CATALOGUE, name="test.rules")
    assert same.version == rules.version
    assert len(rules.version) == 16
    assert RuleSet.from_text(RULES + "\n", CATALOGUE, name="test.rules").version != rules.version
    assert RuleSet.from_text(RULES, CATALOGUE, name="other.rules").version != rules.version
    assert RuleSet.empty().version != rules.version
    assert repr(rules) == f"RuleSet(version={rules.version!r}, rules=5)"


def test_reading_a_rule_set(rules: RuleSet) -> None:
    assert len(rules) == 5
    assert [r.id for r in rules] == ["small", "medium", "large", "trusted", "candidate"]
    assert "medium" in rules
    assert rules.get("nope") is None
    medium = rules["medium"]
    assert (medium.version, medium.score, medium.action, medium.description) == (
        4,
        20,
        Action.CHALLENGE,
        "x and y",
    )
    assert (medium.file, medium.line, medium.column) == ("test.rules", 7, 1)
    assert rules.sources == (RuleSource("test.rules", RULES),)
    assert rules.used_features == ("x", "y", "flag", "s")
    assert RuleSet.empty().evaluate({"x": 1}).action is Action.ALLOW


def test_a_rule_renders_back_to_an_equal_rule(rules: RuleSet) -> None:
    text = "".join(r.render() + "\n" for r in rules)
    again = RuleSet.from_text(text, CATALOGUE)
    assert list(again) == list(rules)
    assert rules["candidate"].render() == (
        'rule candidate\n  version 7\n  when x > 0 and s == "new"\n  score 99\n'
        "  action block\n  shadow\n"
    )


def test_built_all_or_nothing(rules: RuleSet) -> None:
    broken = RULES.replace("when x > 2", "when x > ")
    with pytest.raises(RuleSetError):
        RuleSet.from_text(broken, CATALOGUE)
    # one bad file spoils the whole set, however many good ones come with it
    with pytest.raises(RuleSetError) as caught:
        RuleSet.build(
            [RuleSource("good.rules", RULES), RuleSource("bad.rules", "rule z version 1 when q")],
            CATALOGUE,
        )
    assert [e.file for e in caught.value.errors] == ["bad.rules"]


def test_diff_between_rule_sets(rules: RuleSet) -> None:
    newer_text = (
        RULES.replace("version 4\n", "version 5\n")
        .replace("when x > 1 and y > 1", "when x > 1 and y > 2")
        .replace("score 30.5", "score 31")
        .replace("rule trusted\n  version 1\n  when flag\n  score -15\n\n", "")
        + "\nrule extra version 1 when flag\n"
    )
    newer = RuleSet.from_text(newer_text, CATALOGUE, name="test.rules")
    diff = rules.diff(newer)
    assert diff.added == ("extra",)
    assert diff.removed == ("trusted",)
    assert diff.changed == ("medium", "large")
    assert diff.unbumped == ("large",)  # changed, but still version 2
    assert diff
    assert not rules.diff(RuleSet.from_text(RULES, CATALOGUE, name="moved.rules"))

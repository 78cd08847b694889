"""The pattern language: building, rendering and rejecting malformed patterns."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest

from riskstream.errors import ConfigError
from riskstream.stream.logic import Definition, Logic
from riskstream.stream.patterns import (
    NO_SKIP,
    Contiguity,
    Matcher,
    Pattern,
    PatternDefinition,
    PatternGroup,
    PatternLogic,
    skip_to_first,
    skip_to_last,
)
from tests.unit.stream.test_patterns_kit import is_


def test_describe_renders_the_pattern_as_written() -> None:
    pattern = (
        Pattern.begin("login", where=is_("login"))
        .followed_by("click")
        .followed_by("promo")
        .within(timedelta(seconds=30))
    )
    assert pattern.describe() == (
        "begin(login) → followed_by(click) → followed_by(promo) within 30s"
    )
    assert str(pattern) == pattern.describe()
    assert repr(pattern) == f"Pattern({pattern.describe()})"


def test_describe_shows_every_construct() -> None:
    pattern: Pattern[Any] = (
        Pattern.begin("fail", skip=NO_SKIP)
        .times(3)
        .consecutive()
        .not_next("gap")
        .next("ok")
        .followed_by_any("b")
        .one_or_more()
        .optional()
        .not_followed_by("x")
        .followed_by("c")
        .times(2, 4)
        .allow_combinations()
        .followed_by("d")
        .times_or_more(2)
        .within(90_000)
    )
    assert pattern.describe() == (
        "begin(fail){3, consecutive} → not_next(gap) → next(ok) → followed_by_any(b){1..}? "
        "→ not_followed_by(x) → followed_by(c){2..4, combinations} → followed_by(d){2..} "
        "within 90s, no_skip"
    )


@pytest.mark.parametrize(
    ("window", "text"),
    [(1_500, "1500ms"), (60_000, "1m"), (7_200_000, "2h"), (timedelta(minutes=90), "90m")],
)
def test_within_renders_in_the_largest_whole_unit(window: Any, text: str) -> None:
    assert Pattern.begin("a").within(window).describe() == f"begin(a) within {text}"


def test_builders_return_new_patterns() -> None:
    first: Pattern[Any] = Pattern.begin("a")
    second = first.followed_by("b")
    assert [s.name for s in first.stages] == ["a"]
    assert [s.name for s in second.stages] == ["a", "b"]
    assert second.stages[1].contiguity is Contiguity.RELAXED
    assert first.within(10).within_ms == 10
    assert first.within_ms is None


def test_stage_fields_record_quantifiers() -> None:
    stage = Pattern[Any].begin("a").next("b").times(2, 5).optional().consecutive().stages[1]
    assert (stage.min_times, stage.max_times, stage.optional) == (2, 5, True)
    assert stage.contiguity is Contiguity.STRICT
    assert stage.loop is Contiguity.STRICT


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Pattern.begin("a").followed_by("a"), "duplicate stage name"),
        (lambda: Pattern.begin(""), "non-empty str"),
        (lambda: Pattern.begin("a", where=42), "must be callable"),  # type: ignore[arg-type]
        (lambda: Pattern.begin("a").not_next("x").not_followed_by("y"), "two negated"),
        (lambda: Pattern.begin("a").not_next("x").times(2), "negated stage"),
        (lambda: Pattern.begin("a").not_followed_by("x").optional(), "negated stage"),
        (lambda: Pattern.begin("a").times(2).times(3), "already has a quantifier"),
        (lambda: Pattern.begin("a").times(0), "int >= 1"),
        (lambda: Pattern.begin("a").times(3, 2), "upper bound below"),
        (lambda: Pattern.begin("a").times(True), "int >= 1"),
        (lambda: Pattern.begin("a").optional().optional(), "already optional"),
        (lambda: Pattern.begin("a").consecutive(), "needs a looping stage"),
        (lambda: Pattern.begin("a").times(1).allow_combinations(), "needs a looping stage"),
        (lambda: Pattern.begin("a").within(0), "must be positive"),
        (lambda: Pattern.begin("a").within(1.5), "int milliseconds"),  # type: ignore[arg-type]
        (lambda: Pattern.begin("a", skip="no_skip"), "AfterMatchSkip"),  # type: ignore[arg-type]
    ],
)
def test_local_mistakes_are_rejected_at_once(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (Pattern.begin("a").optional().followed_by("b"), "first stage"),
        (Pattern.begin("a").not_followed_by("x"), "needs within"),
        (Pattern.begin("a").not_next("x").followed_by("b").optional(), "cannot be optional"),
        (Pattern.begin("a", skip=skip_to_first("zz")).next("b"), "names no positive stage"),
        (Pattern.begin("a", skip=skip_to_last("x")).not_next("x").next("b"), "no positive"),
    ],
)
def test_whole_pattern_rules_are_checked_by_the_definition(pattern: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PatternDefinition({"p": pattern})


class Untagged1(msgspec.Struct):
    n: int


class Untagged2(msgspec.Struct):
    s: str


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"patterns": {}}, "at least one pattern"),
        ({"patterns": {"": Pattern.begin("a")}}, "non-empty str"),
        ({"patterns": {"p": "begin(a)"}}, "must be a Pattern"),
        ({"patterns": {"p": Pattern.begin("a")}, "max_partial_matches": 0}, "int >= 1"),
        (
            {"patterns": {"p": Pattern.begin("a")}, "value_type": Untagged1 | Untagged2},
            "cannot be decoded",
        ),
    ],
)
def test_bad_definitions_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PatternDefinition(**kwargs)


def test_definition_and_logic_implement_the_stream_contract() -> None:
    definition: PatternDefinition[Any] = PatternDefinition(
        {"ab": Pattern.begin("a").next("b"), "c": Pattern.begin("c").within(5)},
        emit_timeouts=True,
        max_partial_matches=7,
    )
    assert isinstance(definition, Definition)
    assert isinstance(definition.build(), Logic)
    assert isinstance(definition.build(), PatternGroup)
    single: PatternDefinition[Any] = PatternDefinition({"ab": Pattern.begin("a").next("b")})
    assert isinstance(single.build(), Matcher)
    assert isinstance(single.build(), PatternLogic)
    assert isinstance(single.build(), Logic)
    assert definition.describe() == "ab: begin(a) → next(b)\nc: begin(c) within 5ms"
    assert list(definition.patterns) == ["ab", "c"]
    assert (definition.emit_timeouts, definition.max_partial_matches) == (True, 7)
    assert definition.value_type is Any
    assert repr(definition) == "PatternDefinition(ab, c)"

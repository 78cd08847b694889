"""Matching semantics: contiguity, conditions over earlier events, quantifiers, skip strategies.

Every ``run``/``matches``/``play`` call also replays the script with a snapshot, msgpack
round trip and restore after every token, and checks the outputs are the same.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from riskstream.stream.patterns import (
    NO_SKIP,
    SKIP_PAST_LAST_EVENT,
    SKIP_TO_NEXT,
    AfterMatchSkip,
    Match,
    MatchContext,
    Pattern,
    PatternDefinition,
    skip_to_first,
    skip_to_last,
)
from tests.unit.stream.test_patterns_kit import Event, ev, is_, matches, play, run, show

a, b, c, x = is_("a"), is_("b"), is_("c"), is_("x")


# -- contiguity ----------------------------------------------------------------------------


def test_followed_by_skips_other_events_and_takes_the_first_match() -> None:
    pattern = Pattern.begin("a", where=a).followed_by("b", where=b)
    assert run(pattern, "a1 x1 x2 b1 b2") == ["a1 b1"]


def test_followed_by_does_not_branch_even_without_skipping() -> None:
    pattern = Pattern.begin("a", where=a, skip=NO_SKIP).followed_by("b", where=b)
    assert run(pattern, "a1 x1 b1 b2") == ["a1 b1"]
    assert run(pattern, "a1 a2 b1") == ["a1 b1", "a2 b1"]


def test_next_needs_the_very_next_event() -> None:
    pattern = Pattern.begin("a", where=a).next("b", where=b)
    assert run(pattern, "a1 b1") == ["a1 b1"]
    assert run(pattern, "a1 x1 b1") == []
    assert run(pattern, "a1 a2 b1") == ["a2 b1"]


def test_followed_by_any_produces_every_match() -> None:
    pattern = (
        Pattern.begin("a", where=a, skip=NO_SKIP)
        .followed_by_any("b", where=b)
        .followed_by_any("c", where=c)
    )
    assert run(pattern, "a1 b1 x1 b2 c1 c2") == [
        "a1 b1 c1",
        "a1 b2 c1",
        "a1 b1 c2",
        "a1 b2 c2",
    ]


def test_followed_by_any_with_the_default_skip_reports_the_first_match_only() -> None:
    pattern = Pattern.begin("a", where=a).followed_by_any("b", where=b)
    assert run(pattern, "a1 b1 b2 a2 b3") == ["a1 b1", "a2 b3"]


def test_mixed_contiguity() -> None:
    pattern = Pattern.begin("a", where=a).next("b", where=b).followed_by("c", where=c)
    assert run(pattern, "a1 b1 x1 c1") == ["a1 b1 c1"]
    assert run(pattern, "a1 x1 b1 c1") == []


# -- conditions that read the partial match --------------------------------------------------


def test_a_condition_reads_earlier_events_by_stage_name() -> None:
    def other_device(event: Event, ctx: MatchContext[Event]) -> bool:
        return bool(event["type"] == "login" and event["device"] != ctx["first"][0]["device"])

    pattern = Pattern.begin("first", where=is_("login")).followed_by("second", where=other_device)
    definition: PatternDefinition[Event] = PatternDefinition({"p": pattern})
    out = play(
        definition,
        [
            ("event", 1, ev("login1", device="d1")),
            ("event", 2, ev("login2", device="d1")),
            ("event", 3, ev("login3", device="d2")),
        ],
    )
    assert [show(o) for o in out] == ["login1 login3"]


def test_the_context_gives_times_start_and_membership() -> None:
    seen: list[tuple[Any, ...]] = []

    def spy(event: Event, ctx: MatchContext[Event]) -> bool:
        seen.append((ctx.event_time, ctx.start, ctx.times("a"), "a" in ctx, "zz" in ctx))
        return bool(event["type"] == "b")

    pattern = Pattern.begin("a", where=a).followed_by("b", where=spy)
    assert run(pattern, "a1@100 x1@250") == []
    assert seen[0] == (250, 100, [100], True, False)


def test_the_first_stage_sees_an_empty_context_starting_now() -> None:
    seen: list[tuple[Any, ...]] = []

    def spy(event: Event, ctx: MatchContext[Event]) -> bool:
        seen.append((ctx["a"], ctx.times("a"), ctx.start, ctx.event_time, "a" in ctx))
        return False

    run(Pattern.begin("a", where=spy), "x1@70")
    assert seen[0] == ([], [], 70, 70, False)


def test_a_looping_stage_sees_its_own_earlier_events() -> None:
    def rising(event: Event, ctx: MatchContext[Event]) -> bool:
        earlier = ctx["b"]
        return bool(event["type"] == "b" and (not earlier or event["n"] > earlier[-1]["n"]))

    pattern = Pattern.begin("a", where=a).followed_by("b", where=rising).times(3).next("c", where=c)
    definition: PatternDefinition[Event] = PatternDefinition({"p": pattern})
    script = [("event", i, e) for i, e in enumerate([ev("a1"), ev("b1", n=1), ev("b2", n=0)])]
    script += [("event", 10 + i, e) for i, e in enumerate([ev("b3", n=5), ev("b4", n=7)])]
    script += [("event", 20, ev("c1"))]
    assert [show(o) for o in play(definition, script)] == ["a1 b1 b3 b4 c1"]


# -- quantifiers ---------------------------------------------------------------------------


def test_three_failed_logins_then_a_success() -> None:
    pattern = Pattern.begin("fail", where=is_("fail")).times(3).followed_by("ok", where=is_("ok"))
    assert run(pattern, "fail1 fail2 x1 fail3 ok1") == ["fail1 fail2 fail3 ok1"]
    assert run(pattern, "fail1 fail2 ok1") == []


def test_consecutive_failed_logins_then_a_success() -> None:
    pattern = (
        Pattern.begin("fail", where=is_("fail")).times(3).consecutive().next("ok", where=is_("ok"))
    )
    assert run(pattern, "fail1 fail2 x1 fail3 ok1") == []
    assert run(pattern, "fail1 fail2 fail3 fail4 ok1") == ["fail2 fail3 fail4 ok1"]


def test_times_range_is_non_greedy_and_the_default_skip_keeps_the_longest() -> None:
    pattern = Pattern.begin("a", where=a).times(2, 3).next("b", where=b)
    assert run(pattern, "a1 a2 a3 b1") == ["a1 a2 a3 b1"]
    no_skip = Pattern.begin("a", where=a, skip=NO_SKIP).times(2, 3).next("b", where=b)
    assert run(no_skip, "a1 a2 a3 b1") == ["a1 a2 a3 b1", "a2 a3 b1"]


def test_one_or_more_completes_with_every_prefix() -> None:
    pattern = (
        Pattern.begin("a", where=a, skip=NO_SKIP)
        .followed_by("b", where=b)
        .one_or_more()
        .followed_by("c", where=c)
    )
    assert run(pattern, "a1 b1 x1 b2 x2 b3 c1") == ["a1 b1 b2 b3 c1", "a1 b1 b2 c1", "a1 b1 c1"]


def test_times_or_more_needs_the_minimum() -> None:
    pattern = Pattern.begin("b", where=b, skip=NO_SKIP).times_or_more(2).next("c", where=c)
    assert run(pattern, "b1 c1 b2 b3 b4 c2") == ["b1 b2 b3 b4 c2", "b2 b3 b4 c2", "b3 b4 c2"]
    # consecutive(): c1 breaks b1's run, loop iterations must be adjacent
    strict_loop = Pattern.begin("b", where=b, skip=NO_SKIP).times_or_more(2).consecutive()
    assert run(strict_loop.next("c", where=c), "b1 c1 b2 b3 b4 c2") == ["b2 b3 b4 c2", "b3 b4 c2"]


def test_consecutive_loops_break_on_another_event() -> None:
    pattern = (
        Pattern.begin("a", where=a, skip=NO_SKIP)
        .followed_by("b", where=b)
        .one_or_more()
        .consecutive()
        .followed_by("c", where=c)
    )
    assert run(pattern, "a1 b1 b2 x1 b3 c1") == ["a1 b1 b2 c1", "a1 b1 c1"]


def test_allow_combinations_lets_loop_iterations_skip_matching_events() -> None:
    relaxed = (
        Pattern.begin("a", where=a, skip=NO_SKIP)
        .followed_by("b", where=b)
        .times(2)
        .followed_by("c", where=c)
    )
    assert run(relaxed, "a1 b1 b2 b3 c1") == ["a1 b1 b2 c1"]
    combinations = (
        Pattern.begin("a", where=a, skip=NO_SKIP)
        .followed_by("b", where=b)
        .times(2)
        .allow_combinations()
        .followed_by("c", where=c)
    )
    assert run(combinations, "a1 b1 b2 b3 c1") == ["a1 b1 b2 c1", "a1 b1 b3 c1"]


def test_optional_stage_may_be_skipped() -> None:
    pattern = (
        Pattern.begin("a", where=a, skip=NO_SKIP)
        .followed_by("b", where=b)
        .optional()
        .followed_by("c", where=c)
    )
    assert run(pattern, "a1 x1 c1") == ["a1 c1"]
    assert run(pattern, "a1 b1 c1") == ["a1 b1 c1", "a1 c1"]


def test_optional_last_stage_completes_without_it() -> None:
    pattern = Pattern.begin("a", where=a).next("b", where=b).optional()
    assert run(pattern, "a1 b1") == ["a1"]
    no_skip = Pattern.begin("a", where=a, skip=NO_SKIP).next("b", where=b).optional()
    assert run(no_skip, "a1 b1") == ["a1", "a1 b1"]


def test_zero_or_more_loop() -> None:
    pattern = (
        Pattern.begin("a", where=a)
        .followed_by("b", where=b)
        .one_or_more()
        .optional()
        .next("c", where=c)
    )
    assert run(pattern, "a1 c1") == ["a1 c1"]
    assert run(pattern, "a1 b1 b2 c1") == ["a1 b1 b2 c1"]


def test_a_single_stage_pattern_matches_each_event() -> None:
    assert run(Pattern.begin("a", where=a), "a1 x1 a2") == ["a1", "a2"]


# -- after-match skip strategies (the FlinkCEP documentation's b+ c example) ----------------


@pytest.mark.parametrize(
    ("skip", "expected"),
    [
        (NO_SKIP, ["b1 b2 b3 c1", "b2 b3 c1", "b3 c1"]),
        (SKIP_TO_NEXT, ["b1 b2 b3 c1", "b2 b3 c1", "b3 c1"]),
        (SKIP_PAST_LAST_EVENT, ["b1 b2 b3 c1"]),
        (skip_to_first("b"), ["b1 b2 b3 c1", "b2 b3 c1", "b3 c1"]),
        (skip_to_last("b"), ["b1 b2 b3 c1", "b3 c1"]),
    ],
)
def test_skip_strategies_on_b_plus_c(skip: AfterMatchSkip, expected: list[str]) -> None:
    pattern = Pattern.begin("b", where=b, skip=skip).one_or_more().next("c", where=c)
    assert run(pattern, "b1 b2 b3 c1") == expected


def test_skip_to_next_discards_matches_with_the_same_start() -> None:
    to_next = Pattern.begin("a", where=a, skip=SKIP_TO_NEXT).followed_by_any("b", where=b)
    assert run(to_next, "a1 a2 b1 b2") == ["a1 b1", "a2 b1"]
    no_skip = Pattern.begin("a", where=a, skip=NO_SKIP).followed_by_any("b", where=b)
    assert run(no_skip, "a1 a2 b1 b2") == ["a1 b1", "a2 b1", "a1 b2", "a2 b2"]


def test_skip_past_last_event_resumes_after_the_match() -> None:
    pattern = Pattern.begin("a", where=a).followed_by("b", where=b)
    assert run(pattern, "a1 a2 b1 a3 b2") == ["a1 b1", "a3 b2"]


def test_skip_to_a_stage_missing_from_the_match_discards_nothing() -> None:
    pattern = (
        Pattern.begin("a", where=a, skip=skip_to_last("b"))
        .followed_by("b", where=b)
        .optional()
        .followed_by("c", where=c)
    )
    assert run(pattern, "a1 a2 c1") == ["a1 c1", "a2 c1"]


# -- the scenario ----------------------------------------------------------------------------


def test_new_device_login_then_first_click_then_big_promo_within_30s_of_the_click() -> None:
    def new_device_login(e: Event, ctx: MatchContext[Event]) -> bool:
        return bool(e["type"] == "login" and e["new_device"])

    def big_promo_soon(e: Event, ctx: MatchContext[Event]) -> bool:
        click_time = ctx.times("click")[0]
        return (
            bool(e["type"] == "promo" and e["discount"] >= 50)
            and ctx.event_time - click_time < 30_000
        )

    promo_abuse = (
        Pattern.begin("login", where=new_device_login)
        .followed_by("click", where=is_("click"))
        .followed_by("promo", where=big_promo_soon)
        .within(timedelta(minutes=10))
    )
    definition: PatternDefinition[Event] = PatternDefinition({"promo_abuse": promo_abuse})
    s = 1_000
    out = play(
        definition,
        [
            ("event", 0 * s, ev("login1", new_device=False)),
            ("event", 1 * s, ev("login2", new_device=True)),
            ("event", 5 * s, ev("click1")),
            ("event", 6 * s, ev("click2")),
            ("event", 9 * s, ev("promo1", discount=20)),  # too small
            ("event", 36 * s, ev("promo2", discount=80)),  # 31 s after the first click
            ("watermark", 10 * 60 * s, None),  # the partial match expires
            ("event", 700 * s, ev("login3", new_device=True)),
            ("event", 701 * s, ev("click3")),
            ("event", 720 * s, ev("promo3", discount=50)),
        ],
    )
    assert out == [
        Match(
            pattern="promo_abuse",
            events={
                "login": [ev("login3", new_device=True)],
                "click": [ev("click3")],
                "promo": [ev("promo3", discount=50)],
            },
            start=700 * s,
            end=720 * s,
        )
    ]


def test_match_records_carry_pattern_name_start_and_end() -> None:
    pattern = Pattern.begin("a", where=a).followed_by("b", where=b).one_or_more().next("c", where=c)
    (match,) = matches(pattern, "a1@10 b1@20 b2@30 c1@45")
    assert match == Match(
        pattern="p",
        events={"a": [ev("a1")], "b": [ev("b1"), ev("b2")], "c": [ev("c1")]},
        start=10,
        end=45,
    )

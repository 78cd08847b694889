"""Event time: within windows, pruning and timeouts, absence (not_followed_by), not_next."""

from __future__ import annotations

from typing import Any

from riskstream.stream.patterns import NO_SKIP, Match, Pattern, PatternDefinition, Timeout
from tests.unit.stream.test_patterns_kit import Event, ev, is_, matches, play, run, show

a, b, c, x = is_("a"), is_("b"), is_("c"), is_("x")
ab_within_5s = Pattern.begin("a", where=a).followed_by("b", where=b).within(5_000)


# -- within ----------------------------------------------------------------------------------


def test_within_is_a_half_open_window_from_the_first_event() -> None:
    assert run(ab_within_5s, "a1@0 b1@4999") == ["a1 b1"]
    assert run(ab_within_5s, "a1@0 b1@5000") == []


def test_a_partial_match_expires_when_the_watermark_reaches_its_deadline() -> None:
    definition: PatternDefinition[Event] = PatternDefinition({"p": ab_within_5s})
    logic = definition.build()
    assert logic.next_deadline() is None
    logic.on_event(1_000, ev("a1"))
    logic.on_event(3_000, ev("a2"))
    assert logic.next_deadline() == 6_000
    assert logic.on_watermark(5_999) == ()
    assert not logic.is_empty()
    assert logic.on_watermark(6_000) == []  # pruned silently without emit_timeouts
    assert logic.next_deadline() == 8_000
    assert logic.on_watermark(8_000) == []
    assert logic.is_empty()
    assert logic.next_deadline() is None


def test_an_event_past_the_deadline_is_invisible_to_the_partial_match() -> None:
    # b1@6000 may arrive before the watermark passes 5000: it does not fit a1's window,
    # but the out-of-order b2@3000 that follows still does.
    assert run(ab_within_5s, "a1@0 b1@6000 b2@3000") == ["a1 b2"]
    strict = Pattern.begin("a", where=a).next("b", where=b).within(5_000)
    assert run(strict, "a1@0 x1@6000 b1@1000") == ["a1 b1"]


def test_no_within_means_no_deadline() -> None:
    definition: PatternDefinition[Event] = PatternDefinition(
        {"p": Pattern.begin("a", where=a).followed_by("b", where=b)}, emit_timeouts=True
    )
    logic = definition.build()
    logic.on_event(0, ev("a1"))
    assert logic.next_deadline() is None
    assert logic.on_watermark(10**12) == ()
    assert not logic.is_empty()


# -- timeouts --------------------------------------------------------------------------------


def test_timed_out_partial_matches_are_emitted_on_request() -> None:
    pattern = Pattern.begin("a", where=a).followed_by("b", where=b).next("c", where=c)
    assert run(pattern.within(5_000), "a1@0 b1@1000 !5000", emit_timeouts=True) == [
        "timeout(a1 b1)"
    ]
    (timeout,) = matches(pattern.within(5_000), "a1@100 b1@1000 !9000", emit_timeouts=True)
    assert timeout == Timeout(
        pattern="p", events={"a": [ev("a1")], "b": [ev("b1")]}, start=100, deadline=5_100
    )


def test_timeouts_come_in_deadline_order_and_each_partial_match_once() -> None:
    pattern = (
        Pattern.begin("a", where=a)
        .followed_by("b", where=b)
        .one_or_more()
        .followed_by("c", where=c)
        .within(5_000)
    )
    # a1 b1 b2 waits both for another b and for c (two runs, one partial match); a1 b1 for c.
    assert run(pattern, "a1@0 b1@1000 b2@2000 a2@3000 !9000", emit_timeouts=True) == [
        "timeout(a1 b1 b2)",
        "timeout(a1 b1)",
        "timeout(a2)",
    ]


def test_completed_and_skipped_partial_matches_do_not_time_out() -> None:
    assert run(ab_within_5s, "a1@0 a2@1000 b1@2000 !9000", emit_timeouts=True) == ["a1 b1"]


# -- absence: not_followed_by at the end --------------------------------------------------------

mfa_unconfirmed = (
    Pattern.begin("challenge", where=is_("challenge"))
    .not_followed_by("confirmed", where=is_("ok"))
    .within(60_000)
)


def test_absence_completes_when_the_watermark_passes_the_window() -> None:
    assert run(mfa_unconfirmed, "challenge1@0 x1@10000 !59999") == []
    (match,) = matches(mfa_unconfirmed, "challenge1@500 x1@10000 !60500")
    assert match == Match(
        pattern="p", events={"challenge": [ev("challenge1")]}, start=500, end=60_500
    )


def test_absence_is_killed_by_the_forbidden_event() -> None:
    assert run(mfa_unconfirmed, "challenge1@0 ok1@30000 !60000") == []


def test_a_forbidden_event_after_the_window_does_not_kill_the_absence() -> None:
    assert run(mfa_unconfirmed, "challenge1@0 ok1@60000 !60000") == ["challenge1"]


def test_absence_next_deadline_and_several_challenges() -> None:
    definition: PatternDefinition[Event] = PatternDefinition({"mfa": mfa_unconfirmed})
    logic = definition.build()
    logic.on_event(0, ev("challenge1"))
    logic.on_event(10_000, ev("challenge2"))
    assert logic.next_deadline() == 60_000
    assert [show(o) for o in logic.on_watermark(60_000)] == ["challenge1"]
    assert logic.next_deadline() == 70_000
    assert [show(o) for o in logic.on_watermark(75_000)] == ["challenge2"]
    assert logic.is_empty()


def test_one_forbidden_event_kills_every_waiting_absence() -> None:
    assert run(mfa_unconfirmed, "challenge1@0 challenge2@1000 ok1@2000 !90000") == []


def test_absence_after_a_loop_reports_the_longest_match() -> None:
    pattern = (
        Pattern.begin("a", where=a)
        .followed_by("b", where=b)
        .one_or_more()
        .not_followed_by("x", where=x)
        .within(10_000)
    )
    assert run(pattern, "a1@0 b1@1000 b2@2000 !10000", emit_timeouts=True) == ["a1 b1 b2"]
    no_skip = (
        Pattern.begin("a", where=a, skip=NO_SKIP)
        .followed_by("b", where=b)
        .one_or_more()
        .not_followed_by("x", where=x)
        .within(10_000)
    )
    assert run(no_skip, "a1@0 b1@1000 b2@2000 !10000") == ["a1 b1 b2", "a1 b1"]
    assert run(no_skip, "a1@0 b1@1000 b2@2000 x1@3000 !10000") == []


def test_absence_after_an_optional_stage() -> None:
    pattern = (
        Pattern.begin("a", where=a)
        .followed_by("b", where=b)
        .optional()
        .not_followed_by("x", where=x)
        .within(10_000)
    )
    assert run(pattern, "a1@0 !10000") == ["a1"]
    assert run(pattern, "a1@0 b1@1000 !10000") == ["a1 b1"]


# -- not_followed_by in the middle ------------------------------------------------------------


def test_not_followed_by_forbids_events_between_two_stages() -> None:
    pattern = Pattern.begin("a", where=a).not_followed_by("x", where=x).followed_by("b", where=b)
    assert run(pattern, "a1 x1 b1") == []
    assert run(pattern, "a1 c1 b1") == ["a1 b1"]
    assert run(pattern, "a1 b1 x1") == ["a1 b1"]


def test_the_event_taken_by_the_next_stage_is_not_between() -> None:
    def big(e: Event, ctx: Any) -> bool:
        return bool(e.get("big"))

    pattern = (
        Pattern.begin("a", where=a).not_followed_by("big", where=big).followed_by("b", where=b)
    )
    definition: PatternDefinition[Event] = PatternDefinition({"p": pattern})
    taken = play(definition, [("event", 1, ev("a1")), ("event", 2, ev("b1", big=True))])
    assert [show(o) for o in taken] == ["a1 b1"]
    killed = play(
        definition,
        [("event", 1, ev("a1")), ("event", 2, ev("c1", big=True)), ("event", 3, ev("b1"))],
    )
    assert killed == []


def test_not_followed_by_with_followed_by_any() -> None:
    pattern = (
        Pattern.begin("a", where=a, skip=NO_SKIP)
        .not_followed_by("x", where=x)
        .followed_by_any("b", where=b)
    )
    assert run(pattern, "a1 b1 b2 x1 b3") == ["a1 b1", "a1 b2"]


# -- not_next --------------------------------------------------------------------------------


def test_not_next_checks_only_the_event_right_after() -> None:
    pattern = Pattern.begin("a", where=a).not_next("x", where=x).followed_by("b", where=b)
    assert run(pattern, "a1 x1 b1") == []
    assert run(pattern, "a1 c1 x1 b1") == ["a1 b1"]
    assert run(pattern, "a1 b1") == ["a1 b1"]


def test_not_next_wins_over_the_next_stage() -> None:
    pattern = Pattern.begin("a", where=a).not_next("bb", where=b).followed_by("b", where=b)
    assert run(pattern, "a1 b1") == []
    assert run(pattern, "a1 c1 b1") == ["a1 b1"]


def test_trailing_not_next_completes_on_the_next_other_event() -> None:
    pattern = Pattern.begin("a", where=a).not_next("x", where=x).within(5_000)
    assert run(pattern, "a1@0 x1@1000") == []
    (match,) = matches(pattern, "a1@0 c1@1000")
    assert match == Match(pattern="p", events={"a": [ev("a1")]}, start=0, end=1_000)
    assert run(pattern, "a1@0 !5000", emit_timeouts=True) == ["timeout(a1)"]
    assert run(pattern, "a1@0 c1@6000 !6000", emit_timeouts=True) == ["timeout(a1)"]


def test_not_next_after_a_loop_guards_every_exit() -> None:
    pattern = (
        Pattern.begin("b", where=b, skip=NO_SKIP)
        .times(2)
        .not_next("x", where=x)
        .followed_by("c", where=c)
    )
    assert run(pattern, "b1 b2 x1 c1") == []
    assert run(pattern, "b1 b2 b3 c1") == ["b1 b2 c1", "b2 b3 c1"]

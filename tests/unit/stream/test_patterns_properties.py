"""Property tests: the NFA against brute-force oracles, and restarts on random streams.

Streams are random per-key event sequences as the executor would deliver them: mostly
increasing times with some out-of-order events, interleaved watermarks, never an event
below the current watermark.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.stream.patterns import (
    NO_SKIP,
    SKIP_PAST_LAST_EVENT,
    SKIP_TO_NEXT,
    Match,
    Pattern,
    PatternDefinition,
    skip_to_first,
)
from tests.unit.stream.test_patterns_kit import Step, ev, is_, play, show

W = 6  # the window of the patterns under test: short enough to matter
a, b, c, x = is_("a"), is_("b"), is_("c"), is_("x")


@st.composite
def streams(draw: st.DrawFn, kinds: str = "abcx") -> list[Step]:
    """Events with ids ``<kind><n>``; watermarks lag the newest time; a final flush."""
    steps: list[Step] = []
    newest = watermark = 0
    for n in range(draw(st.integers(0, 24))):
        if draw(st.integers(0, 4)) == 0:
            watermark = max(watermark, newest - draw(st.integers(0, 3)))
            steps.append(("watermark", watermark, None))
        time = max(watermark, newest + draw(st.integers(-2, 3)))
        newest = max(newest, time)
        steps.append(("event", time, ev(f"{draw(st.sampled_from(kinds))}{n}")))
    steps.append(("watermark", newest + 10 * W, None))
    return steps


def events_of(steps: list[Step]) -> list[tuple[int, str]]:
    return [(time, value["id"]) for kind, time, value in steps if value is not None]


def kind(event_id: str) -> str:
    return event_id[0]


def three_stage(connect: str) -> Pattern[Any]:
    pattern = Pattern.begin("a", where=a, skip=NO_SKIP)
    pattern = getattr(pattern, connect)("b", where=b)
    return getattr(pattern, connect)("c", where=c).within(W)  # type: ignore[no-any-return]


def found(steps: list[Step], pattern: Pattern[Any], **options: Any) -> list[str]:
    return sorted(show(o) for o in play(PatternDefinition({"p": pattern}, **options), steps))


@settings(max_examples=150, deadline=None)
@given(streams())
def test_followed_by_any_finds_every_ordered_triple_in_the_window(steps: list[Step]) -> None:
    events = events_of(steps)
    expected = sorted(
        f"{i} {j} {k}"
        for (ti, i), (tj, j), (tk, k) in combinations(events, 3)
        if (kind(i), kind(j), kind(k)) == ("a", "b", "c") and tj < ti + W and tk < ti + W
    )
    assert found(steps, three_stage("followed_by_any")) == expected


@settings(max_examples=150, deadline=None)
@given(streams())
def test_followed_by_takes_the_first_visible_match_of_each_stage(steps: list[Step]) -> None:
    events = events_of(steps)
    expected = []
    for start, (ti, i) in enumerate(events):
        if kind(i) != "a":
            continue
        taken, wanted = [i], "b"
        for tm, m in events[start + 1 :]:
            if tm < ti + W and kind(m) == wanted:
                taken.append(m)
                if wanted == "c":
                    expected.append(" ".join(taken))
                    break
                wanted = "c"
    assert found(steps, three_stage("followed_by")) == sorted(expected)


@settings(max_examples=150, deadline=None)
@given(streams(kinds="abc"))
def test_next_needs_the_next_visible_events(steps: list[Step]) -> None:
    events = events_of(steps)
    expected = []
    for start, (ti, i) in enumerate(events):
        visible = [m for tm, m in events[start + 1 :] if tm < ti + W][:2]
        if kind(i) == "a" and [kind(m) for m in visible] == ["b", "c"]:
            expected.append(" ".join([i, *visible]))
    assert found(steps, three_stage("next")) == sorted(expected)


@settings(max_examples=150, deadline=None)
@given(streams(kinds="ax"))
def test_absence_completes_exactly_when_no_forbidden_event_fits_the_window(
    steps: list[Step],
) -> None:
    pattern = Pattern.begin("a", where=a, skip=NO_SKIP).not_followed_by("x", where=x).within(W)
    events = events_of(steps)
    expected = sorted(
        (i, ti + W)
        for start, (ti, i) in enumerate(events)
        if kind(i) == "a"
        and not any(kind(m) == "x" and tm < ti + W for tm, m in events[start + 1 :])
    )
    out = play(PatternDefinition({"p": pattern}), steps)
    assert all(isinstance(o, Match) for o in out)
    assert sorted((show(o), o.end) for o in out if isinstance(o, Match)) == expected


RESTART_PATTERNS = [
    Pattern.begin("a", where=a).followed_by("b", where=b).one_or_more().next("c", where=c),
    Pattern.begin("a", where=a, skip=SKIP_TO_NEXT)
    .followed_by_any("b", where=b)
    .times(1, 3)
    .allow_combinations()
    .not_followed_by("x", where=x)
    .within(W),
    Pattern.begin("a", where=a, skip=skip_to_first("b"))
    .followed_by("b", where=b)
    .optional()
    .not_next("x", where=x)
    .followed_by("c", where=c)
    .times_or_more(2)
    .consecutive()
    .within(W),
    Pattern.begin("b", where=b, skip=SKIP_PAST_LAST_EVENT).times(2).not_next("x", where=x),
]


@settings(max_examples=100, deadline=None)
@given(streams(), st.sampled_from(RESTART_PATTERNS), st.booleans(), st.integers(1, 4))
def test_restarts_change_nothing_on_random_streams(
    steps: list[Step], pattern: Pattern[Any], emit_timeouts: bool, bound: int
) -> None:
    # play() replays with a snapshot/msgpack/restore after every step and compares.
    definition = PatternDefinition(
        {"p": pattern}, emit_timeouts=emit_timeouts, max_partial_matches=bound
    )
    play(definition, steps)

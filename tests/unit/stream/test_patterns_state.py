"""Keyed state: snapshot/restore of every construct, the shared event buffer, typed events,
the partial-match bound, several patterns in one step, and failure atomicity."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from riskstream.errors import ConfigError
from riskstream.stream.patterns import (
    NO_SKIP,
    Match,
    MatchContext,
    Overflow,
    Pattern,
    PatternDefinition,
    PatternLogic,
    PatternSnapshot,
    skip_to_last,
)
from tests.unit.stream.test_patterns_kit import Event, ev, events, is_, parse, play, run, show

a, b, c, x = is_("a"), is_("b"), is_("c"), is_("x")

# Each construct with a script that leaves partial matches open at many points; ``run``
# restarts the key (snapshot -> msgpack -> restore) after every token and compares.
EVERY_CONSTRUCT: list[tuple[str, Pattern[Any], str, list[str]]] = [
    (
        "followed_by",
        Pattern.begin("a", where=a).followed_by("b", where=b).followed_by("c", where=c),
        "a1 x1 b1 a2 b2 c1 c2",
        ["a1 b1 c1"],
    ),
    ("next", Pattern.begin("a", where=a).next("b", where=b), "a1 x1 a2 b1", ["a2 b1"]),
    (
        "followed_by_any",
        Pattern.begin("a", where=a, skip=NO_SKIP)
        .followed_by_any("b", where=b)
        .followed_by_any("c", where=c),
        "a1 b1 b2 c1 b3 c2",
        ["a1 b1 c1", "a1 b2 c1", "a1 b1 c2", "a1 b2 c2", "a1 b3 c2"],
    ),
    (
        "times",
        Pattern.begin("f", where=is_("f")).times(3).followed_by("ok", where=is_("ok")),
        "f1 f2 x1 f3 f4 ok1",
        ["f1 f2 f3 ok1"],
    ),
    (
        "times_range_consecutive",
        Pattern.begin("a", where=a, skip=NO_SKIP).times(2, 3).consecutive().next("b", where=b),
        "a1 a2 a3 b1",
        ["a1 a2 a3 b1", "a2 a3 b1"],
    ),
    (
        "one_or_more_combinations",
        Pattern.begin("a", where=a, skip=NO_SKIP)
        .followed_by("b", where=b)
        .one_or_more()
        .allow_combinations()
        .next("c", where=c),
        "a1 b1 b2 b3 c1",
        ["a1 b1 b2 b3 c1", "a1 b1 b3 c1"],
    ),
    (
        "optional",
        Pattern.begin("a", where=a).followed_by("b", where=b).optional().next("c", where=c),
        "a1 b1 c1 a2 c2",
        ["a1 b1 c1", "a2 c2"],
    ),
    (
        "not_followed_by_middle",
        Pattern.begin("a", where=a).not_followed_by("x", where=x).followed_by("b", where=b),
        "a1 x1 a2 b1",
        ["a2 b1"],
    ),
    (
        "absence_with_timeouts",
        Pattern.begin("a", where=a)
        .followed_by("b", where=b)
        .not_followed_by("x", where=x)
        .within(5_000),
        "a1@0 b1@1000 a2@2000 b2@3000 x1@4000 a3@5000 !9000 b3@9500 !20000",
        ["a3 b3"],
    ),
    (
        "not_next",
        Pattern.begin("a", where=a).not_next("x", where=x).next("b", where=b),
        "a1 x1 a2 b1",
        ["a2 b1"],
    ),
    (
        "trailing_not_next",
        Pattern.begin("a", where=a).not_next("x", where=x),
        "a1 x1 a2 c1",
        ["a2"],
    ),
    (
        "skip_to_last",
        Pattern.begin("b", where=b, skip=skip_to_last("b")).one_or_more().next("c", where=c),
        "b1 b2 b3 c1",
        ["b1 b2 b3 c1", "b3 c1"],
    ),
]


@pytest.mark.parametrize(
    ("pattern", "script", "expected"),
    [case[1:] for case in EVERY_CONSTRUCT],
    ids=[case[0] for case in EVERY_CONSTRUCT],
)
def test_restarting_after_every_event_changes_nothing(
    pattern: Pattern[Any], script: str, expected: list[str]
) -> None:
    assert run(pattern, script) == expected


def test_timeouts_survive_a_restart() -> None:
    pattern = (
        Pattern.begin("a", where=a).followed_by("b", where=b).followed_by("c", where=c).within(50)
    )
    assert run(pattern, "a1@0 b1@10 a2@20 !60 !100", emit_timeouts=True) == [
        "timeout(a1 b1)",
        "timeout(a2)",
    ]


# -- the shared buffer ---------------------------------------------------------------------


def test_branches_share_their_events_in_the_snapshot() -> None:
    pattern = (
        Pattern.begin("a", where=a, skip=NO_SKIP)
        .followed_by_any("b", where=b)
        .followed_by_any("c", where=c)
    )
    definition: PatternDefinition[Event] = PatternDefinition({"p": pattern})
    logic = definition.build()
    for time, value in events("a1 b1 b2 b3 b4"):
        logic.on_event(time, value)
    snapshot = logic.snapshot()
    assert [e["id"] for e in snapshot.events] == ["a1", "b1", "b2", "b3", "b4"]
    state = snapshot.patterns["p"]
    assert len(state.runs) == 5  # a1 waiting for more b, and a1+bN waiting for c
    assert len(state.nodes) == 5  # one node per event: the a1 node is shared


def test_patterns_of_one_step_share_events_in_the_snapshot() -> None:
    definition: PatternDefinition[Event] = PatternDefinition(
        {"ab": Pattern.begin("a", where=a).next("b"), "ac": Pattern.begin("a", where=a).next("c")}
    )
    logic = definition.build()
    logic.on_event(1, ev("a1"))
    snapshot = logic.snapshot()
    assert [e["id"] for e in snapshot.events] == ["a1"]
    assert set(snapshot.patterns) == {"ab", "ac"}


def test_empty_patterns_are_left_out_of_the_snapshot() -> None:
    definition: PatternDefinition[Event] = PatternDefinition(
        {"ab": Pattern.begin("a", where=a).next("b"), "cd": Pattern.begin("c", where=c).next("d")}
    )
    logic = definition.build()
    logic.on_event(1, ev("a1"))
    assert set(logic.snapshot().patterns) == {"ab"}


# -- typed events ----------------------------------------------------------------------------


class Login(msgspec.Struct, frozen=True, kw_only=True, tag="login"):
    user: str
    device: str


class Payout(msgspec.Struct, frozen=True, kw_only=True, tag="payout"):
    user: str
    amount: int


Account = Login | Payout


def test_struct_events_round_trip_through_a_typed_snapshot() -> None:
    def is_login(e: Account, ctx: MatchContext[Account]) -> bool:
        return isinstance(e, Login)

    def big_payout(e: Account, ctx: MatchContext[Account]) -> bool:
        return isinstance(e, Payout) and e.amount > 100

    pattern: Pattern[Account] = (
        Pattern.begin("login", where=is_login)
        .followed_by("payout", where=big_payout)
        .within(600_000)
    )
    definition: PatternDefinition[Account] = PatternDefinition(
        {"takeover": pattern}, value_type=Account
    )
    assert definition.snapshot_type == PatternSnapshot[Account]
    logic = definition.build()
    logic.on_event(1_000, Login(user="u", device="d"))
    data = msgspec.msgpack.encode(logic.snapshot())
    restored = msgspec.msgpack.decode(data, type=definition.snapshot_type)
    assert restored.events == [Login(user="u", device="d")]
    logic = definition.build(restored)
    assert logic.on_event(2_000, Payout(user="u", amount=5)) == ()
    (match,) = logic.on_event(3_000, Payout(user="u", amount=500))
    expected: Match[Account] = Match(
        pattern="takeover",
        events={"login": [Login(user="u", device="d")], "payout": [Payout(user="u", amount=500)]},
        start=1_000,
        end=3_000,
    )
    assert match == expected


def test_outputs_encode_as_a_tagged_union() -> None:
    (match,) = PatternDefinition({"p": Pattern[int].begin("a")}).build().on_event(5, 1)
    data = msgspec.json.encode([match, Overflow(pattern="p", dropped=2, time=7)])
    decoded = msgspec.json.decode(data, type=list[Match[int] | Overflow])
    assert decoded == [match, Overflow(pattern="p", dropped=2, time=7)]
    assert b'"type":"pattern.match"' in data


# -- restoring into a different step -----------------------------------------------------------


def _snapshot_of(pattern: Pattern[Any], name: str = "p") -> PatternSnapshot[Any]:
    logic = PatternDefinition({name: pattern}).build()
    logic.on_event(1, ev("a1"))
    return logic.snapshot()


def test_a_snapshot_of_a_changed_pattern_is_refused() -> None:
    snapshot = _snapshot_of(Pattern.begin("a", where=a).next("b"))
    changed: PatternDefinition[Any] = PatternDefinition(
        {"p": Pattern.begin("a", where=a).followed_by("b")}
    )
    with pytest.raises(ConfigError, match="different pattern structure"):
        changed.build(snapshot)


def test_a_new_window_applies_to_restored_partial_matches() -> None:
    snapshot = _snapshot_of(Pattern.begin("a", where=a).next("b").within(10))
    wider: PatternDefinition[Any] = PatternDefinition(
        {"p": Pattern.begin("a", where=a).next("b").within(50)}
    )
    assert wider.build(snapshot).next_deadline() == 51


def test_state_of_a_removed_pattern_is_ignored() -> None:
    snapshot = _snapshot_of(Pattern.begin("a", where=a).next("b"), name="old")
    logic = PatternDefinition({"new": Pattern.begin("a", where=a).next("b")}).build(snapshot)
    assert logic.is_empty()


def test_a_corrupt_snapshot_is_refused() -> None:
    snapshot = _snapshot_of(Pattern.begin("a", where=a).next("b"))
    state = snapshot.patterns["p"]
    broken: PatternSnapshot[Any] = PatternSnapshot(
        events=[], patterns={"p": msgspec.structs.replace(state, runs=[(0, 9)])}
    )
    with pytest.raises(ConfigError, match="corrupt snapshot"):
        PatternDefinition({"p": Pattern.begin("a", where=a).next("b")}).build(broken)


# -- the partial-match bound ---------------------------------------------------------------


def test_the_oldest_partial_matches_are_dropped_counted_and_reported() -> None:
    pattern = Pattern.begin("a", where=a).followed_by("b", where=b)
    assert run(pattern, "a1 a2 a3 a4 a5 b1", max_partial_matches=3) == [
        "overflow(1)",
        "overflow(1)",
        "a3 b1",
    ]
    definition: PatternDefinition[Event] = PatternDefinition({"p": pattern}, max_partial_matches=3)
    logic = definition.build()
    outputs = [o for t, v in events("a1 a2 a3 a4 a5") for o in logic.on_event(t, v)]
    assert outputs[-1] == Overflow(pattern="p", dropped=1, time=5_000)
    assert logic.dropped == {"p": 2}
    restored = definition.build(
        msgspec.msgpack.decode(
            msgspec.msgpack.encode(logic.snapshot()), type=definition.snapshot_type
        )
    )
    assert restored.dropped == {"p": 2}


def test_one_event_can_overflow_by_many() -> None:
    pattern = (
        Pattern.begin("a", where=a, skip=NO_SKIP).followed_by_any("b", where=b).next("c", where=c)
    )
    assert run(pattern, "a1 a2 b1", max_partial_matches=2) == ["overflow(2)"]


# -- several patterns in one step ------------------------------------------------------------


def test_a_group_counts_drops_per_pattern() -> None:
    definition: PatternDefinition[Event] = PatternDefinition(
        {
            "ab": Pattern.begin("a", where=a).followed_by("b", where=b),
            "ac": Pattern.begin("a", where=a).followed_by("c", where=c),
        },
        max_partial_matches=1,
    )
    logic = definition.build()
    outputs = [show(o) for t, v in events("a1 a2 a3") for o in logic.on_event(t, v)]
    assert outputs == ["overflow(1)"] * 4
    assert logic.dropped == {"ab": 2, "ac": 2}


def test_one_step_runs_several_patterns_named_in_their_outputs() -> None:
    definition: PatternDefinition[Event] = PatternDefinition(
        {
            "ab": Pattern.begin("a", where=a).followed_by("b", where=b),
            "a_not_x": Pattern.begin("a", where=a).not_followed_by("x", where=x).within(5_000),
        },
    )
    out = play(definition, parse("a1@0 b1@1000 !5000"))
    assert [(o.pattern, show(o)) for o in out] == [("ab", "a1 b1"), ("a_not_x", "a1")]
    logic = definition.build()
    logic.on_event(0, ev("a1"))
    assert logic.next_deadline() == 5_000
    assert logic.on_watermark(4_000) == ()


# -- failure atomicity -----------------------------------------------------------------------


class Boom(Exception):
    pass


def _explosive(e: Event, ctx: MatchContext[Event]) -> bool:
    if e.get("boom"):
        raise Boom
    return bool(e["type"] == "b")


@pytest.mark.parametrize("several", [False, True])
def test_a_raising_condition_leaves_the_key_unchanged(several: bool) -> None:
    patterns: dict[str, Pattern[Event]] = {
        "ab": Pattern.begin("a", where=a).followed_by("b", where=b).within(10_000)
    }
    if several:
        patterns["explosive"] = Pattern.begin("a", where=a).followed_by("b", where=_explosive)
    else:
        patterns = {"explosive": Pattern.begin("a", where=a).next("b", where=_explosive)}
    definition: PatternDefinition[Event] = PatternDefinition(patterns)
    logic: PatternLogic[Event] = definition.build()
    logic.on_event(1, ev("a1"))
    before = msgspec.msgpack.encode(logic.snapshot())
    with pytest.raises(Boom):
        logic.on_event(2, ev("b1", boom=True))
    assert msgspec.msgpack.encode(logic.snapshot()) == before
    assert logic.next_deadline() == definition.build(logic.snapshot()).next_deadline()
    assert [show(o) for o in logic.on_event(3, ev("b2"))] == (
        ["a1 b2", "a1 b2"] if several else ["a1 b2"]
    )

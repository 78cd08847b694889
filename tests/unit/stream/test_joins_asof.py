"""As-of join: tolerance and direction, emission at the watermark (default) or eagerly,
out-of-order right events, pruning, bounded buffers, snapshot/restore mid-stream; plus a
property test of the versioned core (as-of and temporal table join) against a reference."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.errors import ConfigError
from riskstream.stream.joins import AsOfJoin, AsOfJoinLogic, Joined, Left, Right, TableJoin
from riskstream.stream.logic import Definition, Logic


def restore(join: AsOfJoin[Any, Any] | TableJoin[Any, Any], logic: Any) -> Any:
    """The logic rebuilt from its snapshot after a msgpack round trip (as the store does)."""
    raw = msgspec.msgpack.encode(logic.snapshot())
    return join.build(msgspec.msgpack.decode(raw, type=join.snapshot_type))


def answer(logic: AsOfJoinLogic[Any, Any], t: int, value: Any = "l") -> Any:
    """Feed a left event, then follow the deadlines until it is answered."""
    assert logic.on_left(t, value) == ()
    out: list[Any] = []
    while logic.snapshot().pending_times:
        deadline = logic.next_deadline()
        assert deadline is not None
        out += logic.on_watermark(deadline)
    assert len(out) <= 1
    return out[0] if out else None


# -- backward (default) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("right_time", "joins"), [(89, False), (90, True), (95, True), (100, True), (101, False)]
)
def test_backward_tolerance_bounds_are_inclusive(right_time: int, joins: bool) -> None:
    logic = AsOfJoin(10).build()
    logic.on_right(right_time, "r")
    result = answer(logic, 100)
    assert (result == Joined("l", "r", 100, right_time)) if joins else result is None


def test_backward_takes_the_latest_right_at_or_before_the_left() -> None:
    logic = AsOfJoin(1_000).build()
    for t, v in [(10, "a"), (30, "c"), (20, "b"), (50, "future")]:
        logic.on_right(t, v)
    assert answer(logic, 40) == Joined("l", "c", 40, 30)


def test_left_join_emits_none_without_match_inner_emits_nothing() -> None:
    left = AsOfJoin(5, how="left").build()
    left.on_right(10, "r")
    assert answer(left, 100) == Joined("l", None, 100, None)
    inner = AsOfJoin(5).build()
    inner.on_right(10, "r")
    assert answer(inner, 100) is None


def test_unbounded_tolerance() -> None:
    logic = AsOfJoin(None).build()
    logic.on_right(1, "ancient")
    assert answer(logic, 10**9) == Joined("l", "ancient", 10**9, 1)


def test_same_time_right_events_later_arrival_wins() -> None:
    logic = AsOfJoin(10).build()
    logic.on_right(5, "first")
    logic.on_right(5, "second")
    assert answer(logic, 7) == Joined("l", "second", 7, 5)


# -- when results are emitted ----------------------------------------------------------------


def test_watermark_mode_waits_until_the_watermark_passes_the_left_time() -> None:
    logic = AsOfJoin(100, how="left").build()
    logic.on_right(50, "old")
    assert logic.on_event(100, Left("l")) == ()
    assert logic.next_deadline() == 101
    assert logic.on_watermark(100) == ()  # a right event at 100 may still come
    assert logic.on_event(100, Right("late-but-valid")) == ()
    assert logic.on_watermark(101) == [Joined("l", "late-but-valid", 100, 100)]


def test_watermark_mode_takes_out_of_order_right_events_into_account() -> None:
    logic = AsOfJoin(100).build()
    logic.on_right(50, "a")
    logic.on_left(80, "l")
    logic.on_right(70, "arrived later, closer")
    logic.on_right(90, "after the left: ignored")
    assert logic.on_watermark(81) == [Joined("l", "arrived later, closer", 80, 70)]


def test_watermark_mode_emits_in_left_time_order() -> None:
    logic = AsOfJoin(100).build()
    logic.on_right(0, "r")
    logic.on_left(30, "b")
    logic.on_left(10, "a")
    logic.on_left(30, "c")
    logic.on_left(50, "d")
    assert [j.left for j in logic.on_watermark(31)] == ["a", "b", "c"]
    assert [j.left for j in logic.on_watermark(51)] == ["d"]


def test_eager_mode_answers_on_arrival_from_what_it_has() -> None:
    logic = AsOfJoin(100, how="left", eager=True).build()
    assert logic.on_left(10, "l0") == [Joined("l0", None, 10, None)]
    logic.on_right(50, "a")
    assert logic.on_left(80, "l") == [Joined("l", "a", 80, 50)]
    logic.on_right(70, "closer, too late")  # not revised
    assert logic.on_watermark(1_000) == ()
    assert logic.next_deadline() is None or logic.next_deadline() > 1_000  # type: ignore[operator]


# -- forward and nearest -----------------------------------------------------------------------


def test_forward_takes_the_earliest_right_at_or_after_within_tolerance() -> None:
    logic = AsOfJoin(10, direction="forward").build()
    logic.on_left(100, "l")
    assert logic.next_deadline() == 111  # final once no right <= t + tolerance can come
    logic.on_right(95, "before")
    logic.on_right(108, "b")
    logic.on_right(104, "a")
    logic.on_right(110, "c")
    assert logic.on_watermark(110) == ()
    assert logic.on_watermark(111) == [Joined("l", "a", 100, 104)]


@pytest.mark.parametrize(
    ("right_time", "joins"), [(99, False), (100, True), (110, True), (111, False)]
)
def test_forward_bounds_are_inclusive(right_time: int, joins: bool) -> None:
    logic = AsOfJoin(10, direction="forward").build()
    logic.on_right(right_time, "r")
    assert (answer(logic, 100) is not None) is joins


@pytest.mark.parametrize(
    ("times", "expected"),
    [((96, 103), 103), ((97, 103), 97), ((97, 104), 97), ((85, 103), 103), ((100, 100), 100)],
)
def test_nearest_takes_the_closer_one_and_ties_go_backward(
    times: tuple[int, int], expected: int
) -> None:
    logic = AsOfJoin(5, direction="nearest").build()
    for t in times:
        logic.on_right(t, t)
    assert answer(logic, 100) == Joined("l", expected, 100, expected)


# -- pruning -------------------------------------------------------------------------------------


def test_superseded_and_expired_right_events_are_pruned() -> None:
    logic = AsOfJoin(20).build()
    logic.on_right(10, "a")
    logic.on_right(15, "b")
    assert logic.next_deadline() == 15  # from w=15 on, 'a' can never be the latest
    logic.on_watermark(15)
    assert logic.snapshot().right_times == (15,)
    assert logic.next_deadline() == 36  # 'b' is too old for any left at 36 or later
    logic.on_watermark(35)
    assert answer(logic, 35) == Joined("l", "b", 35, 15)
    logic.on_watermark(36)
    assert logic.is_empty()
    assert logic.next_deadline() is None


def test_pending_left_keeps_the_versions_it_needs() -> None:
    logic = AsOfJoin(50, direction="nearest").build()
    logic.on_right(90, "before")
    logic.on_left(100, "l")
    logic.on_right(120, "after")
    logic.on_right(130, "later")
    logic.on_watermark(140)  # l is final at 151: both 90 and 120 must survive
    assert logic.snapshot().right_times == (90, 120, 130)
    assert logic.on_watermark(151) == [Joined("l", "before", 100, 90)]
    assert logic.snapshot().right_times == (130,)


def test_forward_keeps_only_versions_at_or_after_the_oldest_lookup() -> None:
    logic = AsOfJoin(10, direction="forward").build()
    logic.on_right(5, "a")
    logic.on_right(8, "b")
    logic.on_watermark(8)
    assert logic.snapshot().right_times == (8,)


# -- bounded buffers -------------------------------------------------------------------------------


def test_full_version_buffer_evicts_the_oldest() -> None:
    logic = AsOfJoin(100, max_buffered=2).build()
    for t in (30, 10, 20):
        logic.on_right(t, t)
    assert logic.snapshot().right_times == (20, 30)
    assert logic.evicted == 1


def test_full_pending_buffer_flushes_the_oldest_left_early() -> None:
    logic = AsOfJoin(100, how="left", max_buffered=2).build()
    logic.on_right(5, "r")
    logic.on_left(20, "b")
    logic.on_left(30, "c")
    assert logic.on_left(10, "a") == [Joined("a", "r", 10, 5)]  # answered now, not lost
    assert logic.evicted == 1
    assert logic.snapshot().pending_values == ("b", "c")


# -- snapshots -----------------------------------------------------------------------------------


class Price(msgspec.Struct, frozen=True):
    amount: int


SCRIPT: list[tuple[str, int, str]] = [
    ("R", 10, "r10"),
    ("L", 12, "l12"),
    ("R", 11, "r11"),
    ("L", 30, "l30"),
    ("W", 13, ""),
    ("R", 25, "r25"),
    ("L", 26, "l26"),
    ("W", 27, ""),
    ("R", 40, "r40"),
    ("L", 45, "l45"),
    ("L", 31, "l31"),
    ("W", 60, ""),
    ("L", 100, "l100"),
    ("W", 200, ""),
]


def run(join: AsOfJoin[str, str], restore_at: int | None) -> list[Any]:
    logic = join.build()
    trace: list[Any] = []
    for step, (kind, t, v) in enumerate(SCRIPT):
        if step == restore_at:
            logic = restore(join, logic)
        if kind == "L":
            out = logic.on_event(t, Left(v))
        elif kind == "R":
            out = logic.on_event(t, Right(v))
        else:
            out = logic.on_watermark(t)
        trace.append((list(out), logic.next_deadline(), logic.is_empty()))
    return trace


@pytest.mark.parametrize(
    "join",
    [
        AsOfJoin[str, str](10, how="left", left_type=str, right_type=str),
        AsOfJoin[str, str](10, eager=True),
        AsOfJoin[str, str](5, direction="forward", how="left"),
        AsOfJoin[str, str](5, direction="nearest"),
    ],
    ids=["backward-left", "eager", "forward", "nearest"],
)
@pytest.mark.parametrize("restore_at", range(len(SCRIPT)))
def test_restore_mid_stream_continues_identically(join: Any, restore_at: int) -> None:
    assert run(join, restore_at) == run(join, None)


def test_script_outputs_backward_left_join() -> None:
    outputs = [o for out, _, _ in run(AsOfJoin(10, how="left"), None) for o in out]
    assert outputs == [
        Joined("l12", "r11", 12, 11),  # r11 arrived after l12, before the watermark
        Joined("l26", "r25", 26, 25),
        Joined("l30", "r25", 30, 25),
        Joined("l31", "r25", 31, 25),
        Joined("l45", "r40", 45, 40),
        Joined("l100", None, 100, None),
    ]


def test_snapshot_decodes_into_the_configured_types() -> None:
    join = AsOfJoin(10, left_type=str, right_type=Price)
    logic = join.build()
    logic.on_right(5, Price(3))
    logic.on_left(9, "l")
    snap = restore(join, logic).snapshot()
    assert snap == logic.snapshot()
    assert snap.right_values == (Price(3),)


# -- configuration and the contract --------------------------------------------------------------


def test_definition_and_logic_meet_the_protocols() -> None:
    join = AsOfJoin(timedelta(seconds=2))
    assert join.tolerance_ms == 2_000
    assert isinstance(join, Definition)
    assert isinstance(join.build(), Logic)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tolerance_ms": -1},
        {"tolerance_ms": 5, "how": "outer"},
        {"tolerance_ms": 5, "direction": "sideways"},
        {"tolerance_ms": None, "direction": "forward"},
        {"tolerance_ms": 5, "direction": "nearest", "eager": True},
        {"tolerance_ms": 5, "max_buffered": -3},
    ],
)
def test_bad_configuration_is_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        AsOfJoin(**kwargs)


# -- property: the versioned core equals a brute-force reference -----------------------------------


@st.composite
def scripts(draw: st.DrawFn) -> list[tuple[str, int, bool]]:
    """(kind, time, is_tombstone): events at or after the watermark, rising watermarks."""
    ops: list[tuple[str, int, bool]] = []
    wm = 0
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from("LRLRW"))
        if kind == "W":
            wm += draw(st.integers(0, 8))
            ops.append(("W", wm, False))
        else:
            ops.append((kind, wm + draw(st.integers(0, 12)), draw(st.booleans())))
    ops.append(("W", wm + 200, False))
    return ops


def reference(
    ops: list[tuple[str, int, bool]],
    *,
    direction: str,
    tol: int | None,
    left_join: bool,
    eager: bool,
    tombstones: bool,
) -> list[list[Joined[str, str]]]:
    """Answer every left event from all right events arrived when it is emitted."""
    versions: dict[int, str | None] = {}  # later arrival at the same time wins
    pending: list[tuple[int, int, str]] = []  # (time, arrival, name)
    wait = 0 if direction == "backward" else (tol or 0)

    def lookup(t: int, name: str) -> Joined[str, str] | None:
        back = [v for v in versions if v <= t and (tol is None or v >= t - tol)]
        fwd = [v for v in versions if v >= t and (tol is None or v <= t + tol)]
        b = max(back) if back else None
        if b is not None and tombstones and versions[b] is None:
            b = None
        f = min(fwd) if fwd else None
        if direction == "backward":
            hit = b
        elif direction == "forward" or b is None or (f is not None and f - t < t - b):
            hit = f
        else:
            hit = b
        if hit is not None:
            return Joined(name, versions[hit], t, hit)
        return Joined(name, None, t, None) if left_join else None

    out: list[list[Joined[str, str]]] = []
    for step, (kind, t, tomb) in enumerate(ops):
        name = f"{kind}{step}"
        emitted: list[Joined[str, str]] = []
        if kind == "R":
            versions[t] = None if tombstones and tomb else name
        elif kind == "L" and eager:
            emitted = [j for j in [lookup(t, name)] if j is not None]
        elif kind == "L":
            pending.append((t, step, name))
        else:
            for pt, _, pn in sorted(p for p in pending if p[0] + wait < t):
                j = lookup(pt, pn)
                if j is not None:
                    emitted.append(j)
            pending = [p for p in pending if p[0] + wait >= t]
        out.append(emitted)
    return out


def drive(join: Any, ops: list[tuple[str, int, bool]], restore_every: int) -> Any:
    logic = join.build()
    got: list[list[Joined[str, str]]] = []
    for step, (kind, t, tomb) in enumerate(ops):
        if step % restore_every == 0:
            logic = restore(join, logic)
        name = f"{kind}{step}"
        if kind == "L":
            got.append(list(logic.on_event(t, Left(name))))
        elif kind == "R":
            got.append(list(logic.on_event(t, Right(None if tomb else name))))
        else:
            deadline = logic.next_deadline()
            assert deadline is None or deadline > logic.snapshot().watermark
            got.append(list(logic.on_watermark(t)))
    return got, logic


@settings(max_examples=300, deadline=None)
@given(
    ops=scripts(),
    direction=st.sampled_from(["backward", "forward", "nearest"]),
    tol=st.integers(0, 15),
    left_join=st.booleans(),
    eager=st.booleans(),
    restore_every=st.integers(1, 8),
)
def test_asof_matches_reference_with_restores(
    ops: list[tuple[str, int, bool]],
    direction: Any,
    tol: int,
    left_join: bool,
    eager: bool,
    restore_every: int,
) -> None:
    eager = eager and direction == "backward"
    how: Any = "left" if left_join else "inner"
    join = AsOfJoin[str, str](tol, how=how, direction=direction, eager=eager, max_buffered=None)
    # As-of right values are never tombstones: a None value would be a value.
    ops = [(k, t, False) for k, t, _ in ops]
    got, logic = drive(join, ops, restore_every)
    expected = reference(
        ops, direction=direction, tol=tol, left_join=left_join, eager=eager, tombstones=False
    )
    assert got == expected
    assert logic.is_empty()  # the final watermark is beyond every tolerance


@settings(max_examples=300, deadline=None)
@given(
    ops=scripts(),
    left_join=st.booleans(),
    eager=st.booleans(),
    history=st.integers(0, 10),
    restore_every=st.integers(1, 8),
)
def test_temporal_table_matches_reference_with_restores(
    ops: list[tuple[str, int, bool]],
    left_join: bool,
    eager: bool,
    history: int,
    restore_every: int,
) -> None:
    how: Any = "left" if left_join else "inner"
    join = TableJoin[str, str](
        how=how, temporal=True, eager=eager, history_ms=history, max_buffered=None
    )
    got, logic = drive(join, ops, restore_every)
    expected = reference(
        ops, direction="backward", tol=None, left_join=left_join, eager=eager, tombstones=True
    )
    assert got == expected
    # Only the value in force remains (none if it is a tombstone).
    assert len(logic.snapshot().right_times) <= 1
    assert None not in logic.snapshot().right_values

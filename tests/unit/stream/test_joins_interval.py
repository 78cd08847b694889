"""Stream-stream interval join: pairs in either arrival order, inclusive bounds, left/outer
results only at window close, pruning, bounded buffers, snapshot/restore mid-stream."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.errors import ConfigError
from riskstream.stream.joins import (
    NO_WATERMARK,
    IntervalJoin,
    IntervalJoinLogic,
    IntervalJoinSnapshot,
    Joined,
    Left,
    Right,
)
from riskstream.stream.logic import Definition, Logic


def restore(join: IntervalJoin[Any, Any], logic: IntervalJoinLogic[Any, Any]) -> Any:
    """The logic rebuilt from its snapshot after a msgpack round trip (as the store does)."""
    raw = msgspec.msgpack.encode(logic.snapshot())
    return join.build(msgspec.msgpack.decode(raw, type=join.snapshot_type))


# -- pairs ---------------------------------------------------------------------------------


def test_pair_when_left_arrives_second() -> None:
    logic = IntervalJoin(30_000, 0).build()
    assert logic.on_event(1_000, Right("login")) == ()
    assert logic.on_event(20_000, Left("checkout")) == [
        Joined("checkout", "login", left_time=20_000, right_time=1_000)
    ]


def test_pair_when_right_arrives_second() -> None:
    logic = IntervalJoin(30_000, 0).build()
    assert logic.on_event(20_000, Left("checkout")) == ()
    assert logic.on_event(1_000, Right("login")) == [Joined("checkout", "login", 20_000, 1_000)]


def test_new_event_pairs_with_every_partner_in_time_order() -> None:
    logic = IntervalJoin(10, 10).build()
    for t, v in [(5, "b"), (1, "a"), (12, "c"), (30, "far")]:
        logic.on_right(t, v)
    assert logic.on_left(5, "x") == [
        Joined("x", "a", 5, 1),
        Joined("x", "b", 5, 5),
        Joined("x", "c", 5, 12),
    ]
    logic.on_left(3, "y")
    assert [j.left for j in logic.on_right(4, "d")] == ["y", "x"]  # left-time order


@pytest.mark.parametrize(
    ("right_time", "joins"),
    [(69, False), (70, True), (85, True), (100, True), (101, False)],
)
def test_bounds_are_inclusive_before(right_time: int, joins: bool) -> None:
    # "logins of the preceding 30 ms": right in [t - 30, t].
    for order in ("left first", "right first"):
        logic = IntervalJoin(30, 0).build()
        if order == "left first":
            logic.on_left(100, "l")
            out = logic.on_right(right_time, "r")
        else:
            logic.on_right(right_time, "r")
            out = logic.on_left(100, "l")
        assert bool(out) is joins, order


@pytest.mark.parametrize(
    ("right_time", "joins"), [(99, False), (100, True), (105, True), (106, False)]
)
def test_bounds_are_inclusive_after(right_time: int, joins: bool) -> None:
    logic = IntervalJoin(0, 5).build()
    logic.on_left(100, "l")
    assert bool(logic.on_right(right_time, "r")) is joins


def test_negative_before_means_right_strictly_after() -> None:
    logic = IntervalJoin(-5, 10).build()  # right in [t + 5, t + 10]
    logic.on_left(100, "l")
    assert logic.on_right(104, "r") == ()
    assert logic.on_right(105, "r5") == [Joined("l", "r5", 100, 105)]
    assert logic.on_right(110, "r10") == [Joined("l", "r10", 100, 110)]
    assert logic.on_right(111, "r") == ()


def test_same_event_time_on_both_sides_joins() -> None:
    logic = IntervalJoin(0, 0).build()
    logic.on_left(7, "l")
    assert logic.on_right(7, "r") == [Joined("l", "r", 7, 7)]


def test_on_event_rejects_unwrapped_values() -> None:
    with pytest.raises(TypeError, match="Left"):
        IntervalJoin(1, 1).build().on_event(1, "bare")  # type: ignore[arg-type]


# -- left and outer joins: results only when the window closes ------------------------------


def test_left_join_emits_unmatched_only_when_watermark_passes_window() -> None:
    logic = IntervalJoin(30, 5, how="left").build()
    assert logic.on_left(100, "l") == ()  # not eagerly
    assert logic.next_deadline() == 106
    assert logic.on_watermark(105) == ()  # a right event at 105 may still come
    assert logic.on_watermark(106) == [Joined("l", None, 100, None)]
    assert logic.is_empty()
    assert logic.on_watermark(200) == ()  # emitted once


def test_left_join_late_partner_before_window_close_prevents_left_result() -> None:
    logic = IntervalJoin(30, 5, how="left").build()
    logic.on_left(100, "l")
    logic.on_watermark(105)
    assert logic.on_right(105, "r") == [Joined("l", "r", 100, 105)]
    assert logic.on_watermark(1_000) == ()


def test_left_join_matched_left_never_emits_none() -> None:
    logic = IntervalJoin(30, 0, how="left").build()
    logic.on_right(90, "r")
    logic.on_left(100, "l")
    assert logic.on_watermark(10_000) == ()


def test_inner_join_never_emits_unmatched() -> None:
    logic = IntervalJoin(30, 0).build()
    logic.on_left(100, "l")
    logic.on_right(500, "r")
    assert logic.on_watermark(10_000) == ()
    assert logic.is_empty()


def test_outer_join_emits_unmatched_right_when_its_window_closes() -> None:
    logic = IntervalJoin(30, 0, how="outer").build()
    logic.on_right(10, "lonely")
    logic.on_right(95, "matched")
    logic.on_left(100, "l")
    logic.on_left(200, "l2")
    # right 10 closes at w > 40; left 100 at w > 100; right 95 at w > 125.
    assert logic.next_deadline() == 41
    assert logic.on_watermark(41) == [Joined(None, "lonely", None, 10)]
    assert logic.on_watermark(201) == [Joined("l2", None, 200, None)]
    assert logic.is_empty()


def test_watermark_batch_emits_left_results_then_right_results_each_in_time_order() -> None:
    logic = IntervalJoin(0, 0, how="outer").build()
    logic.on_left(3, "l3")
    logic.on_right(1, "r1")
    logic.on_left(2, "l2")
    logic.on_right(4, "r4")
    assert logic.on_watermark(10) == [
        Joined("l2", None, 2, None),
        Joined("l3", None, 3, None),
        Joined(None, "r1", None, 1),
        Joined(None, "r4", None, 4),
    ]


def test_negative_after_left_already_closed_is_final_on_arrival() -> None:
    # right in [t - 10, t - 5]: once the watermark passed t - 5 nothing more can join.
    logic = IntervalJoin(10, -5, how="left").build()
    logic.on_right(93, "r")
    logic.on_watermark(96)
    assert logic.on_left(100, "l") == [Joined("l", "r", 100, 93)]
    assert logic.snapshot().left_times == ()  # not buffered: no right can still join it
    lonely = IntervalJoin(10, -5, how="left").build()
    lonely.on_watermark(96)
    assert lonely.on_left(100, "m") == [Joined("m", None, 100, None)]
    assert lonely.is_empty()


# -- pruning --------------------------------------------------------------------------------


def test_buffers_are_pruned_exactly_when_no_partner_can_come() -> None:
    logic = IntervalJoin(30, 5).build()
    logic.on_right(100, "r")  # kept until w > 130: a left at 130 may still join
    logic.on_left(100, "l")  # kept until w > 105
    assert logic.next_deadline() == 106
    logic.on_watermark(106)
    assert logic.snapshot().left_times == ()
    assert logic.snapshot().right_times == (100,)
    assert logic.next_deadline() == 131
    logic.on_watermark(130)
    assert logic.on_left(130, "l2") == [Joined("l2", "r", 130, 100)]
    logic.on_watermark(136)
    assert logic.is_empty()
    assert logic.next_deadline() is None


def test_out_of_order_events_are_kept_sorted_and_pruned() -> None:
    logic = IntervalJoin(0, 0).build()
    for t in (50, 10, 30, 20, 40):
        logic.on_left(t, t)
    assert logic.snapshot().left_times == (10, 20, 30, 40, 50)
    assert logic.next_deadline() == 11
    logic.on_watermark(31)
    assert logic.snapshot().left_values == (40, 50)


def test_watermark_going_backwards_is_ignored() -> None:
    logic = IntervalJoin(0, 0, how="left").build()
    logic.on_left(10, "l")
    assert logic.on_watermark(20) == [Joined("l", None, 10, None)]
    assert logic.on_watermark(5) == ()
    assert logic.snapshot().watermark == 20


# -- bounded buffers ----------------------------------------------------------------------------


def test_full_buffer_evicts_the_oldest_and_counts_it() -> None:
    logic = IntervalJoin(100, 100, max_buffered=2).build()
    logic.on_left(10, "a")
    logic.on_left(30, "c")
    assert logic.on_left(20, "b") == ()  # inner: an evicted left emits nothing
    assert logic.snapshot().left_values == ("b", "c")
    assert logic.evicted == 1
    logic.on_left(5, "old")  # older than all: probes, then is itself evicted
    assert logic.snapshot().left_values == ("b", "c")
    assert logic.evicted == 2


def test_new_event_probes_before_the_eviction() -> None:
    logic = IntervalJoin(100, 100, max_buffered=1).build()
    logic.on_right(50, "r")
    logic.on_left(60, "l1")
    assert logic.on_left(10, "old") == [Joined("old", "r", 10, 50)]
    assert logic.snapshot().left_values == ("l1",)


def test_left_join_eviction_emits_left_result_of_unmatched_only() -> None:
    logic = IntervalJoin(0, 0, how="left", max_buffered=2).build()
    logic.on_left(10, "matched")
    logic.on_right(10, "r")
    logic.on_left(20, "b")
    assert logic.on_left(30, "c") == ()  # evicts 'matched': already joined
    assert logic.on_left(40, "d") == [Joined("b", None, 20, None)]  # premature, never lost
    assert logic.evicted == 2


def test_outer_join_eviction_emits_unmatched_right() -> None:
    logic = IntervalJoin(0, 0, how="outer", max_buffered=1).build()
    logic.on_right(10, "r1")
    assert logic.on_right(20, "r2") == [Joined(None, "r1", None, 10)]


def test_unbounded_buffers() -> None:
    logic = IntervalJoin(10**6, 0, max_buffered=None).build()
    for t in range(5_000):
        logic.on_right(t, t)
    assert len(logic.snapshot().right_times) == 5_000
    assert logic.evicted == 0


# -- snapshots ----------------------------------------------------------------------------------


class Login(msgspec.Struct, frozen=True):
    user: str
    ip: str


class Checkout(msgspec.Struct, frozen=True):
    user: str
    amount: int


def test_snapshot_decodes_into_the_configured_types() -> None:
    join = IntervalJoin(30_000, 0, how="outer", left_type=Checkout, right_type=Login)
    logic = join.build()
    logic.on_left(1_000, Checkout("u", 5))
    logic.on_right(2_000, Login("u", "1.2.3.4"))
    restored = restore(join, logic)
    snap = restored.snapshot()
    assert snap == logic.snapshot()
    assert isinstance(snap.left_values[0], Checkout)
    assert isinstance(snap.right_values[0], Login)
    assert snap.left_matched == (False,)  # the right came later and was outside [t-30s, t]


def test_snapshot_is_immutable_data() -> None:
    logic = IntervalJoin(10, 10, how="left").build()
    logic.on_left(1, "a")
    snap = logic.snapshot()
    logic.on_left(2, "b")
    logic.on_right(2, "r")
    assert snap == IntervalJoinSnapshot((1,), ("a",), (False,), (), (), (), NO_WATERMARK, 0)
    restored = IntervalJoin(10, 10, how="left").build(snap)
    restored.on_left(3, "c")
    assert snap.left_times == (1,)


def test_snapshot_from_another_how_counts_flagless_events_unmatched() -> None:
    inner = IntervalJoin(0, 0).build()
    inner.on_left(1, "l")
    left = IntervalJoin(0, 0, how="left").build(inner.snapshot())
    assert left.on_watermark(2) == [Joined("l", None, 1, None)]


SCRIPT: list[tuple[str, int, str]] = [
    ("L", 100, "l100"),
    ("R", 95, "r95"),
    ("R", 130, "r130"),
    ("W", 100, ""),
    ("L", 104, "l104"),
    ("R", 101, "r101"),
    ("L", 250, "l250"),
    ("W", 120, ""),
    ("R", 121, "r121"),
    ("L", 122, "l122"),
    ("W", 140, ""),
    ("L", 160, "l160"),
    ("R", 150, "r150"),
    ("W", 300, ""),
    ("R", 400, "r400"),
    ("W", 1_000, ""),
]


def run(join: IntervalJoin[str, str], restore_at: int | None) -> list[Any]:
    """Each step's outputs, next deadline and emptiness."""
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


@pytest.mark.parametrize("how", ["inner", "left", "outer"])
@pytest.mark.parametrize("restore_at", range(len(SCRIPT)))
def test_restore_mid_stream_continues_identically(how: Any, restore_at: int) -> None:
    join = IntervalJoin[str, str](20, 5, how=how, left_type=str, right_type=str)
    assert run(join, restore_at) == run(join, None)


def test_script_outputs_of_a_left_join() -> None:
    outputs = [out for out, _, _ in run(IntervalJoin(20, 5, how="left"), None)]
    assert outputs == [
        [],
        [Joined("l100", "r95", 100, 95)],
        [],
        [],
        [Joined("l104", "r95", 104, 95)],
        [Joined("l100", "r101", 100, 101), Joined("l104", "r101", 104, 101)],
        [],
        [],  # w=120 drops l100, l104 (both matched) and r95
        [],
        [Joined("l122", "r121", 122, 121)],
        [],
        [],
        [Joined("l160", "r150", 160, 150)],
        [Joined("l250", None, 250, None)],  # w=300 > 250 + 5
        [],
        [],
    ]


# -- configuration and the contract ------------------------------------------------------------


def test_definition_and_logic_meet_the_protocols() -> None:
    join = IntervalJoin(timedelta(seconds=30), timedelta(0))
    assert (join.before_ms, join.after_ms) == (30_000, 0)
    assert isinstance(join, Definition)
    assert isinstance(join.build(), Logic)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"before_ms": -10, "after_ms": 5},
        {"before_ms": 1, "after_ms": 1, "how": "right"},
        {"before_ms": 1, "after_ms": 1, "max_buffered": 0},
        {"before_ms": 1.5, "after_ms": 1},
        {"before_ms": True, "after_ms": 1},
    ],
)
def test_bad_configuration_is_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        IntervalJoin(**kwargs)


# -- property: the logic equals a brute-force reference ------------------------------------------


@st.composite
def scripts(draw: st.DrawFn) -> list[tuple[str, int]]:
    """Events at or after the watermark (the executor's guarantee) and rising watermarks."""
    ops: list[tuple[str, int]] = []
    wm = 0
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from("LRLRW"))
        if kind == "W":
            wm += draw(st.integers(0, 8))
            ops.append(("W", wm))
        else:
            ops.append((kind, wm + draw(st.integers(0, 12))))
    ops.append(("W", wm + 100))
    return ops


def reference(
    ops: list[tuple[str, int]], before: int, after: int, how: str
) -> list[list[Joined[str, str]]]:
    """Per step: pairs at the second arrival; unmatched sides at the first watermark past them."""
    lefts: list[tuple[int, str]] = []
    rights: list[tuple[int, str]] = []
    done: set[str] = set()
    out: list[list[Joined[str, str]]] = []

    def pairs(lt: int, rt: int) -> bool:
        return lt - before <= rt <= lt + after

    def order(entry: tuple[int, str]) -> tuple[int, int]:
        return entry[0], int(entry[1][1:])  # time, then arrival

    def matched(name: str, t: int, others: list[tuple[int, str]], left: bool) -> bool:
        return any(pairs(t, o) if left else pairs(o, t) for o, _ in others)

    wm: int | None = None
    for step, (kind, t) in enumerate(ops):
        name = f"{kind}{step}"
        if kind == "L":
            hits = sorted(((rt, n) for rt, n in rights if pairs(t, rt)), key=order)
            out.append([Joined(name, n, t, rt) for rt, n in hits])
            lefts.append((t, name))
            # Already past its window (negative after_ms): final on arrival.
            if how != "inner" and not hits and wm is not None and t + after < wm:
                out[-1].append(Joined(name, None, t, None))
                done.add(name)
        elif kind == "R":
            hits = sorted(((lt, n) for lt, n in lefts if pairs(lt, t)), key=order)
            out.append([Joined(n, name, lt, t) for lt, n in hits])
            rights.append((t, name))
            if how == "outer" and not hits and wm is not None and t + before < wm:
                out[-1].append(Joined(None, name, None, t))
                done.add(name)
        else:
            wm = t
            emitted: list[Joined[str, str]] = []
            if how != "inner":
                for lt, n in sorted(lefts, key=order):
                    # Every partner that can ever come has come once w > lt + after.
                    if n not in done and lt + after < t and not matched(n, lt, rights, True):
                        emitted.append(Joined(n, None, lt, None))
                        done.add(n)
            if how == "outer":
                for rt, n in sorted(rights, key=order):
                    if n not in done and rt + before < t and not matched(n, rt, lefts, False):
                        emitted.append(Joined(None, n, None, rt))
                        done.add(n)
            out.append(emitted)
    return out


@settings(max_examples=300, deadline=None)
@given(
    ops=scripts(),
    before=st.integers(-3, 10),
    span=st.integers(0, 12),
    how=st.sampled_from(["inner", "left", "outer"]),
    restore_every=st.integers(1, 8),
)
def test_matches_reference_with_restores(
    ops: list[tuple[str, int]], before: int, span: int, how: Any, restore_every: int
) -> None:
    after = span - before  # any interval with before + after >= 0
    join = IntervalJoin[str, str](before, after, how=how, max_buffered=None)
    logic = join.build()
    got: list[list[Joined[str, str]]] = []
    for step, (kind, t) in enumerate(ops):
        if step % restore_every == 0:
            logic = restore(join, logic)
        name = f"{kind}{step}"
        if kind == "L":
            got.append(list(logic.on_event(t, Left(name))))
        elif kind == "R":
            got.append(list(logic.on_event(t, Right(name))))
        else:
            deadline = logic.next_deadline()
            assert deadline is None or deadline > logic.snapshot().watermark
            got.append(list(logic.on_watermark(t)))
    assert got == reference(ops, before, after, how)
    assert logic.is_empty()

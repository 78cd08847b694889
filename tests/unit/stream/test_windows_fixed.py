"""Tumbling and hopping windows: placement, emit modes, closing, snapshots."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.errors import ConfigError
from riskstream.stream.logic import Definition, Logic
from riskstream.stream.windows import Count, Hopping, Sum, Tumbling, WindowResult
from tests.unit.stream.test_windows_kit import (
    Op,
    flat,
    reference,
    roundtrip,
    run,
    scripts,
    standard,
    x_of,
)


def counts(size: int = 100, emit: str = "update") -> Tumbling[Any]:
    return Tumbling(size, aggregations={"n": Count(), "sum": Sum(x_of)}, emit=emit)  # type: ignore[arg-type]


def r(start: int, end: int, n: int, total: int, final: bool = False) -> WindowResult:
    return WindowResult(start, end, {"n": n, "sum": total}, final)


def test_definitions_and_logic_satisfy_the_contract() -> None:
    d = counts()
    assert isinstance(d, Definition)
    assert isinstance(d.build(), Logic)
    assert d.snapshot_type is msgspec.msgpack.Decoder(d.snapshot_type).type


def test_tumbling_update_emits_the_window_of_each_event() -> None:
    out = run(
        counts(),
        [("e", 1005, (3, None)), ("e", 1099, (4, None)), ("e", 1100, (1, None))],
    )
    assert out == [[r(1000, 1100, 1, 3)], [r(1000, 1100, 2, 7)], [r(1100, 1200, 1, 1)]]


def test_tumbling_close_emits_each_window_once_when_the_watermark_reaches_its_end() -> None:
    script: list[Op] = [
        ("e", 1005, (3, None)),
        ("e", 1150, (1, None)),
        ("e", 1020, (4, None)),  # out of order: its window is still open
        ("w", 1099, None),
        ("w", 1100, None),
        ("w", 1250, None),
    ]
    out = run(counts(emit="close"), script)
    assert out == [[], [], [], [], [r(1000, 1100, 2, 7, True)], [r(1100, 1200, 1, 1, True)]]


def test_watermark_closes_several_windows_oldest_first() -> None:
    out = run(
        counts(emit="close"),
        [("e", 1250, (1, None)), ("e", 1050, (2, None)), ("w", 5000, None)],
    )
    assert out[-1] == [r(1000, 1100, 1, 2, True), r(1200, 1300, 1, 1, True)]


def test_update_mode_drops_closed_windows_silently() -> None:
    logic = counts().build()
    logic.on_event(1050, (1, None))
    assert logic.next_deadline() == 1100
    assert logic.on_watermark(1100) == ()
    assert logic.is_empty()
    assert logic.next_deadline() is None


def test_next_deadline_is_the_earliest_open_window_end() -> None:
    logic = counts(emit="close").build()
    assert logic.next_deadline() is None
    logic.on_event(1250, (1, None))
    assert logic.next_deadline() == 1300
    logic.on_event(1050, (1, None))
    assert logic.next_deadline() == 1100
    assert logic.on_watermark(1099) == ()  # before the deadline: nothing to do
    logic.on_watermark(1100)
    assert logic.next_deadline() == 1300


def test_windows_align_to_the_epoch_also_before_it() -> None:
    out = run(counts(), [("e", -5, (1, None)), ("e", 0, (1, None))])
    assert out == [[r(-100, 0, 1, 1)], [r(0, 100, 1, 1)]]


def test_hopping_event_updates_every_window_it_falls_in_oldest_first() -> None:
    d = Hopping(100, 50, aggregations={"n": Count(), "sum": Sum(x_of)})
    out = run(d, [("e", 1070, (2, None)), ("e", 1120, (5, None))])
    assert out == [
        [r(1000, 1100, 1, 2), r(1050, 1150, 1, 2)],
        [r(1050, 1150, 2, 7), r(1100, 1200, 1, 5)],
    ]


def test_hopping_hop_need_not_divide_size() -> None:
    d = Hopping(100, 30, aggregations={"n": Count(), "sum": Sum(x_of)})
    (out,) = run(d, [("e", 1000, (1, None))])
    assert [(w.start, w.end) for w in out] == [(930, 1030), (960, 1060), (990, 1090)]


def test_sizes_accept_timedelta() -> None:
    d = Hopping(
        timedelta(minutes=1), timedelta(seconds=10), aggregations={"n": Count()}, emit="close"
    )
    assert (d.size_ms, d.hop_ms, d.emit) == (60_000, 10_000, "close")
    assert Tumbling(timedelta(seconds=1), aggregations={"n": Count()}).hop_ms == 1_000


@pytest.mark.parametrize(
    "make",
    [
        lambda: Tumbling(0, aggregations={"n": Count()}),
        lambda: Tumbling(1.5, aggregations={"n": Count()}),  # type: ignore[arg-type]
        lambda: Hopping(100, 200, aggregations={"n": Count()}),
        lambda: Hopping(100, 0, aggregations={"n": Count()}),
        lambda: Tumbling(100, aggregations={}),
        lambda: Tumbling(100, aggregations={"n": len}),  # type: ignore[dict-item]
        lambda: Tumbling(100, aggregations={"": Count()}),
        lambda: Tumbling(100, aggregations={"n": Count()}, emit="final"),  # type: ignore[arg-type]
        lambda: Sum(3),  # type: ignore[arg-type]
    ],
)
def test_bad_definitions_are_rejected(make: Any) -> None:
    with pytest.raises(ConfigError):
        make()


def test_restored_logic_behaves_identically_mid_stream() -> None:
    d = Hopping(100, 50, aggregations=standard(), emit="close")
    logic = d.build()
    for t, x, k in [(1010, 1, 7), (1090, None, 8), (1130, 4, 7), (1060, 2, None)]:
        logic.on_event(t, (x, k))
    restored = roundtrip(d, logic)
    assert restored.snapshot() == logic.snapshot()
    assert restored.next_deadline() == logic.next_deadline()
    for target in (logic, restored):
        target.on_event(1140, (9, 9))
    assert restored.on_watermark(2000) == logic.on_watermark(2000)


def expected_fixed(script: list[Op], size: int, hop: int, emit: str) -> list[list[WindowResult]]:
    """Brute force: every window keeps its raw events."""
    windows: dict[int, list[tuple[int, int, Any]]] = {}
    out: list[list[WindowResult]] = []
    for i, (kind, t, value) in enumerate(script):
        step: list[WindowResult] = []
        if kind == "e":
            starts = [s for s in range((t - size) // hop * hop, t + 1, hop) if t < s + size]
            for s in starts:
                windows.setdefault(s, []).append((t, i, value))
                if emit == "update":
                    step.append(WindowResult(s, s + size, reference(windows[s]), False))
        else:
            for s in sorted(s for s in windows if s + size <= t):
                events = windows.pop(s)
                if emit == "close":
                    step.append(WindowResult(s, s + size, reference(events), True))
        out.append(step)
    return out


@settings(max_examples=150, deadline=None)
@given(
    script=scripts(),
    emit=st.sampled_from(["update", "close"]),
    shape=st.sampled_from([(100, 100), (100, 50), (100, 30), (7, 7), (40, 1)]),
)
def test_fixed_windows_match_brute_force(
    script: list[Op], emit: str, shape: tuple[int, int]
) -> None:
    size, hop = shape
    d = Hopping(size, hop, aggregations=standard(), emit=emit)  # type: ignore[arg-type]
    assert run(d, script) == expected_fixed(script, size, hop, emit)


@settings(max_examples=50, deadline=None)
@given(script=scripts())
def test_every_event_is_in_exactly_one_tumbling_window(script: list[Op]) -> None:
    results = flat(run(counts(emit="close"), script))
    assert sum(w.values["n"] for w in results) == sum(1 for op in script if op[0] == "e")
    assert [w.start for w in results] == sorted(w.start for w in results)

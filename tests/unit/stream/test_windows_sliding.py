"""Exact sliding windows: one window ``(t - size, t]`` per event time, exact aggregates."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.errors import ConfigError
from riskstream.stream.logic import Definition, Logic
from riskstream.stream.windows import Count, Max, Min, Sliding, Sum, WindowResult
from tests.unit.stream.test_windows_kit import (
    Op,
    reference,
    roundtrip,
    run,
    scripts,
    standard,
    x_of,
)


def sliding(size: int = 100, emit: str = "update") -> Sliding[Any]:
    aggs = {"n": Count(), "sum": Sum(x_of), "min": Min(x_of), "max": Max(x_of)}
    return Sliding(size, aggregations=aggs, emit=emit)  # type: ignore[arg-type]


def r(
    t: int, n: int, total: int, lo: int, hi: int, *, size: int = 100, final: bool = False
) -> WindowResult:
    return WindowResult(t - size + 1, t + 1, {"n": n, "sum": total, "min": lo, "max": hi}, final)


def test_contract() -> None:
    d = sliding()
    assert isinstance(d, Definition)
    assert isinstance(d.build(), Logic)


def test_each_event_emits_the_window_ending_at_it() -> None:
    out = run(
        sliding(),
        [("e", 1000, (5, None)), ("e", 1050, (3, None)), ("e", 1100, (4, None))],
    )
    # (1000, 1100] no longer holds the event at 1000: the window is (t - size, t].
    assert out == [[r(1000, 1, 5, 5, 5)], [r(1050, 2, 8, 3, 5)], [r(1100, 2, 7, 3, 4)]]


def test_min_and_max_follow_the_window_as_it_slides() -> None:
    script: list[Op] = [("e", 1000 + 10 * i, (x, None)) for i, x in enumerate([9, 1, 5, 7, 3])]
    script.append(("e", 1115, (6, None)))  # 1000 and 1010 (the 9 and the 1) slid out
    out = run(sliding(), script)
    assert out[-1] == [r(1115, 4, 21, 3, 7)]


def test_events_at_the_same_time_share_one_window() -> None:
    out = run(sliding(), [("e", 1000, (1, None)), ("e", 1000, (2, None))])
    assert out == [[r(1000, 1, 1, 1, 1)], [r(1000, 2, 3, 1, 2)]]


def test_out_of_order_event_re_emits_the_later_windows_it_changes() -> None:
    script: list[Op] = [
        ("e", 1000, (1, None)),
        ("e", 1080, (2, None)),
        ("e", 1200, (3, None)),
        ("e", 1050, (10, None)),  # changes the windows ending at 1050 (new) and 1080, not 1200
    ]
    out = run(sliding(), script)
    assert out[-1] == [r(1050, 2, 11, 1, 10), r(1080, 3, 13, 1, 10)]


def test_close_emits_each_window_when_the_watermark_passes_its_event() -> None:
    script: list[Op] = [
        ("e", 1000, (1, None)),
        ("e", 1080, (2, None)),
        ("e", 1040, (7, None)),  # out of order, before any window closed: no re-emission
        ("w", 1080, None),  # (.., 1080] is not complete: an event at 1080 may still come
        ("e", 1080, (4, None)),
        ("w", 1081, None),
    ]
    out = run(sliding(emit="close"), script)
    assert out == [
        [],
        [],
        [],
        [r(1000, 1, 1, 1, 1, final=True), r(1040, 2, 8, 1, 7, final=True)],
        [],
        [r(1080, 4, 14, 1, 7, final=True)],
    ]


def test_state_is_bounded_by_the_window_behind_the_watermark() -> None:
    logic = sliding(emit="close").build()
    for i in range(1000):
        logic.on_event(1000 + i, (1, None))
        logic.on_watermark(1000 + i)
    assert len(logic.snapshot().times) <= 101
    logic.on_watermark(10_000)
    assert logic.is_empty()
    assert logic.next_deadline() is None


def test_next_deadline() -> None:
    update = sliding().build()
    update.on_event(1000, (1, None))
    assert update.next_deadline() == 1100  # the event can be forgotten then
    close = sliding(emit="close").build()
    close.on_event(1000, (1, None))
    assert close.next_deadline() == 1001  # its window is complete then


def test_snapshot_round_trip_mid_stream() -> None:
    d = Sliding(100, aggregations=standard(), emit="close")
    logic = d.build()
    for t, x, k in [(1000, 1, 1), (1030, None, 2), (1010, 4, 1), (1070, 2, None)]:
        logic.on_event(t, (x, k))
    logic.on_watermark(1020)
    restored = roundtrip(d, logic)
    assert restored.snapshot() == logic.snapshot()
    assert restored.next_deadline() == logic.next_deadline()
    assert restored.on_watermark(1100) == logic.on_watermark(1100)


def test_bad_size_is_rejected() -> None:
    with pytest.raises(ConfigError):
        Sliding(0, aggregations={"n": Count()})


def expected_sliding(script: list[Op], size: int, emit: str) -> list[list[WindowResult]]:
    """Brute force over every event received."""
    events: list[tuple[int, int, Any]] = []
    emitted_below = None
    out: list[list[WindowResult]] = []

    def window(end: int, final: bool) -> WindowResult:
        inside = [e for e in events if end - size < e[0] <= end]
        return WindowResult(end - size + 1, end + 1, reference(inside), final)

    for i, (kind, t, value) in enumerate(script):
        if kind == "e":
            events.append((t, i, value))
            if emit == "update":
                ends = sorted({e[0] for e in events if t <= e[0] < t + size})
                out.append([window(end, False) for end in ends])
            else:
                out.append([])
        elif emit == "close":
            ends = sorted(
                {
                    e[0]
                    for e in events
                    if e[0] < t and (emitted_below is None or e[0] >= emitted_below)
                }
            )
            out.append([window(end, True) for end in ends])
            emitted_below = t
        else:
            out.append([])
    return out


@settings(max_examples=200, deadline=None)
@given(
    script=scripts(),
    emit=st.sampled_from(["update", "close"]),
    size=st.sampled_from([1, 7, 30, 100]),
)
def test_sliding_matches_brute_force(script: list[Op], emit: str, size: int) -> None:
    d = Sliding(size, aggregations=standard(), emit=emit)  # type: ignore[arg-type]
    assert run(d, script) == expected_sliding(script, size, emit)

"""Session windows: gaps, merging on out-of-order events, closing, snapshots."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.errors import ConfigError
from riskstream.stream.logic import Definition, Logic
from riskstream.stream.windows import Count, Last, Session, Sum, WindowResult
from tests.unit.stream.test_windows_kit import (
    Op,
    reference,
    roundtrip,
    run,
    scripts,
    standard,
    x_of,
)


def sessions(gap: int = 10, emit: str = "update") -> Session[Any]:
    aggs = {"n": Count(), "sum": Sum(x_of), "last": Last(x_of)}
    return Session(gap, aggregations=aggs, emit=emit)  # type: ignore[arg-type]


def r(start: int, end: int, n: int, total: int, last: int, final: bool = False) -> WindowResult:
    return WindowResult(start, end, {"n": n, "sum": total, "last": last}, final)


def test_contract() -> None:
    d = sessions()
    assert isinstance(d, Definition)
    assert isinstance(d.build(), Logic)


def test_events_closer_than_the_gap_form_one_session() -> None:
    out = run(sessions(), [("e", 1000, (1, None)), ("e", 1009, (2, None)), ("e", 1019, (4, None))])
    assert out == [[r(1000, 1010, 1, 1, 1)], [r(1000, 1019, 2, 3, 2)], [r(1019, 1029, 1, 4, 4)]]


def test_an_out_of_order_event_extends_a_session_backwards() -> None:
    out = run(sessions(), [("e", 1000, (1, None)), ("e", 995, (2, None))])
    assert out[-1] == [r(995, 1010, 2, 3, 1)]  # last is by event time: the event at 1000


def test_an_event_bridging_two_sessions_merges_them() -> None:
    script: list[Op] = [
        ("e", 1000, (1, None)),
        ("e", 1030, (2, None)),  # 30 apart: a second session
        ("e", 1060, (4, None)),  # a third
        ("e", 1015, (8, None)),  # less than 20 from 1000 and from 1030: bridges the first two
    ]
    out = run(sessions(gap=20), script)
    assert out[1] == [r(1030, 1050, 1, 2, 2)]
    assert out[3] == [r(1000, 1050, 3, 11, 2)]  # last: the event at 1030, the latest in time


def test_sessions_merge_only_when_less_than_the_gap_apart() -> None:
    out = run(sessions(gap=10), [("e", 1000, (1, None)), ("e", 1010, (2, None))])
    assert out[1] == [r(1010, 1020, 1, 2, 2)]  # exactly the gap apart: a new session


def test_close_emits_sessions_when_the_watermark_passes_their_end() -> None:
    script: list[Op] = [
        ("e", 1000, (1, None)),
        ("e", 1005, (2, None)),
        ("e", 1040, (3, None)),
        ("w", 1014, None),
        ("w", 1015, None),
        ("w", 1050, None),
    ]
    out = run(sessions(emit="close"), script)
    assert out == [[], [], [], [], [r(1000, 1015, 2, 3, 2, True)], [r(1040, 1050, 1, 3, 3, True)]]


def test_deadline_and_emptiness() -> None:
    logic = sessions(emit="close").build()
    assert logic.next_deadline() is None
    logic.on_event(1000, (1, None))
    logic.on_event(1100, (1, None))
    assert logic.next_deadline() == 1010
    logic.on_watermark(1010)
    assert logic.next_deadline() == 1110
    logic.on_watermark(1110)
    assert logic.is_empty()


def test_snapshot_round_trip_mid_stream() -> None:
    d = Session(10, aggregations=standard(), emit="close")
    logic = d.build()
    for t, x, k in [(1000, 1, 1), (1030, None, 2), (1015, 4, 1), (1008, 2, None)]:
        logic.on_event(t, (x, k))
    restored = roundtrip(d, logic)
    assert restored.snapshot() == logic.snapshot()
    for target in (logic, restored):
        target.on_event(1022, (3, 3))  # merges everything
    assert restored.on_watermark(2000) == logic.on_watermark(2000)


def test_bad_gap_is_rejected() -> None:
    with pytest.raises(ConfigError):
        Session(0, aggregations={"n": Count()})


def _sessions_of(events: list[tuple[int, int, Any]], gap: int) -> list[list[tuple[int, int, Any]]]:
    out: list[list[tuple[int, int, Any]]] = []
    for event in sorted(events):
        if out and event[0] - out[-1][-1][0] < gap:
            out[-1].append(event)
        else:
            out.append([event])
    return out


def expected_sessions(script: list[Op], gap: int, emit: str) -> list[list[WindowResult]]:
    """Brute force: sessions recomputed from every open event."""
    events: list[tuple[int, int, Any]] = []
    out: list[list[WindowResult]] = []
    for i, (kind, t, value) in enumerate(script):
        if kind == "e":
            events.append((t, i, value))
            if emit == "update":
                (group,) = [g for g in _sessions_of(events, gap) if (t, i, value) in g]
                out.append([_result(group, gap, False)])
            else:
                out.append([])
        else:
            closed = [g for g in _sessions_of(events, gap) if g[-1][0] + gap <= t]
            for group in closed:
                for event in group:
                    events.remove(event)
            out.append([_result(g, gap, True) for g in closed] if emit == "close" else [])
    return out


def _result(group: list[tuple[int, int, Any]], gap: int, final: bool) -> WindowResult:
    return WindowResult(group[0][0], group[-1][0] + gap, reference(group), final)


@settings(max_examples=200, deadline=None)
@given(
    script=scripts(),
    emit=st.sampled_from(["update", "close"]),
    gap=st.sampled_from([1, 5, 12, 40]),
)
def test_sessions_match_brute_force(script: list[Op], emit: str, gap: int) -> None:
    d = Session(gap, aggregations=standard(), emit=emit)  # type: ignore[arg-type]
    assert run(d, script) == expected_sessions(script, gap, emit)

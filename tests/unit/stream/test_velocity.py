"""The multi-horizon velocity counter: figures against brute force, memory, TTL, snapshots."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import patch

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.errors import ConfigError
from riskstream.stream.logic import Definition, Logic
from riskstream.stream.velocity import (
    DEFAULT_HORIZONS,
    Velocity,
    VelocityFigures,
    VelocityLogic,
    granularities,
)
from riskstream.stream.windows import buckets
from tests.unit.stream.test_windows_kit import roundtrip

DAY = 86_400_000
T0 = 1_700_000_000_000
SMALL = (60, 600, 3600)  # horizons of the property tests: granularities 10, 100, 600


def x_of(value: tuple[int | None, Any]) -> int | None:
    return value[0]


def k_of(value: tuple[int | None, Any]) -> Any:
    return value[1]


def small(**options: Any) -> Velocity[Any]:
    return Velocity(SMALL, value=x_of, distinct=k_of, resolution=6, **options)


Op = tuple[str, int, Any]  # ("e", time, (x, k)), ("w", watermark, None), ("q", at, None)


def brute(
    d: Velocity[Any], events: list[tuple[int, Any]], at: int, limit: int
) -> tuple[tuple[int, ...], tuple[float, ...], tuple[int, ...]]:
    """Count, sum and distinct count of ``events`` over each horizon's covered interval."""
    counts, sums, dist = [], [], []
    for horizon in d.horizons:
        lo, hi = d.covered(at, horizon)
        inside = [v for t, v in events if lo <= t < hi]
        counts.append(len(inside))
        sums.append(float(sum(v[0] for v in inside if v[0] is not None)))
        keys = {v[1] for v in inside if v[1] is not None}
        assert len(keys) <= limit, "the reference only covers unsaturated tables"
        dist.append(len(keys))
    return tuple(counts), tuple(sums), tuple(dist)


def play(d: Velocity[Any], ops: list[Op], mode: str) -> list[Any]:
    """Outputs of ``ops``: ``mode`` "straight", "restart" (from a msgpack snapshot after every
    op) or "deadline" (watermarks reach the logic only at its deadlines)."""
    logic = d.build()
    out: list[Any] = []
    for kind, t, value in ops:
        if kind == "e":
            out.append(list(logic.on_event(t, value)))
        elif kind == "q":
            out.append(logic.figures(t))
        elif mode != "deadline" or (logic.next_deadline() or t + 1) <= t:
            out.append(list(logic.on_watermark(t)))
        else:
            out.append([])
        if mode == "restart":
            logic = d.build() if logic.is_empty() else roundtrip(d, logic)
    return out


@st.composite
def streams(draw: st.DrawFn, grace: int = 60, keys: int = 4) -> list[Op]:
    """Events at most ``grace`` behind the newest, never behind the watermark; watermarks;
    queries at times every later event could be at."""
    ops: list[Op] = []
    newest, watermark = 100_000, 0
    for _ in range(draw(st.integers(1, 60))):
        choice = draw(st.integers(0, 9))
        floor = max(watermark, newest - grace)
        if choice < 5:
            newest = max(newest + draw(st.integers(0, 120) | st.integers(0, 6000)), watermark)
            t = newest
        elif choice < 7:
            t = draw(st.integers(floor, max(floor, newest)))
        elif choice < 9:
            watermark = max(watermark, draw(st.integers(newest - grace, newest + 4000)))
            ops.append(("w", watermark, None))
            continue
        else:
            ops.append(("q", draw(st.integers(floor, max(floor, newest) + 4000)), None))
            continue
        x = draw(st.integers(-3, 50) | st.none())
        k = draw(st.integers(0, keys - 1) | st.none())
        ops.append(("e", t, (x, k)))
        newest = max(newest, t)
    return ops


@settings(max_examples=300, deadline=None)
@given(ops=streams())
def test_figures_match_brute_force_over_the_documented_interval(ops: list[Op]) -> None:
    check_against_brute_force(small(), ops)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), grace=st.sampled_from([0, 10, 60, 250]))
def test_figures_stay_exact_when_compaction_runs_after_every_event(
    data: st.DataObject, grace: int
) -> None:
    ops = data.draw(streams(grace=grace))
    with patch.object(buckets, "_MIN_COMPACT", 1):
        check_against_brute_force(small(grace_ms=grace), ops)


def check_against_brute_force(d: Velocity[Any], ops: list[Op]) -> None:
    """Every figure (per event and per query) equals the brute-force count, sum and distinct
    count over :meth:`Velocity.covered`, straight, with restarts and with deadline-driven
    watermarks."""
    outputs = play(d, ops, "straight")
    assert play(d, ops, "restart") == outputs
    assert play(d, ops, "deadline") == outputs
    events: list[tuple[int, Any]] = []
    for (kind, t, value), out in zip(ops, outputs, strict=True):
        if kind == "e":
            events.append((t, value))
            (figures,) = out
        elif kind == "q":
            figures = out
        else:
            assert out == []
            continue
        assert figures.at == t
        assert (figures.counts, figures.sums, figures.distinct) == brute(d, events, t, 100)
        assert figures.saturated == (False, False, False)


@settings(max_examples=100, deadline=None)
@given(ops=streams(keys=6))
def test_a_full_distinct_table_gives_lower_bounds_flagged_saturated(ops: list[Op]) -> None:
    d = small(distinct_limit=2)
    logic = d.build()
    seen: list[tuple[int, Any]] = []
    for kind, t, value in ops:
        if kind == "w":
            logic.on_watermark(t)
            continue
        if kind == "e":
            seen.append((t, value))
            (figures,) = logic.on_event(t, value)
        else:
            figures = logic.figures(t)
        assert figures.distinct is not None and figures.saturated is not None
        for i, horizon in enumerate(d.horizons):
            lo, hi = d.covered(t, horizon)
            true = len({v[1] for s, v in seen if lo <= s < hi and v[1] is not None})
            assert figures.distinct[i] <= true
            assert figures.saturated[i] or figures.distinct[i] == true


def test_default_granularities_nest_and_divide_the_horizons() -> None:
    d = Velocity()
    assert d.horizons == DEFAULT_HORIZONS
    assert d.granularities == (1_000, 60_000, 1_440_000, 8_640_000, 43_200_000)
    assert d.grace_ms == 60_000


@given(
    horizons=st.lists(st.integers(1, 10**9), min_size=1, max_size=5, unique=True).map(sorted),
    resolution=st.integers(1, 100),
)
def test_derived_granularities_always_nest(horizons: list[int], resolution: int) -> None:
    gs = granularities(horizons, resolution)
    for i, (g, h) in enumerate(zip(gs, horizons, strict=True)):
        assert h % g == 0 and 1 <= g <= max(1, h // resolution)
        if i + 1 < len(gs):
            assert gs[i + 1] % g == 0


def test_explicit_granularities_are_checked() -> None:
    assert Velocity((60, 600), resolution=(10, 100)).granularities == (10, 100)
    for bad in [(7, 100), (10, 25), (10,), (10, 1000)]:
        with pytest.raises(ConfigError):
            Velocity((60, 600), resolution=bad)


@pytest.mark.parametrize(
    "options",
    [
        {"horizons": ()},
        {"horizons": (600, 60)},
        {"horizons": (60, 60)},
        {"resolution": 0},
        {"resolution": True},
        {"grace_ms": -1},
        {"distinct_limit": 0},
        {"value": 3},
    ],
)
def test_bad_definitions_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Velocity(**options)


def test_contract_and_timedelta_horizons() -> None:
    d = Velocity([timedelta(minutes=1), timedelta(hours=1)], grace_ms=timedelta(seconds=5))
    assert (d.horizons, d.grace_ms) == ((60_000, 3_600_000), 5_000)
    assert isinstance(d, Definition)
    assert isinstance(d.build(), Logic)


def test_figures_per_horizon_with_the_defaults() -> None:
    d = Velocity(value=x_of, distinct=k_of)
    logic = d.build()
    for t, x, k in [
        (T0 - 20 * DAY, 100, "c1"),
        (T0 - 3 * DAY, 50, "c2"),
        (T0 - 2 * 3_600_000, 10, "c2"),
        (T0 - 30_000, 5, "c3"),
    ]:
        logic.on_event(t, (x, k))
    (figures,) = logic.on_event(T0, (1, "c1"))
    assert isinstance(figures, VelocityFigures)
    assert figures.counts == (2, 2, 3, 4, 5)
    assert figures.sums == (6.0, 6.0, 16.0, 66.0, 166.0)
    assert figures.distinct == (2, 2, 3, 3, 3)
    assert figures.count_of(3_600_000) == 2
    assert figures.sum_of(86_400_000) == 16.0
    assert figures.distinct_of(30 * DAY) == 3


def test_figures_without_value_or_distinct() -> None:
    logic = Velocity((60_000,)).build()
    (figures,) = logic.on_event(T0, None)
    assert (figures.counts, figures.sums, figures.distinct, figures.saturated) == (
        (1,),
        None,
        None,
        None,
    )


def test_window_edges_are_the_documented_bucket_boundaries() -> None:
    d = Velocity((60_000, 3_600_000))  # granularities 1 s and 1 min
    logic = d.build()
    hour = T0 - T0 % 3_600_000
    at = hour + 90_500  # 1 min 30.5 s past the hour
    assert d.covered(at, 60_000) == (hour + 30_000, hour + 91_000)
    assert d.covered(at, 3_600_000) == (hour + 60_000 - 3_600_000, hour + 91_000)
    logic.on_event(hour - 3_540_001, None)  # just before the 1-hour window
    logic.on_event(hour - 3_540_000, None)  # its first millisecond
    logic.on_event(hour + 29_999, None)  # just before the 1-minute window
    logic.on_event(hour + 30_000, None)
    logic.on_event(hour + 90_900, None)  # after at, but in at's finest bucket: counted
    assert logic.figures(at).counts == (2, 4)


def test_figures_reads_without_changing_state() -> None:
    logic = small().build()
    logic.on_event(100_000, (1, 1))
    before = logic.snapshot()
    logic.figures(100_500)
    assert logic.snapshot() == before


def test_events_older_than_the_longest_horizon_are_ignored() -> None:
    d = small()
    logic = d.build()
    logic.on_event(100_000, (1, 1))
    before = logic.snapshot()
    oldest, _ = d.covered(100_000 - d.grace_ms, 3600)  # the longest window at the drive
    assert logic.on_event(oldest - 1, (1, 1)) == ()
    assert logic.snapshot() == before
    assert len(logic.on_event(oldest, (1, 1))) == 1


def test_an_event_far_behind_is_still_counted_exactly_later() -> None:
    d = small()
    logic = d.build()
    events: list[tuple[int, Any]] = []
    for t in range(100_000, 103_000, 7):  # dense: compactions coarsen the old buckets
        logic.on_event(t, (1, t % 3))
        events.append((t, (1, t % 3)))
    logic.on_event(101_000, (5, 9))  # 2 s behind: beyond the 60 ms grace
    events.append((101_000, (5, 9)))
    for at in (103_000, 103_500, 104_100):
        figures = logic.figures(at)
        assert (figures.counts, figures.sums, figures.distinct) == brute(d, events, at, 100)


def test_a_quiet_key_expires_at_its_deadline() -> None:
    d = Velocity(value=x_of)
    logic = d.build()
    assert logic.next_deadline() is None and logic.is_empty()
    logic.on_event(T0, (3, None))
    logic.on_event(T0 + 5 * DAY, (4, None))
    deadline = logic.next_deadline()
    newest = T0 + 5 * DAY
    assert deadline == newest - newest % (DAY // 2) + DAY // 2 + 30 * DAY
    logic.on_watermark(deadline - 1)
    assert not logic.is_empty()
    assert logic.figures(deadline - 1).counts[-1] == 1  # the first event is out of 30 days
    logic.on_watermark(deadline)
    assert logic.is_empty()
    assert logic.next_deadline() is None


def test_freed_distinct_slots_are_reused_after_expiry() -> None:
    d = Velocity((60_000, 3_600_000), distinct=k_of, distinct_limit=2)
    logic = d.build()
    for i, k in enumerate("abc"):
        (figures,) = logic.on_event(T0 + i, (None, k))
    assert figures.distinct == (2, 2) and figures.saturated == (True, True)
    logic.on_watermark(T0 + 3_600_000 + 60_000)  # every bucket of a, b, c expired
    (figures,) = logic.on_event(T0 + 3_700_000, (None, "d"))
    assert figures.distinct == (1, 1) and figures.saturated == (False, False)
    assert len(logic.snapshot().slots) == 1


def test_memory_stays_bounded_for_a_busy_key() -> None:
    d = Velocity(value=x_of, distinct=k_of)
    logic: VelocityLogic[Any] = d.build()
    for i in range(60_000):  # an event every 10 s for a week: 60k events
        logic.on_event(T0 + i * 10_000, (i % 100, i % 7))
    buckets = len(logic.snapshot().counts)
    # after compaction about resolution + 1 buckets per horizon, plus the grace period's
    # finest buckets; the list may double before the next compaction
    assert buckets <= 2 * (5 * 62 + 60)
    size = len(msgspec.msgpack.encode(logic.snapshot()))
    assert size < 10_000


def test_a_typical_key_snapshots_well_under_a_kibibyte() -> None:
    d = Velocity(value=x_of, distinct=k_of)
    logic = d.build()
    step = 30 * DAY // 50
    for i in range(50):  # 50 events over 30 days: amounts with cents, 3 cards
        logic.on_event(T0 + i * step + (i * 7919) % 3_600_000, (1999 + i * 37, f"card-{i % 3}"))
    assert len(msgspec.msgpack.encode(logic.snapshot())) < 700


def test_snapshot_round_trip_keeps_behaviour_mid_stream() -> None:
    d = Velocity(value=x_of, distinct=k_of, distinct_limit=3)
    logic = d.build()
    for i in range(400):
        logic.on_event(T0 + i * 37_000, (i * 0.1 + 0.01, f"k{i % 5}"))  # float sums too
    restored = roundtrip(d, logic)
    assert restored.snapshot() == logic.snapshot()
    assert restored.next_deadline() == logic.next_deadline()
    for i in range(400, 700):
        t = T0 + i * 37_000 - (i % 3) * 20_000  # some out of order
        value = (i * 0.7, f"k{i % 7}")
        assert restored.on_event(t, value) == logic.on_event(t, value)  # bit for bit
        if i % 50 == 0:
            assert restored.on_watermark(t - 60_000) == logic.on_watermark(t - 60_000)
    assert restored.figures(T0 + 800 * 37_000) == logic.figures(T0 + 800 * 37_000)
    assert restored.snapshot() == logic.snapshot()


def test_float_sums_are_as_accurate_as_adding_the_window() -> None:
    logic = Velocity((60_000, 30 * DAY), value=x_of, resolution=60).build()
    for i in range(20_000):  # a large 30-day total under a small last-minute sum
        logic.on_event(T0 + i * 120_000, (1_000_000.01, None))
    (figures,) = logic.on_event(T0 + 20_000 * 120_000, (0.1, None))
    assert figures.sums is not None
    assert figures.sums[0] == 0.1  # not 0.10000000009313226: no big-minus-big

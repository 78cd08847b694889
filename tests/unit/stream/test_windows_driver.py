"""Windows and the velocity counter inside a topology, through the test driver: out-of-order
and late events, idle partitions, restarts."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from riskstream.stream import Topology
from riskstream.stream.logic import Definition
from riskstream.stream.velocity import Velocity, VelocityFigures
from riskstream.stream.windows import (
    Count,
    DistinctCount,
    Hopping,
    Max,
    Session,
    Sliding,
    Sum,
    Tumbling,
    WindowResult,
)
from riskstream.testing import TestDriver

AGGREGATIONS = {
    "n": Count(),
    "total": Sum(lambda v: v["amount"]),
    "top": Max(lambda v: v["amount"]),
}


def _driver(definition: Definition[Any, Any, Any], **options: Any) -> TestDriver:
    topology = Topology("win", **options)
    source = topology.source("in", ["pay"], decode=msgspec.json.decode, event_time=lambda v: v["t"])
    source.stateful("agg", definition).to("out", encode=msgspec.msgpack.encode)
    return TestDriver(topology, partitions=2)


def _pipe(driver: TestDriver, t: int, amount: int = 1, key: bytes = b"card", **extra: Any) -> None:
    value = msgspec.json.encode({"t": t, "amount": amount, **extra})
    driver.pipe("pay", value, key=key, timestamp=t)


def _results(driver: TestDriver) -> list[WindowResult]:
    return [msgspec.msgpack.decode(o.value, type=WindowResult) for o in driver.read("out")]


def _final(driver: TestDriver) -> list[tuple[int, int, dict[str, Any]]]:
    return [(r.start, r.end, r.values) for r in _results(driver) if r.final]


def test_tumbling_closes_on_the_watermark_with_out_of_order_events() -> None:
    driver = _driver(
        Tumbling(10_000, aggregations=AGGREGATIONS, emit="close"), allowed_lateness_ms=3_000
    )
    for t, amount in ((1_000, 5), (12_000, 7), (9_500, 2), (14_000, 1)):  # 9.5 s is out of order
        _pipe(driver, t, amount)
    assert _final(driver) == [(0, 10_000, {"n": 2, "total": 7, "top": 5})]
    _pipe(driver, 8_000)  # behind the watermark (11 s): late
    assert len(driver.late()) == 1
    _pipe(driver, 30_000)
    assert _final(driver) == [(10_000, 20_000, {"n": 2, "total": 8, "top": 7})]


def test_hopping_windows_overlap() -> None:
    driver = _driver(Hopping(10_000, 5_000, aggregations={"n": Count()}, emit="close"))
    for t in (1_000, 6_000, 11_000, 30_000):
        _pipe(driver, t)
    assert [(s, e, v["n"]) for s, e, v in _final(driver)] == [
        (-5_000, 5_000, 1),
        (0, 10_000, 2),
        (5_000, 15_000, 2),
        (10_000, 20_000, 1),
    ]


def test_exact_sliding_window_on_every_event() -> None:
    driver = _driver(
        Sliding(10_000, aggregations={"n": Count(), "total": Sum(lambda v: v["amount"])})
    )
    for t, amount in ((1_000, 1), (5_000, 2), (10_500, 4), (16_000, 8)):
        _pipe(driver, t, amount)
    latest = {(r.end - 1): r.values for r in _results(driver) if not r.final}
    assert latest[10_500] == {"n": 3, "total": 7}  # (500, 10 500]: 1 s, 5 s and 10.5 s
    assert latest[16_000] == {"n": 2, "total": 12}  # (6 000, 16 000]


def test_session_windows_merge_and_close_when_the_partition_goes_idle() -> None:
    driver = _driver(
        Session(5_000, aggregations={"n": Count()}, emit="close"),
        allowed_lateness_ms=5_000,
        idle_timeout_ms=2_000,
    )
    for t in (1_000, 7_000, 4_000):  # 4 s arrives late (not too late) and bridges both
        _pipe(driver, t)
    assert _final(driver) == []
    driver.advance_time(60_000)  # idle: the watermark follows processing time, sessions close
    assert _final(driver) == [(1_000, 12_000, {"n": 3})]


def test_distinct_count_through_a_window() -> None:
    driver = _driver(Tumbling(60_000, aggregations={"cards": DistinctCount(lambda v: v["card"])}))
    for i, card in enumerate(("a", "b", "a", "c")):
        _pipe(driver, 1_000 + i, card=card)
    assert _results(driver)[-1].values == {"cards": 3}


@pytest.mark.parametrize(
    "definition",
    [
        Tumbling(10_000, aggregations=AGGREGATIONS, emit="close"),
        Hopping(10_000, 5_000, aggregations=AGGREGATIONS, emit="close"),
        Sliding(10_000, aggregations=AGGREGATIONS, emit="close"),
        Session(4_000, aggregations=AGGREGATIONS, emit="close"),
    ],
    ids=["tumbling", "hopping", "sliding", "session"],
)
def test_every_window_survives_a_restart_mid_stream(definition: Definition[Any, Any, Any]) -> None:
    times = [1_000, 2_500, 9_000, 11_000, 15_500, 23_000, 26_000, 41_000, 60_000]

    def run(restart_at: int | None) -> list[Any]:
        driver = _driver(definition)
        out: list[Any] = []
        for index, t in enumerate(times):
            if index == restart_at:
                driver.restart()
            _pipe(driver, t, index + 1, key=b"k1")
            _pipe(driver, t + 7, 1, key=b"k2")
            out += _final(driver)
        return out

    uninterrupted = run(None)
    assert uninterrupted
    for restart_at in (2, 5, 7):
        assert run(restart_at) == uninterrupted


def test_velocity_counter_reports_every_horizon_and_survives_restarts() -> None:
    velocity = Velocity(
        horizons=(60_000, 3_600_000, 86_400_000),
        value=lambda v: v["amount"],
        distinct=lambda v: v["card"],
    )
    topology = Topology("vel")
    source = topology.source("in", ["pay"], decode=msgspec.json.decode, event_time=lambda v: v["t"])
    source.stateful("velocity", velocity).to("out", encode=msgspec.msgpack.encode)
    driver = TestDriver(topology)
    events = [(0, 10, "a"), (30_000, 20, "b"), (90_000, 5, "a"), (2_000_000, 1, "c")]
    for index, (t, amount, card) in enumerate(events):
        if index == 2:
            driver.restart()
        _pipe(driver, t, amount, key=b"user-1", card=card)
    figures = [msgspec.msgpack.decode(o.value, type=VelocityFigures) for o in driver.read("out")]
    last = figures[-1]
    assert last.count_of(60_000) == 1
    assert last.count_of(3_600_000) == 4
    assert last.sum_of(3_600_000) == 36
    assert last.distinct_of(86_400_000) == 3
    # At 90 s the minute covers [30 s, 91 s): the event at exactly 30 s still counts.
    assert figures[2].count_of(60_000) == 2
    assert figures[2].sum_of(3_600_000) == 35

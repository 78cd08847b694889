"""Aggregations, their sliding forms, stable hashing and the bounded distinct count."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.errors import ConfigError
from riskstream.stream.windows import (
    Count,
    DistinctCount,
    Last,
    Max,
    Mean,
    Min,
    Sum,
    Tumbling,
    WindowResult,
    stable_hash,
)
from riskstream.stream.windows.aggset import AggregationSet
from tests.unit.stream.test_windows_kit import roundtrip


def ident(value: Any) -> Any:
    return value


def fold(agg: Any, inputs: list[tuple[int, Any]]) -> Any:
    acc = agg.create()
    for t, x in inputs:
        acc = agg.add(acc, t, x)
    return agg.result(acc)


def test_missing_values_are_skipped_but_counted() -> None:
    inputs = [(1, None), (2, 4), (3, None)]
    assert fold(Count(), inputs) == 3
    assert fold(Sum(ident), inputs) == 4
    assert fold(Mean(ident), inputs) == 4
    assert fold(Last(ident), inputs) == 4
    assert [fold(a, [(1, None)]) for a in (Sum(ident), Min(ident), Max(ident), Mean(ident))] == [
        0,
        None,
        None,
        None,
    ]


def test_last_is_by_event_time_and_arrival_breaks_ties() -> None:
    assert fold(Last(ident), [(5, 1), (3, 2)]) == 1
    assert fold(Last(ident), [(5, 1), (5, 2)]) == 2
    last = Last(ident)
    assert last.result(last.merge(last.add(None, 9, "a"), last.add(None, 4, "b"))) == "a"


def test_distinct_count_is_exact_up_to_the_limit_then_saturated() -> None:
    agg = DistinctCount(ident, limit=2)
    acc = agg.create()
    results = []
    for value in ["a", "b", "a", "c", "a", "d"]:
        acc = agg.add(acc, 0, agg.extract(value))
        results.append(agg.result(acc))
    assert results == [1, 2, 2, 3, 3, 3]  # 3 == limit + 1: "more than 2"
    assert acc is None  # the hashes are dropped once saturated
    assert agg.load(agg.dump(acc)) is None


def test_distinct_count_merge_saturates_on_the_union() -> None:
    agg = DistinctCount(ident, limit=3)
    a = {agg.extract(v) for v in "ab"}
    b = {agg.extract(v) for v in "bc"}
    assert agg.result(agg.merge(set(a), set(b))) == 3
    assert agg.result(agg.merge(set(a), {agg.extract(v) for v in "cd"})) == 4
    assert agg.result(agg.merge(None, set(b))) == 4


def test_distinct_count_in_a_window_reports_saturation() -> None:
    d = Tumbling(100, aggregations={"cards": DistinctCount(ident, limit=2)}, emit="close")
    logic = d.build()
    for i, card in enumerate(["c1", "c2", "c1", "c3", "c4"]):
        logic.on_event(1000 + i, card)
        logic = roundtrip(d, logic)
    assert logic.on_watermark(1100) == [WindowResult(1000, 1100, {"cards": 3}, True)]


def test_stable_hash_is_the_same_in_every_process() -> None:
    values = ["card-1", b"\x00ip", 42, -(2**70), 1.5, ("a", 1), None, True]
    script = (
        "from riskstream.stream.windows import stable_hash\n"
        f"print([stable_hash(v) for v in {values!r}])\n"
    )
    outputs = set()
    for seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.add(done.stdout.decode().strip())
    assert outputs == {str([stable_hash(v) for v in values])}


def test_stable_hash_keeps_ints_and_tells_types_apart() -> None:
    assert stable_hash(123) == 123
    hashes = [stable_hash(v) for v in (1, 1.0, True, "1", b"1", (1,))]
    assert len(set(hashes)) == len(hashes)
    assert all(-(2**63) <= h < 2**63 for h in [*hashes, stable_hash(2**80)])


def test_result_names_are_quoted_safely_in_the_generated_code() -> None:
    aggset = AggregationSet({'it\'s "n"': Count(), "s\\": Sum(ident)})
    accs = aggset.create()
    aggset.fold(accs, 0, 5)
    assert aggset.values(accs) == {'it\'s "n"': 1, "s\\": 5}


def test_reprs_name_the_getters() -> None:
    assert repr(Sum(ident)) == "Sum(ident)"
    assert repr(DistinctCount(ident, limit=5)) == "DistinctCount(ident, limit=5)"
    assert "Tumbling(100" in repr(Tumbling(100, aggregations={"n": Count()}))


@pytest.mark.parametrize("limit", [0, -1, True, 1.5])
def test_bad_distinct_limit(limit: Any) -> None:
    with pytest.raises(ConfigError):
        DistinctCount(ident, limit=limit)


AGGREGATIONS = [Count(), Sum(ident), Min(ident), Max(ident), Mean(ident), Last(ident)]


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(
        st.one_of(st.integers(-50, 50), st.none(), st.just("pop")),
        max_size=60,
    )
)
def test_sweeps_equal_a_fresh_fold_of_the_window(ops: list[Any]) -> None:
    """A FIFO window driven by push/pop matches folding its current contents."""
    aggs: list[Any] = [*AGGREGATIONS, DistinctCount(ident, limit=4)]
    sweeps = [agg.sweep() for agg in aggs]
    window: deque[tuple[int, Any]] = deque()
    for t, op in enumerate(ops):
        if op == "pop":
            if not window:
                continue
            _, x = window.popleft()
            for sweep in sweeps:
                sweep.pop(x)
        else:
            window.append((t, op))
            for sweep in sweeps:
                sweep.push(op)
        for agg, sweep in zip(aggs, sweeps, strict=True):
            assert sweep.result() == fold(agg, list(window)), agg


def test_sliding_sums_do_not_drift() -> None:
    sweep = Sum(ident).sweep()
    window: deque[float] = deque()
    for i in range(10_000):
        x = 0.1 * (i % 7)
        sweep.push(x)
        window.append(x)
        if len(window) > 10:
            sweep.pop(window.popleft())
    assert sweep.result() == pytest.approx(sum(window), abs=1e-12)
    for x in list(window):
        sweep.pop(x)
        window.popleft()
    assert sweep.result() == 0

"""Property tests: the aggregate state reads like a brute-force scan of every touch.

Random features (every measure, with and without conditions) over random touches, applied
in a random order, are read at random times no more than ``horizon // 8`` behind the newest
touch (the reads pruning keeps whole). Every read equals :mod:`.reference` - which applies
the documented window rule to the full list of touches - and, when ``at - horizon`` falls on
a bucket boundary and no more touches arrived from the future than the state keeps exactly
(``TAIL`` touches; two sightings of a distinct value), equals the exact window ``[at -
horizon, at)``. No touch from the future is ever counted.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.fraud.features import (
    AggregateState,
    EntityAggregates,
    FeatureSpecs,
    Measure,
    Touch,
    bucket_width,
)
from riskstream.fraud.features.aggregates import TAIL
from tests.unit.fraud.features import reference

T0 = 1_700_000_000_000 // 86_400_000 * 86_400_000
HORIZONS = {"1m": 60_000, "100s": 100_000, "10m": 600_000, "1h": 3_600_000}
MEASURES = (
    "count of checkout, login",
    "sum amount of checkout, chargeback",
    "mean amount of checkout",
    "min amount of checkout, login",
    "max amount of checkout",
    "distinct instrument of checkout, login",
    "distinct amount of checkout",
    "ratio of chargeback to checkout",
)
CONDITIONS = (
    "",
    " where not success",
    " where promo",
    " where amount >= 50",
    ' where country != "DE"',
)


@st.composite
def touches(draw: Any, horizon: int) -> list[Touch]:
    # a few touches per bucket, some on the same millisecond, over ~2.5 windows
    span = horizon * 5 // 2
    width = bucket_width(horizon)
    times = draw(
        st.lists(
            st.one_of(
                st.integers(0, span),
                st.integers(0, span // width).map(lambda k: k * width),  # bucket starts
            ),
            max_size=60,
        )
    )
    made = []
    for t in times:
        made.append(
            Touch(
                draw(st.sampled_from(("checkout", "checkout", "login", "chargeback", "click"))),
                T0 + t,
                user="u",
                instrument=draw(st.sampled_from(("c1", "c2", "c3", "c4", None))),
                country=draw(st.sampled_from(("DE", "FR", None))),
                amount=draw(st.one_of(st.none(), st.sampled_from((1.0, 20.0, 50.0, 99.5, 300.0)))),
                success=draw(st.sampled_from((True, False, None))),
                promo=draw(st.sampled_from((True, False, None))),
            )
        )
    return made


def same(got: Any, want: Any) -> bool:
    if want is None or got is None:
        return got is want
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_reads_equal_the_reference(data: st.DataObject) -> None:
    window = data.draw(st.sampled_from(sorted(HORIZONS)), label="window")
    horizon = HORIZONS[window]
    measure = data.draw(st.sampled_from(MEASURES), label="measure")
    where = data.draw(st.sampled_from(CONDITIONS), label="where")
    text = f"feature user.f = {measure} per user over {window}{where}"
    spec = FeatureSpecs.from_text(text).specs[0]
    aggregates = EntityAggregates.compile([spec])
    made = data.draw(touches(horizon), label="touches")
    arrival = data.draw(st.permutations(made), label="arrival")
    state = aggregates.new_state()
    for touch in arrival:
        aggregates.update(state, touch)
    state = msgspec.msgpack.decode(msgspec.msgpack.encode(state), type=AggregateState)

    newest = max((t.time for t in made), default=T0)
    width = bucket_width(horizon)
    reads = {newest - horizon // 8, newest + 1, newest + horizon, newest + horizon + width}
    reads |= {t.time for t in made if t.time >= newest - horizon // 8}
    reads |= {t.time + 1 for t in made if t.time >= newest - horizon // 8}
    reads.add(data.draw(st.integers(newest - horizon // 8, newest + 2 * horizon), label="at"))
    for at in sorted(reads):
        got = aggregates.read(state, at)["user.f"]
        want = reference.read(spec, made, at)
        assert same(got, want), (at - T0, got, want)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_aligned_reads_are_exact(data: st.DataObject) -> None:
    window = data.draw(st.sampled_from(sorted(HORIZONS)), label="window")
    horizon = HORIZONS[window]
    width = bucket_width(horizon)
    measure = data.draw(st.sampled_from(MEASURES), label="measure")
    spec = FeatureSpecs.from_text(f"feature user.f = {measure} per user over {window}").specs[0]
    aggregates = EntityAggregates.compile([spec])
    made = data.draw(touches(horizon), label="touches")
    state = aggregates.new_state()
    for touch in data.draw(st.permutations(made), label="arrival"):
        aggregates.update(state, touch)
    newest = max((t.time for t in made), default=T0)
    chosen = reference.selected(spec, made)
    for k in range((newest - horizon // 8) // width + 1, (newest + horizon) // width + 2):
        at = k * width + horizon % width  # at - horizon on a bucket boundary
        if at < newest - horizon // 8:
            continue
        exact = [t for t in chosen if at - horizon <= t.time < at]
        if spec.measure is Measure.DISTINCT:
            assert spec.field is not None
            field = spec.field
            later: dict[Any, set[int]] = {}
            for t in chosen:
                if t.time >= at:
                    later.setdefault(getattr(t, field), set()).add(t.time)
            if any(len(times) >= 2 for times in later.values()):
                continue  # a value seen twice since `at` hides its earlier sightings
            want: Any = len({getattr(t, field) for t in exact})
        else:
            if sum(1 for t in chosen if t.time >= at) > TAIL:
                continue  # the bucket holding `at` is left out
            want = reference.combine(spec, exact)
        got = aggregates.read(state, at)["user.f"]
        assert same(got, want), (at - T0, got, want)


@pytest.mark.parametrize("measure", MEASURES)
def test_every_measure_is_exercised(measure: str) -> None:
    # the strategies above build a valid feature from every measure and condition
    for where in CONDITIONS:
        text = f"feature user.f = {measure} per user over 1h{where}"
        assert len(FeatureSpecs.from_text(text)) == 1

"""A brute-force reference for declared aggregates: every touch kept, every read a scan.

It implements the window rule of :mod:`riskstream.fraud.features.aggregates` literally: a
read at ``at`` takes the selected touches with ``start <= time < end``, where ``start`` is
``at - horizon`` rounded down to its bucket and ``end`` is ``at`` - or the start of the
bucket holding ``at`` when more than ``TAIL`` selected touches are at or after ``at``. A
``distinct`` value counts when one of its two latest distinct times is in
``[at - horizon, at)``. Pruning is not modelled: compare only reads at ``at >= newest -
horizon // 8``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from riskstream.fraud.features import AggregateSpec, Condition, Measure, Touch, bucket_width
from riskstream.fraud.features.aggregates import TAIL

_OPS = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def passes(conditions: Iterable[Condition], touch: Touch) -> bool:
    for condition in conditions:
        value = getattr(touch, condition.field)
        if value is None:
            return False
        if isinstance(condition.value, bool):
            if value is not condition.value:
                return False
        elif not _OPS[condition.op](value, condition.value):
            return False
    return True


def _usable(value: Any) -> bool:
    return value is not None and (not isinstance(value, float) or math.isfinite(value))


def selected(spec: AggregateSpec, touches: Iterable[Touch]) -> list[Touch]:
    """The touches the spec records: its kinds, its conditions, a usable measured field."""
    chosen = [t for t in touches if t.kind in spec.kinds and passes(spec.where, t)]
    if spec.field is not None:
        chosen = [t for t in chosen if _usable(getattr(t, spec.field))]
    return chosen


def read(spec: AggregateSpec, touches: Iterable[Touch], at: int) -> Any:
    """The spec's value as of ``at`` over ``touches`` (in any order)."""
    chosen = selected(spec, touches)
    horizon = spec.horizon_ms
    if spec.measure is Measure.DISTINCT:
        assert spec.field is not None
        times: dict[Any, set[int]] = defaultdict(set)
        for touch in chosen:
            times[getattr(touch, spec.field)].add(touch.time)
        return sum(
            1 for seen in times.values() if any(at - horizon <= t < at for t in sorted(seen)[-2:])
        )
    width = bucket_width(horizon)
    start = (at - horizon) // width * width
    ordered = sorted(t.time for t in chosen)
    latest_bucketed = ordered[-(TAIL + 1)] if len(ordered) > TAIL else None
    end = at if latest_bucketed is None or latest_bucketed < at else at // width * width
    window = [t for t in chosen if start <= t.time < end]
    return combine(spec, window)


def combine(spec: AggregateSpec, window: list[Touch]) -> Any:
    """The measure over the touches of a window."""
    if spec.measure is Measure.COUNT:
        return len(window)
    if spec.measure is Measure.RATIO:
        numerator, denominator = spec.kinds
        total = sum(1 for t in window if t.kind == denominator)
        hits = sum(1 for t in window if t.kind == numerator)
        return hits / total if total else None
    assert spec.field is not None
    values = [float(getattr(t, spec.field)) for t in window]
    if spec.measure is Measure.SUM:
        return math.fsum(values)
    if not values:
        return None
    if spec.measure is Measure.MEAN:
        return math.fsum(values) / len(values)
    return min(values) if spec.measure is Measure.MIN else max(values)

"""The state of a ``distinct`` feature: the two latest times of each value seen.

The window rule, the saturation and the bounds are those of :mod:`.aggregates`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Final, TypeAlias

import msgspec

from riskstream.fraud.features.buckets import retention_ms
from riskstream.fraud.features.spec import AggregateSpec
from riskstream.fraud.features.touch import TOUCH_FIELDS, Touch

__all__ = ["DISTINCT_LIMIT", "DistinctValues", "compile_distinct"]

#: Most values a ``distinct`` feature keeps.
DISTINCT_LIMIT: Final = 256
_NEVER: Final = -(2**62)


class DistinctValues(msgspec.Struct, array_like=True, gc=False, tag=2):
    """The values of one ``distinct`` feature."""

    sig: int
    """Hash of the feature's definition."""
    newest: int = _NEVER
    """Latest touch time recorded."""
    floor: int = -_NEVER
    """No value's latest time is below this (exact right after a prune)."""
    seen: dict[str, tuple[int, int]] = msgspec.field(default_factory=dict)
    """Value -> its two latest distinct times ``(latest, earlier)``; equal when seen at one
    time only. Numbers are keyed by ``repr(float(value))``."""


_Step: TypeAlias = Callable[[DistinctValues, Touch], None]
_Read: TypeAlias = Callable[[DistinctValues | None, int], int]


def compile_distinct(
    spec: AggregateSpec, sig: int
) -> tuple[Callable[[], DistinctValues], _Step, _Read]:
    """Make a new entry, apply a touch the spec records, read as of a time.

    ``step`` expects a touch the spec records (its kind, its conditions, a usable field).
    """
    horizon = spec.horizon_ms
    keep = retention_ms(horizon)
    get = operator.attrgetter(spec.field or "")
    numeric = spec.field is not None and TOUCH_FIELDS[spec.field] == "number"

    def make() -> DistinctValues:
        return DistinctValues(sig)

    def step(d: DistinctValues, touch: Touch) -> None:
        v = get(touch)  # usable: checked with the conditions
        if numeric:
            v = repr(float(v))
        t = touch.time
        newest = d.newest
        if t > newest:
            d.newest = newest = t
        cutoff = newest - keep
        if t < cutoff:
            return
        seen = d.seen
        old = seen.get(v)
        if old is None:
            if len(seen) >= DISTINCT_LIMIT:
                _make_room(d, cutoff)
            seen[v] = (t, t)
            if t < d.floor:  # noqa: PLR1730 - hot path: a compare beats min()
                d.floor = t
        else:
            latest, earlier = old
            if t > latest:
                seen[v] = (t, latest)
            elif t < latest and (earlier == latest or t > earlier):
                seen[v] = (latest, t)
        if d.floor < cutoff:
            _prune(d, cutoff)

    def read(d: DistinctValues | None, at: int) -> int:
        if d is None:
            return 0
        lo = at - horizon
        if d.newest < at and d.floor >= lo:  # every value's latest sighting is in the window
            return len(d.seen)
        count = 0
        for latest, earlier in d.seen.values():
            if latest < at:
                if latest >= lo:
                    count += 1
            elif lo <= earlier < at:
                count += 1
        return count

    return make, step, read


def _prune(d: DistinctValues, cutoff: int) -> None:
    """Forget values last seen before ``cutoff``; make ``floor`` exact."""
    seen = d.seen
    floor = d.newest
    for value in list(seen):
        latest = seen[value][0]
        if latest < cutoff:
            del seen[value]
        elif latest < floor:
            floor = latest
    d.floor = floor


def _make_room(d: DistinctValues, cutoff: int) -> None:
    """Free a place for a new value: drop expired ones, else the least recently seen."""
    _prune(d, cutoff)
    seen = d.seen
    if len(seen) >= DISTINCT_LIMIT:
        del seen[min(seen, key=lambda value: seen[value][0])]

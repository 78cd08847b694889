"""Per-entity state of the declared aggregates, and its point-in-time evaluation.

::

    aggregates = EntityAggregates.compile(specs.for_entity("device"))   # once
    state = aggregates.new_state()                                      # per device
    aggregates.update(state, touch)                                     # per touch, any order
    aggregates.read(state, at=checkout.time)    # {"device.checkouts_1h": 3, ...}

**Never the future.** ``read(state, at)`` counts only touches with ``time < at`` (strictly
earlier) that are recent enough for the window, whatever the order in which touches
arrived: a touch at ``at`` or later that is already in the state is never counted. To keep
that promise at bucket resolution the state may *under*-count, in the documented cases
below; it never over-counts the future.

**Buckets and tail** (``count``, ``sum``, ``mean``, ``min``, ``max``, ``ratio``). Each
feature keeps its :data:`TAIL` (8) latest touches exactly, as they came, and sums every
older touch into buckets of ``width = max(1 s, horizon // 64)`` ms
(:func:`bucket_width`): bucket ``k`` holds the touches with ``k * width <= time < (k + 1)
* width``, and the feature remembers ``m``, the latest time held in any bucket. A read at
``at`` counts the touches with ``start <= time < at``, where ``start = (at - horizon) //
width * width``: the old edge is rounded *down* to a bucket start, so a window spans from
``horizon`` to ``horizon + width`` (exactly ``horizon`` when ``at - horizon`` is a
multiple of ``width``, e.g. ``at`` on a whole minute and a window of whole minutes of 64 s
or more, or 1m).

The new edge is exact whenever at most 8 of the touches held are at or after ``at``: then
``m < at``, so every bucketed touch is earlier than ``at``, and the tail is filtered touch
by touch. Otherwise (``m >= at``: more than 8 touches at or after ``at`` arrived before
the read) the bucket holding ``at`` is left out whole, under-counting the touches in
``[at // width * width, at)``.

**Distinct.** Per value, the two latest distinct times it was seen; a value counts when
either is in ``[at - horizon, at)`` (exact at both edges). A value whose two latest
sightings are both at or after ``at`` is not counted, even when it was also seen earlier
in the window: under-counted. At most :data:`DISTINCT_LIMIT`
(256) values are kept per feature; a new value beyond that evicts the least recently seen
one, so a feature saturates at 256 (and may under-count when more values than that are
live in its window).

**Null.** ``mean``, ``min``, ``max`` and ``ratio`` with nothing in the window are
``None`` (``ratio`` also when its denominator is 0); ``count``, ``distinct`` are ``0``
and ``sum`` is ``0.0``. Touches whose measured field is ``None`` (or not finite) are
skipped by ``sum``/``mean``/``min``/``max``/``distinct``; ``count`` and ``ratio`` count
touches.

**Bounded.** Each feature forgets what no read near the present can see: buckets and
values older than ``newest - horizon - horizon // 8`` (``newest``: the latest touch time
the feature has seen; :func:`retention_ms`) are pruned on update, and a late touch that
old is ignored. A read up to ``horizon // 8`` behind the newest touch therefore sees its
whole window; an older read may miss old buckets (under-counts). A feature keeps at most
8 tail touches and ~74 buckets, or 256 values.

**Schema changes.** The state is keyed by feature name, each entry tagged with a hash of
its definition. Compiling other specs later keeps the state of every unchanged feature;
a new or redefined feature starts empty, and entries of features no longer declared are
dropped at the next update (reads ignore them at once).

**Cost.** Specs are compiled to closures per touch kind; a touch of a kind no feature of
the entity reads costs one dict lookup. The state is a tree of msgspec structs (no GC
tracking), serialisable with ``msgspec.msgpack`` as :class:`AggregateState`.
"""

from __future__ import annotations

import operator
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from math import inf, isfinite
from typing import Any, Final, TypeAlias

import msgspec

from riskstream.fraud.features.spec import AggregateSpec, Condition, Measure
from riskstream.fraud.features.touch import TOUCH_FIELDS, Touch

__all__ = [
    "BUCKETS_PER_WINDOW",
    "DISTINCT_LIMIT",
    "MIN_BUCKET_MS",
    "TAIL",
    "AggregateState",
    "Buckets",
    "DistinctValues",
    "EntityAggregates",
    "Value",
    "bucket_width",
    "retention_ms",
]

#: A window is cut into this many buckets (fewer for windows under 64 s).
BUCKETS_PER_WINDOW: Final = 64
#: The narrowest bucket: 1 s.
MIN_BUCKET_MS: Final = 1_000
#: Most values a ``distinct`` feature keeps.
DISTINCT_LIMIT: Final = 256
#: Latest touches each bucketed feature keeps exactly, beside its buckets.
TAIL: Final = 8
# Bumped when the layout of an entry changes: old entries then start empty.
_LAYOUT: Final = 2
_NEVER: Final = -(2**62)

_COUNT, _SUM, _MIN, _MAX, _RATIO = range(5)
_MODES: Final = {
    Measure.COUNT: _COUNT,
    Measure.SUM: _SUM,
    Measure.MEAN: _SUM,
    Measure.MIN: _MIN,
    Measure.MAX: _MAX,
    Measure.RATIO: _RATIO,
}
_X0: Final = {
    Measure.SUM: 0.0,
    Measure.MEAN: 0.0,
    Measure.RATIO: 0.0,
    Measure.MIN: inf,
    Measure.MAX: -inf,
}

#: What a feature reads as.
Value: TypeAlias = float | int | None


def bucket_width(horizon_ms: int) -> int:
    """The bucket width of a window: ``max(1 s, horizon // 64)`` ms."""
    return max(MIN_BUCKET_MS, horizon_ms // BUCKETS_PER_WINDOW)


def retention_ms(horizon_ms: int) -> int:
    """How far behind its newest touch a feature keeps state: ``horizon + horizon // 8``."""
    return horizon_ms + horizon_ms // 8


class Buckets(msgspec.Struct, array_like=True, gc=False, tag=1):
    """One ``count``/``sum``/``mean``/``min``/``max``/``ratio`` feature: its latest
    :data:`TAIL` touches as they came, and buckets summing every older one.

    ``keys``/``n``/``x`` are parallel lists, ascending by bucket, and so are ``tt``/``tx``
    by time; ``x`` and ``tx`` are empty for ``count``. Every tail time is at least ``m``.
    """

    sig: int
    """Hash of the feature's definition."""
    m: int = 0
    """Latest touch time held in the buckets (0 while there are none)."""
    keys: list[int] = msgspec.field(default_factory=list)
    """Bucket index: ``time // width``."""
    n: list[int] = msgspec.field(default_factory=list)
    """Touches in the bucket (``ratio``: touches of the denominator kind)."""
    x: list[float] = msgspec.field(default_factory=list)
    """Sum, min or max of the field in the bucket (``ratio``: numerator touches)."""
    tt: list[int] = msgspec.field(default_factory=list)
    """Times of the tail touches, ascending."""
    tx: list[float] = msgspec.field(default_factory=list)
    """Their values (``ratio``: 1.0 a numerator touch, 0.0 a denominator touch)."""


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


Entry: TypeAlias = Buckets | DistinctValues


class AggregateState(msgspec.Struct, array_like=True, gc=False):
    """The aggregates of one entity: an entry per feature name (created on first use)."""

    schema: int = 0
    """Hash of the feature definitions that last wrote it."""
    entries: dict[str, Entry] = msgspec.field(default_factory=dict)


_Predicate: TypeAlias = Callable[[Touch], bool]
_Step: TypeAlias = Callable[[Any, Touch], None]
_Reader: TypeAlias = Callable[[Any, int], Value]
# name, where (or None), new entry, apply a touch
_Update: TypeAlias = tuple[str, _Predicate | None, Callable[[], Entry], _Step]


class EntityAggregates:
    """The declared aggregates of one entity kind, compiled once; stateless itself."""

    __slots__ = ("_kinds", "_plan", "_readers", "_schema", "_sigs", "names")

    names: tuple[str, ...]
    _plan: dict[str, tuple[_Update, ...]]
    _readers: tuple[tuple[str, int, _Reader], ...]
    _sigs: dict[str, int]
    _schema: int
    _kinds: frozenset[str]

    def __init__(self) -> None:
        raise TypeError("build EntityAggregates with EntityAggregates.compile(specs)")

    @classmethod
    def compile(cls, specs: Sequence[AggregateSpec]) -> EntityAggregates:
        """Compile ``specs`` (usually ``FeatureSpecs.for_entity(entity)``)."""
        self = object.__new__(cls)
        names = tuple(s.name for s in specs)
        if len(set(names)) != len(names):
            raise ValueError("feature names must be unique")
        plan: dict[str, list[_Update]] = {}
        readers: list[tuple[str, int, _Reader]] = []
        sigs: dict[str, int] = {}
        for spec in specs:
            sig = zlib.crc32(f"{_LAYOUT}|{spec.expression}".encode())
            make, step, read = _compile(spec, sig)
            where = _predicate(spec)
            for kind in dict.fromkeys(spec.kinds):
                plan.setdefault(kind, []).append((spec.name, where, make, step))
            readers.append((spec.name, sig, read))
            sigs[spec.name] = sig
        self.names = names
        self._plan = {kind: tuple(updates) for kind, updates in plan.items()}
        self._readers = tuple(readers)
        self._sigs = sigs
        self._schema = zlib.crc32(repr(sorted(sigs.items())).encode())
        self._kinds = frozenset(plan)
        return self

    @property
    def kinds(self) -> frozenset[str]:
        """The touch kinds some feature reads; other touches change nothing."""
        return self._kinds

    def new_state(self) -> AggregateState:
        """An empty state."""
        return AggregateState(schema=self._schema)

    def update(self, state: AggregateState, touch: Touch) -> None:
        """Apply one touch to ``state`` (touches may arrive in any order)."""
        plan = self._plan.get(touch.kind)
        if plan is None:
            return
        if state.schema != self._schema:
            self._adopt(state)
        entries = state.entries
        for name, where, make, step in plan:
            if where is not None and not where(touch):
                continue
            entry = entries.get(name)
            if entry is None:
                entry = entries[name] = make()
            step(entry, touch)

    def read(self, state: AggregateState, at: int) -> dict[str, Value]:
        """Every feature's value as of ``at`` (epoch ms), from touches before ``at``."""
        out: dict[str, Value] = {}
        self.read_into(state, at, out)
        return out

    def read_into(self, state: AggregateState, at: int, out: dict[str, Value]) -> None:
        """:meth:`read` into an existing dict (one allocation fewer on the hot path)."""
        entries = state.entries
        if state.schema == self._schema:
            for name, _, reader in self._readers:
                out[name] = reader(entries.get(name), at)
            return
        # written under other definitions: only entries of unchanged features count
        for name, sig, reader in self._readers:
            entry = entries.get(name)
            out[name] = reader(entry if entry is not None and entry.sig == sig else None, at)

    def _adopt(self, state: AggregateState) -> None:
        # Drop the entries of features that are gone or were redefined.
        entries = state.entries
        sigs = self._sigs
        for name in [n for n, e in entries.items() if sigs.get(n) != e.sig]:
            del entries[name]
        state.schema = self._schema

    def __repr__(self) -> str:
        return f"EntityAggregates(names={self.names!r})"


# -- compiling one spec ----------------------------------------------------------------------


def _compile(spec: AggregateSpec, sig: int) -> tuple[Callable[[], Entry], _Step, _Reader]:
    if spec.measure is Measure.DISTINCT:
        return _distinct(spec, sig)
    return _buckets(spec, sig)


_Push: TypeAlias = Callable[[Buckets, int, float], None]
_Add: TypeAlias = Callable[[Buckets, int, float, int], None]


def _buckets(spec: AggregateSpec, sig: int) -> tuple[Callable[[], Entry], _Step, _Reader]:
    measure = spec.measure
    push = _pusher(_adder(measure, spec.horizon_ms), valued=measure is not Measure.COUNT)

    def make() -> Entry:
        return Buckets(sig)

    step: _Step
    if measure is Measure.COUNT:

        def step(b: Buckets, touch: Touch) -> None:
            push(b, touch.time, 0.0)

    elif measure is Measure.RATIO:
        numerator = spec.kinds[0]

        def step(b: Buckets, touch: Touch) -> None:
            push(b, touch.time, 1.0 if touch.kind == numerator else 0.0)

    else:
        get = _getter(spec)

        def step(b: Buckets, touch: Touch) -> None:
            push(b, touch.time, get(touch))  # usable: checked with the conditions

    return make, step, _reader(measure, spec.horizon_ms)


def _pusher(add: _Add, *, valued: bool) -> _Push:
    def push(b: Buckets, t: int, x: float) -> None:
        """Hold the touch in the tail; move the oldest of a full tail into its bucket."""
        tt = b.tt
        if len(tt) >= TAIL:
            if t < tt[0]:  # older than the whole tail: straight into its bucket
                add(b, t, x, tt[-1])
                return
            if t >= tt[-1]:
                tt.append(t)
                if valued:
                    b.tx.append(x)
            else:
                i = bisect_right(tt, t)
                tt.insert(i, t)
                if valued:
                    b.tx.insert(i, x)
            add(b, tt.pop(0), b.tx.pop(0) if valued else 0.0, tt[-1])
        elif not tt or t >= tt[-1]:
            tt.append(t)
            if valued:
                b.tx.append(x)
        else:
            i = bisect_right(tt, t)
            tt.insert(i, t)
            if valued:
                b.tx.insert(i, x)

    return push


def _adder(measure: Measure, horizon: int) -> _Add:
    width = bucket_width(horizon)
    keep = retention_ms(horizon)
    mode = _MODES[measure]
    # a new bucket's x before its first value is combined in; None: no values (count)
    x0 = _X0.get(measure)
    valued = x0 is not None
    blank = x0 if x0 is not None else 0.0

    def add(b: Buckets, t: int, x: float, newest: int) -> None:
        """Combine one touch into its bucket (``newest``: the latest time held)."""
        k = t // width
        cut = (newest - keep) // width
        if k < cut:  # a late touch no kept read can see
            return
        if t > b.m:  # noqa: PLR1730 - hot path: a compare beats max()
            b.m = t
        keys = b.keys
        if keys and keys[-1] == k:  # the usual case: the newest bucket
            i = len(keys) - 1
        elif not keys or keys[-1] < k:
            keys.append(k)
            b.n.append(0)
            if valued:
                b.x.append(blank)
            if keys[0] < cut:  # time moved on: forget what no kept read can see
                j = bisect_left(keys, cut)
                del keys[:j], b.n[:j]
                if valued:
                    del b.x[:j]
            i = len(keys) - 1
        else:
            i = bisect_left(keys, k)
            if keys[i] != k:
                keys.insert(i, k)
                b.n.insert(i, 0)
                if valued:
                    b.x.insert(i, blank)
        if mode == _COUNT:
            b.n[i] += 1
        elif mode == _SUM:
            b.n[i] += 1
            b.x[i] += x
        elif mode == _RATIO:  # x: 1.0 a numerator touch, 0.0 a denominator touch
            if x:
                b.x[i] += 1.0
            else:
                b.n[i] += 1
        else:
            b.n[i] += 1
            if (x < b.x[i]) if mode == _MIN else (x > b.x[i]):
                b.x[i] = x

    return add


def _reader(measure: Measure, horizon: int) -> _Reader:
    """Read the buckets ``keys[lo:hi]`` and tail touches ``tt[i:j]`` a read at ``at`` takes
    (module docstring), then combine them as ``measure`` says."""
    width = bucket_width(horizon)
    mode = _MODES[measure]
    empty: Value = 0 if mode == _COUNT else 0.0 if measure is Measure.SUM else None
    mean = measure is Measure.MEAN
    pick = min if mode == _MIN else max

    def read(b: Buckets | None, at: int) -> Value:
        if b is None:
            return empty
        start = (at - horizon) // width * width
        tt = b.tt  # never empty: an entry is made for a touch
        if tt[-1] < start:  # every touch held is older than the window (buckets <= tail)
            return empty
        j = len(tt) if tt[-1] < at else bisect_left(tt, at)
        i = 0 if tt[0] >= start else bisect_left(tt, start, 0, j)
        keys = b.keys
        lo = hi = 0
        if keys and b.m >= start:  # some bucket may be in the window
            first = start // width
            lo = 0 if keys[0] >= first else bisect_left(keys, first)
            hi = len(keys) if b.m < at else bisect_left(keys, at // width, lo)
        if mode == _COUNT:
            return j - i + sum(b.n[lo:hi]) if hi > lo else j - i
        if mode == _SUM:
            total = sum(b.tx[i:j]) + sum(b.x[lo:hi]) if hi > lo else sum(b.tx[i:j])
            if not mean:
                return float(total)
            count = j - i + sum(b.n[lo:hi]) if hi > lo else j - i
            return total / count if count else None
        if mode == _RATIO:
            hits = sum(b.tx[i:j])
            total = j - i - hits
            if hi > lo:
                hits += sum(b.x[lo:hi])
                total += sum(b.n[lo:hi])
            return hits / total if total else None
        if hi > lo:
            best = pick(b.x[lo:hi])
            return float(pick(best, pick(b.tx[i:j]))) if j > i else float(best)
        return float(pick(b.tx[i:j])) if j > i else None

    return read


def _distinct(spec: AggregateSpec, sig: int) -> tuple[Callable[[], Entry], _Step, _Reader]:
    horizon = spec.horizon_ms
    keep = retention_ms(horizon)
    get = _getter(spec)
    numeric = spec.field is not None and TOUCH_FIELDS[spec.field] == "number"

    def make() -> Entry:
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

    def read(d: DistinctValues | None, at: int) -> Value:
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


# -- reading touches -------------------------------------------------------------------------


def _getter(spec: AggregateSpec) -> Callable[[Touch], Any]:
    if spec.field is None:  # pragma: no cover - the checker requires a field here
        raise ValueError(f"{spec.name}: {spec.measure} needs a field")
    return operator.attrgetter(spec.field)


_OPS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _predicate(spec: AggregateSpec) -> _Predicate | None:
    """The spec records a touch: every condition holds and the measured field is usable
    (set, and finite for a number); ``None`` when every touch of its kinds is recorded."""
    tests = [_test(c) for c in spec.where]
    if spec.field is not None:
        tests.insert(0, _usable(spec.field))
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    checks = tuple(tests)

    def every(touch: Touch) -> bool:
        for test in checks:  # noqa: SIM110 - no generator per touch
            if not test(touch):
                return False
        return True

    return every


def _usable(field: str) -> _Predicate:
    get = operator.attrgetter(field)
    if TOUCH_FIELDS[field] != "number":

        def present(touch: Touch) -> bool:
            return get(touch) is not None

        return present

    def finite(touch: Touch) -> bool:
        v = get(touch)
        return v is not None and isfinite(v)

    return finite


def _test(condition: Condition) -> _Predicate:
    get = operator.attrgetter(condition.field)
    value = condition.value
    if isinstance(value, bool):  # bools are kept as "= true" / "= false"

        def flag(touch: Touch) -> bool:
            return get(touch) is value

        return flag
    op = _OPS[condition.op]

    def compare(touch: Touch) -> bool:
        v = get(touch)
        return v is not None and op(v, value)

    return compare

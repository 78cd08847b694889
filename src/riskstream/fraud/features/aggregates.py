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

**Schema changes.** The state holds one entry per declared feature, by position (no names
stored: they would be most of a small profile's bytes), each tagged with a hash of the
feature's name and definition, and the state with a hash of the whole list. Compiling other
specs later keeps the state of every unchanged feature; a new or redefined feature starts
empty, and entries of features no longer declared are dropped at the next update (reads
ignore them at once).

**Cost.** Specs are compiled to closures per touch kind; a touch of a kind no feature of
the entity reads costs one dict lookup. The state is a tree of msgspec structs (no GC
tracking), serialisable with ``msgspec.msgpack`` as :class:`AggregateState`; its entries
are :class:`~.buckets.Buckets` and :class:`~.distinct.DistinctValues`.
"""

from __future__ import annotations

import operator
import zlib
from collections.abc import Callable, Sequence
from math import isfinite
from typing import Any, Final, TypeAlias

import msgspec

from riskstream.fraud.features.buckets import (
    BUCKETS_PER_WINDOW,
    MIN_BUCKET_MS,
    TAIL,
    Buckets,
    bucket_width,
    compile_buckets,
    retention_ms,
)
from riskstream.fraud.features.distinct import DISTINCT_LIMIT, DistinctValues, compile_distinct
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

# Bumped when the layout of an entry changes: old entries then start empty.
_LAYOUT: Final = 3

#: What a feature reads as.
Value: TypeAlias = float | int | None

Entry: TypeAlias = Buckets | DistinctValues


class AggregateState(msgspec.Struct, array_like=True, gc=False):
    """The aggregates of one entity: an entry per declared feature, in declaration order
    (``None`` until the feature's first touch); no entries at all until some feature records
    a touch (a user who only ever clicks keeps none)."""

    schema: int = 0
    """Hash of the feature definitions that last wrote it (and so of the entries' order)."""
    entries: list[Entry | None] = msgspec.field(default_factory=list)


_Predicate: TypeAlias = Callable[[Touch], bool]
_Step: TypeAlias = Callable[[Any, Touch], None]
_Reader: TypeAlias = Callable[[Any, int], Value]
# position, where (or None), new entry, apply a touch
_Update: TypeAlias = tuple[int, _Predicate | None, Callable[[], Entry], _Step]


class EntityAggregates:
    """The declared aggregates of one entity kind, compiled once; stateless itself."""

    __slots__ = ("_kinds", "_named", "_plan", "_readers", "_schema", "_sigs", "names")

    names: tuple[str, ...]
    _plan: dict[str, tuple[_Update, ...]]
    _readers: tuple[tuple[str, int, _Reader], ...]
    _named: tuple[tuple[str, _Reader], ...]  # the readers without their sig, for the hot loop
    _sigs: tuple[int, ...]
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
        for position, spec in enumerate(specs):
            sig = zlib.crc32(f"{_LAYOUT}|{spec.name}|{spec.expression}".encode())
            make, step, read = _compile(spec, sig)
            where = _predicate(spec)
            for kind in dict.fromkeys(spec.kinds):
                plan.setdefault(kind, []).append((position, where, make, step))
            readers.append((spec.name, sig, read))
        self.names = names
        self._plan = {kind: tuple(updates) for kind, updates in plan.items()}
        self._readers = tuple(readers)
        self._named = tuple((name, read) for name, _, read in readers)
        self._sigs = tuple(sig for _, sig, _ in readers)
        self._schema = zlib.crc32(repr(self._sigs).encode())
        self._kinds = frozenset(plan)
        return self

    @property
    def kinds(self) -> frozenset[str]:
        """The touch kinds some feature reads; other touches change nothing."""
        return self._kinds

    def new_state(self) -> AggregateState:
        """An empty state."""
        return AggregateState(self._schema, [])

    def entry(self, state: AggregateState, name: str) -> Entry | None:
        """The entry of feature ``name`` in ``state`` (``None``: never touched, or written
        under another definition)."""
        position = self.names.index(name)
        if not state.entries:
            return None
        if state.schema == self._schema:
            return state.entries[position]
        return _by_sig(state.entries).get(self._sigs[position])

    def update(self, state: AggregateState, touch: Touch) -> None:
        """Apply one touch to ``state`` (touches may arrive in any order)."""
        plan = self._plan.get(touch.kind)
        if plan is None:
            return
        entries = state.entries
        if state.schema != self._schema or not entries:
            entries = self._adopt(state)
        for position, where, make, step in plan:
            if where is not None and not where(touch):
                continue
            entry = entries[position]
            if entry is None:
                entry = entries[position] = make()
            step(entry, touch)

    def read(self, state: AggregateState, at: int) -> dict[str, Value]:
        """Every feature's value as of ``at`` (epoch ms), from touches before ``at``."""
        out: dict[str, Value] = {}
        self.read_into(state, at, out)
        return out

    def read_into(self, state: AggregateState, at: int, out: dict[str, Value]) -> None:
        """:meth:`read` into an existing dict (one allocation fewer on the hot path)."""
        entries = state.entries
        if not entries:
            for name, reader in self._named:
                out[name] = reader(None, at)
            return
        if state.schema == self._schema:  # one entry per reader, in order
            for (name, reader), entry in zip(self._named, entries):  # noqa: B905 - hot path
                out[name] = reader(entry, at)
            return
        # written under other definitions: only entries of unchanged features count
        old = _by_sig(state.entries)
        for name, sig, reader in self._readers:
            out[name] = reader(old.get(sig), at)

    def _adopt(self, state: AggregateState) -> list[Entry | None]:
        # Keep the entries of unchanged features, in the new order; drop the rest.
        if state.entries:
            old = _by_sig(state.entries)
            entries = [old.get(sig) for sig in self._sigs]
        else:  # the first touch any feature records
            entries = [None] * len(self._sigs)
        state.entries = entries
        state.schema = self._schema
        return entries

    def __repr__(self) -> str:
        return f"EntityAggregates(names={self.names!r})"


def _by_sig(entries: list[Entry | None]) -> dict[int, Entry]:
    return {entry.sig: entry for entry in entries if entry is not None}


# -- compiling one spec ----------------------------------------------------------------------


def _compile(spec: AggregateSpec, sig: int) -> tuple[Callable[[], Entry], _Step, _Reader]:
    if spec.measure is Measure.DISTINCT:
        return compile_distinct(spec, sig)
    return compile_buckets(spec, sig)


# -- reading touches -------------------------------------------------------------------------


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

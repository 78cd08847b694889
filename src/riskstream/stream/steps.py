"""The runtime of each step kind: what a compiled topology node does with a value.

Steps are wired into a push graph: ``push(key, value, event_time)`` does the step's work and
hands results to its children through ``emit`` (bound once the graph is complete, see
:meth:`_Step.seal`). Where a value comes from (its input record or timer) is the task's
current origin, so nothing is allocated per value to carry it. A step that raises names
itself to the task (:meth:`Task.failed`) on the way out, so the dead letter says which step
failed; the happy path pays nothing for that. Stateful steps keep one live object per key (a
logic object or a state value) in a cache, mark changed keys dirty and write them to their
store only at commit - the hot path never serialises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from riskstream.stream.joins.base import Left, Right
from riskstream.stream.logic import Definition, Logic
from riskstream.stream.processor import KeyState, Processor

if TYPE_CHECKING:
    from riskstream.stream.task import Task

__all__ = [
    "FilterStep",
    "JoinSide",
    "MapStep",
    "ProcessStep",
    "Push",
    "RekeyStep",
    "SinkStep",
    "StatefulStep",
    "StepStore",
    "TimerStep",
    "fan_out",
]

Push = Callable[[bytes | None, Any, int], None]
"""``push(key, value, event_time)``: hand one value to a step."""


class StepStore(Protocol):
    """The byte-level key-value store a stateful step keeps its per-key state in."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...

    def items(self) -> Iterator[tuple[bytes, bytes]]: ...


def _drop(key: bytes | None, value: Any, event_time: int) -> None:
    """The children of a step without children."""


def fan_out(children: Sequence[Push]) -> Push:
    """One push function for a fixed list of children: the child itself when there is one,
    the calls spelled out for two or three (no loop per value)."""
    if not children:
        return _drop
    if len(children) == 1:
        return children[0]
    if len(children) == 2:
        first, second = children

        def push_two(key: bytes | None, value: Any, event_time: int) -> None:
            first(key, value, event_time)
            second(key, value, event_time)

        return push_two
    if len(children) == 3:
        one, two, three = children

        def push_three(key: bytes | None, value: Any, event_time: int) -> None:
            one(key, value, event_time)
            two(key, value, event_time)
            three(key, value, event_time)

        return push_three
    fixed = tuple(children)

    def push(key: bytes | None, value: Any, event_time: int) -> None:
        for child in fixed:
            child(key, value, event_time)

    return push


class _Step:
    __slots__ = ("children", "emit", "name", "task")

    def __init__(self, task: Task, name: str) -> None:
        self.task = task
        self.name = name
        self.children: list[Push] = []  # grows while the graph is wired
        self.emit: Push = _drop

    def seal(self) -> None:
        """Bind ``emit`` to the children, once the graph is wired."""
        self.emit = fan_out(self.children)


class MapStep(_Step):
    __slots__ = ("fn",)

    def __init__(self, task: Task, name: str, fn: Callable[[Any], Any]) -> None:
        super().__init__(task, name)
        self.fn = fn

    def push(self, key: bytes | None, value: Any, event_time: int) -> None:
        try:
            mapped = self.fn(value)
        except Exception:
            self.task.failed(self.name)
            raise
        self.emit(key, mapped, event_time)


class FilterStep(_Step):
    __slots__ = ("predicate",)

    def __init__(self, task: Task, name: str, predicate: Callable[[Any], bool]) -> None:
        super().__init__(task, name)
        self.predicate = predicate

    def push(self, key: bytes | None, value: Any, event_time: int) -> None:
        try:
            keep = self.predicate(value)
        except Exception:
            self.task.failed(self.name)
            raise
        if keep:
            self.emit(key, value, event_time)


class SinkStep(_Step):
    __slots__ = ("encode", "key", "topic")

    def __init__(
        self,
        task: Task,
        name: str,
        topic: str,
        encode: Callable[[Any], bytes | None],
        key: Callable[[Any], bytes | None] | None,
    ) -> None:
        super().__init__(task, name)
        self.topic, self.encode, self.key = topic, encode, key

    def push(self, key: bytes | None, value: Any, event_time: int) -> None:
        try:
            if self.key is not None:
                key = self.key(value)
            encoded = self.encode(value)
        except Exception:
            self.task.failed(self.name)
            raise
        self.task.output(self.topic, key, encoded, event_time)


class RekeyStep(_Step):
    """Writes values to the repartition topic under their new key; the task owning that
    key's partition reads them back (:meth:`Task.process`) and continues with this step's
    children."""

    __slots__ = ("decode", "encode", "key", "topic")

    def __init__(
        self,
        task: Task,
        name: str,
        topic: str,
        key: Callable[[Any], bytes],
        encode: Callable[[Any], bytes | None],
        decode: Callable[[bytes | None], Any],
    ) -> None:
        super().__init__(task, name)
        self.topic, self.key, self.encode, self.decode = topic, key, encode, decode

    def push(self, key: bytes | None, value: Any, event_time: int) -> None:
        try:
            new_key, encoded = self.key(value), self.encode(value)
        except Exception:
            self.task.failed(self.name)
            raise
        self.task.output(self.topic, new_key, encoded, event_time)


class StatefulStep(_Step):
    """Runs a definition's per-key logic (windows, velocity, patterns, joins).

    ``_scheduled`` holds, per key, the deadline last put in the task's timer queue while it
    is still pending there: re-registering it each event would only find it queued. Other
    deadlines of the key may be pending too; adding one of them again only adds a timer
    that finds the deadline already handled when it fires, as any outdated timer does.

    Keys whose logic empties (a pattern's or a join's window passed) leave at commit and
    often come back soon. A logic with a ``reset()`` method (back to the state of
    ``definition.build(None)``) is then kept in ``_spare`` and reused for the next new key:
    building a new one each time costs little itself, but its objects outlive the garbage
    collector's young generations, and enough of those make it scan every live object.
    """

    __slots__ = (
        "_decoder",
        "_dirty",
        "_encoder",
        "_logics",
        "_scheduled",
        "_spare",
        "definition",
        "max_live",
        "select",
        "store",
    )

    def __init__(
        self,
        task: Task,
        name: str,
        definition: Definition[Any, Any, Any],
        store: StepStore,
        select: Callable[[Any], Any] | None = None,
        max_live: int = 50_000,
    ) -> None:
        super().__init__(task, name)
        self.definition = definition
        self.select = select
        self.store = store
        # Live logic objects are several times larger than their snapshots: keep at most
        # ``max_live`` of them (the most recently loaded); the rest live in the store.
        self.max_live = max_live
        self._logics: dict[bytes, Logic[Any, Any, Any]] = {}
        self._dirty: set[bytes] = set()
        self._scheduled: dict[bytes, int] = {}
        self._spare: list[Any] = []
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(
            definition.snapshot_type
        )

    def push(self, key: bytes | None, value: Any, event_time: int) -> None:
        k = key or b""
        try:
            if self.select is not None:
                value = self.select(value)
            logic = self._logics.get(k)
            if logic is None:
                logic = self._load(k)
            outputs = logic.on_event(event_time, value)
        except Exception:
            self.task.failed(self.name)
            raise
        self._dirty.add(k)
        if outputs:
            emit = self.emit
            for output in outputs:
                emit(key, output, event_time)
        deadline = logic.next_deadline()
        if deadline is not None and self._scheduled.get(k) != deadline:
            self._schedule(k, deadline)

    def push_side(self, key: bytes | None, value: Any, event_time: int, left: bool) -> None:
        """A join input's value, straight to ``on_left``/``on_right`` (no side wrapper)."""
        k = key or b""
        try:
            logic: Any = self._logics.get(k)
            if logic is None:
                logic = self._load(k)
            if left:
                outputs = logic.on_left(event_time, value)
            else:
                outputs = logic.on_right(event_time, value)
        except Exception:
            self.task.failed(self.name)
            raise
        self._dirty.add(k)
        if outputs:
            emit = self.emit
            for output in outputs:
                emit(key, output, event_time)
        deadline = logic.next_deadline()
        if deadline is not None and self._scheduled.get(k) != deadline:
            self._schedule(k, deadline)

    def on_timer(self, key: bytes, at: int, watermark: int) -> None:
        """The watermark reached a deadline of this key (``at``)."""
        if self._scheduled.get(key) == at:
            del self._scheduled[key]  # it just left the queue
        logic = self._logics.get(key)
        if logic is None:
            if self.store.get(key) is None:
                return  # the key emptied and left: a new logic has no deadline
            logic = self._load(key)
        deadline = logic.next_deadline()
        if deadline is None or deadline > watermark:
            return  # a stale timer: the deadline moved on since it was set
        outputs = logic.on_watermark(watermark)
        self._dirty.add(key)
        if outputs:
            emit, out_key = self.emit, key or None
            for output in outputs:
                emit(out_key, output, watermark)
        deadline = logic.next_deadline()
        if deadline is not None and self._scheduled.get(key) != deadline:
            self._schedule(key, deadline)

    def _schedule(self, key: bytes, deadline: int) -> None:
        self._scheduled[key] = deadline
        self.task.timers.push(deadline, (self.name, key))

    def _load(self, key: bytes) -> Logic[Any, Any, Any]:
        raw = self.store.get(key)
        if raw is not None:
            logic = self.definition.build(self._decoder.decode(raw))
        elif self._spare:
            logic = self._spare.pop()
        else:
            logic = self.definition.build(None)
        self._logics[key] = logic
        return logic

    def logic(self, key: bytes) -> Logic[Any, Any, Any] | None:
        """The live logic of a key, if it has state (for tests and queries)."""
        if key in self._logics:
            return self._logics[key]
        return None if self.store.get(key) is None else self._load(key)

    def flush(self) -> int:
        """Write dirty keys' snapshots to the store; empty logic leaves it."""
        encode = self._encoder.encode
        logics, store, spare = self._logics, self.store, self._spare
        for key in self._dirty:
            logic = logics[key]
            if logic.is_empty():
                # Most keys empty out between two commits (a pattern's or a join's window
                # passed) and were never stored: no tombstone for them. The read is a cache
                # hit - loading the key read it.
                if store.get(key) is not None:
                    store.delete(key)
                del logics[key]
                reset = getattr(logic, "reset", None)
                if reset is not None and len(spare) < _MAX_SPARE:
                    reset()
                    spare.append(logic)
            else:
                store.put(key, encode(logic.snapshot()))
        flushed = len(self._dirty)
        self._dirty.clear()
        excess = len(logics) - self.max_live
        if excess > 0:
            # Everything is clean after a flush; drop the oldest-loaded logics.
            for key in list(logics)[:excess]:
                del logics[key]
        return flushed

    def restore_timers(self) -> None:
        """Re-register every stored key's deadline (after a restore)."""
        for key, raw in self.store.items():
            logic = self.definition.build(self._decoder.decode(raw))
            if len(self._logics) < self.max_live:
                self._logics[key] = logic
            deadline = logic.next_deadline()
            if deadline is not None and self._scheduled.get(key) != deadline:
                self._schedule(key, deadline)


class JoinSide:
    """One input of a join: feeds the join's logic that side's values.

    With the standard wrappers (``Left``/``Right``) it calls the logic's ``on_left`` or
    ``on_right`` directly, which behaves as ``on_event`` of the wrapped value (see
    :mod:`riskstream.stream.joins.base`) without building the wrapper.
    """

    __slots__ = ("push", "step", "wrap")

    def __init__(self, step: StatefulStep, wrap: Callable[[Any], Any]) -> None:
        self.step, self.wrap = step, wrap
        self.push: Push = self._wrapped
        if wrap is Left or wrap is Right:
            probe = step.definition.build(None)
            if callable(getattr(probe, "on_left", None)) and callable(
                getattr(probe, "on_right", None)
            ):
                self.push = self._left if wrap is Left else self._right

    def _wrapped(self, key: bytes | None, value: Any, event_time: int) -> None:
        try:
            wrapped = self.wrap(value)
        except Exception:
            self.step.task.failed(self.step.name)
            raise
        self.step.push(key, wrapped, event_time)

    def _left(self, key: bytes | None, value: Any, event_time: int) -> None:
        self.step.push_side(key, value, event_time, True)

    def _right(self, key: bytes | None, value: Any, event_time: int) -> None:
        self.step.push_side(key, value, event_time, False)


class ProcessStep(_Step):
    """Runs a custom processor with one state value per key.

    Its timers live in a second store (``timer_store``) so they survive restarts: one entry
    per timer, keyed ``kind + deadline + key`` (kind ``e`` event time, ``p`` processing time).
    """

    __slots__ = (
        "_bind",
        "_decoder",
        "_dirty",
        "_encoder",
        "_timer_changes",
        "_values",
        "max_live",
        "processor",
        "store",
        "timer_store",
    )

    def __init__(
        self,
        task: Task,
        name: str,
        processor: Processor,
        store: StepStore,
        state_type: Any,
        timer_store: StepStore,
        max_live: int = 2_500,
    ) -> None:
        super().__init__(task, name)
        self.processor = processor
        # Values stay in memory after use, up to ``max_live`` of them (the most recently
        # loaded): a worker holding millions of profiles keeps the rest in its store. Live
        # profiles take ~9x their stored size, so the bound is what keeps a worker's memory
        # flat; a miss costs one SQLite read and one msgpack decode. The bound is per step
        # and per task: a worker of 8 tasks and 3 such steps keeps up to 60,000 live values
        # (at 10,000 the fraud worker's heap was ~390 MiB larger, for no measurable gain).
        self.max_live = max_live
        self.store = store
        self.timer_store = timer_store
        self._timer_changes: dict[bytes, bool] = {}  # timer entry -> set (True) or done (False)
        self._values: dict[bytes, Any] = {}
        self._dirty: set[bytes] = set()
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(state_type)
        self._bind = task.bind_context  # the task's context, made this step's current call

    def push(self, key: bytes | None, value: Any, event_time: int) -> None:
        task = self.task
        k = key or b""
        values = self._values
        try:
            item = task.item(key, value, event_time)
            current = values.get(k, _UNLOADED)
            state: KeyState[Any] = KeyState(self._load(k) if current is _UNLOADED else current)
            self.processor.process(item, state, self._bind(self, item))
        except Exception:
            task.failed(self.name)
            raise
        # The fields, not ``changed``/``get()``: two calls fewer per value.
        if state._changed:
            values[k] = state._value
            self._dirty.add(k)

    def schedule(self, key: bytes, at: int, *, processing_time: bool) -> None:
        self._timer_changes[_timer_entry(key, at, processing_time=processing_time)] = True

    def on_timer(self, key: bytes, at: int, watermark: int) -> None:
        """An event-time timer of this key is due."""
        self.fire(key, at)

    def fire(self, key: bytes, at: int, *, processing_time: bool = False) -> None:
        self._timer_changes[_timer_entry(key, at, processing_time=processing_time)] = False
        state: KeyState[Any] = KeyState(self._value(key))
        item = self.task.item(key or None, None, at)
        self.processor.on_timer(at, state, self.task.context(self, item))
        if state.changed:
            self._values[key] = state.get()
            self._dirty.add(key)

    def _value(self, key: bytes) -> Any:
        value = self._values.get(key, _UNLOADED)
        return self._load(key) if value is _UNLOADED else value

    def _load(self, key: bytes) -> Any:
        """Read a key's value from the store into the live values (``None``: no state)."""
        raw = self.store.get(key)
        value = None if raw is None else self._decoder.decode(raw)
        self._values[key] = value
        return value

    def value(self, key: bytes) -> Any:
        return self._value(key)

    def flush(self) -> int:
        encode = self._encoder.encode
        for key in self._dirty:
            value = self._values[key]
            if value is None:
                self.store.delete(key)
                del self._values[key]
            else:
                self.store.put(key, encode(value))
        for entry, active in self._timer_changes.items():
            if active:
                self.timer_store.put(entry, b"")
            else:
                self.timer_store.delete(entry)
        self._timer_changes.clear()
        flushed = len(self._dirty)
        self._dirty.clear()
        values = self._values
        excess = len(values) - self.max_live
        if excess > 0:
            # Everything is clean after a flush; drop the oldest-loaded values.
            for key in list(values)[:excess]:
                del values[key]
        return flushed

    def stored_timers(self) -> Iterator[tuple[bytes, int, bool]]:
        """Every persisted timer as ``(key, deadline, processing_time)``."""
        for entry, _ in self.timer_store.items():
            yield entry[9:], int.from_bytes(entry[1:9], "big") - _TIME_OFFSET, entry[:1] == b"p"


_MAX_SPARE = 4_096  # reset logics kept per step for reuse
_UNLOADED: Any = object()  # a key whose value is not live (``None`` is a live "no state")

TimerStep = StatefulStep | ProcessStep
"""The steps that own event-time timers in the task's queue."""

_TIME_OFFSET = 1 << 63  # shifts signed deadlines so their big-endian bytes sort in time order


def _timer_entry(key: bytes, at: int, *, processing_time: bool) -> bytes:
    kind = b"p" if processing_time else b"e"
    return kind + (at + _TIME_OFFSET).to_bytes(8, "big") + key

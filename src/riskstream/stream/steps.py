"""The runtime of each step kind: what a compiled topology node does with an item.

Steps are wired into a push graph: ``push(item)`` does the step's work and hands results to
``children``. Stateful steps keep one live object per key (a logic object or a state value)
in a cache, mark changed keys dirty and write them to their store only at commit — the hot
path never serialises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from riskstream.stream.item import Item
from riskstream.stream.logic import Definition, Logic
from riskstream.stream.processor import KeyState, Processor

if TYPE_CHECKING:
    from riskstream.stream.task import Task

__all__ = [
    "FilterStep",
    "MapStep",
    "ProcessStep",
    "Push",
    "RekeyStep",
    "SinkStep",
    "StatefulStep",
    "StepStore",
]

Push = Callable[[Item], None]


class StepStore(Protocol):
    """The byte-level key-value store a stateful step keeps its per-key state in."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...

    def items(self) -> Iterator[tuple[bytes, bytes]]: ...


class _Step:
    __slots__ = ("children", "name", "task")

    def __init__(self, task: Task, name: str) -> None:
        self.task = task
        self.name = name
        self.children: list[Push] = []

    def forward(self, item: Item) -> None:
        for child in self.children:
            child(item)


class MapStep(_Step):
    __slots__ = ("fn",)

    def __init__(self, task: Task, name: str, fn: Callable[[Any], Any]) -> None:
        super().__init__(task, name)
        self.fn = fn

    def push(self, item: Item) -> None:
        self.task.step = self.name
        self.forward(item.derive(self.fn(item.value)))


class FilterStep(_Step):
    __slots__ = ("predicate",)

    def __init__(self, task: Task, name: str, predicate: Callable[[Any], bool]) -> None:
        super().__init__(task, name)
        self.predicate = predicate

    def push(self, item: Item) -> None:
        self.task.step = self.name
        if self.predicate(item.value):
            self.forward(item)


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

    def push(self, item: Item) -> None:
        self.task.step = self.name
        key = item.key if self.key is None else self.key(item.value)
        self.task.output(self.topic, key, self.encode(item.value), item.event_time)


class RekeyStep(_Step):
    """Writes items to the repartition topic under their new key; the task owning that key's
    partition reads them back (:meth:`Task.process`) and continues with this step's children."""

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

    def push(self, item: Item) -> None:
        self.task.step = self.name
        self.task.output(self.topic, self.key(item.value), self.encode(item.value), item.event_time)


class StatefulStep(_Step):
    """Runs a definition's per-key logic (windows, velocity, patterns, joins)."""

    __slots__ = (
        "_decoder",
        "_dirty",
        "_encoder",
        "_logics",
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
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(
            definition.snapshot_type
        )

    def push(self, item: Item) -> None:
        self.task.step = self.name
        value = item.value if self.select is None else self.select(item.value)
        self.push_value(item, value)

    def push_value(self, item: Item, value: Any) -> None:
        key = item.key or b""
        logic = self._logics.get(key)
        if logic is None:
            logic = self._load(key)
        outputs = logic.on_event(item.event_time, value)
        self._dirty.add(key)
        for output in outputs:
            self.forward(item.derive(output))
        self._schedule(key, logic)

    def fire(self, key: bytes, watermark: int) -> None:
        """The watermark reached this key's deadline."""
        logic = self._logics.get(key)
        if logic is None:
            logic = self._load(key)
        deadline = logic.next_deadline()
        if deadline is None or deadline > watermark:
            return  # a stale timer: the deadline moved on since it was set
        outputs = logic.on_watermark(watermark)
        self._dirty.add(key)
        if outputs:
            item = Item(key or None, None, watermark, self.name, self.task.partition, -1)
            for output in outputs:
                self.forward(item.derive(output))
        self._schedule(key, logic)

    def _schedule(self, key: bytes, logic: Logic[Any, Any, Any]) -> None:
        deadline = logic.next_deadline()
        if deadline is not None:
            self.task.timers.add(deadline, (self.name, key))

    def _load(self, key: bytes) -> Logic[Any, Any, Any]:
        raw = self.store.get(key)
        logic = self.definition.build(None if raw is None else self._decoder.decode(raw))
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
        for key in self._dirty:
            logic = self._logics[key]
            if logic.is_empty():
                self.store.delete(key)
                del self._logics[key]
            else:
                self.store.put(key, encode(logic.snapshot()))
        flushed = len(self._dirty)
        self._dirty.clear()
        excess = len(self._logics) - self.max_live
        if excess > 0:
            # Everything is clean after a flush; drop the oldest-loaded logics.
            for key in list(self._logics)[:excess]:
                del self._logics[key]
        return flushed

    def restore_timers(self) -> None:
        """Re-register every stored key's deadline (after a restore)."""
        for key, raw in self.store.items():
            logic = self.definition.build(self._decoder.decode(raw))
            if len(self._logics) < self.max_live:
                self._logics[key] = logic
            self._schedule(key, logic)


class JoinSide:
    """One input of a join: wraps values with their side and feeds the join's logic."""

    __slots__ = ("step", "wrap")

    def __init__(self, step: StatefulStep, wrap: Callable[[Any], Any]) -> None:
        self.step, self.wrap = step, wrap

    def push(self, item: Item) -> None:
        self.step.task.step = self.step.name
        self.step.push_value(item, self.wrap(item.value))


class ProcessStep(_Step):
    """Runs a custom processor with one state value per key.

    Its timers live in a second store (``timer_store``) so they survive restarts: one entry
    per timer, keyed ``kind + deadline + key`` (kind ``e`` event time, ``p`` processing time).
    """

    __slots__ = (
        "_decoder",
        "_dirty",
        "_encoder",
        "_timer_changes",
        "_values",
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
    ) -> None:
        super().__init__(task, name)
        self.processor = processor
        self.store = store
        self.timer_store = timer_store
        self._timer_changes: dict[bytes, bool] = {}  # timer entry -> set (True) or done (False)
        self._values: dict[bytes, Any] = {}
        self._dirty: set[bytes] = set()
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(state_type)

    def push(self, item: Item) -> None:
        self.task.step = self.name
        key = item.key or b""
        state: KeyState[Any] = KeyState(self._value(key))
        self.processor.process(item, state, self.task.context(self, item))
        if state.changed:
            self._values[key] = state.get()
            self._dirty.add(key)

    def schedule(self, key: bytes, at: int, *, processing_time: bool) -> None:
        self._timer_changes[_timer_entry(key, at, processing_time=processing_time)] = True

    def fire(self, key: bytes, at: int, *, processing_time: bool = False) -> None:
        self._timer_changes[_timer_entry(key, at, processing_time=processing_time)] = False
        state: KeyState[Any] = KeyState(self._value(key))
        item = Item(key or None, None, at, self.name, self.task.partition, -1)
        self.processor.on_timer(at, state, self.task.context(self, item))
        if state.changed:
            self._values[key] = state.get()
            self._dirty.add(key)

    def _value(self, key: bytes) -> Any:
        if key in self._values:
            return self._values[key]
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
        return flushed

    def stored_timers(self) -> Iterator[tuple[bytes, int, bool]]:
        """Every persisted timer as ``(key, deadline, processing_time)``."""
        for entry, _ in self.timer_store.items():
            yield entry[9:], int.from_bytes(entry[1:9], "big") - _TIME_OFFSET, entry[:1] == b"p"


_TIME_OFFSET = 1 << 63  # shifts signed deadlines so their big-endian bytes sort in time order


def _timer_entry(key: bytes, at: int, *, processing_time: bool) -> bytes:
    kind = b"p" if processing_time else b"e"
    return kind + (at + _TIME_OFFSET).to_bytes(8, "big") + key

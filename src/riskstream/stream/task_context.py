"""The context a custom processor receives: who it is processing, and what it may do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from riskstream.log.records import Headers, Record
from riskstream.stream.eventtime import TimerQueue
from riskstream.stream.item import Item

if TYPE_CHECKING:
    from riskstream.stream.steps import ProcessStep
    from riskstream.stream.task import Task

__all__ = ["DeferredForward", "TaskContext"]


class TaskContext:
    """One per task, rebound to the current step and item before each call (no allocation)."""

    __slots__ = ("_item", "_processing_timers", "_step", "_task")

    def __init__(self, task: Task) -> None:
        self._task = task
        self._step: ProcessStep | None = None
        self._item: Item | None = None
        self._processing_timers: TimerQueue[tuple[ProcessStep, bytes]] = TimerQueue()

    def bind(self, step: ProcessStep, item: Item) -> TaskContext:
        """Make ``step`` processing ``item`` the current call; returns the context."""
        self._step, self._item = step, item
        return self

    def _current(self) -> Item:
        if self._item is None:
            raise RuntimeError("the context is only valid inside a processor call")
        return self._item

    def _current_step(self) -> ProcessStep:
        if self._step is None:
            raise RuntimeError("the context is only valid inside a processor call")
        return self._step

    @property
    def key(self) -> bytes | None:
        return self._current().key

    @property
    def event_time(self) -> int:
        return self._current().event_time

    @property
    def watermark(self) -> int:
        return self._task.watermark

    @property
    def partition(self) -> int:
        return self._task.partition

    @property
    def offset(self) -> int:
        return self._current().offset

    def now(self) -> int:
        return self._task.clock()

    def forward(
        self, value: Any, *, key: bytes | None = None, event_time: int | None = None
    ) -> None:
        item = self._current()
        self._current_step().emit(
            item.key if key is None else key,
            value,
            item.event_time if event_time is None else event_time,
        )

    def later(self) -> DeferredForward:
        """A handle to forward values of the current record from ``end_batch``."""
        origin = self._task._origin
        if not isinstance(origin, Record):
            raise RuntimeError("only the processing of an input record can defer outputs")
        return DeferredForward(self._task, self._current_step(), self._current().key, origin)

    def emit(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers = ()
    ) -> None:
        self._task.output(topic, key, value, self._current().event_time, headers)

    def schedule(self, at: int, *, processing_time: bool = False) -> None:
        step = self._current_step()
        key = self._current().key or b""
        step.schedule(key, at, processing_time=processing_time)
        self.add_timer(step, key, at, processing_time=processing_time)

    def add_timer(self, step: ProcessStep, key: bytes, at: int, *, processing_time: bool) -> None:
        if processing_time:
            self._processing_timers.add(at, (step, key))
        else:
            self._task.timers.add(at, (step.name, key))

    def fire_processing_timers(self, now_ms: int) -> None:
        for at, (step, key) in self._processing_timers.due(now_ms):
            # The timer is the origin of what it emits, as event-time timers are.
            self._task.begin_timer(step.name, key, at)
            step.fire(key, at, processing_time=True)


class DeferredForward:
    """Forwards values of one input record after the rest of its batch was processed (see
    :meth:`TaskContext.later`); their ids are as deterministic as immediate outputs'."""

    __slots__ = ("_key", "_origin", "_step", "_task")

    def __init__(self, task: Task, step: ProcessStep, key: bytes | None, origin: Record) -> None:
        self._task, self._step, self._key, self._origin = task, step, key, origin

    def now(self) -> int:
        return self._task.clock()

    def forward(self, value: Any, *, event_time: int) -> None:
        """Forward one value (call once per handle: each call starts the ids afresh)."""
        self._task.resume(self._origin)
        self._step.emit(self._key, value, event_time)

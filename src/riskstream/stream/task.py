"""A task: one partition of a topology, compiled to a push graph of steps.

The task decodes input records, drops late ones to the late topic with the reason, pushes
the rest through the steps, tracks the watermark and fires per-key deadlines as it passes
them. Everything the task wants written (outputs, repartitioned items, late records, dead
letters) collects in :attr:`Task.outputs` with a deterministic id; the runner (or the test
driver) produces them and commits. Bad input never raises out of :meth:`Task.process`: a
record that fails to decode or whose processing raises goes to ``dlq.<topic>``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from riskstream.errors import EventDecodeError
from riskstream.log.deadletter import dead_letter_headers, dlq_topic
from riskstream.log.records import Headers, Record
from riskstream.stream.eventtime import TimerQueue, WatermarkTracker
from riskstream.stream.item import Item
from riskstream.stream.output import OUTPUT_ID_HEADER, Output
from riskstream.stream.steps import (
    FilterStep,
    JoinSide,
    MapStep,
    ProcessStep,
    Push,
    RekeyStep,
    SinkStep,
    StatefulStep,
    StepStore,
)
from riskstream.stream.task_context import TaskContext
from riskstream.stream.topology import (
    FilterNode,
    JoinNode,
    MapNode,
    ProcessNode,
    RekeyNode,
    SinkNode,
    SourceNode,
    StatefulNode,
    Topology,
)

__all__ = ["Task"]

logger = logging.getLogger(__name__)

Clock = Callable[[], int]
StoreFactory = Callable[[str], StepStore]


class _Entry:
    """How records of one input topic enter the graph."""

    __slots__ = ("decode", "event_time", "push")

    def __init__(
        self,
        decode: Callable[[bytes | None], Any] | None,
        event_time: Callable[[Any], int] | None,
        push: Push,
    ) -> None:
        self.decode, self.event_time, self.push = decode, event_time, push


class Task:
    """Processes the records of one partition of every input topic of a topology."""

    def __init__(
        self, topology: Topology, partition: int, *, stores: StoreFactory, clock: Clock
    ) -> None:
        self.topology = topology
        self.partition = partition
        self.clock = clock
        self.outputs: list[Output] = []
        self.timers: TimerQueue[tuple[str, bytes]] = TimerQueue()
        self.step = ""  # the step running now, named in dead letters
        self.late_count = 0
        self.dead_letter_count = 0
        self.suppress: set[bytes] = set()  # ids already written before a crash (see dedup.py)
        self._watermarks = WatermarkTracker(
            allowed_lateness_ms=topology.allowed_lateness_ms,
            idle_timeout_ms=topology.idle_timeout_ms,
        )
        self._origin = ""
        self._seq = 0
        self._context = TaskContext(self)
        self._entries: dict[str, _Entry] = {}
        self.stateful: dict[str, StatefulStep] = {}
        self.processes: dict[str, ProcessStep] = {}
        self._compile(stores)
        now = clock()
        for topic in self._entries:
            self._watermarks.register(topic, now)

    # -- compiling --------------------------------------------------------------------------

    def _compile(self, stores: StoreFactory) -> None:
        pushes: dict[str, list[Push]] = {}  # step name -> its children's push functions
        built: dict[str, Any] = {}
        for node in self.topology.nodes.values():
            if isinstance(node, SourceNode):
                children = pushes.setdefault(node.name, [])
                for topic in node.topics:
                    decode = (
                        node.decode.get(topic) if isinstance(node.decode, Mapping) else node.decode
                    )
                    self._entries[topic] = _Entry(decode, node.event_time, _fan_out(children))
                continue
            step = self._build(node, stores)
            built[node.name] = step
            pushes[node.name] = step.children
            if isinstance(node, JoinNode):
                pushes[node.left].append(JoinSide(step, node.wrap_left).push)
                pushes[node.right].append(JoinSide(step, node.wrap_right).push)
            else:
                pushes[node.parent].append(step.push)
            if isinstance(node, RekeyNode):
                # Records read back from the repartition topic continue after the rekey step.
                self._entries[self.topology.repartition_topic(node.name)] = _Entry(
                    node.decode, None, _fan_out(pushes.setdefault(f"{node.name}#out", []))
                )
                pushes[node.name] = pushes[f"{node.name}#out"]

    def _build(self, node: Any, stores: StoreFactory) -> Any:
        if isinstance(node, MapNode):
            return MapStep(self, node.name, node.fn)
        if isinstance(node, FilterNode):
            return FilterStep(self, node.name, node.predicate)
        if isinstance(node, SinkNode):
            return SinkStep(self, node.name, node.topic, node.encode, node.key)
        if isinstance(node, RekeyNode):
            topic = self.topology.repartition_topic(node.name)
            return RekeyStep(self, node.name, topic, node.key, node.encode, node.decode)
        if isinstance(node, StatefulNode | JoinNode):
            select = node.select if isinstance(node, StatefulNode) else None
            step = StatefulStep(self, node.name, node.definition, stores(node.name), select)
            self.stateful[node.name] = step
            return step
        if isinstance(node, ProcessNode):
            timers = stores(f"{node.name}.timers")
            process = ProcessStep(
                self, node.name, node.processor, stores(node.name), node.state_type, timers
            )
            self.processes[node.name] = process
            return process
        raise TypeError(f"unknown topology node {node!r}")

    # -- processing -------------------------------------------------------------------------

    @property
    def watermark(self) -> int:
        return self._watermarks.watermark

    def process(self, records: Iterable[Record]) -> None:
        """Push a batch of input records through the graph."""
        for record in records:
            self._process(record)

    def _process(self, record: Record) -> None:
        entry = self._entries.get(record.topic)
        if entry is None:
            self.dead_letter(
                record, LookupError(f"topic {record.topic!r} is not an input of this task")
            )
            return
        self._origin = f"{record.topic}/{record.partition}/{record.offset}"
        self._seq = 0
        mark = len(self.outputs)
        self.step = "decode"
        try:
            value = record.value if entry.decode is None else entry.decode(record.value)
            event_time = record.timestamp if entry.event_time is None else entry.event_time(value)
        except EventDecodeError as exc:
            self.dead_letter(record, exc.located(record.topic, record.partition, record.offset))
            return
        except Exception as exc:
            self.dead_letter(record, exc)
            return
        if self._watermarks.is_late(event_time):
            self._late(record, event_time)
            return
        try:
            entry.push(
                Item(
                    record.key,
                    value,
                    event_time,
                    record.topic,
                    record.partition,
                    record.offset,
                    record.headers,
                )
            )
        except Exception as exc:
            del self.outputs[mark:]
            logger.warning("step %r failed on %s: %r", self.step, self._origin, exc)
            self.dead_letter(record, exc)
            return
        before = self._watermarks.watermark
        if self._watermarks.observe(record.topic, event_time, self.clock()) > before:
            self._fire(self._watermarks.watermark)

    def advance(self) -> None:
        """Let processing time move the watermark of idle inputs, and fire what is due."""
        before = self._watermarks.watermark
        if self._watermarks.advance(self.clock()) > before:
            self._fire(self._watermarks.watermark)
        self._context.fire_processing_timers(self.clock())

    def _fire(self, watermark: int) -> None:
        for at, (step_name, key) in self.timers.due(watermark):
            self._origin = f"timer/{self.partition}/{step_name}/{key.hex()}/{at}"
            self._seq = 0
            self.step = step_name
            try:
                stateful = self.stateful.get(step_name)
                if stateful is not None:
                    stateful.fire(key, watermark)
                else:
                    self.processes[step_name].fire(key, at)
            except Exception as exc:
                logger.warning("timer of step %r for key %r failed: %r", step_name, key, exc)
                self.dead_letter_count += 1

    # -- outputs ----------------------------------------------------------------------------

    def output(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        timestamp: int,
        headers: Headers = (),
    ) -> None:
        """Queue a record with the next deterministic id of the current input."""
        self._seq += 1
        ident = f"{self._origin}/{self._seq}".encode()
        if self.suppress and ident in self.suppress:
            self.suppress.discard(ident)
            return
        self.outputs.append(
            Output(topic, key, value, timestamp, (*headers, (OUTPUT_ID_HEADER, ident)))
        )

    def _late(self, record: Record, event_time: int) -> None:
        self.late_count += 1
        watermark = self._watermarks.watermark
        reason = (
            f"event time {event_time} is behind the watermark {watermark} "
            f"(allowed lateness {self.topology.allowed_lateness_ms} ms)"
        )
        headers = (
            *record.headers,
            ("late.reason", reason.encode()),
            ("late.event_time", str(event_time).encode()),
            ("late.watermark", str(watermark).encode()),
            ("late.topic", record.topic.encode()),
            ("late.partition", str(record.partition).encode()),
            ("late.offset", str(record.offset).encode()),
        )
        self.output(self.topology.late_topic, record.key, record.value, record.timestamp, headers)

    def dead_letter(self, record: Record, error: BaseException) -> None:
        self.dead_letter_count += 1
        self._origin = f"{record.topic}/{record.partition}/{record.offset}"
        self._seq = 0
        headers = dead_letter_headers(
            record, error, step=self.step or "decode", now_ms=self.clock()
        )
        self.output(dlq_topic(record.topic), record.key, record.value, record.timestamp, headers)

    def context(self, step: ProcessStep, item: Item) -> TaskContext:
        self._context.bind(step, item)
        return self._context

    # -- state ------------------------------------------------------------------------------

    def flush_state(self) -> int:
        """Write every changed key of every step to its store; returns how many."""
        flushed = sum(step.flush() for step in self.stateful.values())
        return flushed + sum(step.flush() for step in self.processes.values())

    def restore_timers(self) -> None:
        """Re-register the deadlines of stored state, after a restore."""
        for step in self.stateful.values():
            step.restore_timers()
        for process in self.processes.values():
            for key, at, processing_time in process.stored_timers():
                self._context.add_timer(process.name, key, at, processing_time=processing_time)

    def watermark_state(self) -> dict[str, int]:
        return self._watermarks.state()

    def restore_watermarks(self, max_times: dict[str, int]) -> None:
        self._watermarks.restore(max_times, self.clock())


def _fan_out(children: list[Push]) -> Push:
    """One push function for a list that may still grow while the graph is wired."""

    def push(item: Item) -> None:
        for child in children:
            child(item)

    return push

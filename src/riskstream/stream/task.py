"""A task: one partition of a topology, compiled to a push graph of steps.

The task decodes input records, drops late ones to the late topic with the reason, pushes
the rest through the steps, tracks the watermark and fires per-key deadlines as it passes
them. Everything the task wants written (outputs, repartitioned items, late records, dead
letters) collects in :attr:`Task.outputs` with a deterministic id; the runner (or the test
driver) produces them and commits. Bad input never raises out of :meth:`Task.process`: a
record that fails to decode or whose processing raises goes to ``dlq.<topic>``.

Values travel the graph as ``(key, value, event_time)``; what they derive from - the input
record, or the timer that fired - is the task's *origin*, which names output ids
(``<topic>/<partition>/<offset>/<n>`` or ``timer/<partition>/<step>/<key hex>/<at>/<n>``) and
the items custom processors receive. Processing time is read once per batch: it only
decides which inputs count as idle, at a granularity of seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from riskstream.errors import EventDecodeError
from riskstream.log.deadletter import dead_letter_headers
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
    TimerStep,
    fan_out,
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
Decode = Callable[[bytes | None], Any]
EventTime = Callable[[Any], int]

# How records of one input topic enter the graph: decode, event time, and the push into it.
_Entry = tuple[Decode | None, EventTime | None, Push]


class _Deferred:
    """The origin of outputs a processor deferred to the end of the batch."""

    __slots__ = ("record",)

    def __init__(self, record: Record) -> None:
        self.record = record


# What the current values derive from: an input record, a timer (step, key, deadline), or
# a record whose outputs were deferred to the end of its batch.
_Origin = Record | tuple[str, bytes, int] | _Deferred | None


class Task:
    """Processes the records of one partition of every input topic of a topology."""

    __slots__ = (
        "_batch_ends",
        "_context",
        "_entries",
        "_origin",
        "_prefix",
        "_prefix_of",
        "_seq",
        "_timed",
        "_watermarks",
        "clock",
        "dead_letter_count",
        "late_count",
        "outputs",
        "partition",
        "processes",
        "stateful",
        "step",
        "suppress",
        "timers",
        "topology",
    )

    def __init__(
        self, topology: Topology, partition: int, *, stores: StoreFactory, clock: Clock
    ) -> None:
        self.topology = topology
        self.partition = partition
        self.clock = clock
        self.outputs: list[Output] = []
        # Owners are (step name, key): tuples of atomic values, which the garbage collector
        # stops tracking, so thousands of pending timers cost it nothing.
        self.timers: TimerQueue[tuple[str, bytes]] = TimerQueue()
        # The step that failed on the current record, named in its dead letter; empty
        # otherwise (reset after each use).
        self.step = ""
        self.late_count = 0
        self.dead_letter_count = 0
        self.suppress: set[bytes] = set()  # ids already written before a crash (see dedup.py)
        self._watermarks = WatermarkTracker(
            allowed_lateness_ms=topology.allowed_lateness_ms,
            idle_timeout_ms=topology.idle_timeout_ms,
        )
        self._origin: _Origin = None
        # The id prefix of the origin ``_prefix_of``, made at its first output, and how many
        # outputs that origin has had.
        self._prefix = ""
        self._prefix_of: _Origin | bool = False
        self._seq = 0
        self._context = TaskContext(self)
        self._entries: dict[str, _Entry] = {}
        self.stateful: dict[str, StatefulStep] = {}
        self.processes: dict[str, ProcessStep] = {}
        self._timed: dict[str, TimerStep] = {}  # the steps timers can belong to, by name
        self._compile(stores)
        self._timed = {**self.stateful, **self.processes}
        # Processors that finish work at the end of each batch (e.g. score it in one call).
        self._batch_ends = [
            step for step in self.processes.values() if hasattr(step.processor, "end_batch")
        ]
        now = clock()
        for topic in self._entries:
            self._watermarks.register(topic, now)

    # -- compiling --------------------------------------------------------------------------

    def _compile(self, stores: StoreFactory) -> None:
        pushes: dict[str, list[Push]] = {}  # step name -> its children's push functions
        sources: list[tuple[str, Decode | None, EventTime | None, list[Push]]] = []
        steps: list[Any] = []
        for node in self.topology.nodes.values():
            if isinstance(node, SourceNode):
                children = pushes.setdefault(node.name, [])
                for topic in node.topics:
                    decode = (
                        node.decode.get(topic) if isinstance(node.decode, Mapping) else node.decode
                    )
                    sources.append((topic, decode, node.event_time, children))
                continue
            step = self._build(node, stores)
            steps.append(step)
            pushes[node.name] = step.children
            if isinstance(node, JoinNode):
                pushes[node.left].append(JoinSide(step, node.wrap_left).push)
                pushes[node.right].append(JoinSide(step, node.wrap_right).push)
            else:
                pushes[node.parent].append(step.push)
            if isinstance(node, RekeyNode):
                # Records read back from the repartition topic continue after the rekey step.
                children = pushes.setdefault(f"{node.name}#out", [])
                topic = self.topology.repartition_topic(node.name)
                sources.append((topic, node.decode, None, children))
                pushes[node.name] = children
        # The graph is complete: bind each step and entry to its children once.
        for step in steps:
            step.seal()
        for topic, decode, event_time, children in sources:
            self._entries[topic] = (decode, event_time, fan_out(children))

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
        entries = self._entries
        outputs = self.outputs
        tracker = self._watermarks
        observe = tracker.observe
        due = self.timers.any_due
        watermark = tracker.watermark
        now = self.clock()
        self.step = ""
        for record in records:
            self._origin = record
            self._prefix_of = False  # ids restart at each record, even one seen before
            topic = record.topic
            entry = entries.get(topic)
            if entry is None:
                error = LookupError(f"topic {topic!r} is not an input of this task")
                self.dead_letter(record, error)
                continue
            decode, event_time_of, push = entry
            try:
                value = record.value if decode is None else decode(record.value)
                event_time = record.timestamp if event_time_of is None else event_time_of(value)
            except EventDecodeError as exc:
                self.dead_letter(record, exc.located(topic, record.partition, record.offset))
                continue
            except Exception as exc:
                self.dead_letter(record, exc)
                continue
            if event_time < watermark:
                self._late(record, event_time)
                continue
            mark = len(outputs)
            try:
                push(record.key, value, event_time)
            except Exception as exc:
                del outputs[mark:]
                where = f"{topic}/{record.partition}/{record.offset}"
                logger.warning("step %r failed on %s: %r", self.step, where, exc)
                self.dead_letter(record, exc)
                continue
            if observe(topic, event_time, now) > watermark:
                watermark = tracker.watermark
                if due(watermark):
                    self._fire(watermark)
        for step in self._batch_ends:
            self._end_batch(step)

    def _end_batch(self, step: ProcessStep) -> None:
        try:
            step.processor.end_batch()  # type: ignore[attr-defined] # checked at compile
        except Exception as exc:  # what was deferred is lost, as a failed timer's output is
            logger.warning("end of batch of step %r failed: %r", step.name, exc)
            self.dead_letter_count += 1
        self.step = ""

    def resume(self, origin: Record) -> None:
        """Make ``origin``, a record of the current batch, the origin of outputs deferred to
        the batch's end. Their ids - ``<topic>/<partition>/<offset>/d<n>`` - are apart from
        the ones the record's processing gave, and as deterministic."""
        self._origin = _Deferred(origin)
        self._prefix_of = False

    def failed(self, step: str) -> None:
        """A step raised on the current record: the innermost one is named in its dead letter."""
        if not self.step:
            self.step = step

    def advance(self) -> None:
        """Let processing time move the watermark of idle inputs, and fire what is due."""
        before = self._watermarks.watermark
        if self._watermarks.advance(self.clock()) > before:
            self._fire(self._watermarks.watermark)
        self._context.fire_processing_timers(self.clock())

    def _fire(self, watermark: int) -> None:
        timed = self._timed
        for at, (name, key) in self.timers.due(watermark):
            self.begin_timer(name, key, at)
            try:
                timed[name].on_timer(key, at, watermark)
            except Exception as exc:
                logger.warning("timer of step %r for key %r failed: %r", name, key, exc)
                self.dead_letter_count += 1
                self.step = ""

    def begin_timer(self, step: str, key: bytes, at: int) -> None:
        """Make a timer of ``step`` for ``key`` due at ``at`` the origin of what follows."""
        self._origin = (step, key, at)
        self._prefix_of = False

    # -- outputs ----------------------------------------------------------------------------

    def output(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        timestamp: int,
        headers: Headers = (),
    ) -> None:
        """Queue a record with the next deterministic id of the current origin."""
        if self._prefix_of is self._origin:
            prefix, seq = self._prefix, self._seq + 1
        else:  # the origin's first output
            prefix, seq = self._origin_prefix(), 1
            self._prefix, self._prefix_of = prefix, self._origin
        self._seq = seq
        ident = (prefix + str(seq)).encode()
        if self.suppress and ident in self.suppress:
            self.suppress.discard(ident)
            return
        tag = (OUTPUT_ID_HEADER, ident)
        self.outputs.append(
            Output(topic, key, value, timestamp, (*headers, tag) if headers else (tag,))
        )

    def _origin_prefix(self) -> str:
        origin = self._origin
        if isinstance(origin, Record):
            return f"{origin.topic}/{origin.partition}/{origin.offset}/"
        if origin is None:
            return "/"
        if isinstance(origin, _Deferred):
            record = origin.record
            return f"{record.topic}/{record.partition}/{record.offset}/d"
        step, key, at = origin
        return f"timer/{self.partition}/{step}/{key.hex()}/{at}/"

    def item(self, key: bytes | None, value: Any, event_time: int) -> Item:
        """A value as an :class:`Item` of the current origin (for custom processors)."""
        origin = self._origin
        if type(origin) is Record:  # the common case first: an input record
            return Item(
                key,
                value,
                event_time,
                origin.topic,
                origin.partition,
                origin.offset,
                origin.headers,
            )
        if isinstance(origin, _Deferred):
            origin = origin.record
        if isinstance(origin, Record):
            return Item(
                key,
                value,
                event_time,
                origin.topic,
                origin.partition,
                origin.offset,
                origin.headers,
            )
        return Item(key, value, event_time, "" if origin is None else origin[0], self.partition, -1)

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
        self._origin = record
        self._prefix_of = False  # ids restart: a dead letter replaces the record's outputs
        headers = dead_letter_headers(
            record, error, step=self.step or "decode", now_ms=self.clock()
        )
        self.step = ""
        self.output(
            self.topology.dlq_topic(record.topic),
            record.key,
            record.value,
            record.timestamp,
            headers,
        )

    def context(self, step: ProcessStep, item: Item) -> TaskContext:
        return self._context.bind(step, item)

    @property
    def bind_context(self) -> Callable[[ProcessStep, Item], TaskContext]:
        """:meth:`context` without the extra call, for steps to keep."""
        return self._context.bind

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
                self._context.add_timer(process, key, at, processing_time=processing_time)

    def watermark_state(self) -> dict[str, int]:
        return self._watermarks.state()

    def restore_watermarks(self, max_times: dict[str, int]) -> None:
        self._watermarks.restore(max_times, self.clock())

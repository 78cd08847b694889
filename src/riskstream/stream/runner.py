"""Run a topology over an event log in this process: poll, process, produce, commit.

The runner is a member of the consumer group ``group_id`` (default: the application name)
for the topology's input topics; each assigned partition number gets a :class:`Task` and one
state store (:class:`~riskstream.state.SqliteStore`, changelogged). The cycle:

1. poll a batch, hand each partition's records to its task (decode in the task, in bulk);
2. produce the tasks' outputs at once (they carry deterministic ids); under ``low_latency``
   on a log that stores records itself (embedded, memory), repartition records for this
   worker's own tasks are handed to them as soon as they are written, and processed in the
   same cycle (see :mod:`riskstream.stream.handoff`);
3. every ``commit_interval_ms``: wait for the outputs' acknowledgements, write the tasks'
   changed state, and commit state + input offsets + output end offsets in one store
   transaction (its changelog marker carries them too); then commit the group offsets.

Two delivery modes, each in its own module: ``low_latency`` (the default, outputs leave at
once, see :mod:`riskstream.stream.low_latency`) and ``exactly_once`` (one Kafka transaction
per commit interval, see :mod:`riskstream.stream.exactly_once`).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Literal

from riskstream.errors import RiskstreamError
from riskstream.log.port import EventLog, Producer
from riskstream.log.records import Record, TopicPartition, TopicSpec
from riskstream.log.transactions import TransactionalProducer, transactional
from riskstream.state import SqliteStore, changelog_topic, ensure_changelog
from riskstream.state.protocol import RestoreStats
from riskstream.stream.backpressure import hold_back
from riskstream.stream.exactly_once import TransactionalCommits, worker_id
from riskstream.stream.handoff import LocalHandoff
from riskstream.stream.lag import LagMonitor
from riskstream.stream.low_latency import LowLatencyCommits
from riskstream.stream.metrics import RunnerMetrics
from riskstream.stream.output import Output
from riskstream.stream.output_ends import OutputEnds
from riskstream.stream.output_producer import OutputProducer
from riskstream.stream.standby import StandbyReplicas
from riskstream.stream.task import Task
from riskstream.stream.task_store import PrefixedStore
from riskstream.stream.task_unit import RunnerCheckpoint, TaskUnit
from riskstream.stream.topology import Topology

__all__ = ["Delivery", "Runner", "RunnerCheckpoint", "worker_id"]

logger = logging.getLogger(__name__)

_STORE = "state"  # one store per task; steps keep their keys under their own prefix
_EAGER_POLL_S = 0.002  # poll timeout right after a cycle that wrote internal records
_MAX_HOPS = 8  # hand-over rounds per cycle: a deeper topology goes on in the next cycle
# Every commit writes the task's state file. With SqliteStore(write_every=5) a SIGKILL
# restart test once repeated timer outputs under load; until that is explained, keep 1.
_STATE_FILE_WRITES = 1

_time_ns = time.time_ns


def _wall_clock_ms() -> int:
    return _time_ns() // 1_000_000


Delivery = Literal["low_latency", "exactly_once"]
DEFAULT_COMMIT_INTERVAL_MS: dict[Delivery, int] = {"low_latency": 1_000, "exactly_once": 100}


class Runner:
    """Runs every task of a topology assigned to this process.

    ``delivery`` picks the guarantee (see the module docstring); ``commit_interval_ms``
    defaults to 1 s for ``low_latency`` and 100 ms for ``exactly_once``, whose outputs wait
    for it. ``max_buffered`` bounds the records an input partition may have waiting for the
    task's other inputs before it is paused. ``standbys`` is how many other tasks' state
    this worker keeps warm for a failover (see :mod:`riskstream.stream.standby`).
    ``metrics`` (default: a new :class:`RunnerMetrics` for the application) receives counts
    once per batch and per commit; serve them with ``runner.metrics.serve(port)``.
    """

    def __init__(
        self,
        topology: Topology,
        log: EventLog,
        *,
        state_dir: Path | str,
        group_id: str | None = None,
        delivery: Delivery = "low_latency",
        commit_interval_ms: int | None = None,
        max_batch: int = 10_000,
        max_buffered: int = 50_000,
        session_timeout_ms: int = 10_000,
        clock: Callable[[], int] | None = None,
        metrics: RunnerMetrics | None = None,
        standbys: int = 0,
    ) -> None:
        self.topology = topology
        self.log = log
        self.state_dir = Path(state_dir)
        self.group_id = group_id or topology.application
        self.delivery: Delivery = delivery
        self.commit_interval_ms = commit_interval_ms or DEFAULT_COMMIT_INTERVAL_MS[delivery]
        self.max_batch = max_batch
        self.max_buffered = max_buffered
        self._holding = False  # some input partition is paused by back-pressure
        self._internal = bool(topology.repartition_topics())
        self._eager = False  # the last cycle produced: poll again without waiting
        self.clock = clock or _wall_clock_ms
        self.metrics = metrics if metrics is not None else RunnerMetrics(topology.application)
        self.units: dict[int, TaskUnit] = {}
        self.restores: dict[int, RestoreStats] = {}  # each task's last restore
        self.processed = 0
        transactions: TransactionalProducer | None = None
        if delivery == "exactly_once":
            transactions = transactional(log).transactional_producer(
                f"{self.group_id}-{worker_id(self.state_dir)}", linger_ms=1
            )
            self._producer: Producer = transactions
        else:
            self._producer = log.producer(linger_ms=1)
        self.session_timeout_ms = session_timeout_ms
        self._consumer = log.consumer(self.group_id, session_timeout_ms=session_timeout_ms)
        self._last_cycle = time.monotonic()
        self._ends = OutputEnds(log)
        self._out = OutputProducer(self._producer, self._ends)
        self._lag = LagMonitor(log, self.metrics, interval_s=self.metrics.lag_interval_s)
        # Never assigned, so it never fetches: on Kafka, an offset query from a fetching
        # consumer waits behind its long-poll fetch (~500 ms), from this one it takes ~0.5 ms.
        self._lag_probe = log.consumer()
        self._last_commit = 0.0
        # Repartition records for our own tasks skip the read (low_latency; set at start).
        self._handoff: LocalHandoff | None = None
        self.standbys = standbys
        self._standby: StandbyReplicas | None = None
        self._commits: LowLatencyCommits | TransactionalCommits
        if transactions is not None:
            self._commits = TransactionalCommits(
                transactions,
                self._out,
                self._consumer,
                self.metrics,
                produce=self._produce,
                observe=self._observe_progress,
                restart=self._restart_tasks,
            )
        else:
            self._commits = LowLatencyCommits(
                self._out,
                self._consumer,
                self.metrics,
                produce=self._produce,
                observe=self._observe_progress,
                restart=self._restart_tasks,
            )

    # -- set-up -----------------------------------------------------------------------------

    @property
    def state_store_name(self) -> str:
        return f"{self.topology.application}-{_STORE}"

    @property
    def changelog(self) -> str:
        return changelog_topic(self.topology.application, _STORE)

    def start(self) -> None:
        """Create the internal and output topics, then join the group."""
        inputs = self.topology.input_topics()
        internal = self.topology.repartition_topics()
        # Repartition topics are created here, with the sources' partition count.
        sources = [topic for topic in inputs if topic not in internal]
        described = self.log.admin.describe_topics(sources)
        partitions = max((spec.partitions for spec in described.values()), default=1)
        outputs = [*self.topology.output_topics(), self.topology.late_topic]
        outputs += [self.topology.dlq_topic(topic) for topic in inputs]
        specs = [TopicSpec(name=name, partitions=partitions) for name in {*internal, *outputs}]
        self.log.admin.create_topics(specs, exist_ok=True)
        if internal and self.delivery == "low_latency" and self._out.batch is not None:
            counts = self.log.admin.describe_topics(internal)
            self._handoff = LocalHandoff(
                {topic: spec.partitions for topic, spec in counts.items()},
                self.units,
                self._consumer,
            )
        ensure_changelog(self.log.admin, self.topology.application, _STORE, partitions)
        self._ends.watch_all({*internal, *outputs}, partitions)
        if self.standbys > 0:
            self._standby = StandbyReplicas(
                self.log,
                changelog=self.changelog,
                partitions=partitions,
                count=self.standbys,
                open_store=self._open_store,
            )
            self._standby.start()
        self._lag.start()
        self._consumer.subscribe(inputs, on_assign=self._assigned, on_revoke=self._revoked)

    def _open_store(self, number: int) -> SqliteStore:
        return SqliteStore(
            self.state_store_name,
            number,
            changelog=self.changelog,
            directory=self.state_dir,
            write_every=_STATE_FILE_WRITES,
        )

    def _assigned(self, partitions: list[TopicPartition]) -> None:
        if partitions:
            self.metrics.rebalanced("assigned")
        gained = {tp.partition for tp in partitions}
        if isinstance(self._commits, LowLatencyCommits):
            self._commits.suspect = False  # a fresh assignment: we are a member
        if self._standby is not None:
            self._standby.own(set(self.units) | gained)  # their files are ours from here
        for number in sorted(gained):
            if number not in self.units:
                self.units[number] = self._open_unit(number)
        for tp in partitions:
            unit = self.units[tp.partition]
            offset = unit.positions.get(tp)
            if offset is not None:
                self._consumer.seek(tp, offset)
            self._track(unit, tp, offset)

    def _track(self, unit: TaskUnit, tp: TopicPartition, offset: int | None) -> None:
        """Have the unit's buffer track a repartition input we hand records to, from
        ``offset`` (``None``: where the consumer starts)."""
        if self._handoff is None or tp.topic not in self._handoff.counts:
            return
        if offset is None:
            try:
                offset = self._consumer.position(tp)
            except RiskstreamError:
                offset = None  # the consumer's first record of it tells
        unit.buffer.track(tp, offset)

    def _open_unit(self, number: int, *, repair: bool = True) -> TaskUnit:
        store = self._open_store(number)
        progress = self.metrics.restore_progress(number)
        stats = store.restore(self.log, on_progress=progress, repair=repair)
        self.metrics.restored(number, stats.seconds)
        self.restores[number] = stats
        logger.info(
            "task %s[%d] restored %d changelog records in %.3fs",
            self.topology.application,
            number,
            stats.records,
            stats.seconds,
        )
        task = Task(
            self.topology,
            number,
            stores=lambda step: PrefixedStore(store, step),
            clock=self.clock,
        )
        unit = TaskUnit(task, store)
        transactional = isinstance(self._commits, TransactionalCommits)
        unit.resume(self.log, self._ends.partitions, transactional=transactional)
        return unit

    def _revoked(self, partitions: list[TopicPartition]) -> None:
        numbers = {tp.partition for tp in partitions}
        held = set(self._consumer.assignment())
        # Lost (the group moved on without us, e.g. after a long pause): another worker may
        # own them already, so nothing of theirs may be committed any more.
        lost = {tp.partition for tp in partitions if tp not in held}
        if partitions:
            self.metrics.rebalanced("lost" if lost else "revoked")
        if lost and isinstance(self._commits, TransactionalCommits):
            self._restart_tasks(lost)
        elif numbers - lost:
            self.commit(only=numbers - lost)
        self._lag.forget(set(partitions), numbers)
        if self._handoff is not None:
            self._handoff.forget(numbers)
        for number in numbers:
            unit = self.units.pop(number, None)
            if unit is not None:
                unit.store.close()
        if self._standby is not None and numbers:
            self._standby.own(set(self.units))

    # -- the loop ---------------------------------------------------------------------------

    def poll_once(self, timeout: float = 0.1) -> int:
        """One cycle: poll, process, produce, and commit when the interval has passed."""
        self._check_pause()
        if self._eager:
            # The last cycle wrote repartition records this runner may own: fetch them at
            # once instead of idling, so each hop costs a cycle, not a poll timeout.
            timeout = min(timeout, _EAGER_POLL_S)
        records = self._consumer.poll(max_records=self.max_batch, timeout=timeout)
        began = time.perf_counter()
        first_input_ms = 0
        if records:
            self.metrics.records_in(records)
            by_partition: dict[int, list[Record]] = defaultdict(list)
            for record in records:
                by_partition[record.partition].append(record)
            for number, batch in by_partition.items():
                self.units[number].buffer.add(batch)
            # The batch's longest-waiting input (first in its partition), for the latency.
            first_input_ms = min(batch[0].timestamp for batch in by_partition.values())
        self._process_buffered()
        if records or self._holding:
            self._holding = hold_back(self._consumer, self.units.values(), self.max_buffered)
        for unit in self.units.values():
            unit.task.advance()
        produced = self._produce_all()
        handoff = self._handoff
        if handoff is not None:
            produced += self._hops(handoff)
        self._out.producer.poll(0)  # delivery reports, once per cycle
        # Repartition records this runner may own but did not hand over: fetch them soon.
        self._eager = produced > 0 and self._internal
        if handoff is not None:
            self._eager = self._eager and handoff.missed
            handoff.missed = False
        if records:
            self.metrics.batch_processed(time.perf_counter() - began)
            if produced:
                self.metrics.end_to_end(first_input_ms)
        commits = self._commits
        if isinstance(commits, LowLatencyCommits) and commits.sealed is not None:
            commits.complete(self.units, wait=False)
        if (time.monotonic() - self._last_commit) * 1000 >= self.commit_interval_ms:
            self.commit(wait=False)
        return len(records)

    def _hops(self, handoff: LocalHandoff) -> int:
        """Process what was handed over and produce its outputs, hop after hop; returns
        how many records the hops produced."""
        produced = 0
        for _ in range(_MAX_HOPS):
            handed = handoff.handed
            if not handed:
                break
            handoff.handed = []
            self.metrics.records_in(handed)
            self._process_buffered()
            produced += self._produce_all()
        return produced

    def _at_end(self) -> frozenset[TopicPartition]:
        """The inputs at their end: as the consumer saw them at its last poll, and our
        repartition partitions whose tasks have all we wrote to them."""
        at_end = self._consumer.at_end()
        if self._handoff is not None:
            return at_end | self._handoff.at_end()
        return at_end

    def _process_buffered(self) -> None:
        """Give each task the records it can take in timestamp order."""
        at_end = self._at_end()
        inputs: dict[int, list[TopicPartition]] = defaultdict(list)
        for tp in self._consumer.assignment():
            inputs[tp.partition].append(tp)
        for number, unit in self.units.items():
            batch = unit.buffer.release(inputs[number], at_end)
            if batch:
                unit.process(batch)
                self.processed += len(batch)

    def _check_pause(self) -> None:
        """After a pause near the session timeout (a long stall, a stopped process) the group
        may have given our partitions to another worker without our knowing yet: in
        ``low_latency`` mode, the next commit first makes sure we are still a member.
        (``exactly_once`` needs no check: its transaction fails on a stale group epoch.)"""
        now = time.monotonic()
        paused_ms = (now - self._last_cycle) * 1000
        self._last_cycle = now
        commits = self._commits
        if (
            paused_ms >= self.session_timeout_ms / 2
            and isinstance(commits, LowLatencyCommits)
            and self.units
        ):
            logger.info("a %.0f ms pause: membership is checked before the next commit", paused_ms)
            commits.suspect = True

    def _produce_all(self) -> int:
        """Produce every unit's pending outputs at once (one batch per topic where the log
        writes batches); returns how many."""
        outputs: list[Output] = []
        for unit in self.units.values():
            task = unit.task
            if task.outputs:
                outputs += task.outputs
                task.outputs = []
            if len(task.suppress) != unit.suppressing:
                self.metrics.suppressed(unit.suppressing - len(task.suppress))
                unit.suppressing = len(task.suppress)
        if outputs:
            if isinstance(self._commits, TransactionalCommits):
                self._commits.begin()
            self._out.send(outputs, self._handoff)
            self.metrics.records_out(outputs, self.topology.late_topic)
        return len(outputs)

    def _produce(self, unit: TaskUnit) -> int:
        """Produce the unit's pending outputs; returns how many."""
        task = unit.task
        outputs, task.outputs = task.outputs, []
        if outputs and isinstance(self._commits, TransactionalCommits):
            self._commits.begin()
        self._out.send(outputs, self._handoff)
        if outputs:
            self.metrics.records_out(outputs, self.topology.late_topic)
        if len(task.suppress) != unit.suppressing:
            self.metrics.suppressed(unit.suppressing - len(task.suppress))
            unit.suppressing = len(task.suppress)
        return len(outputs)

    def caught_up(self) -> bool:
        """True when every assigned input partition was read to its end at the last poll."""
        held = self._consumer.assignment()
        buffered = any(len(unit.buffer) for unit in self.units.values())
        return bool(held) and set(held) <= self._at_end() and not buffered

    def run(self, stop: Callable[[], bool], *, idle_timeout: float = 0.1) -> None:
        """Cycle until ``stop()`` is true, then commit."""
        while not stop():
            self.poll_once(idle_timeout)
        self.commit()

    # -- committing -------------------------------------------------------------------------

    def commit(self, only: set[int] | None = None, *, wait: bool = True) -> None:
        """Make everything processed so far durable: outputs, state and offsets.

        ``only`` limits a ``low_latency`` commit to some tasks (a revocation); a transaction
        holds every task's outputs, so ``exactly_once`` always commits them all. With
        ``wait=False`` (the loop's own commits, ``low_latency``), the commit is sealed now
        and completes in a later cycle, once the log acknowledged what it depends on."""
        self._last_commit = time.monotonic()
        if isinstance(self._commits, TransactionalCommits):
            self._commits.commit(self.units, revoking=only is not None)
        else:
            self._commits.commit(self.units, only, wait=wait)

    def _restart_tasks(self, lost: Collection[int] = ()) -> None:
        """Drop every task's uncommitted work (under ``exactly_once``: abort the open
        transaction) and start the tasks still held, but not ``lost``, from their commit."""
        if isinstance(self._commits, TransactionalCommits):
            self._commits.abort()
        else:
            # The restarted tasks look for their outputs in the log: let them all land.
            self._out.flush()
        if self._handoff is not None:
            self._handoff.forget(set(self.units))
        if lost:
            logger.warning("tasks %s lost: transaction aborted, the others restart", sorted(lost))
        for unit in self.units.values():
            unit.store.close()  # uncommitted changes go with it
        self.units.clear()
        kept = [tp for tp in self._consumer.assignment() if tp.partition not in lost]
        for number in sorted({tp.partition for tp in kept}):
            # No repair: if we were fenced, a changelog tail is the new owner's flush.
            self.units[number] = self._open_unit(number, repair=False)
        for tp in kept:
            # Rewind what was read past the commit; never committed: from the earliest.
            unit = self.units[tp.partition]
            position = unit.positions.get(tp)
            if position is None:
                position = self._lag_probe.watermarks(tp)[0]
            self._consumer.seek(tp, position)
            self._track(unit, tp, position)

    def _observe_progress(self, units: dict[int, TaskUnit], now: bool = False) -> None:
        """Hand the lag monitor the units' positions (``now``: and set the gauges at once,
        for a commit someone waits for) and, now and then, sample their state sizes."""
        positions = {
            tp: units[tp.partition].positions.get(tp)
            for tp in self._consumer.assignment()
            if tp.partition in units
        }
        self._lag.show(positions)
        if now:
            self._lag.sample({tp: self._lag_probe.watermarks(tp) for tp in positions})
        if self.metrics.state_size_due():
            for number, unit in units.items():
                self.metrics.state_size(number, unit.store.approximate_size())

    def close(self) -> None:
        """Commit, leave the group and release the stores."""
        try:
            self.commit()
        finally:
            self._consumer.close()
            self._ends.close()
            self._lag.stop()
            self._lag_probe.close()
            self._producer.close()
            for unit in self.units.values():
                unit.store.close()
            self.units.clear()
            if self._standby is not None:
                self._standby.stop()

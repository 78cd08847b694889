"""Run a topology over an event log in this process: poll, process, produce, commit.

The runner is a member of the consumer group ``group_id`` (default: the application name)
for the topology's input topics; each assigned partition number gets a :class:`Task` and one
state store (:class:`~riskstream.state.SqliteStore`, changelogged). The cycle:

1. poll a batch, hand each partition's records to its task (decode in the task, in bulk);
2. produce the task's outputs at once (they carry deterministic ids);
3. every ``commit_interval_ms``: wait for the outputs' acknowledgements, write the tasks'
   changed state, and commit state + input offsets + output end offsets in one store
   transaction (its changelog marker carries them too); then commit the group offsets.

Two delivery modes:

* ``low_latency`` (the default): outputs leave at once. After a crash, a task restores its
  store, resumes from the input offsets committed *with its state*, and skips the outputs that
  were already written after that commit (found by their ids, see
  :mod:`riskstream.stream.dedup`): each input yields its outputs once and the state equals
  that of an uninterrupted run. Readers still deduplicate by id, for the window between a
  crash and the restarted task's scan.
* ``exactly_once``: one Kafka transaction per commit interval (EOS v2) holds the outputs, the
  changelog writes and the group offsets; ``read_committed`` readers see each output once,
  with no deduplication, but only when its transaction commits.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import msgspec

from riskstream.errors import CommitFailedError, ProduceError, TransactionAbortedError
from riskstream.log.deadletter import dlq_topic
from riskstream.log.port import EventLog, Producer
from riskstream.log.records import DeliveryReport, Record, TopicPartition, TopicSpec
from riskstream.log.transactions import TransactionalProducer, transactional
from riskstream.state import SqliteStore, changelog_topic, ensure_changelog
from riskstream.state.protocol import RestoreStats
from riskstream.stream.dedup import still_to_replay, written_since
from riskstream.stream.epochs import OutputEpoch
from riskstream.stream.lag import LagMonitor
from riskstream.stream.metrics import RunnerMetrics
from riskstream.stream.ordering import TimeOrderedBuffer
from riskstream.stream.standby import StandbyReplicas
from riskstream.stream.task import Task
from riskstream.stream.task_store import PrefixedStore
from riskstream.stream.topology import Topology

__all__ = ["Delivery", "Runner", "RunnerCheckpoint", "worker_id"]

logger = logging.getLogger(__name__)

_META_KEY = "runner"
_STORE = "state"  # one store per task; steps keep their keys under their own prefix
_WORKER_ID_FILE = "worker-id"
# How often the end offsets of output partitions this worker does not write are re-read: a
# stale end only makes a restarted task scan further back for its own outputs.
_REPROBE_S = 30.0
# How often the loop's own commits also commit the group's offsets (see Runner._complete).
_GROUP_COMMIT_S = 5.0

Delivery = Literal["low_latency", "exactly_once"]
DEFAULT_COMMIT_INTERVAL_MS: dict[Delivery, int] = {"low_latency": 1_000, "exactly_once": 100}


def worker_id(state_dir: Path) -> str:
    """This state directory's stable worker id (made once). A restarted worker keeps its
    transactional id, so its first transaction fences and aborts its predecessor's."""
    path = state_dir / _WORKER_ID_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        state_dir.mkdir(parents=True, exist_ok=True)
        made = uuid.uuid4().hex[:12]
        path.write_text(made + "\n")
        return made


class RunnerCheckpoint(msgspec.Struct, kw_only=True):
    """What a task commits with its state: where it is in its inputs and outputs."""

    inputs: dict[str, int] = msgspec.field(default_factory=dict)  # "topic:partition" -> next offset
    outputs: dict[str, int] = msgspec.field(default_factory=dict)  # "topic:partition" -> end offset
    watermarks: dict[str, int] = msgspec.field(default_factory=dict)


def _tp_name(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


def _tp_parse(name: str) -> TopicPartition:
    topic, _, partition = name.rpartition(":")
    return TopicPartition(topic, int(partition))


class _Unit:
    """A task with its store and its progress.

    ``replay_from`` holds the output offsets the task's duplicate scan started from; while
    the task is still replaying past outputs (its ``suppress`` set is not empty), its
    checkpoints keep them, so a crash during the replay scans the same outputs again.
    """

    __slots__ = (
        "buffer",
        "positions",
        "replay_from",
        "replay_until",
        "store",
        "suppressing",
        "task",
    )

    def __init__(self, task: Task, store: SqliteStore) -> None:
        self.task = task
        self.store = store
        self.positions: dict[TopicPartition, int] = {}
        self.replay_from: dict[str, int] = {}
        # The last input offsets whose outputs the task may still skip: once past them all,
        # whatever is left to skip never comes (see dedup.still_to_replay).
        self.replay_until: dict[TopicPartition, int] = {}
        self.buffer = TimeOrderedBuffer()
        self.suppressing = 0  # len(task.suppress) when last counted, for the metrics


class _Seal:
    """A commit on its way: its tasks' changelog records and the outputs before it."""

    __slots__ = ("began", "epochs", "offsets", "units")

    def __init__(
        self,
        units: dict[int, _Unit],
        offsets: dict[TopicPartition, int],
        epochs: list[OutputEpoch],
        began: float,
    ) -> None:
        self.units = units
        self.offsets = offsets
        self.epochs = epochs
        self.began = began

    def settled(self) -> bool:
        return all(epoch.settled for epoch in self.epochs) and all(
            unit.store.commit_ready for unit in self.units.values()
        )


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
        self._holding = False  # some input partition is paused by _hold_back
        self.clock = clock or (lambda: int(time.time() * 1000))
        self.metrics = metrics if metrics is not None else RunnerMetrics(topology.application)
        self.units: dict[int, _Unit] = {}
        self.restores: dict[int, RestoreStats] = {}  # each task's last restore
        self.processed = 0
        self._failed: list[DeliveryReport] = []
        self._transactions: TransactionalProducer | None = None
        self._in_transaction = False
        self._committed_offsets: dict[TopicPartition, int] = {}
        if delivery == "exactly_once":
            self._transactions = transactional(log).transactional_producer(
                f"{self.group_id}-{worker_id(self.state_dir)}", linger_ms=1
            )
            self._producer: Producer = self._transactions
        else:
            self._producer = log.producer(linger_ms=1)
        self.session_timeout_ms = session_timeout_ms
        self._consumer = log.consumer(self.group_id, session_timeout_ms=session_timeout_ms)
        self._last_cycle = time.monotonic()
        self._group_offsets: dict[TopicPartition, int] = {}  # as last committed to the group
        self._suspect = False  # maybe fenced: check membership before the next commit
        self._probe = log.consumer()  # output end offsets; never assigned
        # Output end offsets, "topic:partition" -> next offset: from our own outputs'
        # delivery reports where we write, from the probe (now and then) where we do not.
        self._ends: dict[str, int] = {}
        self._acked: dict[tuple[str, int], int] = {}
        self._epoch = OutputEpoch(self._acked, self._failed)
        self._deliver = self._epoch.on_delivery
        self._sealed: _Seal | None = None
        self._group_committed = 0.0
        self._written: set[str] = set()
        self._probed = time.monotonic()
        self._watched_partitions: list[TopicPartition] = []
        self._lag = LagMonitor(log, self.metrics, interval_s=self.metrics.lag_interval_s)
        # Never assigned, so it never fetches: on Kafka, an offset query from a fetching
        # consumer waits behind its long-poll fetch (~500 ms), from this one it takes ~0.5 ms.
        self._lag_probe = log.consumer()
        self._watched: set[str] = set()
        self._last_commit = 0.0
        self.standbys = standbys
        self._standby: StandbyReplicas | None = None

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
        described = self.log.admin.describe_topics(inputs)
        partitions = max((spec.partitions for spec in described.values()), default=1)
        internal = self.topology.repartition_topics()
        outputs = [*self.topology.output_topics(), self.topology.late_topic]
        outputs += [dlq_topic(topic) for topic in inputs]
        specs = [TopicSpec(name=name, partitions=partitions) for name in {*internal, *outputs}]
        self.log.admin.create_topics(specs, exist_ok=True)
        ensure_changelog(self.log.admin, self.topology.application, _STORE, partitions)
        self._watched = {*internal, *outputs}
        self._watched_partitions = [
            TopicPartition(t, p) for t in sorted(self._watched) for p in range(partitions)
        ]
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
            self.state_store_name, number, changelog=self.changelog, directory=self.state_dir
        )

    def _assigned(self, partitions: list[TopicPartition]) -> None:
        if partitions:
            self.metrics.rebalanced("assigned")
        gained = {tp.partition for tp in partitions}
        self._suspect = False  # a fresh assignment: we are a member
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

    def _open_unit(self, number: int, *, repair: bool = True) -> _Unit:
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
        unit = _Unit(task, store)
        raw = store.metadata().get(_META_KEY)
        if raw is not None:
            checkpoint = msgspec.msgpack.decode(raw, type=RunnerCheckpoint)
            unit.positions = {_tp_parse(k): v for k, v in checkpoint.inputs.items()}
            task.restore_watermarks(checkpoint.watermarks)
            starts = {_tp_parse(k): v for k, v in checkpoint.outputs.items()}
        else:
            # Never committed: anything this task wrote before a crash is in the whole log.
            starts = dict.fromkeys(self._watched_partitions, 0)
        if self._transactions is not None:
            # Outputs after the committed state were in a transaction that never committed:
            # read_committed readers never see them, so there is nothing to skip.
            starts = {}
        found = written_since(self.log, starts, {number}) if starts else set()
        task.suppress, unit.replay_until = still_to_replay(found, unit.positions)
        unit.suppressing = len(task.suppress)
        unit.replay_from = {_tp_name(tp): offset for tp, offset in starts.items()}
        task.restore_timers()
        return unit

    def _revoked(self, partitions: list[TopicPartition]) -> None:
        numbers = {tp.partition for tp in partitions}
        held = set(self._consumer.assignment())
        # Lost (the group moved on without us, e.g. after a long pause): another worker may
        # own them already, so nothing of theirs may be committed any more.
        lost = {tp.partition for tp in partitions if tp not in held}
        if partitions:
            self.metrics.rebalanced("lost" if lost else "revoked")
        if lost and self._transactions is not None:
            self._restart_tasks(lost)
        elif numbers - lost:
            self.commit(only=numbers - lost)
        self._lag.forget(set(partitions), numbers)
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
            self._hold_back()
        produced = 0
        for unit in self.units.values():
            unit.task.advance()
            produced += self._produce(unit)
        if records:
            self.metrics.batch_processed(time.perf_counter() - began)
            if produced:
                self.metrics.end_to_end(first_input_ms)
        if self._sealed is not None:
            self._complete(wait=False)
        if (time.monotonic() - self._last_commit) * 1000 >= self.commit_interval_ms:
            self.commit(wait=False)
        return len(records)

    def _process_buffered(self) -> None:
        """Give each task the records it can take in timestamp order; only processed
        records move the positions that commits record."""
        at_end = self._consumer.at_end()
        inputs: dict[int, list[TopicPartition]] = defaultdict(list)
        for tp in self._consumer.assignment():
            inputs[tp.partition].append(tp)
        for number, unit in self.units.items():
            batch = unit.buffer.release(inputs[number], at_end)
            if batch:
                unit.task.process(batch)
                positions = unit.positions
                for record in batch:
                    positions[record.topic_partition] = record.offset + 1
                self.processed += len(batch)
                if unit.replay_until and unit.task.suppress:
                    self._end_replay_when_past(unit)

    def _check_pause(self) -> None:
        """After a pause near the session timeout (a long stall, a stopped process) the group
        may have given our partitions to another worker without our knowing yet: in
        ``low_latency`` mode, the next commit first makes sure we are still a member.
        (``exactly_once`` needs no check: its transaction fails on a stale group epoch.)"""
        now = time.monotonic()
        paused_ms = (now - self._last_cycle) * 1000
        self._last_cycle = now
        if paused_ms >= self.session_timeout_ms / 2 and self._transactions is None and self.units:
            logger.info("a %.0f ms pause: membership is checked before the next commit", paused_ms)
            self._suspect = True

    def _still_member(self) -> bool:
        """Commit the group offsets we last committed again: fails if we were fenced."""
        offsets = dict(self._group_offsets)
        if not offsets:
            held = self._consumer.assignment()
            offsets = {tp: o for tp, o in self._consumer.committed(held).items() if o is not None}
        try:
            if offsets:
                self._consumer.commit(offsets)
        except CommitFailedError as exc:
            logger.warning("fenced (%s): the tasks restart from their commit", exc)
            return False
        return True

    def _hold_back(self) -> None:
        """Back-pressure: pause an input partition whose records wait in its task's buffer
        (its topic runs ahead of the task's others in time) beyond ``max_buffered``, and
        resume it once half of them went; the consumer keeps fetching the others."""
        waiting = {tp: n for unit in self.units.values() for tp, n in unit.buffer.sizes()}
        paused = self._consumer.paused()
        held = set(self._consumer.assignment())
        stop = [
            tp
            for tp, n in waiting.items()
            if n >= self.max_buffered and tp not in paused and tp in held
        ]
        go = [tp for tp in paused if waiting.get(tp, 0) <= self.max_buffered // 2]
        if stop:
            self._consumer.pause(stop)
        if go:
            self._consumer.resume(go)
        self._holding = len(paused) + len(stop) > len(go)

    @staticmethod
    def _end_replay_when_past(unit: _Unit) -> None:
        positions = unit.positions
        if all(positions.get(tp, 0) > last for tp, last in unit.replay_until.items()):
            unit.task.suppress.clear()
            unit.suppressing = 0
            unit.replay_until = {}

    def _produce(self, unit: _Unit) -> int:
        """Produce the unit's pending outputs; returns how many."""
        task = unit.task
        outputs, task.outputs = task.outputs, []
        if outputs and not self._in_transaction and self._transactions is not None:
            self._begin()
        produce = self._producer.produce
        deliver = self._deliver
        for out in outputs:
            produce(
                out.topic,
                out.value,
                out.key,
                partition=out.partition,
                timestamp=out.timestamp,
                headers=out.headers,
                on_delivery=deliver,
            )
            if out.topic not in self._watched:
                self._watch(out.topic)
        self._epoch.produced += len(outputs)
        self._producer.poll(0)
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
        return bool(held) and set(held) <= self._consumer.at_end() and not buffered

    def _watch(self, topic: str) -> None:
        self._watched.add(topic)
        described = self.log.admin.describe_topics([topic]).get(topic)
        if described is not None:
            extra = [TopicPartition(topic, p) for p in range(described.partitions)]
            self._watched_partitions += extra

    def _output_ends(self) -> dict[str, int]:
        """Where each output partition ended at the last flush, as far as this worker's
        outputs go: a restarted task looks for its outputs from there on."""
        ends = self._ends
        for (topic, partition), offset in self._acked.items():
            name = f"{topic}:{partition}"
            ends[name] = offset + 1
            self._written.add(name)
        self._acked.clear()
        now = time.monotonic()
        due = now - self._probed >= _REPROBE_S
        for tp in self._watched_partitions:
            name = _tp_name(tp)
            # A round trip only where we have not written lately: a probed end never
            # passes an output of ours made after it.
            if name not in ends or (due and name not in self._written):
                ends[name] = self._probe.watermarks(tp)[1]
        if due:
            self._probed = now
            self._written.clear()
        return ends

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
        if self._transactions is not None:
            self._commit_transaction(self._transactions, revoking=only is not None)
            return
        if self._suspect:
            if not self._still_member():
                self._sealed = None  # work of tasks that may have moved: never committed
                self._restart_tasks(set())
                return  # checked again at the next commit, until a rebalance settles it
            self._suspect = False
        if self._sealed is not None and not self._complete(wait=wait):
            return  # the previous commit is still on its way; the next interval seals
        units = {n: u for n, u in self.units.items() if only is None or n in only}
        if not units:
            return
        self._seal(units)
        if wait:
            self._complete(wait=True, observe=only is None)

    def _seal(self, units: dict[int, _Unit]) -> None:
        """Write each task's changed state and checkpoint to its changelog, without waiting."""
        began = time.perf_counter()
        for unit in units.values():
            self._produce(unit)
        # Acknowledged so far: never past an output produced from here on (reports of a
        # partition come in order), which is all a restarted task's scan needs.
        ends = self._output_ends()
        for unit in units.values():
            unit.task.flush_state()
            checkpoint = RunnerCheckpoint(
                inputs={_tp_name(tp): offset for tp, offset in unit.positions.items()},
                outputs={**ends, **unit.replay_from} if unit.task.suppress else ends,
                watermarks=unit.task.watermark_state(),
            )
            unit.store.flush(self._producer, {_META_KEY: msgspec.msgpack.encode(checkpoint)})
        self._producer.poll(0)
        offsets = {tp: off for unit in units.values() for tp, off in unit.positions.items()}
        epochs = [self._epoch]  # the ones before belong to commits that completed
        self._epoch = OutputEpoch(self._acked, self._failed)
        self._deliver = self._epoch.on_delivery
        self._sealed = _Seal(units, offsets, epochs, began)

    def _complete(self, *, wait: bool, observe: bool = True) -> bool:
        """Complete the sealed commit once the log has its changelog records and every
        output produced before it; returns whether it completed."""
        seal = self._sealed
        if seal is None:
            return True
        if wait:
            self._flush_producer()
        else:
            self._producer.poll(0)
            if not seal.settled():
                return False
            self._raise_failed()
        for number, unit in seal.units.items():
            if self.units.get(number) is unit:  # not revoked meanwhile
                unit.store.commit()
        self._sealed = None
        now = time.monotonic()
        if seal.offsets and (wait or now - self._group_committed >= _GROUP_COMMIT_S):
            # The stores hold the offsets that count; the group's copy is for lag monitors
            # and tools, so the loop's own commits refresh it only now and then.
            self._group_committed = now
            offsets = {tp: off for tp, off in seal.offsets.items() if tp.partition in self.units}
            try:
                self._consumer.commit(offsets)
                self._group_offsets.update(offsets)
            except CommitFailedError as exc:
                logger.warning("group offsets not committed: %s", exc)
        self.metrics.committed(time.perf_counter() - seal.began)
        if observe:  # not for a revocation: its partitions' gauges are dropped instead
            self._observe_progress(seal.units, now=wait)
        return True

    def _restart_tasks(self, lost: set[int]) -> None:
        """Drop every task's uncommitted work (under ``exactly_once``: abort the open
        transaction) and start the tasks still held, but not ``lost``, from their commit."""
        if self._in_transaction and self._transactions is not None:
            self._in_transaction = False
            self._transactions.abort_transaction()
        elif self._transactions is None:
            # The restarted tasks look for their outputs in the log: let them all land.
            self._flush_producer()
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
            position = self.units[tp.partition].positions.get(tp)
            if position is None:
                position = self._lag_probe.watermarks(tp)[0]
            self._consumer.seek(tp, position)

    def _begin(self) -> None:
        if self._transactions is not None:
            self._transactions.begin_transaction()
            self._in_transaction = True

    def _commit_transaction(self, transactions: TransactionalProducer, *, revoking: bool) -> None:
        """Outputs, changelog writes and input offsets of every task, in one transaction."""
        units = self.units
        began = time.perf_counter()
        for unit in units.values():
            self._produce(unit)
        offsets = {tp: off for unit in units.values() for tp, off in unit.positions.items()}
        flushed = sum(unit.task.flush_state() for unit in units.values())
        if not (self._in_transaction or flushed or offsets != self._committed_offsets):
            return  # idle: an empty transaction would only cost a round trip
        if not self._in_transaction:
            self._begin()
        try:
            for unit in units.values():
                checkpoint = RunnerCheckpoint(
                    inputs={_tp_name(tp): offset for tp, offset in unit.positions.items()},
                    watermarks=unit.task.watermark_state(),
                )
                unit.store.flush(self._producer, {_META_KEY: msgspec.msgpack.encode(checkpoint)})
            self._flush_producer()
            if offsets:
                transactions.send_offsets(offsets, self._consumer)
            transactions.commit_transaction()
        except TransactionAbortedError as exc:
            # The group rebalanced under the transaction: nothing of it becomes visible, so
            # the tasks start again from what did commit, as Kafka Streams does.
            logger.warning("transaction aborted (%s); tasks restart from their commit", exc)
            self._restart_tasks(set())
            return
        except BaseException:
            # Fenced by a newer worker with our id, or a record was refused: nothing of this
            # transaction becomes visible and this process must stop; its tasks restore.
            self._in_transaction = False
            try:
                transactions.abort_transaction()
            finally:
                raise
        self._in_transaction = False
        self._committed_offsets = offsets
        for unit in units.values():
            unit.store.commit()
        self.metrics.committed(time.perf_counter() - began)
        if not revoking:
            self._observe_progress(units)

    def _observe_progress(self, units: dict[int, _Unit], *, now: bool = False) -> None:
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

    def _flush_producer(self) -> None:
        while self._producer.flush(10) > 0:
            logger.warning("waiting for the log to acknowledge outputs")
        self._raise_failed()

    def _raise_failed(self) -> None:
        if self._failed:
            failed, self._failed = self._failed, []
            raise ProduceError(f"{len(failed)} outputs were not acknowledged: {failed[0].error}")

    def close(self) -> None:
        """Commit, leave the group and release the stores."""
        try:
            self.commit()
        finally:
            self._consumer.close()
            self._probe.close()
            self._lag.stop()
            self._lag_probe.close()
            self._producer.close()
            for unit in self.units.values():
                unit.store.close()
            self.units.clear()
            if self._standby is not None:
                self._standby.stop()

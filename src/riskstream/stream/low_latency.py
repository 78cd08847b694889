"""The ``low_latency`` delivery mode (the default): outputs leave at once.

After a crash, a task restores its store, resumes from the input offsets committed *with its
state*, and skips the outputs that were already written after that commit (found by their
ids, see :mod:`riskstream.stream.dedup`): each input yields its outputs once and the state
equals that of an uninterrupted run. Readers still deduplicate by id, for the window between
a crash and the restarted task's scan.

A commit is *sealed* (each task's changed state and checkpoint go to its changelog, without
waiting) and *completes* in a later cycle, once the log acknowledged those records and every
output produced before them: then the stores commit, and now and then the group offsets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from riskstream.errors import CommitFailedError
from riskstream.log.port import Consumer
from riskstream.log.records import TopicPartition
from riskstream.stream.epochs import OutputEpoch
from riskstream.stream.metrics import RunnerMetrics
from riskstream.stream.output_producer import OutputProducer
from riskstream.stream.task_unit import TaskUnit

__all__ = ["LowLatencyCommits"]

logger = logging.getLogger(__name__)

# How often the loop's own commits also commit the group's offsets (see complete).
_GROUP_COMMIT_S = 5.0


class _Seal:
    """A commit on its way: its tasks' changelog records and the outputs before it."""

    __slots__ = ("began", "epoch", "offsets", "units")

    def __init__(
        self,
        units: dict[int, TaskUnit],
        offsets: dict[TopicPartition, int],
        epoch: OutputEpoch,
        began: float,
    ) -> None:
        self.units = units
        self.offsets = offsets
        self.epoch = epoch  # the outputs produced since the previous (completed) commit
        self.began = began

    def settled(self) -> bool:
        return self.epoch.settled and all(unit.store.commit_ready for unit in self.units.values())


class LowLatencyCommits:
    """Seals and completes the commits of a ``low_latency`` runner's tasks.

    The runner's callbacks: ``produce`` sends a task's pending outputs, ``observe`` hands
    the committed positions to the lag gauges (``now``: set them at once), ``restart``
    drops every task's uncommitted work and starts the tasks again from their commit.
    """

    def __init__(
        self,
        out: OutputProducer,
        consumer: Consumer,
        metrics: RunnerMetrics,
        *,
        produce: Callable[[TaskUnit], int],
        observe: Callable[[dict[int, TaskUnit], bool], None],
        restart: Callable[[], None],
    ) -> None:
        self._out = out
        self._consumer = consumer
        self._metrics = metrics
        self._produce = produce
        self._observe = observe
        self._restart = restart
        self.sealed: _Seal | None = None
        self.suspect = False  # maybe fenced: check membership before the next commit
        self._group_offsets: dict[TopicPartition, int] = {}  # as last committed to the group
        self._group_committed = 0.0

    def commit(self, units: dict[int, TaskUnit], only: set[int] | None, *, wait: bool) -> None:
        """Commit the runner's ``units`` (``only`` some of them: a revocation); with
        ``wait=False``, seal the commit now and complete it in a later cycle."""
        if self.suspect:
            if not self._still_member():
                self.sealed = None  # work of tasks that may have moved: never committed
                self._restart()
                return  # checked again at the next commit, until a rebalance settles it
            self.suspect = False
        if self.sealed is not None and not self.complete(units, wait=wait):
            return  # the previous commit is still on its way; the next interval seals
        chosen = {n: u for n, u in units.items() if only is None or n in only}
        if not chosen:
            return
        self._seal(chosen)
        if wait:
            self.complete(units, wait=True, observe=only is None)

    def _seal(self, units: dict[int, TaskUnit]) -> None:
        """Write each task's changed state and checkpoint to its changelog, without waiting."""
        began = time.perf_counter()
        for unit in units.values():
            self._produce(unit)
        # Acknowledged so far: never past an output produced from here on (reports of a
        # partition come in order), which is all a restarted task's scan needs.
        ends = self._out.ends.current()
        producer = self._out.producer
        for unit in units.values():
            unit.task.flush_state()
            unit.write_checkpoint(producer, ends)
        producer.poll(0)
        offsets = {tp: off for unit in units.values() for tp, off in unit.positions.items()}
        self.sealed = _Seal(units, offsets, self._out.next_epoch(), began)

    def complete(self, units: dict[int, TaskUnit], *, wait: bool, observe: bool = True) -> bool:
        """Complete the sealed commit once the log has its changelog records and every
        output produced before it; returns whether it completed. ``units``: the tasks the
        runner holds now."""
        seal = self.sealed
        if seal is None:
            return True
        if wait:
            self._out.flush()
        else:
            self._out.producer.poll(0)
            if not seal.settled():
                return False
            self._out.raise_failed()
        for number, unit in seal.units.items():
            if units.get(number) is unit:  # not revoked meanwhile
                unit.store.commit()
        self.sealed = None
        now = time.monotonic()
        if seal.offsets and (wait or now - self._group_committed >= _GROUP_COMMIT_S):
            # The stores hold the offsets that count; the group's copy is for lag monitors
            # and tools, so the loop's own commits refresh it only now and then.
            self._group_committed = now
            offsets = {tp: off for tp, off in seal.offsets.items() if tp.partition in units}
            try:
                self._consumer.commit(offsets)
                self._group_offsets.update(offsets)
            except CommitFailedError as exc:
                logger.warning("group offsets not committed: %s", exc)
        self._metrics.committed(time.perf_counter() - seal.began)
        if observe:  # not for a revocation: its partitions' gauges are dropped instead
            self._observe(seal.units, wait)
        return True

    def _still_member(self) -> bool:
        """Commit the group offsets we last committed again: fails if we were fenced."""
        held = self._consumer.assignment()
        holding = set(held)
        # Only what we hold: partitions revoked since would fail the commit without a fence.
        offsets = {tp: o for tp, o in self._group_offsets.items() if tp in holding}
        if not offsets:
            offsets = {tp: o for tp, o in self._consumer.committed(held).items() if o is not None}
        try:
            if offsets:
                self._consumer.commit(offsets)
        except CommitFailedError as exc:
            logger.warning("fenced (%s): the tasks restart from their commit", exc)
            return False
        return True

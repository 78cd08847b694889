"""The ``exactly_once`` delivery mode: one Kafka transaction per commit interval (EOS v2).

The transaction holds the outputs, the changelog writes and the group offsets;
``read_committed`` readers see each output once, with no deduplication, but only when its
transaction commits.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from riskstream.errors import TransactionAbortedError
from riskstream.log.port import Consumer
from riskstream.log.records import TopicPartition
from riskstream.log.transactions import TransactionalProducer
from riskstream.stream.metrics import RunnerMetrics
from riskstream.stream.output_producer import OutputProducer
from riskstream.stream.task_unit import TaskUnit

__all__ = ["TransactionalCommits", "worker_id"]

logger = logging.getLogger(__name__)

_WORKER_ID_FILE = "worker-id"


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


class TransactionalCommits:
    """Commits every task of an ``exactly_once`` runner in one transaction.

    The runner's callbacks: ``produce`` sends a task's pending outputs, ``observe`` hands
    the committed positions to the lag gauges, ``restart`` drops every task's uncommitted
    work (aborting the open transaction) and starts the tasks again from their commit.
    """

    def __init__(
        self,
        transactions: TransactionalProducer,
        out: OutputProducer,
        consumer: Consumer,
        metrics: RunnerMetrics,
        *,
        produce: Callable[[TaskUnit], int],
        observe: Callable[[dict[int, TaskUnit], bool], None],
        restart: Callable[[], None],
    ) -> None:
        self.transactions = transactions
        self._out = out
        self._consumer = consumer
        self._metrics = metrics
        self._produce = produce
        self._observe = observe
        self._restart = restart
        self.open = False  # a transaction is open
        self._committed_offsets: dict[TopicPartition, int] = {}

    def begin(self) -> None:
        """Open the transaction the next records belong to, unless one is open."""
        if not self.open:
            self.transactions.begin_transaction()
            self.open = True

    def abort(self) -> None:
        """Abort the open transaction, if any: nothing of it becomes visible."""
        if self.open:
            self.open = False
            self._out.discard()
            self.transactions.abort_transaction()

    def commit(self, units: dict[int, TaskUnit], *, revoking: bool) -> None:
        """Outputs, changelog writes and input offsets of every task, in one transaction."""
        began = time.perf_counter()
        for unit in units.values():
            self._produce(unit)
        offsets = {tp: off for unit in units.values() for tp, off in unit.positions.items()}
        flushed = sum(unit.task.flush_state() for unit in units.values())
        if not (self.open or flushed or offsets != self._committed_offsets):
            return  # idle: an empty transaction would only cost a round trip
        self.begin()
        transactions = self.transactions
        try:
            for unit in units.values():
                unit.write_checkpoint(transactions)
            self._out.flush()
            if offsets:
                transactions.send_offsets(offsets, self._consumer)
            transactions.commit_transaction()
        except TransactionAbortedError as exc:
            # The group rebalanced under the transaction: nothing of it becomes visible, so
            # the tasks start again from what did commit, as Kafka Streams does.
            logger.warning("transaction aborted (%s); tasks restart from their commit", exc)
            self._restart()
            return
        except BaseException:
            # Fenced by a newer worker with our id, or a record was refused: nothing of this
            # transaction becomes visible and this process must stop; its tasks restore.
            self.open = False
            try:
                transactions.abort_transaction()
            finally:
                raise
        self.open = False
        self._committed_offsets = offsets
        for unit in units.values():
            unit.store.commit()
        self._metrics.committed(time.perf_counter() - began)
        if not revoking:
            self._observe(units, False)

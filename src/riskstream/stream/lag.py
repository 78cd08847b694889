"""Consumer lag, sampled off the processing thread.

The lag of a partition is its end offset minus the task's position. Reading end offsets
costs a round trip per partition on Kafka; done in the loop, a few dozen partitions would
pause processing for tens of milliseconds at every commit. A thread with its own never
assigned consumer asks instead, on the positions the loop last handed it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from riskstream.log.port import EventLog
from riskstream.log.records import TopicPartition
from riskstream.stream.metrics import RunnerMetrics

__all__ = ["LagMonitor"]

logger = logging.getLogger(__name__)


class LagMonitor:
    """Sets the runner's lag gauges every ``interval_s`` from the positions in :meth:`show`."""

    def __init__(self, log: EventLog, metrics: RunnerMetrics, *, interval_s: float = 1.0) -> None:
        self.log = log
        self.metrics = metrics
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._positions: dict[TopicPartition, int | None] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def show(self, positions: Mapping[TopicPartition, int | None]) -> None:
        """The partitions held now and the next offset each task reads (``None``: not
        read yet, from the earliest)."""
        with self._lock:
            self._positions = dict(positions)

    def forget(self, partitions: set[TopicPartition], tasks: set[int]) -> None:
        """Stop reporting ``partitions`` and drop their gauges (they moved away)."""
        with self._lock:
            for tp in partitions:
                self._positions.pop(tp, None)
            self.metrics.forget(partitions, tasks)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.ident is not None:  # started
            self._thread.join()

    def sample(self, probe_watermarks: dict[TopicPartition, tuple[int, int]]) -> None:
        """Set the gauges from end offsets read for the shown partitions."""
        with self._lock:
            for tp, (low, high) in probe_watermarks.items():
                if tp in self._positions:
                    position = self._positions[tp]
                    self.metrics.lag(tp, high - (low if position is None else position))

    def _run(self) -> None:
        probe = self.log.consumer()  # made here: some backends' handles stay in a thread
        try:
            while not self._stopping.wait(self.interval_s):
                with self._lock:
                    wanted = list(self._positions)
                self.sample({tp: probe.watermarks(tp) for tp in wanted})
        except Exception:
            # Monitoring must never take the worker down; the gauges just stop moving.
            logger.exception("lag monitor stopped")
        finally:
            probe.close()

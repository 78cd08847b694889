"""Where the output partitions end, for the checkpoints of ``low_latency`` tasks.

A task commits these end offsets with its state; after a crash, it looks for the outputs it
wrote after its commit from there on (see :mod:`riskstream.stream.dedup`).
"""

from __future__ import annotations

import time

from riskstream.log.port import EventLog
from riskstream.log.records import TopicPartition
from riskstream.stream.task_unit import tp_name

__all__ = ["OutputEnds"]

# How often the end offsets of output partitions this worker does not write are re-read: a
# stale end only makes a restarted task scan further back for its own outputs.
_REPROBE_S = 30.0


class OutputEnds:
    """The end offsets of the watched output partitions, "topic:partition" -> next offset:
    from our own outputs' delivery reports where we write, from a probe (now and then)
    where we do not."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._probe = log.consumer()  # never assigned
        self._ends: dict[str, int] = {}
        # Each output partition's last acknowledged offset, kept by the delivery callbacks
        # (see OutputEpoch); taken into the ends at each call of current().
        self.acked: dict[tuple[str, int], int] = {}
        self._written: set[str] = set()
        self._probed = time.monotonic()
        self.topics: set[str] = set()
        self.partitions: list[TopicPartition] = []

    def watch_all(self, topics: set[str], partitions: int) -> None:
        """Watch ``topics``, each with ``partitions`` partitions (the topics made at start)."""
        self.topics = topics
        self.partitions = [TopicPartition(t, p) for t in sorted(topics) for p in range(partitions)]

    def watch(self, topic: str) -> None:
        """Watch one more topic (an output the topology did not declare)."""
        self.topics.add(topic)
        described = self.log.admin.describe_topics([topic]).get(topic)
        if described is not None:
            extra = [TopicPartition(topic, p) for p in range(described.partitions)]
            self.partitions += extra

    def current(self) -> dict[str, int]:
        """Where each output partition ended at the last flush, as far as this worker's
        outputs go: a restarted task looks for its outputs from there on."""
        ends = self._ends
        for (topic, partition), offset in self.acked.items():
            name = f"{topic}:{partition}"
            ends[name] = offset + 1
            self._written.add(name)
        self.acked.clear()
        now = time.monotonic()
        due = now - self._probed >= _REPROBE_S
        for tp in self.partitions:
            name = tp_name(tp)
            # A round trip only where we have not written lately: a probed end never
            # passes an output of ours made after it.
            if name not in ends or (due and name not in self._written):
                ends[name] = self._probe.watermarks(tp)[1]
        if due:
            self._probed = now
            self._written.clear()
        return ends

    def close(self) -> None:
        self._probe.close()

"""Kafka Streams' ``TopologyTestDriver`` idea for riskstream: a topology, in-process, with a
virtual clock, no broker and no threads.

    driver = TestDriver(topology, partitions=2)
    driver.pipe("events.login", encoded_login, key=b"user-1", timestamp=1_000)
    driver.advance_time(60_000)          # processing time: idle inputs advance the watermark
    outputs = driver.read("alerts")      # records written to a topic, in order
    driver.late()                        # late records with their reasons

Records are processed as soon as they are piped; repartition topics are routed back to the
task that owns each new key, as the real runner does through the log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from riskstream.log.partitioner import partition_for
from riskstream.log.records import Headers, Record
from riskstream.stream.output import Output
from riskstream.stream.task import Task
from riskstream.stream.topology import Topology
from riskstream.testing.clock import VirtualClock

__all__ = ["DictStore", "TestDriver"]


class DictStore:
    """An in-memory byte store for tests."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        self.data.pop(key, None)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(sorted(self.data.items()))


class TestDriver:
    """Runs every partition's task of a topology in this thread, on a virtual clock."""

    __test__ = False  # not a pytest test class

    def __init__(self, topology: Topology, *, partitions: int = 1, start_time: int = 0) -> None:
        self.topology = topology
        self.partitions = partitions
        self.clock = VirtualClock(start_time)
        self.stores: dict[tuple[str, int], DictStore] = defaultdict(DictStore)
        self._next_offset: dict[tuple[str, int], int] = defaultdict(int)
        self._written: dict[str, list[Output]] = defaultdict(list)
        self.tasks = self._tasks()

    def _tasks(self) -> list[Task]:
        return [
            Task(
                self.topology,
                partition,
                stores=self._store_factory(partition),
                clock=self.clock.now,
            )
            for partition in range(self.partitions)
        ]

    def _store_factory(self, partition: int) -> Callable[[str], DictStore]:
        def store(step: str) -> DictStore:
            return self.stores[(step, partition)]

        return store

    # -- input ------------------------------------------------------------------------------

    def pipe(
        self,
        topic: str,
        value: Any,
        *,
        key: bytes | None = None,
        timestamp: int | None = None,
        headers: Headers = (),
        partition: int | None = None,
    ) -> None:
        """Process one record of ``topic`` now (its timestamp defaults to the clock)."""
        if partition is None:
            partition = 0 if key is None else partition_for(key, self.partitions)
        offset = self._next_offset[(topic, partition)]
        self._next_offset[(topic, partition)] = offset + 1
        stamp = self.clock.now() if timestamp is None else timestamp
        task = self.tasks[partition]
        task.process([Record(topic, partition, offset, stamp, key, value, headers)])
        self._route(task)

    def advance_time(self, ms: int) -> None:
        """Move processing time on; idle partitions' watermarks follow and timers fire."""
        self.clock.advance(ms)
        for task in self.tasks:
            task.advance()
            self._route(task)

    def _route(self, task: Task) -> None:
        pending, task.outputs = task.outputs, []
        for output in pending:
            if self._is_repartition(output.topic):
                self.pipe(
                    output.topic,
                    output.value,
                    key=output.key,
                    timestamp=output.timestamp,
                    headers=output.headers,
                )
            else:
                self._written[output.topic].append(output)

    def _is_repartition(self, topic: str) -> bool:
        return topic.startswith(f"{self.topology.application}-") and topic.endswith("-repartition")

    # -- output and state -------------------------------------------------------------------

    def read(self, topic: str) -> list[Output]:
        """Everything written to ``topic`` so far, in write order (and forget it)."""
        return self._written.pop(topic, [])

    def peek(self, topic: str) -> list[Output]:
        return list(self._written.get(topic, []))

    def late(self) -> list[Output]:
        return self.read(self.topology.late_topic)

    def dead_letters(self, topic: str) -> list[Output]:
        return self.read(self.topology.dlq_topic(topic))

    def watermark(self, partition: int = 0) -> int:
        return self.tasks[partition].watermark

    def logic(self, step: str, key: bytes | None) -> Any:
        """The live logic (window, counter, pattern, join) of a key at a stateful step."""
        task = self.tasks[0 if key is None else partition_for(key, self.partitions)]
        return task.stateful[step].logic(key or b"")

    def state(self, step: str, key: bytes | None) -> Any:
        """The state value of a key at a custom processor step."""
        task = self.tasks[0 if key is None else partition_for(key, self.partitions)]
        return task.processes[step].value(key or b"")

    def restart(self) -> None:
        """Commit state to the stores, drop the tasks and build new ones from the stores, as
        after a crash and restore: the rest of a test proves state survives."""
        marks = [task.watermark_state() for task in self.tasks]
        for task in self.tasks:
            task.flush_state()
        self.tasks = self._tasks()
        for task, mark in zip(self.tasks, marks, strict=True):
            task.restore_watermarks(mark)
            task.restore_timers()

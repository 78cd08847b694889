"""Hand a task its co-partitioned inputs in timestamp order, as Kafka Streams does.

A task reads partition *p* of several topics. On a backlog (start-up, catch-up, replay) the
consumer returns them in whatever order it fetched them, so one topic's event time can run
far ahead of another's: its records would push the watermark on and make the other topic's
records late, and a pattern or a join across the topics would see them out of order. The
buffer holds each input partition's records and releases them merged by record timestamp,
but only while every input that still has data to read has a record buffered: an input that
reached the end of its partition does not hold the others back.

The buffer also knows, for the inputs it *tracks*, the next offset each must deliver:
records below it (already taken, e.g. handed over by the runner before the consumer read
them) are dropped when they come again.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable
from itertools import groupby
from operator import attrgetter

from riskstream.log.records import Record, TopicPartition

__all__ = ["TimeOrderedBuffer"]

_input_of = attrgetter("topic", "partition")


class TimeOrderedBuffer:
    """Per-input queues of one task, released in timestamp order."""

    __slots__ = ("_next", "_queues")

    def __init__(self) -> None:
        self._queues: dict[TopicPartition, deque[Record]] = {}
        self._next: dict[TopicPartition, int] = {}  # tracked inputs: the next offset due

    def add(self, records: Iterable[Record]) -> None:
        """Queue records as the consumer returned them (each input's in offset order)."""
        queues, tracked = self._queues, self._next
        # Records come in runs of one partition: one queue look-up and one extend per run.
        for (topic, partition), run in groupby(records, _input_of):
            tp = TopicPartition(topic, partition)
            queue = queues.get(tp)
            if queue is None:
                queue = queues[tp] = deque()
            due = tracked.get(tp)
            if due is None:
                queue.extend(run)
                continue
            fresh = [record for record in run if record.offset >= due]
            if fresh:
                queue.extend(fresh)
                tracked[tp] = fresh[-1].offset + 1

    def track(self, tp: TopicPartition, offset: int | None) -> None:
        """Track ``tp``: its next record is at ``offset`` (``None``: not known; then its
        first record added tells); records below it are dropped."""
        self._next[tp] = -1 if offset is None else offset

    def expects(self, tp: TopicPartition) -> int | None:
        """The next offset a tracked input delivers (``None``: not tracked or not known)."""
        due = self._next.get(tp)
        return None if due is None or due < 0 else due

    def hand(self, tp: TopicPartition, records: list[Record]) -> None:
        """Queue records of a tracked input that did not come through the consumer; the
        first must be the one :meth:`expects` names, the rest follow it without a gap."""
        queue = self._queues.get(tp)
        if queue is None:
            queue = self._queues[tp] = deque()
        queue.extend(records)
        self._next[tp] = records[-1].offset + 1

    def release(
        self, inputs: Iterable[TopicPartition], at_end: frozenset[TopicPartition]
    ) -> list[Record]:
        """Records that can go now, in timestamp order (ties: in input order)."""
        queues = self._queues
        # An input with nothing buffered and more to read blocks: its next record may be older.
        for tp in inputs:
            if tp not in at_end and not queues.get(tp):
                return []
        heads = [(q[0].timestamp, i, tp) for i, (tp, q) in enumerate(queues.items()) if q]
        heapq.heapify(heads)
        out: list[Record] = []
        append = out.append
        while heads:
            _, order, tp = heapq.heappop(heads)
            queue = queues[tp]
            append(queue.popleft())
            # Then the rest of this input's run: its records older than every other head.
            if heads:
                limit, limit_order = heads[0][0], heads[0][1]
                while queue:
                    stamp = queue[0].timestamp
                    if stamp > limit or (stamp == limit and order > limit_order):
                        break
                    append(queue.popleft())
            else:
                out.extend(queue)
                queue.clear()
            if queue:
                heapq.heappush(heads, (queue[0].timestamp, order, tp))
            elif tp not in at_end:
                break  # this input may still deliver something older than the rest
        return out

    def drop(self, partitions: Iterable[TopicPartition]) -> None:
        """Forget buffered records (their partitions moved away; they were not processed)."""
        for tp in partitions:
            self._queues.pop(tp, None)
            self._next.pop(tp, None)

    def sizes(self) -> list[tuple[TopicPartition, int]]:
        """How many records each input partition has waiting."""
        return [(tp, len(queue)) for tp, queue in self._queues.items()]

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

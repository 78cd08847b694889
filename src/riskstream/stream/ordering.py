"""Hand a task its co-partitioned inputs in timestamp order, as Kafka Streams does.

A task reads partition *p* of several topics. On a backlog (start-up, catch-up, replay) the
consumer returns them in whatever order it fetched them, so one topic's event time can run
far ahead of another's: its records would push the watermark on and make the other topic's
records late, and a pattern or a join across the topics would see them out of order. The
buffer holds each input partition's records and releases them merged by record timestamp,
but only while every input that still has data to read has a record buffered: an input that
reached the end of its partition does not hold the others back.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable

from riskstream.log.records import Record, TopicPartition

__all__ = ["TimeOrderedBuffer"]


class TimeOrderedBuffer:
    """Per-input queues of one task, released in timestamp order."""

    __slots__ = ("_queues",)

    def __init__(self) -> None:
        self._queues: dict[TopicPartition, deque[Record]] = {}

    def add(self, records: Iterable[Record]) -> None:
        queues = self._queues
        topic, partition, append = "", -1, None
        for record in records:
            # Records come in runs of one partition: look its queue up once per run.
            if record.topic != topic or record.partition != partition or append is None:
                topic, partition = record.topic, record.partition
                tp = TopicPartition(topic, partition)
                queue = queues.get(tp)
                if queue is None:
                    queue = queues[tp] = deque()
                append = queue.append
            append(record)

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

    def sizes(self) -> list[tuple[TopicPartition, int]]:
        """How many records each input partition has waiting."""
        return [(tp, len(queue)) for tp, queue in self._queues.items()]

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

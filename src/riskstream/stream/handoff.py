"""Hand a worker's own repartition records to its own tasks, without reading them back.

A rekey step writes its records to a repartition topic, and the task owning each record's
partition reads them back through the log. Where the log stores records itself (embedded,
memory) the runner writes each topic's records of a cycle at once and has their offsets at
once; the records bound for a task of this worker are then handed to it directly, and the
consumer skips them. They are in the log as before, so the task's input positions, its
checkpoints, a restart and another worker taking the partition over all work unchanged;
what is saved is the read and the wait for the next poll: the runner processes handed
records in the same cycle, so an input crosses every hop of a topology in one cycle.

A record is handed over only if it is the next one its partition must deliver to the task
(the task's buffer *tracks* its repartition partitions, see :mod:`.ordering`): records other
workers wrote before it come through the consumer first, and this worker's records after
such a gap too.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import groupby, repeat
from operator import attrgetter

from riskstream.log.partitioner import KeyPartitioner
from riskstream.log.port import Consumer
from riskstream.log.records import DeliveryReport, Record, TopicPartition
from riskstream.stream.output import Output
from riskstream.stream.task_unit import TaskUnit

__all__ = ["LocalHandoff"]

_offset = attrgetter("offset")
_timestamp = attrgetter("timestamp")
_out_key = attrgetter("key")
_out_value = attrgetter("value")
_out_headers = attrgetter("headers")


class LocalHandoff:
    """The repartition records of one runner on their way to its own tasks.

    ``counts`` gives each repartition topic's partition count; ``units`` are the runner's
    tasks by partition (the live mapping) and ``consumer`` its consumer, which skips what
    is handed over. :attr:`handed` collects the records handed over since the runner last
    took them; :attr:`missed` says some record for a task of ours was left to the consumer.
    """

    __slots__ = ("_partitioners", "_written", "consumer", "counts", "handed", "missed", "units")

    def __init__(
        self, counts: Mapping[str, int], units: Mapping[int, TaskUnit], consumer: Consumer
    ) -> None:
        self.counts = dict(counts)
        self.units = units
        self.consumer = consumer
        self._partitioners = {topic: KeyPartitioner(n) for topic, n in self.counts.items()}
        # Per repartition partition of ours: the offset after our last record written there.
        self._written: dict[TopicPartition, int] = {}
        self.handed: list[Record] = []
        self.missed = False

    def partitions(self, topic: str, sent: list[Output]) -> list[int | None]:
        """The partition of each of ``sent`` (repartition outputs of ``topic``), chosen
        here as the log's partitioner would (a batch's keys are hashed at once): the runner
        writes them there, and knows which are for its own tasks."""
        keys = [out.key for out in sent]
        placed = [out.partition for out in sent]
        if None in keys or placed.count(None) < len(placed):
            return placed  # keyless or placed already: as they are (the log spreads keyless)
        partitioner = self._partitioners[topic]
        partitioner.learn(keys)
        return list(map(partitioner.__getitem__, keys))  # type: ignore[arg-type] # no None

    def take(self, topic: str, sent: list[Output], reports: list[DeliveryReport]) -> None:
        """Hand the records just written (``sent``, reported by ``reports``) that belong to
        a task of ours to it, if each is the next its partition must deliver."""
        units = self.units
        parts = [report.partition for report in reports]
        paused = self.consumer.paused()
        for part, run in groupby(
            sorted(range(len(parts)), key=parts.__getitem__), parts.__getitem__
        ):
            unit = units.get(part)
            if unit is None:
                continue  # another worker's: it reads them
            index = list(run)
            got = [reports[i] for i in index]
            if [report.error for report in got].count(None) < len(got):
                self.missed = True  # refused: the commit reports it; nothing to hand over
                continue
            tp = TopicPartition(topic, part)
            first, last = got[0].offset, got[-1].offset
            self._written[tp] = last + 1
            if tp in paused or unit.buffer.expects(tp) != first or last - first != len(got) - 1:
                self.missed = True  # held back, or others' records first: the consumer reads
                continue
            outs = [sent[i] for i in index]
            count = len(got)
            records = list(
                map(
                    Record,
                    repeat(topic, count),
                    repeat(part, count),
                    map(_offset, got),
                    map(_timestamp, got),
                    map(_out_key, outs),
                    map(_out_value, outs),
                    map(_out_headers, outs),
                )
            )
            unit.buffer.hand(tp, records)
            self.consumer.seek(tp, last + 1)
            self.handed += records

    def at_end(self) -> set[TopicPartition]:
        """Our repartition partitions whose tasks have every record we wrote to them: as
        far as this worker knows, they are at their end (the consumer, which skipped the
        handed records, may not have looked yet)."""
        ended: set[TopicPartition] = set()
        for tp, end in self._written.items():
            unit = self.units.get(tp.partition)
            if unit is not None:
                due = unit.buffer.expects(tp)
                if due is not None and due >= end:
                    ended.add(tp)
        return ended

    def forget(self, partitions: set[int]) -> None:
        """Partitions that moved away or restart: what we wrote says nothing about their end."""
        for tp in [tp for tp in self._written if tp.partition in partitions]:
            del self._written[tp]

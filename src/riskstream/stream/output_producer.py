"""The runner's producer, and the log's acknowledgements of what it produced.

Acknowledgements are counted by epoch (see :mod:`riskstream.stream.epochs`), so that a
commit completes only once the outputs before it are in the log; each output partition's
last acknowledged offset goes to the output ends; a refused record fails the next commit.

Where the log stores records itself (embedded, memory: a
:class:`~riskstream.log.port.BatchProducer`), each topic's outputs of a cycle are written at
once and their reports are in hand at once: no call and no callback per record, and the
repartition records for this worker's own tasks can be handed over right away (see
:mod:`riskstream.stream.handoff`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING

from riskstream.errors import ProduceError
from riskstream.log.port import (
    BatchProducer,
    BatchRecord,
    DeliveryCallback,
    OutgoingRecord,
    Producer,
    StreamingProducer,
)
from riskstream.log.records import DeliveryReport
from riskstream.stream.epochs import OutputEpoch
from riskstream.stream.output import Output
from riskstream.stream.output_ends import OutputEnds

if TYPE_CHECKING:
    from riskstream.stream.handoff import LocalHandoff

__all__ = ["OutputProducer"]

logger = logging.getLogger(__name__)

_fields = attrgetter("partition", "key", "value", "timestamp", "headers")
_key, _value = attrgetter("key"), attrgetter("value")
_timestamp, _headers = attrgetter("timestamp"), attrgetter("headers")
_topic = attrgetter("topic")


class OutputProducer:
    """Produces the tasks' outputs (and carries their changelog records) in epochs."""

    __slots__ = ("batch", "deliver", "ends", "epoch", "failed", "many", "producer")

    def __init__(self, producer: Producer, ends: OutputEnds) -> None:
        self.producer = producer
        self.ends = ends
        self.failed: list[DeliveryReport] = []
        self.epoch = OutputEpoch(ends.acked, self.failed)
        self.deliver = self.epoch.on_delivery  # the delivery callback of every record now
        # Writes a topic's batch at once, where the log can.
        self.batch: Callable[[str, list[BatchRecord]], list[DeliveryReport]] | None = (
            producer.produce_batch if isinstance(producer, BatchProducer) else None
        )
        # Queues a list of records in one call, where the log can (Kafka).
        self.many: Callable[[Sequence[OutgoingRecord], DeliveryCallback], None] | None = (
            producer.produce_many if isinstance(producer, StreamingProducer) else None
        )

    def send(self, outputs: list[Output], handoff: LocalHandoff | None = None) -> None:
        """Produce ``outputs`` in the current epoch; watch the ends of any new topic. The
        caller serves delivery reports (``producer.poll``) once per cycle, not per call.
        ``handoff`` (only with a batch-writing log) takes the repartition records."""
        if not outputs:
            return
        if self.batch is not None:
            self._write(self.batch, outputs, handoff)
            return
        if self.many is not None:
            watched = self.ends.topics
            for topic in set(map(_topic, outputs)) - watched:
                self.ends.watch(topic)
            self.many(outputs, self.deliver)
            self.epoch.produced += len(outputs)
            return
        produce = self.producer.produce
        deliver = self.deliver
        watched = self.ends.topics
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
            if out.topic not in watched:
                self.ends.watch(out.topic)
        self.epoch.produced += len(outputs)

    def _write(
        self,
        batch: Callable[[str, list[BatchRecord]], list[DeliveryReport]],
        outputs: list[Output],
        handoff: LocalHandoff | None,
    ) -> None:
        """Write each topic's outputs as one batch and count their reports at once."""
        watched = self.ends.topics
        for topic, group in _by_topic(outputs).items():
            if topic not in watched:
                self.ends.watch(topic)
            local = handoff if handoff is not None and topic in handoff.counts else None
            records: list[BatchRecord]
            if local is None:
                records = list(map(_fields, group))
            else:
                records = list(
                    zip(
                        local.partitions(topic, group),
                        map(_key, group),
                        map(_value, group),
                        map(_timestamp, group),
                        map(_headers, group),
                        strict=True,
                    )
                )
            reports = batch(topic, records)
            self.epoch.written(reports)
            if local is not None:
                local.take(topic, group, reports)

    def next_epoch(self) -> OutputEpoch:
        """Close the current epoch (a commit was sealed after its outputs), open the next."""
        closed = self.epoch
        self.epoch = OutputEpoch(self.ends.acked, self.failed)
        self.deliver = self.epoch.on_delivery
        return closed

    def discard(self) -> None:
        """Forget the current epoch's records before their transaction is aborted: the log
        purges them and their reports fail nothing that counts (none of it becomes visible)."""
        self.epoch.failures = []  # the purged records' reports land here and are dropped
        self.epoch = OutputEpoch(self.ends.acked, self.failed)
        self.deliver = self.epoch.on_delivery

    def flush(self) -> None:
        """Wait until the log acknowledged everything produced; raise if it refused some."""
        while self.producer.flush(10) > 0:
            logger.warning("waiting for the log to acknowledge outputs")
        self.raise_failed()

    def raise_failed(self) -> None:
        if self.failed:
            failed = list(self.failed)
            self.failed.clear()  # in place: the epochs report into this very list
            raise ProduceError(f"{len(failed)} outputs were not acknowledged: {failed[0].error}")


def _by_topic(outputs: list[Output]) -> Mapping[str, list[Output]]:
    """The outputs of each topic, in their order (one topic: the list itself)."""
    topics = set(map(_topic, outputs))
    if len(topics) == 1:
        return {topics.pop(): outputs}
    groups: dict[str, list[Output]] = {topic: [] for topic in topics}
    for out in outputs:  # one pass, whatever the number of topics
        groups[out.topic].append(out)
    return groups

"""The runner's producer, and the log's acknowledgements of what it produced.

Acknowledgements are counted by epoch (see :mod:`riskstream.stream.epochs`), so that a
commit completes only once the outputs before it are in the log; each output partition's
last acknowledged offset goes to the output ends; a refused record fails the next commit.
"""

from __future__ import annotations

import logging

from riskstream.errors import ProduceError
from riskstream.log.port import Producer
from riskstream.log.records import DeliveryReport
from riskstream.stream.epochs import OutputEpoch
from riskstream.stream.output import Output
from riskstream.stream.output_ends import OutputEnds

__all__ = ["OutputProducer"]

logger = logging.getLogger(__name__)


class OutputProducer:
    """Produces the tasks' outputs (and carries their changelog records) in epochs."""

    __slots__ = ("deliver", "ends", "epoch", "failed", "producer")

    def __init__(self, producer: Producer, ends: OutputEnds) -> None:
        self.producer = producer
        self.ends = ends
        self.failed: list[DeliveryReport] = []
        self.epoch = OutputEpoch(ends.acked, self.failed)
        self.deliver = self.epoch.on_delivery  # the delivery callback of every record now

    def send(self, outputs: list[Output]) -> None:
        """Produce ``outputs`` in the current epoch; watch the ends of any new topic. The
        caller serves delivery reports (``producer.poll``) once per cycle, not per call."""
        if not outputs:
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

    def next_epoch(self) -> OutputEpoch:
        """Close the current epoch (a commit was sealed after its outputs), open the next."""
        closed = self.epoch
        self.epoch = OutputEpoch(self.ends.acked, self.failed)
        self.deliver = self.epoch.on_delivery
        return closed

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

"""The API's one producer, pumped by the event loop.

Request handlers hand over records (:meth:`Outbox.send`) and return to the loop; one pump
scheduled per loop iteration produces everything handed over since the last one. On the
embedded log (writes are synchronous) the pump flushes: one SQLite transaction carries the
records of every request of that iteration, so under load a write serves many requests. On
Kafka the client sends in its own threads; the pump only serves delivery reports, polling
every ``report_interval_s`` while records are unacknowledged.

No thread of its own: handing work to another Python thread and back costs two wake-ups and
two hand-overs of the interpreter lock per request, which on a busy two-CPU machine was most
of the API's cost and all of its latency tail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from riskstream.log.port import EventLog, Producer
from riskstream.log.records import DeliveryReport

__all__ = ["Outbox", "Outgoing"]

logger = logging.getLogger(__name__)

_FLUSH_TIMEOUT_S: Final = 30.0
#: Kafka: a linger of its own would only delay the checkout on its way to the engine.
_KAFKA_LINGER_MS: Final = 0
#: Synchronous logs: never write on ``produce``; the pump flushes once per loop iteration.
_HOLD_MS: Final = 60_000


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to produce."""

    topic: str
    value: bytes
    key: bytes
    timestamp: int


Done = Callable[[list[tuple[int, str]]], None]
"""Called on the event loop with ``(index, error)`` for each record not acknowledged."""


@dataclass(slots=True)
class _Job:
    records: Sequence[Outgoing]
    done: Done | None
    errors: list[tuple[int, str]] = field(default_factory=list)
    acknowledged: int = 0

    def delivered(self, index: int, report: DeliveryReport) -> None:
        if report.error is None:
            self.acknowledged += 1
        else:
            self.errors.append((index, report.error))

    @property
    def complete(self) -> bool:
        return self.acknowledged + len(self.errors) >= len(self.records)


class Outbox:
    """Produces records for the event loop's handlers; see the module docstring."""

    def __init__(self, log: EventLog, *, report_interval_s: float = 0.001) -> None:
        self.log = log
        # The embedded and memory logs write when flushed, synchronously and quickly.
        self.synchronous = not log.url.startswith("kafka:")
        self._report_interval_s = report_interval_s
        self._producer: Producer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queued: list[_Job] = []
        self._unacknowledged: list[_Job] = []
        self._pump_scheduled = False
        self._reports: asyncio.TimerHandle | None = None
        self.produced = 0
        self.failed = 0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        linger = _HOLD_MS if self.synchronous else _KAFKA_LINGER_MS
        self._producer = self.log.producer(linger_ms=linger)
        self._loop = loop

    @property
    def running(self) -> bool:
        return self._producer is not None

    def send(self, records: Sequence[Outgoing], done: Done | None = None) -> None:
        """Queue ``records``; ``done`` hears on the event loop which were not acknowledged."""
        loop = self._loop
        if loop is None or self._producer is None:
            raise RuntimeError("the outbox is not running")
        self._queued.append(_Job(records, done))
        if not self._pump_scheduled:
            self._pump_scheduled = True
            loop.call_soon(self._pump)

    def close(self) -> None:
        """Produce what is queued, wait for its reports, and close the producer."""
        producer = self._producer
        if producer is None:
            return
        if self._queued:
            self._pump()
        try:
            producer.flush(_FLUSH_TIMEOUT_S)
            self._settle()
        finally:
            if self._reports is not None:
                self._reports.cancel()
            self._producer = None
            producer.close()

    # -- the pump ---------------------------------------------------------------------------

    def _pump(self) -> None:
        self._pump_scheduled = False
        producer = self._producer
        jobs, self._queued = self._queued, []
        if producer is None or not jobs:
            return
        produce = producer.produce
        for job in jobs:
            for index, record in enumerate(job.records):
                try:
                    produce(
                        record.topic,
                        record.value,
                        record.key,
                        timestamp=record.timestamp,
                        on_delivery=partial(job.delivered, index),
                    )
                except Exception as exc:  # closed producer or bad arguments: that record fails
                    job.errors.append((index, f"{type(exc).__name__}: {exc}"))
        self._unacknowledged.extend(jobs)
        if self.synchronous:
            try:
                producer.flush(_FLUSH_TIMEOUT_S)
            except Exception as exc:  # the whole write failed: every record in it did
                logger.exception("outbox: writing to the log failed")
                reason = f"{type(exc).__name__}: {exc}"
                for job in jobs:
                    seen = {index for index, _ in job.errors}
                    job.errors += [(i, reason) for i in range(len(job.records)) if i not in seen]
        else:
            producer.poll(0)
        self._settle()

    def _settle(self) -> None:
        """Finish the jobs whose every record was reported; keep polling for the others."""
        waiting = self._unacknowledged
        if not waiting:
            return
        finished = [job for job in waiting if job.complete]
        if finished:
            self._unacknowledged = [job for job in waiting if not job.complete]
            for job in finished:
                self.produced += job.acknowledged
                self.failed += len(job.errors)
                if job.done is not None:
                    try:
                        job.done(job.errors)
                    except Exception:  # one handler's bug must not starve the others
                        logger.exception("outbox: a completion callback failed")
        if self._unacknowledged and self._reports is None and self._loop is not None:
            self._reports = self._loop.call_later(self._report_interval_s, self._poll_reports)

    def _poll_reports(self) -> None:
        self._reports = None
        if self._producer is not None:
            self._producer.poll(0)
            self._settle()

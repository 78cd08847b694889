"""Writing simulated traffic into an event log (embedded, Kafka or memory).

Each event goes to its own topic (``Event.topic``, after ``topic_prefix`` if one is given:
an isolated run's namespace), keyed by user id so one user's events share a partition on
every co-partitioned topic, with the event time as the record timestamp, serialised by the
topic's shared codec. Records leave in batches: the producer lingers, and the writer serves
delivery reports once per batch. Ground truth goes to a JSONL file and/or the ``sim.truth``
topic — never to a topic the engine reads.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from riskstream.events import ACTIVITY_TOPICS, DEFAULT_PARTITIONS, EVENT_TYPES, Event, codec_for
from riskstream.log import DeliveryReport, EventLog, TopicSpec
from riskstream.sim.smoke import ensure_event_topics
from riskstream.sim.truth import TRUTH_TOPIC, GroundTruth, TruthFile, encode_truth

__all__ = ["SimWriter", "WriteResult"]

Progress = Callable[[int], None]
OnSend = Callable[[Event], None]


@dataclass
class WriteResult:
    """What a writer produced and what the log acknowledged."""

    produced: int = 0
    acknowledged: int = 0
    delivery_errors: int = 0
    first_error: str | None = None
    truth_records: int = 0  # ground-truth records received
    truth_produced: int = 0  # of which produced to the truth topic
    per_topic: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.delivery_errors == 0 and self.acknowledged == self.produced + self.truth_produced
        )

    @property
    def events_per_s(self) -> float:
        return self.produced / self.seconds if self.seconds > 0 else 0.0


class SimWriter:
    """Produces events into a log on their topics, and ground truth where it was asked to go.

    Use as a context manager; pass :meth:`truth` as the simulator's ``truth`` sink::

        with SimWriter(log, truth_path="truth.jsonl") as writer:
            writer.write(simulator.events(1_000_000, truth=writer.truth))

    With ``topic_prefix``, every topic written (events and ground truth) is the standard
    name after it, and ``create_topics`` creates the prefixed event topics (dead-letter
    topics are then the readers' to create).
    """

    def __init__(
        self,
        log: EventLog,
        *,
        partitions: int = DEFAULT_PARTITIONS,
        truth_path: str | Path | None = None,
        truth_topic: bool = False,
        create_topics: bool = True,
        batch_size: int = 10_000,
        linger_ms: int = 20,
        topic_prefix: str = "",
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.log = log
        self.batch_size = batch_size
        self.result = WriteResult()
        self._truth_topic_name = topic_prefix + TRUTH_TOPIC
        if create_topics:
            if topic_prefix:
                log.admin.create_topics(
                    [
                        TopicSpec(name=topic_prefix + t, partitions=partitions)
                        for t in ACTIVITY_TOPICS
                    ],
                    exist_ok=True,
                )
            else:
                ensure_event_topics(log, partitions)
            if truth_topic:
                log.admin.create_topics(
                    [TopicSpec(name=self._truth_topic_name, partitions=partitions)],
                    exist_ok=True,
                )
        self._truth_file = TruthFile(truth_path) if truth_path is not None else None
        self._truth_topic = truth_topic
        self._truth_pending: list[GroundTruth] = []
        self._producer = log.producer(on_delivery=self._delivered, linger_ms=linger_ms)
        self._routes = {
            kind: (topic_prefix + kind.topic, codec_for(kind.topic).encode) for kind in EVENT_TYPES
        }
        self._closed = False

    def _delivered(self, report: DeliveryReport) -> None:
        if report.error is None:
            self.result.acknowledged += 1
        else:
            self.result.delivery_errors += 1
            if self.result.first_error is None:
                self.result.first_error = f"{report.topic}: {report.error}"

    def truth(self, record: GroundTruth) -> None:
        """Ground-truth sink for :meth:`TrafficSimulator.events`."""
        if self._truth_file is not None:
            self._truth_file.write(record)
        if self._truth_topic:
            self._truth_pending.append(record)
        self.result.truth_records += 1

    def write(
        self,
        events: Iterable[Event],
        *,
        progress: Progress | None = None,
        on_send: OnSend | None = None,
    ) -> WriteResult:
        """Produce every event; returns the running result (acknowledgements after ``close``).

        ``progress(count)`` follows each batch of ``count`` events; ``on_send(event)`` is
        called with each event just before it is produced (e.g. to note when it left)."""
        produce = self._producer.produce
        routes = self._routes
        per_topic: Counter[str] = Counter()
        in_batch = 0
        began = time.perf_counter()
        for event in events:
            topic, encode = routes[type(event)]
            value = encode(event)
            if on_send is not None:
                on_send(event)
            produce(topic, value, event.user_id.encode(), timestamp=event.event_time)
            per_topic[topic] += 1
            in_batch += 1
            if in_batch == self.batch_size:
                self._end_batch(in_batch, progress)
                in_batch = 0
        if in_batch:
            self._end_batch(in_batch, progress)
        self.result.seconds += time.perf_counter() - began
        self.result.per_topic.update(per_topic)
        return self.result

    def _end_batch(self, count: int, progress: Progress | None) -> None:
        self.result.produced += count
        if self._truth_pending:
            produce = self._producer.produce
            topic = self._truth_topic_name
            for record in self._truth_pending:
                produce(topic, encode_truth(record), record.key, timestamp=record.event_time)
            self.result.per_topic[topic] += len(self._truth_pending)
            self.result.truth_produced += len(self._truth_pending)
            self._truth_pending.clear()
        self._producer.poll(0)
        if progress is not None:
            progress(count)

    def flush(self, timeout: float | None = 60.0) -> int:
        """Send everything buffered and wait for the reports; returns how many are pending."""
        if self._truth_pending:
            self._end_batch(0, None)
        return self._producer.flush(timeout)

    def close(self) -> WriteResult:
        """Flush, close the producer and the truth file; the final result."""
        if not self._closed:
            self._closed = True
            self.flush()
            self._producer.close()
            if self._truth_file is not None:
                self._truth_file.close()
        return self.result

    def __enter__(self) -> SimWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

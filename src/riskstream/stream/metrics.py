"""Prometheus metrics of one :class:`~riskstream.stream.runner.Runner`.

Each :class:`RunnerMetrics` owns its own :class:`~prometheus_client.CollectorRegistry` (never
the process-wide default one: several runners may share a process, as in tests), and every
series carries the labels ``application`` and ``worker``. The runner reports once per batch
or per commit, never per record, so the hot path pays a few lock-protected additions a batch.

=============================================  =========  ======================================
metric                                         type       labels (besides application, worker)
=============================================  =========  ======================================
``riskstream_records_in_total``                counter    ``topic``: records polled
``riskstream_records_out_total``               counter    ``topic``: records produced (outputs,
                                                          repartitioned items, late records,
                                                          dead letters)
``riskstream_batch_processing_seconds``        histogram  process + produce time of one polled
                                                          batch
``riskstream_end_to_end_latency_milliseconds`` histogram  wall clock when a polled batch's
                                                          outputs are produced minus the oldest
                                                          timestamp among the first records of
                                                          its partitions; one sample per batch
                                                          with outputs
``riskstream_consumer_lag``                    gauge      ``topic``, ``partition``: high
                                                          watermark minus position, at commit
``riskstream_state_keys``                      gauge      ``task``: keys in the task's store
``riskstream_restore_progress_ratio``          gauge      ``partition``: changelog records
                                                          restored / to restore (1 when done)
``riskstream_restore_seconds``                 histogram  duration of one task's restore
``riskstream_late_records_total``              counter    ``topic``: input records sent to the
                                                          late topic
``riskstream_dead_letters_total``              counter    ``topic``: input records sent to
                                                          ``dlq.<topic>``
``riskstream_rebalances_total``                counter    ``kind``: ``assigned`` / ``revoked``
``riskstream_commit_seconds``                  histogram  duration of one commit
``riskstream_outputs_suppressed_total``        counter    outputs skipped by the crash dedup
=============================================  =========  ======================================

The end-to-end latency assumes that producers stamp records with the wall clock (as the log
does by default); records carrying an event time from elsewhere as their timestamp make it
meaningless. Its buckets are in milliseconds, like every time inside riskstream and the
benchmarks' ``p50_ms``/``p99_ms``. Lag and state size are sampled at commit (state size at
most every ``state_size_interval_s``), restore progress as the restore reports it. Late
records and dead letters are counted from what the tasks send to the late and ``dlq.*``
topics, so a timer that fails (it has no record to dead-letter) is not among them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter as Tally
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

from riskstream.log.deadletter import DLQ_PREFIX
from riskstream.log.records import Record, TopicPartition
from riskstream.state import ProgressCallback
from riskstream.stream.output import Output

__all__ = ["MetricsServer", "RunnerMetrics"]

_PREFIX = "riskstream_"
_BASE = ("application", "worker")
_LATE_TOPIC_HEADER = "late.topic"  # set by Task._late: the input topic of a late record

BATCH_SECONDS_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip
END_TO_END_MS_BUCKETS = (
    0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0,
    10_000.0,
)  # fmt: skip
COMMIT_SECONDS_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
RESTORE_SECONDS_BUCKETS = (
    0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip


def _by_topic(topics: list[str]) -> Mapping[str, int]:
    """How often each topic occurs; a batch of one topic (the usual case) costs one scan."""
    # For one topic, a list comprehension + list.count cost ~1/4 of Counter(map(attrgetter)).
    if not topics:
        return {}
    if topics.count(topics[0]) == len(topics):
        return {topics[0]: len(topics)}
    return Tally(topics)


def default_worker_id() -> str:
    """``<host>-<pid>``: tells the workers of one group apart in a scrape."""
    return f"{socket.gethostname()}-{os.getpid()}"


class MetricsServer:
    """An HTTP endpoint serving one registry at any path, in a daemon thread."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        """The bound port (useful after asking for port 0)."""
        return int(self._server.server_port)

    def close(self) -> None:
        """Stop serving and release the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RunnerMetrics:
    """The metrics of one runner, in a registry of their own.

    ``state_size_interval_s`` bounds how often the runner samples its stores' sizes at
    commit: counting the keys of a SQLite store reads its whole table (~40 ms per million
    keys), too much for every commit. ``lag_interval_s`` is how often the lag gauges are
    sampled (off the processing thread, see :mod:`riskstream.stream.lag`).
    """

    def __init__(
        self,
        application: str,
        worker: str | None = None,
        *,
        state_size_interval_s: float = 10.0,
        lag_interval_s: float = 1.0,
    ) -> None:
        self.application = application
        self.worker = worker if worker is not None else default_worker_id()
        self.state_size_interval_s = state_size_interval_s
        self.lag_interval_s = lag_interval_s
        self.registry = CollectorRegistry(auto_describe=True)
        self._base = (application, self.worker)
        self._state_sampled: float | None = None
        self._define_flow()
        self._define_progress()
        self._batch_seconds = self._batch_seconds_family.labels(*self._base)
        self._end_to_end_ms = self._end_to_end_family.labels(*self._base)
        self._commit_seconds = self._commit_family.labels(*self._base)
        self._restore_seconds = self._restore_family.labels(*self._base)
        self._suppressed = self._suppressed_family.labels(*self._base)
        # Labelled children by topic: a dict hit is cheaper than ``labels()`` on every batch.
        self._in: dict[str, Counter] = {}
        self._out: dict[str, Counter] = {}

    def _define_flow(self) -> None:
        """Counters and histograms of records flowing through."""
        topic = (*_BASE, "topic")
        reg = self.registry
        self._in_family = Counter(
            f"{_PREFIX}records_in", "Input records polled.", topic, registry=reg
        )
        self._out_family = Counter(
            f"{_PREFIX}records_out", "Records produced, by topic.", topic, registry=reg
        )
        self._late = Counter(
            f"{_PREFIX}late_records", "Input records behind the watermark.", topic, registry=reg
        )
        self._dead = Counter(
            f"{_PREFIX}dead_letters", "Input records sent to dlq.<topic>.", topic, registry=reg
        )
        self._suppressed_family = Counter(
            f"{_PREFIX}outputs_suppressed",
            "Outputs skipped because they were written before a crash.",
            _BASE,
            registry=reg,
        )
        self._batch_seconds_family = Histogram(
            f"{_PREFIX}batch_processing_seconds",
            "Time to process and produce one polled batch.",
            _BASE,
            buckets=BATCH_SECONDS_BUCKETS,
            registry=reg,
        )
        self._end_to_end_family = Histogram(
            f"{_PREFIX}end_to_end_latency_milliseconds",
            "Wall clock at produce minus the batch's oldest input timestamp, once per batch.",
            _BASE,
            buckets=END_TO_END_MS_BUCKETS,
            registry=reg,
        )

    def _define_progress(self) -> None:
        """Gauges and histograms of the runner's position, state and group membership."""
        reg = self.registry
        self._lag = Gauge(
            f"{_PREFIX}consumer_lag",
            "Records not read yet: high watermark minus position, at the last commit.",
            (*_BASE, "topic", "partition"),
            registry=reg,
        )
        self._state_keys = Gauge(
            f"{_PREFIX}state_keys",
            "Committed keys in a task's store.",
            (*_BASE, "task"),
            registry=reg,
        )
        self._restore = Gauge(
            f"{_PREFIX}restore_progress_ratio",
            "Changelog records restored over those to restore, per partition.",
            (*_BASE, "partition"),
            registry=reg,
        )
        self._restore_family = Histogram(
            f"{_PREFIX}restore_seconds",
            "Duration of one task's state restore.",
            _BASE,
            buckets=RESTORE_SECONDS_BUCKETS,
            registry=reg,
        )
        self._rebalances = Counter(
            f"{_PREFIX}rebalances",
            "Partition assignments and revocations.",
            (*_BASE, "kind"),
            registry=reg,
        )
        self._commit_family = Histogram(
            f"{_PREFIX}commit_seconds",
            "Duration of one commit of outputs, state and offsets.",
            _BASE,
            buckets=COMMIT_SECONDS_BUCKETS,
            registry=reg,
        )

    # -- the hot path: once per batch -----------------------------------------------------

    def records_in(self, records: Sequence[Record]) -> None:
        """Count a polled batch by topic."""
        for topic, count in _by_topic([r.topic for r in records]).items():
            child = self._in.get(topic)
            if child is None:
                child = self._in[topic] = self._in_family.labels(*self._base, topic)
            child.inc(count)

    def records_out(self, outputs: Sequence[Output], late_topic: str) -> None:
        """Count a task's produced batch by topic, and the late records and dead letters in it."""
        for topic, count in _by_topic([out.topic for out in outputs]).items():
            child = self._out.get(topic)
            if child is None:
                child = self._out[topic] = self._out_family.labels(*self._base, topic)
            child.inc(count)
            if topic == late_topic:
                self._count_late(out for out in outputs if out.topic == late_topic)
            elif topic.startswith(DLQ_PREFIX):
                self._dead.labels(*self._base, topic.removeprefix(DLQ_PREFIX)).inc(count)

    def _count_late(self, late: Iterable[Output]) -> None:
        # Late records share one topic; the input topic is in their headers (rare: scan them).
        by_topic = Tally(
            next((v.decode() for k, v in out.headers if k == _LATE_TOPIC_HEADER), "")
            for out in late
        )
        for topic, count in by_topic.items():
            self._late.labels(*self._base, topic).inc(count)

    def batch_processed(self, seconds: float) -> None:
        self._batch_seconds.observe(seconds)

    def end_to_end(self, input_timestamp_ms: int) -> None:
        """Observe now minus an input's timestamp; both are wall clock (see the module doc)."""
        # Wall clock, not the runner's injected clock: it is compared with producers' clocks.
        self._end_to_end_ms.observe(max(0.0, time.time() * 1000.0 - input_timestamp_ms))

    def suppressed(self, count: int) -> None:
        self._suppressed.inc(count)

    # -- commits, restores and rebalances -------------------------------------------------

    def committed(self, seconds: float) -> None:
        self._commit_seconds.observe(seconds)

    def lag(self, tp: TopicPartition, records: int) -> None:
        self._lag.labels(*self._base, tp.topic, str(tp.partition)).set(records)

    def state_size_due(self) -> bool:
        """Whether this commit should sample the stores' sizes (see the class doc)."""
        now = time.monotonic()
        if self._state_sampled is not None and now - self._state_sampled < (
            self.state_size_interval_s
        ):
            return False
        self._state_sampled = now
        return True

    def state_size(self, task: int, keys: int) -> None:
        self._state_keys.labels(*self._base, str(task)).set(keys)

    def restore_progress(self, partition: int) -> ProgressCallback:
        """A ``restore(on_progress=...)`` callback that sets the partition's progress gauge."""
        gauge = self._restore.labels(*self._base, str(partition))
        gauge.set(0.0)

        def progress(done: int, total: int) -> None:
            gauge.set(done / total if total > 0 else 1.0)

        return progress

    def restored(self, partition: int, seconds: float) -> None:
        """A restore finished (the callback is not called when there was nothing to replay)."""
        self._restore.labels(*self._base, str(partition)).set(1.0)
        self._restore_seconds.observe(seconds)

    def rebalanced(self, kind: Literal["assigned", "revoked", "lost"]) -> None:
        self._rebalances.labels(*self._base, kind).inc()

    def forget(self, partitions: Iterable[TopicPartition], tasks: Iterable[int]) -> None:
        """Drop the gauges of partitions and tasks this worker no longer holds."""
        for tp in partitions:
            self._lag.remove(*self._base, tp.topic, str(tp.partition))
        for task in tasks:
            self._state_keys.remove(*self._base, str(task))
            self._restore.remove(*self._base, str(task))

    # -- exposition -----------------------------------------------------------------------

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)

    def serve(self, port: int, addr: str = "127.0.0.1") -> MetricsServer:
        """Serve :meth:`render` over HTTP on ``addr:port`` (0: any free port) until closed."""
        server, thread = start_http_server(port, addr, self.registry)
        return MetricsServer(server, thread)

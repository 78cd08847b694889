"""Fraud-engine benchmarks: the fraud topology end to end, events in, one decision per checkout out.

    python benchmarks/fraud.py [--quick] [--only throughput,replay,latency,memory]
                               [--backend embedded|kafka] [--workers 1,2] [--events N]
                               [--users N] [--partitions N] [--runs N] [--rates 20000,5000]
                               [--seconds S] [--memory-users N] [--profile PATH] [--py-spy PATH]

Prints one JSON object per figure on stdout (DESIGN.md §4 "Benchmarks"); a figure that fails
prints ``{"bench": ..., "backend": ..., "error": ...}`` on stderr, the others still run, and
the exit status is 1. The topology is :func:`riskstream.fraud.topology.fraud_topology` with
its defaults (built-in features, the shipped rules, no model): ``events.*`` → user profiles →
entity repartition → device / instrument / IP / merchant profiles → by-user repartition →
decision → ``risk.decisions`` (+ ``risk.alerts``). Traffic comes from the
:class:`~riskstream.sim.TrafficSimulator`, encoded with the events' own codecs before any
timer starts. Every run works in a fresh temp directory (embedded) or under topic, group and
application names of its own (Kafka, ``bench-<hex>.…``, deleted afterwards, dead-letter
topics ``dlq.bench-<hex>.…`` included).

Throughput and latency run once per ``--workers`` count: that many spawned worker processes,
each a Runner, in the run's consumer group (see ``worker_group.py``: they join on empty
topics and hold until every partition number has one owner). Every run checks that each
checkout was decided exactly once and every input event processed.

``--profile PATH`` adds a profile of one 1-worker throughput run (py-spy when found, sampling
a child process and its worker; else cProfile in the worker process): top functions by self
and cumulative time and the cost per input event of each stage, written to PATH and summed
up as a ``fraud.profile`` figure.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import functools
import gc
import io
import json
import multiprocessing as mp
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any

import msgspec
from worker_group import (
    Workers,
    delete_run,
    join_until_held,
    records_held,
    settle_group,
    start_workers,
    worker_counts,
)

from riskstream.events import ACTIVITY_TOPICS, Checkout, Login
from riskstream.events.codec import codec_for
from riskstream.events.topics import DEFAULT_PARTITIONS
from riskstream.fraud.topology import (
    ALERTS_TOPIC,
    DECISIONS_TOPIC,
    FRAUD_APPLICATION,
    FraudConfig,
    fraud_topology,
)
from riskstream.log import EventLog, TopicPartition, TopicSpec, open_log
from riskstream.log.records import Record
from riskstream.services.replay import ReplayStats, replay_records
from riskstream.sim import SimConfig, TrafficSimulator
from riskstream.stream.gc_policy import STREAMING_THRESHOLDS, streaming_gc, tune_gc_for_streaming
from riskstream.stream.runner import Runner

BACKENDS = ("embedded", "kafka")
BENCHES = ("throughput", "replay", "latency", "memory")
KAFKA_ENV = "RISKSTREAM_KAFKA_BOOTSTRAP"
MAX_BATCH = 10_000  # the runner's default poll size
SEED = 11
SENT_HEADER = "bench-sent-ns"
GC_NOTE = f"gc.freeze() after set-up, gc.set_threshold{STREAMING_THRESHOLDS} (as the worker)"
TOPOLOGY_NOTE = (
    "fraud_topology(): built-in features, shipped rules, no model; events.* (co-partitioned by "
    "user) -> profile -> entity repartition -> entities -> by-user repartition -> decide -> "
    "risk.decisions (+ risk.alerts); Runner with a SqliteStore per task, 1 s commits"
)
WORKER_NOTE = (
    "a spawned process per worker, one Runner each (low_latency, gc tuned after start-up as "
    "`riskstream worker` does), all in the run's consumer group (the backend's default group "
    "protocol), settled with every partition number owned by one worker before the pre-fill"
)

Input = tuple[str, bytes, bytes, int]  # event topic (events.*), key, encoded value, event time


@dataclass(frozen=True)
class Config:
    """What one invocation measures."""

    backend: str
    url: str
    workers: tuple[int, ...]
    events: int
    users: int
    partitions: int
    runs: int
    rates: tuple[int, ...]
    seconds: float
    warmup_s: float
    memory_users: int
    profile: Path | None
    py_spy: str | None


# -- output ------------------------------------------------------------------------------


def emit(
    bench: str, metric: str, value: float, *, unit: str, params: dict[str, Any], backend: str
) -> None:
    figure = {
        "bench": bench,
        "backend": backend,
        "metric": metric,
        "value": round(value, 3),
        "unit": unit,
        "params": params,
    }
    print(json.dumps(figure), flush=True)


def emit_error(bench: str, exc: BaseException, *, backend: str, where: str = "") -> None:
    error = f"{type(exc).__name__}: {exc}"
    line = {"bench": bench, "backend": backend, "error": f"{where}: {error}" if where else error}
    print(json.dumps(line), file=sys.stderr, flush=True)


def pct(values: Sequence[float], q: int) -> float:
    """The q-th percentile (1..99) of at least two values."""
    if len(values) < 2:
        raise RuntimeError(f"{len(values)} samples: too few for percentiles")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# -- workload ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """Encoded simulated events in event-time order, and what they hold."""

    inputs: list[Input]
    checkout_ids: list[str]  # each checkout's transaction id, in order
    users: int

    @property
    def checkouts(self) -> int:
        return len(self.checkout_ids)

    def mix(self) -> dict[str, Any]:
        counts = collections.Counter(topic.removeprefix("events.") for topic, *_ in self.inputs)
        return {
            "by_topic": dict(counts.most_common()),
            "checkout_share": round(self.checkouts / max(1, len(self.inputs)), 4),
        }


def simulated(events: int, users: int, seed: int = SEED) -> Workload:
    inputs: list[Input] = []
    checkout_ids: list[str] = []
    for event in TrafficSimulator(SimConfig(users=users, seed=seed)).events(events):
        inputs.append(
            (event.topic, event.key, codec_for(event.topic).encode(event), event.event_time)
        )
        if type(event) is Checkout:
            checkout_ids.append(event.transaction_id)
    return Workload(inputs, checkout_ids, users)


def one_visit_each(users: int) -> Workload:
    """A login and a checkout for each of ``users`` distinct users, each with a device,
    a card and an IP of its own (250 merchants): one profile per user and per entity."""
    sim = TrafficSimulator(SimConfig(users=1_000, seed=3))
    login = next(e for e in sim.events() if type(e) is Login)
    checkout = next(e for e in sim.events() if type(e) is Checkout)
    replace = msgspec.structs.replace
    encode_login, encode_checkout = codec_for(Login.topic).encode, codec_for(Checkout.topic).encode
    inputs: list[Input] = []
    start = login.event_time
    for i in range(users):
        user = f"user-{i:08d}"
        at = start + i * 10
        device, ip = f"dev-{i:016x}", f"{10 + i % 200}.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        key = user.encode()
        first = replace(
            login, event_id=f"m-{i}-l", user_id=user, event_time=at, device_id=device, ip=ip
        )
        second = replace(
            checkout,
            event_id=f"m-{i}-c",
            user_id=user,
            event_time=at + 5,
            transaction_id=f"tx-m-{i}",
            merchant_id=f"m-{i % 250:05d}",
            instrument_fingerprint=f"card-{i:016x}",
            device_id=device,
            ip=ip,
            shipping_address_hash=f"addr-{i:016x}",
        )
        inputs.append((Login.topic, key, encode_login(first), at))
        inputs.append((Checkout.topic, key, encode_checkout(second), at + 5))
    return Workload(inputs, [f"tx-m-{i}" for i in range(users)], users)


# -- a log of one's own -----------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """The topics and application of one run (Kafka runs prefix them all)."""

    prefix: str
    config: FraudConfig

    @classmethod
    def of(cls, prefix: str) -> Names:
        if not prefix:
            return cls("", FraudConfig())
        config = FraudConfig(
            application=prefix + FRAUD_APPLICATION,
            input_topics=tuple(prefix + topic for topic in ACTIVITY_TOPICS),
            decisions_topic=prefix + DECISIONS_TOPIC,
            alerts_topic=prefix + ALERTS_TOPIC,
        )
        return cls(prefix, config)

    def input(self, topic: str) -> str:
        return self.prefix + topic


@contextlib.contextmanager
def bench_log(cfg: Config, what: str) -> Iterator[tuple[EventLog, Names, Path]]:
    """A log, the run's names and a temp directory (for state), all removed on exit."""
    root = Path(tempfile.mkdtemp(prefix=f"riskstream-fraud-{what}-"))
    if cfg.backend == "embedded":
        log, names = open_log(f"embedded:{root / 'log'}"), Names.of("")
    else:
        log, names = open_log(cfg.url), Names.of(f"bench-{uuid.uuid4().hex[:10]}.")
    try:
        yield log, names, root
    finally:
        if names.prefix:
            delete_run(log, cfg.url, names.prefix, [names.config.application])
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def create_inputs(log: EventLog, names: Names, partitions: int) -> None:
    specs = [TopicSpec(name=names.input(t), partitions=partitions) for t in ACTIVITY_TOPICS]
    log.admin.create_topics(specs, exist_ok=True)


def prefill(log: EventLog, names: Names, inputs: Sequence[Input]) -> None:
    producer = log.producer(linger_ms=5)
    produce = producer.produce
    topic = {t: names.input(t) for t in ACTIVITY_TOPICS}
    for name, key, value, event_time in inputs:
        produce(topic[name], value, key, timestamp=event_time)
    if producer.flush(120) != 0:
        raise RuntimeError("the pre-fill was not acknowledged within 120 s")
    producer.close()


class Decisions:
    """Counts and reads what the runner wrote to the decisions topic."""

    def __init__(self, log: EventLog, topic: str, partitions: int) -> None:
        self.log = log
        self.tps = [TopicPartition(topic, p) for p in range(partitions)]
        # Never assigned, so it never fetches: on Kafka, an offset query from a fetching
        # consumer waits behind its long-poll fetch (~500 ms per partition).
        self.probe = log.consumer()

    def count(self) -> int:
        watermarks = self.probe.watermarks
        return sum(watermarks(tp)[1] for tp in self.tps)

    def read(self, timeout_s: float = 60.0) -> list[bytes]:
        consumer = self.log.consumer(None, auto_offset_reset="earliest")
        try:
            consumer.assign(self.tps)
            values: list[bytes] = []
            deadline = time.monotonic() + timeout_s
            while not set(self.tps) <= consumer.at_end() and time.monotonic() < deadline:
                values += [r.value for r in consumer.poll(50_000, 0.2) if r.value is not None]
            return values
        finally:
            consumer.close()

    def close(self) -> None:
        self.probe.close()


class DecisionSummary(msgspec.Struct):
    """The fields of a decision record the benchmarks read (the rest is skipped)."""

    transaction_id: str
    action: str
    missing: list[str]
    decided_at: int
    latency_ms: int


_summaries = msgspec.json.Decoder(list[DecisionSummary])


def summaries(values: list[bytes]) -> list[DecisionSummary]:
    return _summaries.decode(b"[" + b",".join(values) + b"]")


def wait_assigned(runner: Runner, partitions: int, timeout_s: float = 120.0) -> None:
    """Join the group and open every task before any timer starts."""
    deadline = time.monotonic() + timeout_s
    while len(runner.units) < partitions:
        runner.poll_once(0.05)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(runner.units)} of {partitions} tasks after {timeout_s:.0f}s")


def drain(runner: Runner, decisions: Decisions, expected: int, timeout_s: float) -> None:
    """Cycle the runner until ``expected`` decisions are readable."""
    deadline = time.monotonic() + timeout_s
    next_count = 0.0
    while True:
        runner.poll_once(0.05)
        now = time.monotonic()
        if now >= next_count or runner.caught_up():
            if decisions.count() >= expected:
                return
            next_count = now + 0.1
        if now > deadline:
            raise TimeoutError(
                f"{decisions.count()} of {expected} decisions after {timeout_s:.0f}s"
            )


def sources_processed(runner: Runner) -> int:
    """Records of the topology's source topics the runner processed (their topics were
    empty before the run, so offsets count records)."""
    internal = set(runner.topology.repartition_topics())
    return sum(
        offset
        for unit in runner.units.values()
        for tp, offset in unit.positions.items()
        if tp.topic not in internal
    )


def decided_once(checkouts: Iterable[str], decided: Iterable[str]) -> list[str]:
    """What is wrong with the decisions (by transaction id) of ``checkouts``: checkouts
    without a decision, checkouts decided more than once, decisions of no checkout. Empty
    when each checkout was decided exactly once."""
    wanted = collections.Counter(checkouts)
    got = collections.Counter(decided)
    problems = []
    for what, ids in (
        ("checkouts without a decision", sorted(set(wanted) - set(got))),
        ("checkouts decided more than once", sorted(t for t, n in got.items() if n > 1)),
        ("decisions of no checkout", sorted(set(got) - set(wanted))),
    ):
        if ids:
            problems.append(f"{len(ids)} {what} (e.g. {', '.join(ids[:3])})")
    return problems


class GcClock:
    """Time spent in the garbage collector while installed (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._began = 0.0

    def _callback(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._began
            self.collections += 1

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self._callback)


class CycleClock:
    """How long the runner's cycles and its commits take (wraps the instance's methods:
    ``poll_once`` calls ``self.commit``, so both are seen)."""

    def __init__(self, runner: Runner) -> None:
        self.cycle_ms: list[float] = []
        self.commit_ms: list[float] = []
        self.records: list[int] = []
        poll_once, commit = runner.poll_once, runner.commit

        def timed_poll(timeout: float = 0.1) -> int:
            start = time.perf_counter()
            n = poll_once(timeout)
            if n:  # idle waits are not work
                self.cycle_ms.append((time.perf_counter() - start) * 1e3)
                self.records.append(n)
            return n

        def timed_commit(only: set[int] | None = None, *, wait: bool = True) -> None:
            start = time.perf_counter()
            commit(only, wait=wait)
            self.commit_ms.append((time.perf_counter() - start) * 1e3)

        runner.poll_once = timed_poll  # type: ignore[method-assign]
        runner.commit = timed_commit  # type: ignore[method-assign]

    def summary(self) -> dict[str, Any]:
        if len(self.cycle_ms) < 2 or len(self.commit_ms) < 2:
            return {}
        return {
            "busy_cycles": len(self.cycle_ms),
            "records_per_cycle_p50": statistics.median(self.records),
            "cycle_ms_p50_p99_max": [
                round(pct(self.cycle_ms, 50), 2),
                round(pct(self.cycle_ms, 99), 2),
                round(max(self.cycle_ms), 2),
            ],
            "commits": len(self.commit_ms),
            "commit_ms_p50_max": [round(pct(self.commit_ms, 50), 2), round(max(self.commit_ms), 2)],
        }


# -- worker processes ------------------------------------------------------------------------

# An embedded member heartbeats from its polls: workers held while the inputs are pre-filled
# must not expire one another (Kafka heartbeats from a thread of its own: its default stays).
EMBEDDED_SESSION_TIMEOUT_MS = 600_000


@dataclass(frozen=True)
class WorkerJob:
    """What one worker process runs (picklable: crosses into the child)."""

    url: str
    names: Names
    state_dir: str
    timeout_s: float
    session_timeout_ms: int
    poll_s: float  # the runner's poll timeout
    cycles: bool  # time the runner's cycles and commits (CycleClock)
    profile: str | None  # cProfile the timed part into this file


@dataclass
class WorkerReport:
    """What a worker reports after its runner closed."""

    sources: int  # input events processed
    processed: int  # every record processed, repartition records included
    late: int
    dead_letters: int
    cycles: int
    gc_s: float
    cpu_s: float  # CPU time of the process (all its threads), go .. stop
    queued_s: float  # the main thread runnable but waiting for a CPU, go .. stop
    close_s: float
    runner: dict[str, Any]  # CycleClock.summary(), with job.cycles


def fraud_worker(job: WorkerJob, conn: Connection, go: ProcessEvent) -> None:
    """Child: a Runner over the fraud topology in the run's group, as ``riskstream worker``
    runs one. Joins and opens its tasks, holds when told; on "prepare" counts its share of
    the inputs; on ``go`` runs until told to stop (see :func:`drain_until_stopped`)."""
    log = open_log(job.url)
    runner: Runner | None = None
    try:
        runner = Runner(
            fraud_topology(job.names.config),
            log,
            state_dir=job.state_dir,
            max_batch=MAX_BATCH,
            session_timeout_ms=job.session_timeout_ms,
        )
        runner.start()  # creates the internal and output topics
        clock = CycleClock(runner) if job.cycles else None
        tune_gc_for_streaming()  # as `riskstream worker` does after start-up
        join_until_held(runner, conn)
        command, _ = conn.recv()
        if command != "prepare":
            raise RuntimeError(f"expected prepare, got {command!r}")
        inputs = [job.names.input(topic) for topic in ACTIVITY_TOPICS]
        target = records_held(log, inputs, runner.units)
        conn.send(("ready", target))
        if not go.wait(600):
            raise TimeoutError("no go signal within 600s")
        report = drain_until_stopped(runner, conn, target, job)
        runner = None  # closed
        if clock is not None:
            report.runner = clock.summary()
        conn.send(("done", report))
    except Exception as exc:  # reported to the parent, which owns the error output
        with contextlib.suppress(Exception):
            conn.send(("error", f"{Path(job.state_dir).name}: {type(exc).__name__}: {exc}"))
    finally:
        if runner is not None:
            with contextlib.suppress(Exception):
                runner.close()
        log.close()
        conn.close()


def drain_until_stopped(
    runner: Runner, conn: Connection, target: int, job: WorkerJob
) -> WorkerReport:
    """Cycle the runner until the parent says stop (it watches the decisions); say when
    ``target`` input events are processed; then close the runner (the final commit).

    The input count matters on a backlog: the runner may take the checkouts before other
    events (Kafka fetches topics at their own pace, and a partition that was at its end
    before the pre-fill counts as at its end until its first record arrives), so the last
    decision can be readable before the last events are processed. And a worker whose own
    inputs are done still serves the repartition records the other workers send it.

    The profile keeps the samples under this function: keep its name."""
    profiler = cProfile.Profile() if job.profile else None
    deadline = time.monotonic() + job.timeout_s
    cycles = 0
    waiting = True
    cpu, queued = time.process_time(), runqueue_s()
    with GcClock() as gc_clock:
        if profiler is not None:
            profiler.enable()
        while True:
            runner.poll_once(job.poll_s)
            cycles += 1
            if waiting and sources_processed(runner) >= target:
                conn.send(("inputs_done", time.perf_counter()))  # CLOCK_MONOTONIC: shared
                waiting = False
            if conn.poll():
                command, _ = conn.recv()
                if command != "stop":
                    raise RuntimeError(f"expected stop, got {command!r}")
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"not told to stop within {job.timeout_s:.0f}s")
        tasks = [unit.task for unit in runner.units.values()]
        late = sum(task.late_count for task in tasks)
        dead = sum(task.dead_letter_count for task in tasks)
        sources = sources_processed(runner)
        cpu, queued = time.process_time() - cpu, runqueue_s() - queued
        stopped = time.perf_counter()
        runner.close()
        close_s = time.perf_counter() - stopped
        if profiler is not None and job.profile:
            profiler.disable()
            profiler.dump_stats(job.profile)
    return WorkerReport(
        sources, runner.processed, late, dead, cycles, gc_clock.seconds, cpu, queued, close_s, {}
    )


def runqueue_s() -> float:
    """Seconds this thread has spent runnable but waiting for a CPU (Linux schedstat; 0
    elsewhere): on a shared machine, the time other work took from it."""
    try:
        fields = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat").read_text()
    except OSError:
        return 0.0
    return int(fields.split()[1]) / 1e9


class Group:
    """The parent's side of a run's workers: their messages, and waiting on them."""

    def __init__(self, workers: Workers) -> None:
        self.workers = workers
        self.inputs_done: dict[int, float] = {}  # worker -> when its inputs were processed
        self.reports: dict[int, WorkerReport] = {}

    @property
    def count(self) -> int:
        return len(self.workers.conns)

    def prepare(self, inputs: int) -> list[int]:
        """After the pre-fill: each worker's share of the ``inputs``."""
        self.workers.tell("prepare")
        shares = [self.workers.expect(i, "ready", 60) for i in range(self.count)]
        if sum(shares) != inputs:
            raise RuntimeError(f"the workers hold {shares} of {inputs} input events")
        return shares

    def watch(self, until: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Wait until ``until()`` (asked at least every 50 ms), noting the workers' messages;
        raises on a worker's error or exit."""
        deadline = time.monotonic() + timeout_s
        while not until():
            for index, kind, value in self.workers.pending(0.05):
                if kind == "inputs_done":
                    self.inputs_done[index] = value
                elif kind == "done":
                    self.reports[index] = value
                elif kind == "exit" and index not in self.reports:
                    raise RuntimeError(f"worker {index} exited (code {value}) without a report")
                elif kind != "exit":
                    raise RuntimeError(f"worker {index}: unexpected {kind!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} after {timeout_s:.0f}s")

    def stop(self) -> list[WorkerReport]:
        self.workers.tell("stop")
        self.watch(lambda: len(self.reports) == self.count, 120, "workers not closed")
        return [self.reports[i] for i in range(self.count)]


@contextlib.contextmanager
def worker_group(
    cfg: Config,
    url: str,
    names: Names,
    root: Path,
    count: int,
    timeout_s: float,
    *,
    poll_s: float = 0.05,
    cycles: bool = False,
    profile: Path | None = None,
) -> Iterator[Group]:
    """``count`` worker processes joined in the run's group, every task open, held."""
    session = EMBEDDED_SESSION_TIMEOUT_MS if cfg.backend == "embedded" else 10_000
    jobs = [
        WorkerJob(
            url,
            names,
            str(root / "state" / f"worker-{index}"),
            timeout_s,
            session,
            poll_s,
            cycles,
            str(profile) if profile else None,
        )
        for index in range(count)
    ]
    workers = start_workers(fraud_worker, jobs)
    try:
        topics = fraud_topology(names.config).input_topics()  # events.* and repartition
        settle_group(workers, cfg.partitions, topics)
        yield Group(workers)
    finally:
        with contextlib.suppress(Exception):  # those still running stop, or fail and exit
            workers.tell("stop")
        workers.end()


# -- throughput ----------------------------------------------------------------------------


@dataclass
class ThroughputRun:
    """The workers over the pre-filled workload."""

    seconds: float  # go .. the last decision readable and every input processed
    close_s: float  # then close(): the final commit (the slowest worker)
    decisions: int
    actions: dict[str, int]
    missing: int  # decisions made without every profile part
    internal: int  # records the workers read back from their repartition topics
    cycles: int
    gc_s: float
    late: int
    dead_letters: int
    split: list[int]  # input events per worker
    cpu_s: list[float]  # each worker's CPU time, go .. stop
    queued_s: list[float]  # each worker's main thread waiting for a CPU, go .. stop
    load: float  # the machine's 1-minute load average before the run
    problems: list[str]  # not each checkout decided once, or not every input processed


def throughput_run(
    work: Workload, cfg: Config, count: int, profile: Path | None = None
) -> ThroughputRun:
    """``count`` workers join the run's group and open their tasks; the workload is
    pre-filled; timed from the go signal until every checkout's decision is readable and
    every worker has processed its input events."""
    load = os.getloadavg()[0]
    with bench_log(cfg, "throughput") as (log, names, root):
        create_inputs(log, names, cfg.partitions)
        timeout_s = 300 + len(work.inputs) / 2_000
        url = cfg.url or log.url
        with worker_group(cfg, url, names, root, count, timeout_s, profile=profile) as group:
            prefill(log, names, work.inputs)
            group.prepare(len(work.inputs))
            decisions = Decisions(log, names.config.decisions_topic, cfg.partitions)
            try:
                decided: list[float] = []

                def finished() -> bool:
                    if not decided and decisions.count() >= work.checkouts:
                        decided.append(time.perf_counter())
                    return bool(decided) and len(group.inputs_done) == count

                start = time.perf_counter()
                group.workers.go.set()
                group.watch(finished, timeout_s, f"{decisions.count()} decisions")
                end = max(decided[0], *group.inputs_done.values())
                reports = group.stop()
                read = summaries(decisions.read())
            finally:
                decisions.close()
    actions = collections.Counter(d.action for d in read)
    problems = decided_once(work.checkout_ids, (d.transaction_id for d in read))
    sources = sum(r.sources for r in reports)
    if sources != len(work.inputs):
        problems.append(f"{sources} of {len(work.inputs)} input events processed")
    return ThroughputRun(
        seconds=end - start,
        close_s=max(r.close_s for r in reports),
        decisions=len(read),
        actions=dict(actions.most_common()),
        missing=sum(1 for d in read if d.missing),
        internal=sum(r.processed for r in reports) - len(work.inputs),
        cycles=sum(r.cycles for r in reports),
        gc_s=sum(r.gc_s for r in reports),
        late=sum(r.late for r in reports),
        dead_letters=sum(r.dead_letters for r in reports),
        split=[r.sources for r in reports],
        cpu_s=[r.cpu_s for r in reports],
        queued_s=[r.queued_s for r in reports],
        load=load,
        problems=problems,
    )


def bench_throughput(work: Workload, cfg: Config, count: int) -> None:
    runs = [throughput_run(work, cfg, count) for _ in range(cfg.runs)]
    events = len(work.inputs)
    rates = [events / r.seconds for r in runs]
    rate = statistics.median(rates)
    median_run = runs[rates.index(rate)] if rate in rates else runs[-1]
    params: dict[str, Any] = {
        "workers": count,
        "events": events,
        "users": work.users,
        "checkouts": work.checkouts,
        "mix": work.mix(),
        "partitions": cfg.partitions,
        "topology": TOPOLOGY_NOTE,
        "worker": WORKER_NOTE,
        "timed": "go signal (group joined and settled, every task open, inputs pre-filled) "
        ".. every checkout's decision readable in the decisions topic (watched every 50 ms) "
        "and every worker's input events processed",
        "max_batch": MAX_BATCH,
        "gc": GC_NOTE,
        "runs": [round(r) for r in rates],
        "close_s": [round(r.close_s, 3) for r in runs],
        "split": median_run.split,
        "repartition_records": median_run.internal,
        "decisions": median_run.decisions,
        "actions": median_run.actions,
        "missing_parts": median_run.missing,
        "late": median_run.late,
        "dead_letters": median_run.dead_letters,
        "cycles": median_run.cycles,
        "gc_s": round(median_run.gc_s, 3),
        "worker_cpu_s": [round(c, 2) for c in median_run.cpu_s],
        "worker_queued_s": [round(q, 2) for q in median_run.queued_s],
        "events_per_busiest_cpu_s": round(events / max(median_run.cpu_s)),
        "worker_cpu": "worker_cpu_s: each worker process's CPU time (all threads) over the timed "
        "part; worker_queued_s: its main thread's time runnable but waiting for a CPU "
        "(/proc schedstat: the share other processes took); events_per_busiest_cpu_s: "
        "events / the busiest worker's CPU time, the rate if every worker had a CPU of its "
        "own (an upper bound: the parent and a broker need CPU too)",
        "timed_s": round(median_run.seconds, 2),
        "load_avg": [round(r.load, 1) for r in runs],
        "cpu_count": os.cpu_count(),
    }
    emit(
        "fraud.throughput",
        "events_per_s",
        rate,
        unit="events/s",
        params=params,
        backend=cfg.backend,
    )
    decisions = statistics.median(r.decisions / r.seconds for r in runs)
    emit(
        "fraud.throughput",
        "decisions_per_s",
        decisions,
        unit="decisions/s",
        params={
            "workers": count,
            "events": events,
            "checkouts": work.checkouts,
            "partitions": cfg.partitions,
        },
        backend=cfg.backend,
    )
    failed = [f"run {n + 1}: {'; '.join(r.problems)}" for n, r in enumerate(runs) if r.problems]
    if failed:
        raise RuntimeError(" | ".join(failed))


# -- replay --------------------------------------------------------------------------------


def as_records(inputs: Sequence[Input]) -> list[Record]:
    offsets: dict[str, int] = collections.defaultdict(int)
    records = []
    for topic, key, value, event_time in inputs:
        offset = offsets[topic]
        offsets[topic] = offset + 1
        records.append(Record(topic, 0, offset, event_time, key, value))
    return records


def bench_replay(work: Workload, cfg: Config) -> None:
    records = as_records(work.inputs)
    rates = []
    stats = ReplayStats()
    for _ in range(cfg.runs):
        stats = ReplayStats()
        with streaming_gc():
            start = time.perf_counter()
            for _decision in replay_records(records, stats=stats):
                pass
            rates.append(len(records) / (time.perf_counter() - start))
    params = {
        "workers": 1,
        "events": len(records),
        "users": work.users,
        "checkouts": work.checkouts,
        "decisions": stats.decisions,
        "dead_letters": stats.dead_letters,
        "partitions": 1,
        "what": "riskstream.services.replay.replay_records over the throughput workload "
        "(TestDriver on a virtual clock, in-memory stores, each decision decoded)",
        "gc": GC_NOTE,
        "runs": [round(r) for r in rates],
    }
    rate = statistics.median(rates)
    emit("fraud.replay", "events_per_s", rate, unit="events/s", params=params, backend="none")
    if stats.decisions != work.checkouts:
        raise RuntimeError(f"{stats.decisions} decisions for {work.checkouts} checkouts")


# -- latency -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatencyJob:
    """What the producer and the decision reader do (picklable: crosses into children)."""

    url: str
    names: Names
    partitions: int
    rate: int
    seconds: float
    users: int
    timeout_s: float


def producer_process(
    job: LatencyJob, ready: ProcessEvent, go: ProcessEvent, out: Connection
) -> None:
    """Child: the simulator's events at ``job.rate``/s in its order, event time = timestamp
    = now; sends back the produce time (ns) of every checkout."""
    log = open_log(job.url)
    try:
        total = int(job.rate * job.seconds)
        # The simulator's own clock, not events_per_second: a paced simulation starts with
        # no session in flight, so its first seconds hold almost no checkouts.
        events = TrafficSimulator(SimConfig(users=job.users, seed=5)).take(total)
        plan = [(e, job.names.input(e.topic), codec_for(e.topic).encode) for e in events]
        producer = log.producer(linger_ms=1)
        replace = msgspec.structs.replace
        sent: dict[str, int] = {}
        ready.set()
        go.wait(120)
        interval_ns = 1e9 / job.rate
        start = time.perf_counter_ns()
        done = 0
        while done < total:
            due = min(total, int((time.perf_counter_ns() - start) / interval_ns) + 1)
            while done < due:
                event, topic, encode = plan[done]
                now = time.time_ns()
                stamp = now // 1_000_000
                value = encode(replace(event, event_time=stamp))
                headers = ((SENT_HEADER, now.to_bytes(8, "big")),)
                producer.produce(topic, value, event.key, timestamp=stamp, headers=headers)
                if type(event) is Checkout:
                    sent[event.transaction_id] = now
                done += 1
            producer.poll(0)
            time.sleep(0.0002)
        producer.flush(60)
        out.send((total / ((time.perf_counter_ns() - start) / 1e9), sent))
        producer.close()
    except Exception as exc:  # reported to the parent, which owns the error output
        out.send(f"{type(exc).__name__}: {exc}")
    finally:
        log.close()
        out.close()


Read = tuple[list[DecisionSummary], list[int]]  # decisions, when each was read (ns)


def reader_process(
    job: LatencyJob, ready: ProcessEvent, stop: ProcessEvent, out: Connection
) -> None:
    """Child: read the decisions topic; note when each decision became readable (ns)."""
    log = open_log(job.url)
    try:
        consumer = log.consumer(None, auto_offset_reset="earliest")
        tps = [TopicPartition(job.names.config.decisions_topic, p) for p in range(job.partitions)]
        consumer.assign(tps)
        consumer.poll(max_records=1, timeout=0.05)  # open the topic files before the clock runs
        ready.set()
        decode = msgspec.json.Decoder(DecisionSummary).decode
        read: list[DecisionSummary] = []
        at: list[int] = []
        deadline = time.monotonic() + job.timeout_s
        while time.monotonic() < deadline:
            batch = consumer.poll(max_records=MAX_BATCH, timeout=0.05)
            now = time.time_ns()  # one clock read per batch: every record in it was readable
            for record in batch:
                if record.value is not None:
                    read.append(decode(record.value))
                    at.append(now)
            if not batch and stop.is_set() and set(tps) <= consumer.at_end():
                break
        consumer.close()
        out.send((read, at))
    except Exception as exc:  # reported to the parent, which owns the error output
        out.send(f"{type(exc).__name__}: {exc}")
    finally:
        log.close()
        out.close()


def checked(result: Any, what: str) -> Any:
    if isinstance(result, str):
        raise RuntimeError(f"{what} failed: {result}")
    return result


@dataclass
class LatencyRun:
    total: list[float]  # ms, produce call -> decision readable
    decided: list[float]  # ms, produce call -> decided_at (the runner's clock, ms)
    log_in: list[float]  # ms, produce -> the user stage saw it (decided_at - latency_ms)
    topology: list[float]  # ms, the record's latency_ms: user stage -> decision
    log_out: list[float]  # ms, decided_at -> readable
    achieved: float
    checkouts: int
    decisions: int
    missing: int
    runners: list[dict[str, Any]] = field(default_factory=list)  # each worker's CycleClock
    problems: list[str] = field(default_factory=list)  # not each checkout decided once


@dataclass
class Children:
    """The producer and decision-reader processes of a latency run, and their pipes."""

    procs: list[Any]
    produced: Connection
    read: Connection
    ready: list[ProcessEvent]
    go: ProcessEvent
    stop: ProcessEvent

    @classmethod
    def start(cls, job: LatencyJob) -> Children:
        ctx = mp.get_context("spawn")  # the children open their own log handles
        ready_p, ready_r, go, stop = ctx.Event(), ctx.Event(), ctx.Event(), ctx.Event()
        produced, produced_in = ctx.Pipe(duplex=False)
        read, read_in = ctx.Pipe(duplex=False)
        procs = [
            ctx.Process(target=producer_process, args=(job, ready_p, go, produced_in), daemon=True),
            ctx.Process(target=reader_process, args=(job, ready_r, stop, read_in), daemon=True),
        ]
        for proc in procs:
            proc.start()
        produced_in.close()
        read_in.close()
        return cls(procs, produced, read, [ready_p, ready_r], go, stop)

    def ready_or_dead(self) -> bool:
        return all(e.is_set() for e in self.ready) or not all(p.is_alive() for p in self.procs)

    def producing(self) -> bool:
        return self.procs[0].is_alive() and not self.produced.poll()

    def end(self) -> None:
        self.stop.set()
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join()


def latency_run(cfg: Config, rate: int, count: int) -> LatencyRun:
    """Producer process -> log -> ``count`` worker processes -> log -> reader process."""
    with bench_log(cfg, "latency") as (log, names, root):
        create_inputs(log, names, cfg.partitions)
        url = cfg.url or log.url
        job = LatencyJob(
            url, names, cfg.partitions, rate, cfg.seconds, cfg.users, cfg.seconds + 120
        )
        timeout_s = job.timeout_s + 420  # the children's start and the drain come on top
        with worker_group(
            cfg, url, names, root, count, timeout_s, poll_s=0.1, cycles=True
        ) as group:
            group.prepare(0)
            group.workers.go.set()  # the workers poll the empty inputs, as workers wait
            children = Children.start(job)
            try:
                group.watch(children.ready_or_dead, 300, "children not ready")
                start_ns = time.time_ns()
                children.go.set()
                group.watch(
                    lambda: not children.producing(), job.timeout_s, "the producer still busy"
                )
                achieved, sent = checked(children.produced.recv(), "latency producer")
                decisions = Decisions(log, names.config.decisions_topic, cfg.partitions)
                try:
                    group.watch(
                        lambda: decisions.count() >= len(sent),
                        60,
                        f"decisions of {len(sent)} checkouts",
                    )
                finally:
                    decisions.close()
                children.stop.set()
                read, at = checked(children.read.recv(), "decision reader")
                reports = group.stop()
            finally:
                children.end()
    run = measured(read, at, sent, start_ns + int(cfg.warmup_s * 1e9), achieved)
    run.runners = [r.runner for r in reports]
    run.problems = decided_once(sent, (d.transaction_id for d in read))
    return run


def measured(
    read: list[DecisionSummary], at: list[int], sent: dict[str, int], after_ns: int, achieved: float
) -> LatencyRun:
    """Each decision of a checkout produced after the warm-up, with its legs."""
    run = LatencyRun([], [], [], [], [], achieved, len(sent), len(read), 0)
    for decision, read_ns in zip(read, at, strict=True):
        sent_ns = sent.get(decision.transaction_id)
        if sent_ns is None or sent_ns < after_ns:
            continue
        run.missing += bool(decision.missing)
        sent_ms = sent_ns / 1e6
        run.total.append((read_ns - sent_ns) / 1e6)
        run.decided.append(decision.decided_at - sent_ms)
        run.log_in.append(decision.decided_at - decision.latency_ms - sent_ms)
        run.topology.append(float(decision.latency_ms))
        run.log_out.append(read_ns / 1e6 - decision.decided_at)
    return run


def bench_latency(cfg: Config, count: int) -> None:
    problems = []
    for rate in cfg.rates:
        run = latency_run(cfg, rate, count)
        legs = {
            name: [round(pct(values, 50), 3), round(pct(values, 99), 3)]
            for name, values in (
                ("to_decided_at", run.decided),
                ("log_in", run.log_in),
                ("topology", run.topology),
                ("log_out", run.log_out),
            )
        }
        params = {
            "workers": count,
            "rate": rate,
            "achieved_rate": round(run.achieved),
            "seconds": cfg.seconds,
            "warmup_s": cfg.warmup_s,
            "users": cfg.users,
            "partitions": cfg.partitions,
            "checkouts": run.checkouts,
            "decisions": run.decisions,
            "measured": len(run.total),
            "missing_parts": run.missing,
            "max_ms": round(max(run.total), 3),
            "latency": "checkout produce call (time.time_ns(), producer process) -> the decision "
            "readable: the reader process's poll that returned it (one clock read per batch)",
            "legs_p50_p99_ms": legs,
            "runner": run.runners[0],
            **({"runners": run.runners} if count > 1 else {}),
            "legs": "to_decided_at: produce -> the record's decided_at (runner clock, ms); "
            "log_in: produce -> user stage saw it (decided_at - latency_ms); topology: the "
            "record's latency_ms (user stage -> decision, both repartition hops); log_out: "
            "decided_at -> readable",
            "path": "producer process (simulator order, paced by count, linger_ms=1) -> log -> "
            f"{count} worker process(es), a Runner each (poll_once(0.1), linger_ms=1), in one "
            "group -> log -> reader process",
            "gc": GC_NOTE,
            "cpu_count": os.cpu_count(),
        }
        for metric, q in (("p50_ms", 50), ("p99_ms", 99)):
            emit(
                "fraud.latency",
                metric,
                pct(run.total, q),
                unit="ms",
                params=params,
                backend=cfg.backend,
            )
        problems += [f"{rate}/s: {problem}" for problem in run.problems]
    if problems:
        raise RuntimeError("; ".join(problems))


# -- memory --------------------------------------------------------------------------------


def status_kb() -> dict[str, int]:
    """The ``kB`` memory fields of /proc/self/status (VmRSS, VmHWM, RssAnon, RssFile, ...)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if rest.endswith(" kB"):
            fields[name] = int(rest.split()[0])
    return fields


class AnonPeak:
    """The peak of RssAnon (the heap: profiles, caches) sampled every ``every_s`` in a
    thread. VmHWM alone mixes it with RssFile: the log's and stores' SQLite files are
    memory-mapped, so pages read from them count as resident until the kernel drops them."""

    def __init__(self, every_s: float = 0.25) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.peak_kb = max(self.peak_kb, status_kb()["RssAnon"])

    def __enter__(self) -> AnonPeak:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, status_kb()["RssAnon"])


@dataclass(frozen=True)
class MemoryJob:
    url: str
    names: Names
    partitions: int
    state_dir: str
    expected: int
    timeout_s: float


def memory_worker(job: MemoryJob, out: Connection) -> None:
    """Child: a runner, as ``riskstream worker`` runs one, over the pre-filled log until every
    checkout is decided; reports its resident memory (kB)."""
    log = open_log(job.url)
    try:
        runner = Runner(fraud_topology(job.names.config), log, state_dir=job.state_dir)
        runner.start()
        tune_gc_for_streaming()
        wait_assigned(runner, job.partitions)
        idle = status_kb()
        decisions = Decisions(log, job.names.config.decisions_topic, job.partitions)
        with AnonPeak() as anon:
            start = time.perf_counter()
            drain(runner, decisions, job.expected, job.timeout_s)
            elapsed = time.perf_counter() - start
            decisions.close()
            runner.commit()
        final = status_kb()
        runner.close()
        out.send(
            {
                "idle": idle,
                "final": final,
                "anon_peak_kb": anon.peak_kb,
                "seconds": elapsed,
                "processed": runner.processed,
            }
        )
    except Exception as exc:  # reported to the parent, which owns the error output
        out.send(f"{type(exc).__name__}: {exc}")
    finally:
        log.close()
        out.close()


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_memory(cfg: Config) -> None:
    work = one_visit_each(cfg.memory_users)
    with bench_log(cfg, "memory") as (log, names, root):
        create_inputs(log, names, cfg.partitions)
        prefill(log, names, work.inputs)
        inputs_bytes = tree_bytes(root / "log") if cfg.backend == "embedded" else 0
        state_dir = root / "state"
        job = MemoryJob(
            cfg.url or log.url,
            names,
            cfg.partitions,
            str(state_dir),
            work.checkouts,
            600 + len(work.inputs) / 1_000,
        )
        del work
        ctx = mp.get_context("spawn")
        result, result_in = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=memory_worker, args=(job, result_in), daemon=True)
        proc.start()
        result_in.close()
        try:
            report = checked(result.recv(), "memory worker")
        finally:
            proc.join(60)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        state_bytes = tree_bytes(state_dir)
        log_bytes = tree_bytes(root / "log") if cfg.backend == "embedded" else 0
    users = cfg.memory_users
    idle, final = report["idle"], report["final"]

    def mb(kb: int) -> float:
        return round(kb / 1024, 1)

    params = {
        "workers": 1,
        "users": users,
        "entity_profiles": {"device": users, "instrument": users, "ip": users, "merchant": 250},
        "events": 2 * users,
        "workload": "one login + one checkout per user, each user with its own device, card "
        "and IP (simulated templates)",
        "partitions": cfg.partitions,
        "peak_rss_mb": mb(final["VmHWM"]),
        "final_rss_mb": mb(final["VmRSS"]),
        "anon_peak_mb": mb(report["anon_peak_kb"]),
        "anon_final_mb": mb(final["RssAnon"]),
        "file_final_mb": mb(final["RssFile"]),
        "idle_rss_mb": mb(idle["VmRSS"]),
        "idle_anon_mb": mb(idle["RssAnon"]),
        "rss": "VmHWM/VmRSS of /proc/self/status; anon = RssAnon (the heap, sampled every "
        "0.25 s), file = RssFile (pages of the memory-mapped SQLite files of the log and "
        "the stores: reclaimable, but counted in RSS)",
        "state_dir_mb": round(state_bytes / 2**20, 1),
        "log_growth_mb": round((log_bytes - inputs_bytes) / 2**20, 1),
        "log_growth": "repartition, decision, alert and changelog topics written by the run",
        "worker_seconds": round(report["seconds"], 1),
        "worker_records": report["processed"],
        "what": "spawned worker process: Runner + SqliteStore per task, gc tuned as the "
        "worker; after every checkout was decided and committed",
    }
    emit(
        "fraud.memory",
        "rss_mb",
        final["VmHWM"] / 1024,
        unit="MiB",
        params=params,
        backend=cfg.backend,
    )
    emit(
        "fraud.memory",
        "anon_bytes_per_user",
        (final["RssAnon"] - idle["RssAnon"]) * 1024 / users,
        unit="B",
        params={
            "workers": 1,
            "users": users,
            "what": "(final RssAnon - RssAnon after start) / users; each user brings its own "
            "device, card and IP profile",
        },
        backend=cfg.backend,
    )


# -- profile -------------------------------------------------------------------------------

# Where a sampled stack's time goes: the first stage (in this order) with a frame in the
# stack. State and commit come first (a flush encodes and produces changelog records), the
# stages last (what a stage forwards is the runtime's or the codecs' work, not the stage's).
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "state + commit",
        (
            "/riskstream/state/",
            "ProcessStep.flush ",
            "ProcessStep._value ",
            "Task.flush_state ",
            "/stream/low_latency.py",
            "Runner.commit ",
            "Runner.close ",
        ),
    ),
    ("event decode", ("EventCodec.decode ",)),
    ("repartition encode/decode", ("encode_message ", "decode_entity_message ", "decode_part ")),
    ("decision encode", ("encode_decision ",)),
    (
        "log read",
        ("/riskstream/log/embedded/consumer", "/log/embedded/fetcher", "/log/kafka/consumer"),
    ),
    (
        "log write",
        (
            "/riskstream/log/embedded/producer",
            "/log/kafka/producer",
            "/log/partitioner",
            "/stream/output_producer.py",
        ),
    ),
    ("runtime", ("TaskContext.forward ", "DeferredForward.forward ")),
    ("user stage", ("UserStage.",)),
    ("entity stage", ("EntityStage.",)),
    ("decision stage", ("DecisionStage.",)),
)
OTHER_STAGE = "runtime"  # task dispatch, steps, ordering, watermarks, the runner's loop
PY_SPY_HZ = 250


def stage_of(frames: Sequence[str]) -> str:
    for stage, needles in STAGES:
        for frame in frames:
            if any(needle in frame for needle in needles):
                return stage
    return OTHER_STAGE


_SRC = re.compile(r"\(/\S*?/(riskstream/\S+|benchmarks/\S+|python3\.\d+/\S+)\)")


def short(frame: str) -> str:
    return _SRC.sub(r"(\1)", frame)


@dataclass
class Sampled:
    """py-spy samples of the timed part of a throughput run."""

    total: int = 0
    stages: collections.Counter[str] = field(default_factory=collections.Counter)
    self_time: collections.Counter[str] = field(default_factory=collections.Counter)
    cumulative: collections.Counter[str] = field(default_factory=collections.Counter)


def read_samples(raw: Path) -> Sampled:
    """py-spy's raw (collapsed) stacks, keeping those under :func:`drain_until_stopped`
    (the worker process's timed part)."""
    out = Sampled()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        starts = [i for i, f in enumerate(frames) if f.startswith("drain_until_stopped (")]
        if not starts:
            continue
        timed = frames[starts[0] + 1 :] or frames[starts[0] :]
        n = int(count)
        out.total += n
        out.stages[stage_of(timed)] += n
        out.self_time[short(timed[-1])] += n
        for frame in {short(f) for f in timed}:
            out.cumulative[frame] += n
    return out


def profile_report(sampled: Sampled, rate: float, events: int) -> tuple[str, dict[str, Any]]:
    busy_s = sampled.total / PY_SPY_HZ
    per_event = 1e6 / PY_SPY_HZ / events
    lines = [
        f"profiled throughput run: {events:,} events at {rate:,.0f} events/s under py-spy "
        f"({PY_SPY_HZ} Hz, {sampled.total:,} samples = {busy_s:.2f} s busy; wall "
        f"{events / rate:.2f} s); the timed part only (under drain_until_stopped())",
        "",
        f"{'stage':<28} {'samples':>8} {'share':>7} {'us/event':>9}",
    ]
    stages: dict[str, Any] = {}
    for stage, n in sampled.stages.most_common():
        share = 100 * n / sampled.total
        stages[stage] = {"us_per_event": round(n * per_event, 2), "share_pct": round(share, 1)}
        lines.append(f"{stage:<28} {n:>8} {share:>6.1f}% {n * per_event:>9.2f}")
    lines.append(f"{'total':<28} {sampled.total:>8} {100:>6.1f}% {sampled.total * per_event:>9.2f}")
    for title, counter, top in (
        ("self time (leaf frame)", sampled.self_time, 40),
        ("cumulative time (frame anywhere in the stack)", sampled.cumulative, 60),
    ):
        lines += ["", f"top {top} by {title}:"]
        for frame, n in counter.most_common(top):
            lines.append(
                f"  {100 * n / sampled.total:5.1f}% {n * per_event:7.2f} us/event  {frame}"
            )
    return "\n".join(lines) + "\n", stages


def bench_profile(work: Workload, cfg: Config, path: Path) -> None:
    if cfg.py_spy is None:
        profile_in_process(work, cfg, path)
        return
    with tempfile.TemporaryDirectory(prefix="riskstream-fraud-profile-") as tmp:
        raw = Path(tmp) / "stacks.txt"
        child = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--only",
            "throughput",
            "--runs",
            "1",
            "--workers",
            "1",
            "--events",
            str(len(work.inputs)),
            "--users",
            str(cfg.users),
            "--partitions",
            str(cfg.partitions),
            "--backend",
            cfg.backend,
        ]
        command = [
            cfg.py_spy,
            "record",
            "-r",
            str(PY_SPY_HZ),
            "-f",
            "raw",
            "-F",
            "--full-filenames",
            "--subprocesses",
            "-o",
            str(raw),
            "--",
            *child,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        figures = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        rates = [f["value"] for f in figures if f.get("metric") == "events_per_s"]
        if done.returncode != 0 or not rates or not raw.exists():
            raise RuntimeError(f"py-spy run failed ({done.returncode}): {done.stderr[-2000:]}")
        sampled = read_samples(raw)
        shutil.copyfile(raw, f"{path}.stacks")  # py-spy's raw stacks, for digging
    text, stages = profile_report(sampled, rates[0], len(work.inputs))
    path.write_text(text)
    params = {
        "events": len(work.inputs),
        "profiled_events_per_s": rates[0],
        "workers": 1,
        "profiler": f"py-spy record -r {PY_SPY_HZ} -F --subprocesses (a child run's worker)",
        "samples": sampled.total,
        "stages": stages,
        "what": "CPU samples of the timed part per input event, by stage (see STAGES)",
        "report": str(path),
    }
    total = sampled.total * 1e6 / PY_SPY_HZ / len(work.inputs)
    emit("fraud.profile", "us_per_event", total, unit="us", params=params, backend=cfg.backend)


def profile_in_process(work: Workload, cfg: Config, path: Path) -> None:
    """Without py-spy: cProfile in the worker process (slows the run ~2-3x, calls dominate)
    and its top tables."""
    stats_file = path.with_name(path.name + ".pstats")
    run = throughput_run(work, cfg, 1, profile=stats_file)
    out = io.StringIO()
    out.write(f"cProfile of one throughput run: {len(work.inputs) / run.seconds:,.0f} events/s\n")
    stats = pstats.Stats(str(stats_file), stream=out)
    stats.sort_stats("cumulative").print_stats(50)
    stats.sort_stats("tottime").print_stats(50)
    path.write_text(out.getvalue())
    params = {"workers": 1, "profiler": "cProfile (py-spy not found)", "report": str(path)}
    per_event = run.seconds * 1e6 / len(work.inputs)
    emit("fraud.profile", "us_per_event", per_event, unit="us", params=params, backend=cfg.backend)


# -- driver --------------------------------------------------------------------------------


def find_py_spy(given: str | None) -> str | None:
    if given:
        return given
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def parse_args(argv: Sequence[str] | None) -> tuple[list[str], Config]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="finish in about a minute")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHES)}")
    parser.add_argument("--backend", choices=BACKENDS, default="embedded")
    parser.add_argument("--workers", default="1,2", help="worker processes (default 1,2)")
    parser.add_argument("--events", type=int, help="events per throughput / replay run")
    parser.add_argument("--users", type=int, default=100_000, help="simulated users")
    parser.add_argument("--partitions", type=int, default=DEFAULT_PARTITIONS)
    parser.add_argument("--runs", type=int, help="runs per throughput / replay figure")
    parser.add_argument("--rates", default="20000,5000", help="latency rates, events/s")
    parser.add_argument("--seconds", type=float, help="seconds per latency run")
    parser.add_argument("--memory-users", type=int, help="distinct users of the memory run")
    parser.add_argument("--profile", type=Path, help="write a profile of a throughput run here")
    parser.add_argument("--py-spy", help="the py-spy executable (default: on PATH or the venv)")
    args = parser.parse_args(argv)
    default = ("throughput",) if args.backend == "kafka" else BENCHES
    only = args.only.split(",") if args.only else list(default)
    unknown = set(only) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    quick: bool = args.quick
    url = ""
    if args.backend == "kafka":
        bootstrap = os.environ.get(KAFKA_ENV)
        if not bootstrap:
            parser.error(f"--backend kafka needs {KAFKA_ENV} (host:port of a running broker)")
        url = f"kafka://{bootstrap}"
    cfg = Config(
        backend=args.backend,
        url=url,
        workers=worker_counts(args.workers, parser, args.partitions),
        events=args.events or (200_000 if quick else 1_000_000),
        users=args.users,
        partitions=args.partitions,
        runs=args.runs or (1 if quick else 3),
        rates=tuple(int(r) for r in args.rates.split(",")),
        seconds=args.seconds or (8.0 if quick else 20.0),
        warmup_s=1.0 if quick else 2.0,
        memory_users=args.memory_users or (100_000 if quick else 1_000_000),
        profile=args.profile,
        py_spy=find_py_spy(args.py_spy),
    )
    return only, cfg


def main(argv: Sequence[str] | None = None) -> int:
    only, cfg = parse_args(argv)
    ok = True
    built: list[Workload] = []

    def workload() -> Workload:  # simulated once, shared by throughput, replay and profile
        if not built:
            built.append(simulated(cfg.events, cfg.users))
        return built[0]

    def throughput(count: int) -> None:
        bench_throughput(workload(), cfg, count)

    figures: list[tuple[str, str, Callable[[], None]]] = []
    for name in only:
        if name == "throughput":
            figures += [
                (name, f"workers={n}", functools.partial(throughput, n)) for n in cfg.workers
            ]
        elif name == "latency":
            figures += [
                (name, f"workers={n}", functools.partial(bench_latency, cfg, n))
                for n in cfg.workers
            ]
        elif name == "replay":
            figures.append((name, "", lambda: bench_replay(workload(), cfg)))
        else:
            figures.append((name, "", lambda: bench_memory(cfg)))
    profile = cfg.profile
    if profile is not None:
        figures.append(("profile", "", lambda: bench_profile(workload(), cfg, profile)))
    for name, where, figure in figures:
        try:
            figure()
        except Exception as exc:  # one failing figure must not hide the rest
            backend = "none" if name == "replay" else cfg.backend
            emit_error(f"fraud.{name}", exc, backend=backend, where=where)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

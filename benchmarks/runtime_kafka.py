"""Stream-runtime benchmarks on Kafka: the reference topology of runtime.py on a real broker.

    python benchmarks/runtime_kafka.py [--quick] [--only throughput,latency,restore]
                                       [--events N] [--workers 1,2] [--runs N]
                                       [--delivery low_latency,exactly_once]
                                       [--rate N] [--seconds S] [--restore-keys N]
                                       [--option KEY=VALUE ...]

Prints one JSON object per figure on stdout (DESIGN.md §4 "Benchmarks"), backend ``kafka``;
a figure that fails prints ``{"bench": ..., "backend": ..., "error": ...}`` on stderr, the
others still run, and the exit status is 1. The topology, the workload and the latency
machinery are those of ``runtime.py``. Kafka comes from ``RISKSTREAM_KAFKA_BOOTSTRAP``, else
``scripts/kafka.sh start`` (never stopped here: others share it). Every run uses topics,
a consumer group and an application name of its own (``bench-<hex>.…``) and deletes them
afterwards. ``--option`` adds a librdkafka property to every client of the run (producer
process, runner, reader; ``producer.``/``consumer.`` prefixes as in the log URL).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import runtime as rt
from log import kafka_url
from worker_group import (
    delete_run,
    join_until_held,
    records_held,
    settle_group,
    start_workers,
    worker_counts,
)

from riskstream.log import EventLog, Producer, open_log
from riskstream.log.port import DeliveryCallback
from riskstream.state import SqliteStore
from riskstream.stream.gc_policy import tune_gc_for_streaming
from riskstream.stream.runner import Runner

BACKEND = "kafka"
DELIVERIES = ("low_latency", "exactly_once")
DEFAULT_DELIVERY = "low_latency"
BENCHES = ("throughput", "latency", "restore")
# The throughput workers' group: KIP-848 with the broker's range assignor, which gives every
# member the same partition numbers of all co-partitioned inputs. The classic protocol's
# cooperative-sticky assignor (the backend's default) balances topic-partitions, not partition
# numbers: a member joining a running group takes whole topics (e.g. every checkout and click
# partition), so a task no longer sees all of its user's streams. --classic-group measures
# the default anyway; the run then fails the co-partitioning check.
GROUP_OPTIONS = {"consumer.group.protocol": "consumer", "consumer.group.remote.assignor": "range"}


@dataclass(frozen=True)
class Config:
    """What one invocation measures; ``latency`` is the runtime.py config its latency and
    workload functions take."""

    events: int
    workers: tuple[int, ...]
    runs: int
    deliveries: tuple[str, ...]
    restore_keys: int
    restore_runs: int
    options: dict[str, str]
    classic_group: bool
    latency: rt.Config


# -- output ------------------------------------------------------------------------------


def emit(bench: str, metric: str, value: float, *, unit: str, params: dict[str, Any]) -> None:
    rt.emit(bench, metric, value, unit=unit, params=params, backend=BACKEND)


def emit_error(bench: str, exc: BaseException, where: str = "") -> None:
    error = f"{type(exc).__name__}: {exc}"
    line = {"bench": bench, "backend": BACKEND, "error": f"{where}: {error}" if where else error}
    print(json.dumps(line), file=sys.stderr, flush=True)


# -- per-run names on the shared broker -----------------------------------------------------


def new_prefix() -> str:
    """A prefix for every topic, the application and the group of one run."""
    return f"bench-{uuid.uuid4().hex[:10]}."


@contextmanager
def kafka_run(url: str, prefix: str) -> Iterator[EventLog]:
    """A log handle for one run; on exit, delete every topic and group the run made
    (inputs, outputs, late, dead-letter and changelog topics all carry ``prefix``)."""
    log = open_log(url)
    try:
        yield log
    finally:
        delete_run(log, url, prefix, [prefix + rt.APPLICATION])
        log.close()


def with_options(url: str, options: dict[str, str]) -> str:
    if not options:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(options)


def client_settings(log: EventLog) -> dict[str, dict[str, str]]:
    """The effective librdkafka settings of the clients the runner makes (for params)."""
    from riskstream.log.kafka.config import (  # noqa: PLC0415 - kafka only
        consumer_config,
        producer_config,
    )

    options = getattr(log, "_options", None)
    if options is None:
        return {}
    keep = (
        "linger.ms",
        "acks",
        "compression.type",
        "batch.size",
        "batch.num.messages",
        "socket.nagle.disable",
        "fetch.wait.max.ms",
        "fetch.min.bytes",
        "fetch.queue.backoff.ms",
        "queued.min.messages",
        "isolation.level",
        "enable.idempotence",
    )
    producer = producer_config("", options, linger_ms=1)
    consumer = consumer_config(
        "", options, group_id="g", auto_offset_reset="earliest", session_timeout_ms=10_000
    )
    return {
        "producer": {k: v for k, v in producer.items() if k in keep},
        "consumer": {k: v for k, v in consumer.items() if k in keep},
    }


# -- throughput: worker processes in one consumer group --------------------------------------


@dataclass(frozen=True)
class WorkerJob:
    """What one worker process runs (picklable: crosses into the child)."""

    url: str
    prefix: str
    state_dir: str
    index: int
    timeout_s: float


@dataclass
class WorkerResult:
    """What a worker reports after its runner closed."""

    end: float  # time.perf_counter() after close(): CLOCK_MONOTONIC, shared by processes
    processed: int
    target: int
    partitions: int
    late: int
    dead_letters: int


def worker_process(job: WorkerJob, conn: Connection, go: ProcessEvent) -> None:
    """Child: a Runner in the run's group. Joins and opens its tasks, holds when told, then
    on ``go`` processes its partitions to the end and closes (commits)."""
    log = open_log(job.url)
    runner: Runner | None = None
    try:
        runner = Runner(
            rt.reference_topology(job.prefix),
            log,
            state_dir=Path(job.state_dir) / f"worker-{job.index}",
            max_batch=rt.MAX_BATCH,
        )
        runner.start()
        tune_gc_for_streaming()  # as `riskstream worker` does after start-up
        join_until_held(runner, conn)
        target = prepare(runner, log, job.prefix, conn)
        go.wait(120)
        result = timed_catch_up(runner, target, job.timeout_s)
        runner = None  # closed
        conn.send(("done", result))
    except Exception as exc:  # reported to the parent, which owns the error output
        conn.send(("error", f"worker {job.index}: {type(exc).__name__}: {exc}"))
    finally:
        if runner is not None:
            with suppress(Exception):
                runner.close()
        log.close()
        conn.close()


def prepare(runner: Runner, log: EventLog, prefix: str, conn: Connection) -> int:
    """After the pre-fill: prime the watermarks; returns this worker's share of the inputs."""
    command, since_ms = conn.recv()
    if command != "prepare":
        raise RuntimeError(f"expected prepare, got {command!r}")
    rt.prime_watermarks([unit.task for unit in runner.units.values()], since_ms, prefix)
    target = records_held(log, [prefix + t for t in rt.TOPICS], runner.units)
    conn.send(("ready", target))
    return target


def timed_catch_up(runner: Runner, target: int, timeout_s: float) -> WorkerResult:
    """Process ``target`` records to the end of the assigned partitions, then close()."""
    deadline = time.monotonic() + timeout_s
    while runner.processed < target or not runner.caught_up():
        runner.poll_once(0.05)
        if time.monotonic() > deadline:
            raise TimeoutError(f"processed {runner.processed} of {target}")
    tasks = [unit.task for unit in runner.units.values()]
    late = sum(task.late_count for task in tasks)
    dead = sum(task.dead_letter_count for task in tasks)
    partitions = len(runner.units)
    runner.close()
    end = time.perf_counter()
    return WorkerResult(end, runner.processed, target, partitions, late, dead)


@dataclass
class ThroughputRun:
    rate: float
    split: list[int]  # records per worker
    late: int
    dead_letters: int
    outputs: dict[str, int]


def throughput_run(url: str, inputs: Sequence[rt.Input], count: int) -> ThroughputRun:
    """``count`` workers join a fresh group; the inputs are pre-filled; timed from the go
    signal (every worker's first poll follows it) to the last worker's close() returning."""
    prefix = new_prefix()
    root = Path(tempfile.mkdtemp(prefix="riskstream-rtk-"))
    try:
        with kafka_run(url, prefix) as log:
            rt.create_inputs(log, prefix)
            timeout_s = 120 + len(inputs) / 2_000
            jobs = [WorkerJob(url, prefix, str(root), i, timeout_s) for i in range(count)]
            workers = start_workers(worker_process, jobs)
            try:
                settle_group(workers, rt.PARTITIONS, [prefix + t for t in rt.TOPICS])
                rt.prefill(log, [(prefix + t, k, v, ts) for t, k, v, ts in inputs])
                for conn in workers.conns:
                    conn.send(("prepare", inputs[0][3] - 1))
                targets = [workers.expect(i, "ready", 60) for i in range(count)]
                if sum(targets) != len(inputs):
                    raise RuntimeError(f"workers see {sum(targets)} of {len(inputs)} inputs")
                start = time.perf_counter()
                workers.go.set()
                results: list[WorkerResult] = [
                    workers.expect(i, "done", timeout_s + 60) for i in range(count)
                ]
            finally:
                workers.end()
            outputs = rt.output_counts(log, prefix)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    processed = sum(r.processed for r in results)
    if processed != len(inputs):
        raise RuntimeError(f"the workers processed {processed} of {len(inputs)} records")
    elapsed = max(r.end for r in results) - start
    return ThroughputRun(
        len(inputs) / elapsed,
        [r.processed for r in results],
        sum(r.late for r in results),
        sum(r.dead_letters for r in results),
        outputs,
    )


def bench_throughput(url: str, inputs: list[rt.Input], cfg: Config, count: int) -> None:
    group = {} if cfg.classic_group else {**GROUP_OPTIONS, **cfg.options}
    workers_url = with_options(url, group)
    runs = [throughput_run(workers_url, inputs, count) for _ in range(cfg.runs)]
    last = runs[-1]
    params = {
        "workers": count,
        "events": len(inputs),
        "runs": [round(r.rate) for r in runs],
        "users": cfg.latency.users,
        "partitions": rt.PARTITIONS,
        "mix": rt.mix_of(inputs),
        "topology": rt.TOPOLOGY_NOTE,
        "worker": "a spawned process with one Runner (SqliteStore per task, changelogged, "
        "low_latency delivery), all in one consumer group",
        "group": "classic protocol, cooperative-sticky (the backend's default)"
        if cfg.classic_group
        else "KIP-848 (group.protocol=consumer), broker-side range assignor: co-partitioned",
        "max_batch": rt.MAX_BATCH,
        "commit_interval_ms": 1_000,
        "timed": "go signal (after the pre-fill, every task open and its watermarks primed) "
        ".. the last worker's close() returned (state, offsets, outputs committed); group "
        "join and task opening before the timer. librdkafka may prefetch during the pre-fill",
        "split": last.split,
        "late": last.late,
        "dead_letters": last.dead_letters,
        "outputs": last.outputs,
        "client_options": cfg.options,
        "cpu_count": os.cpu_count(),
    }
    rate = statistics.median(r.rate for r in runs)
    emit("runtime_kafka.throughput", "events_per_s", rate, unit="events/s", params=params)


# -- latency -----------------------------------------------------------------------------


class StampedProducer:
    """A producer whose ``produce`` is stamped. ``KafkaProducer`` has ``__slots__``, so the
    wrapper cannot be set on it as ``StampingLog`` does; everything else is delegated."""

    def __init__(self, inner: Producer, wrap: Callable[..., Any]) -> None:
        self._inner = inner
        self.produce = wrap(inner.produce)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __len__(self) -> int:
        return len(self._inner)  # type: ignore[arg-type]


class StampingKafkaLog(rt.StampingLog):
    """``StampingLog`` for Kafka: stamped producers by delegation, and transactional
    producers (the runner's ``exactly_once`` mode) stamped the same way."""

    def producer(
        self, *, on_delivery: DeliveryCallback | None = None, linger_ms: int = 5
    ) -> Producer:
        inner = self._inner.producer(on_delivery=on_delivery, linger_ms=linger_ms)
        return StampedProducer(inner, self._stamps.wrap_produce)  # type: ignore[return-value]

    def transactional_producer(self, transactional_id: str, **kwargs: Any) -> Any:
        inner = self._inner.transactional_producer(transactional_id, **kwargs)  # type: ignore[attr-defined]
        return StampedProducer(inner, self._stamps.wrap_produce)


def bench_latency(url: str, cfg: Config, delivery: str) -> None:
    prefix = new_prefix()
    root = Path(tempfile.mkdtemp(prefix="riskstream-rtk-"))
    try:
        with kafka_run(url, prefix) as log:
            settings = client_settings(log)
            # Passed only when it is not the default: a Runner without the keyword still
            # measures low_latency, and fails exactly_once with a clear error.
            options = {} if delivery == DEFAULT_DELIVERY else {"delivery": delivery}
            run = rt.latency_run(
                log,
                root / "state",
                cfg.latency,
                prefix=prefix,
                stamping=StampingKafkaLog,
                **options,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    path = (
        "producer process (linger_ms=1, event time = timestamp = now) -> Kafka -> Runner in "
        "this process (poll_once(0.1), outputs linger_ms=1) -> Kafka -> reader process "
        "(read_committed, poll(timeout=0.05)); 2 CPUs shared by the broker and the three "
        "processes"
    )
    params = {
        "delivery": delivery,
        **rt.latency_params(cfg.latency, run, path),
        "client_options": cfg.options,
        "clients": settings,
    }
    p50, p99 = rt.p50_p99(run.measured.total)
    emit("runtime_kafka.latency", "p50_ms", p50, unit="ms", params=params)
    emit("runtime_kafka.latency", "p99_ms", p99, unit="ms", params=params)


# -- restore -------------------------------------------------------------------------------


def copy_store(source: sqlite3.Connection | Path, target: Path) -> None:
    """A consistent copy of a SQLite store file (its WAL included), through the backup API.
    An open store holds its file's lock (``locking_mode=EXCLUSIVE``): pass its connection."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = source if isinstance(source, sqlite3.Connection) else sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        if src is not source:
            src.close()


def bench_restore(url: str, cfg: Config) -> None:
    """One changelog partition on Kafka with N keys: a fresh SqliteStore replays all of it;
    a restart from the local file replays what follows its commit point (none, or the last
    of the 10 commits when the file is a checkpoint taken one commit earlier)."""
    keys = cfg.restore_keys
    prefix = new_prefix()
    app = prefix + rt.RESTORE_APP
    changelog = f"{app}-{rt.RESTORE_STORE}-changelog"
    root = Path(tempfile.mkdtemp(prefix="riskstream-rtk-restore-"))
    checkpoint = root / "checkpoint"
    name = rt.RESTORE_STORE

    def snapshot(number: int, store: SqliteStore) -> None:
        if number == rt.RESTORE_COMMITS - 1:
            copy_store(store._conn, checkpoint / name / store.path.name)

    def store_in(directory: Path) -> Callable[[], SqliteStore]:
        return lambda: SqliteStore(name, 0, changelog=changelog, directory=directory)

    try:
        with kafka_run(url, prefix) as log:
            rt.fill_changelog(log, root / "writer", keys, app=app, on_commit=snapshot)
            tail_keys = keys - (rt.RESTORE_COMMITS - 1) * -(-keys // rt.RESTORE_COMMITS)
            kinds: dict[str, list[float]] = {
                "sqlite_full": [],
                "sqlite_local_file": [],
                "sqlite_local_tail": [],
            }
            for n in range(cfg.restore_runs):
                kinds["sqlite_full"].append(
                    rt.timed_restore(store_in(root / f"full-{n}"), log, keys)
                )
                shutil.rmtree(root / f"full-{n}", ignore_errors=True)
            for _ in range(cfg.restore_runs):
                kinds["sqlite_local_file"].append(
                    rt.timed_restore(store_in(root / "writer"), log, keys)
                )
            for n in range(cfg.restore_runs):
                copy = root / f"tail-{n}"
                copy_store(checkpoint / name / "0.sqlite3", copy / name / "0.sqlite3")
                kinds["sqlite_local_tail"].append(rt.timed_restore(store_in(copy), log, keys))
                shutil.rmtree(copy, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    what = {
        "sqlite_full": "new SqliteStore file, full replay of the changelog from Kafka",
        "sqlite_local_file": "restart: reopen the committed local SQLite file, replay the "
        "changelog after its commit point (none)",
        "sqlite_local_tail": "restart from a local checkpoint one commit behind: reopen a copy "
        f"of the SQLite file taken after commit {rt.RESTORE_COMMITS - 1}, replay the last "
        f"commit ({tail_keys} keys) from Kafka",
    }
    for kind, runs in kinds.items():
        params = {
            "keys": keys,
            "value_bytes": rt.RESTORE_VALUE_BYTES,
            "key_bytes": 13,
            "changelog_records": keys + rt.RESTORE_COMMITS,
            "commits": rt.RESTORE_COMMITS,
            "partition": "one changelog partition (one task's store)",
            "store": kind,
            "what": what[kind],
            "timed": "store open + restore(log)",
            "client_options": cfg.options,
            "runs": [round(r, 3) for r in runs],
        }
        emit("runtime_kafka.restore", "restore_s", statistics.median(runs), unit="s", params=params)


# -- driver --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[list[str], Config]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="finish in well under 2 minutes")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHES)}")
    parser.add_argument("--events", type=int, help="records per throughput run")
    parser.add_argument("--workers", default="1,2", help="worker counts (default 1,2)")
    parser.add_argument("--runs", type=int, help="throughput runs per worker count")
    parser.add_argument(
        "--delivery", default=",".join(DELIVERIES), help="latency figures' delivery modes"
    )
    parser.add_argument("--rate", type=int, default=20_000, help="latency input rate, events/s")
    parser.add_argument("--seconds", type=float, help="latency run length")
    parser.add_argument("--restore-keys", type=int, help="changelog keys of the restore figures")
    parser.add_argument("--users", type=int, default=10_000, help="distinct keys (user ids)")
    parser.add_argument(
        "--classic-group",
        action="store_true",
        help="throughput workers in the default classic group (cooperative-sticky)",
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="librdkafka property for every client of the run (repeatable)",
    )
    args = parser.parse_args(argv)
    only = args.only.split(",") if args.only else list(BENCHES)
    unknown = set(only) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    deliveries = tuple(args.delivery.split(","))
    if set(deliveries) - set(DELIVERIES):
        parser.error(f"--delivery: one or more of {','.join(DELIVERIES)}")
    for number, flag in ((args.events, "--events"), (args.runs, "--runs")):
        if number is not None and number < 1:
            parser.error(f"{flag} must be at least 1")
    options: dict[str, str] = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--option takes KEY=VALUE, got {item!r}")
        options[key] = value
    quick: bool = args.quick
    seconds = args.seconds or (5.0 if quick else 20.0)
    latency = rt.Config(
        events=0,
        runs=0,
        users=args.users,
        rate=args.rate,
        seconds=seconds,
        warmup_s=min(2.0, seconds / 4) if quick else 2.0,
        restore_keys=0,
        restore_runs=0,
        state_keys=0,
        trace_keys=0,
        profile=None,
        tune_gc=False,
    )
    cfg = Config(
        events=args.events or (100_000 if quick else 1_000_000),
        workers=worker_counts(args.workers, parser, rt.PARTITIONS),
        runs=args.runs or (1 if quick else 3),
        deliveries=deliveries,
        restore_keys=args.restore_keys or (200_000 if quick else 1_000_000),
        restore_runs=1 if quick else 3,
        options=options,
        classic_group=args.classic_group,
        latency=latency,
    )
    return only, cfg


def main(argv: Sequence[str] | None = None) -> int:
    only, cfg = parse_args(argv)
    # SIGTERM unwinds like Ctrl+C, so the runs' topics are still deleted.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))
    try:
        url = with_options(kafka_url(), cfg.options)
    except Exception as exc:  # no broker: every figure would fail the same way
        emit_error("runtime_kafka", exc)
        return 1
    ok = True
    inputs = rt.build_inputs(cfg.events, cfg.latency.users) if "throughput" in only else []
    figures: list[tuple[str, str, Callable[[], None]]] = []
    for name in only:
        if name == "throughput":
            figures += [
                (name, f"workers={n}", lambda n=n: bench_throughput(url, inputs, cfg, n))
                for n in cfg.workers
            ]
        elif name == "latency":
            figures += [
                (name, f"delivery={d}", lambda d=d: bench_latency(url, cfg, d))
                for d in cfg.deliveries
            ]
        else:
            figures.append((name, "", lambda: bench_restore(url, cfg)))
    for name, where, figure in figures:
        try:
            figure()
        except Exception as exc:  # one failing figure must not hide the rest
            emit_error(f"runtime_kafka.{name}", exc, where)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

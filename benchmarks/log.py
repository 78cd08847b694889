"""Event-log benchmarks: produce/consume throughput and produce→consume latency per backend.

    python benchmarks/log.py [--quick] [--backend embedded|kafka|memory ...] [--events N]

Prints one JSON object per figure on stdout (DESIGN.md §4 "Benchmarks"); a backend that fails
prints ``{"bench": ..., "backend": ..., "error": ...}`` on stderr, the others still run, and
the exit status is 1. Kafka is found through ``RISKSTREAM_KAFKA_BOOTSTRAP`` or started with
``scripts/kafka.sh start`` (never stopped here: others share it).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any

from riskstream.events import Click, Login, codec_for
from riskstream.log import DeliveryReport, EventLog, Producer, TopicPartition, TopicSpec, open_log
from riskstream.sim import SessionSimulator

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_ENV = "RISKSTREAM_KAFKA_BOOTSTRAP"
BACKENDS = ("embedded", "kafka", "memory")
PARTITIONS = 8
USERS = 10_000
VALUE_POOL = 4_099  # prime, so key and value pools pair up differently on every lap
MAX_RECORDS = 10_000
THROUGHPUT_LINGER_MS = 5  # the port's default: what an application gets without tuning
LATENCY_LINGER_MS = 1
SENT_HEADER = "bench-sent-ns"
VALUES_NOTE = "pre-encoded before the timer (simulated Click/Login JSON)"

Pair = tuple[bytes, bytes]


@dataclass(frozen=True)
class Config:
    """What one invocation measures."""

    events: int
    runs: int
    rate: int
    seconds: float
    warmup_s: float
    latency_consumer: str  # "process" or "thread"


@dataclass(frozen=True)
class Workload:
    """Keys and values built once, before any timer starts."""

    pairs: list[Pair]
    keys: list[bytes]
    values: list[bytes]

    @property
    def value_bytes(self) -> int:
        return round(statistics.fmean(len(value) for value in self.values))


# -- output ------------------------------------------------------------------------------


def emit(
    bench: str, backend: str, metric: str, value: float, *, unit: str, params: dict[str, Any]
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


def emit_error(bench: str, backend: str, exc: BaseException) -> None:
    line = {"bench": bench, "backend": backend, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(line), file=sys.stderr, flush=True)


# -- workload and logs ---------------------------------------------------------------------


def build_workload(events: int) -> Workload:
    """Real encoded events (~220-byte clicks, ~270-byte logins) keyed by 10k user ids."""
    values: list[bytes] = []
    for event in SessionSimulator(users=USERS, seed=7).events(VALUE_POOL * 4):
        if isinstance(event, Click | Login):
            values.append(codec_for(event.topic).encode(event))
        if len(values) == VALUE_POOL:
            break
    keys = [f"user-{i:06d}".encode() for i in range(USERS)]
    pairs = [(keys[i % USERS], values[i % len(values)]) for i in range(events)]
    return Workload(pairs, keys, values)


def kafka_url() -> str:
    """The broker from the environment, else the one ``scripts/kafka.sh start`` runs.

    Checked once here, so an unreachable broker fails fast instead of once per figure.
    """
    bootstrap = os.environ.get(KAFKA_ENV)
    if not bootstrap:
        bash = shutil.which("bash") or "/bin/bash"
        done = subprocess.run(
            [bash, str(REPO_ROOT / "scripts" / "kafka.sh"), "start"],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
            timeout=600,
        )
        bootstrap = done.stdout.strip().splitlines()[-1]
    url = f"kafka://{bootstrap}"
    log = open_log(url)
    try:
        log.admin.list_topics()
    finally:
        log.close()
    return url


@contextmanager
def fresh_topic(backend: str, urls: dict[str, str]) -> Iterator[tuple[EventLog, str, str]]:
    """A log (a new temp directory for embedded) with one new topic, removed on exit."""
    tmp = tempfile.mkdtemp(prefix="riskstream-bench-") if backend == "embedded" else None
    url = f"embedded:{tmp}" if tmp else urls[backend]
    log = open_log(url)
    topic = f"bench-{uuid.uuid4().hex[:12]}"
    try:
        log.admin.create_topics([TopicSpec(name=topic, partitions=PARTITIONS)])
        try:
            wait_visible(log, topic)
            yield log, url, topic
        finally:
            if backend == "kafka":  # the broker outlives us; don't leave topics behind
                delete_quietly(log, topic)
    finally:
        log.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def wait_visible(log: EventLog, topic: str, timeout_s: float = 30.0) -> None:
    """Kafka creates topics asynchronously; a timed run must not wait for metadata."""
    deadline = time.monotonic() + timeout_s
    while log.admin.describe_topics([topic]).get(topic) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {topic} not visible after {timeout_s:.0f}s")
        time.sleep(0.1)


def delete_quietly(log: EventLog, topic: str) -> None:
    """Best effort: a failed delete must not mask the benchmark's own outcome."""
    try:
        log.admin.delete_topics([topic])
    except Exception as exc:  # a leftover topic is only untidy
        print(f"warning: could not delete topic {topic}: {exc}", file=sys.stderr, flush=True)


def all_partitions(topic: str) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in range(PARTITIONS)]


# -- throughput ----------------------------------------------------------------------------


class Acks:
    """Delivery callback: counts acknowledgements, keeps the first few errors."""

    def __init__(self) -> None:
        self.ok = 0
        self.errors: list[str] = []

    def __call__(self, report: DeliveryReport) -> None:
        if report.error is None:
            self.ok += 1
        elif len(self.errors) < 5:
            self.errors.append(report.error)


def drain_producer(producer: Producer, timeout_s: float) -> None:
    """Flush until nothing is pending; a stuck backend fails instead of hanging."""
    deadline = time.monotonic() + timeout_s
    while producer.flush(timeout=min(10.0, timeout_s)) != 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"records still unacknowledged after {timeout_s:.0f}s")


def produce_rate(log: EventLog, topic: str, pairs: Sequence[Pair]) -> float:
    """Events/s from the first produce until flush() reports everything acknowledged."""
    acks = Acks()
    producer = log.producer(on_delivery=acks, linger_ms=THROUGHPUT_LINGER_MS)
    # One acknowledged record first, so connection setup (Kafka: metadata, producer id)
    # stays out of the timing; the consumer reads it too (len(pairs) + 1 records).
    producer.produce(topic, pairs[0][1], pairs[0][0])
    drain_producer(producer, timeout_s=60)
    acks.ok = 0
    produce = producer.produce  # hoisted: the loop should measure the log, not lookups
    start = time.perf_counter()
    for key, value in pairs:
        produce(topic, value, key)
    drain_producer(producer, timeout_s=60 + len(pairs) / 5_000)
    elapsed = time.perf_counter() - start
    producer.close()
    if acks.ok != len(pairs):
        raise RuntimeError(f"{acks.ok} of {len(pairs)} records acknowledged; errors {acks.errors}")
    return len(pairs) / elapsed


def consume_rate(log: EventLog, topic: str, count: int) -> float:
    """Events/s for a fresh consumer reading ``count`` records from the beginning.

    The first record is read before the timer, so connecting stays out of the figure.
    """
    consumer = log.consumer(None, auto_offset_reset="earliest")
    consumer.assign(all_partitions(topic))
    deadline = time.monotonic() + 60 + count / 5_000
    received = 0
    while not received and time.monotonic() < deadline:
        received = len(consumer.poll(max_records=1, timeout=1.0))
    start = time.perf_counter()
    while received < count:
        received += len(consumer.poll(max_records=MAX_RECORDS, timeout=1.0))
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumed {received} of {count} records")
    elapsed = time.perf_counter() - start
    # Offsets are dense from 0, so the positions also prove no record came twice.
    positions = sum(consumer.position(tp) for tp in all_partitions(topic))
    consumer.close()
    if received != count or positions != count:
        raise RuntimeError(f"consumed {received} records to positions {positions}, not {count}")
    return (count - 1) / elapsed


def bench_throughput(backend: str, urls: dict[str, str], work: Workload, cfg: Config) -> None:
    """Produce then consume into a fresh topic, ``cfg.runs`` times; report the medians."""
    consume = backend != "memory"  # memory is context for the producer figure only
    produced: list[float] = []
    consumed: list[float] = []
    for _ in range(cfg.runs):
        with fresh_topic(backend, urls) as (log, _url, topic):
            produced.append(produce_rate(log, topic, work.pairs))
            if consume:
                consumed.append(consume_rate(log, topic, len(work.pairs) + 1))
    common = {"events": len(work.pairs), "partitions": PARTITIONS, "value_bytes": work.value_bytes}
    produce_params = {
        **common,
        "key_pool": len(work.keys),
        "linger_ms": THROUGHPUT_LINGER_MS,
        "values": VALUES_NOTE,
        "acked": "flush() returned 0, every delivery report ok",
        "warmup": "1 record produced and acknowledged before the timer",
        "runs": [round(r) for r in produced],
    }
    rate = statistics.median(produced)
    emit("log.produce", backend, "events_per_s", rate, unit="events/s", params=produce_params)
    if consume:
        consume_params = {
            **common,
            "max_records": MAX_RECORDS,
            "consumer": "fresh, manual assign of all partitions, from earliest",
            "warmup": "first record read before the timer",
            "runs": [round(r) for r in consumed],
        }
        rate = statistics.median(consumed)
        emit("log.consume", backend, "events_per_s", rate, unit="events/s", params=consume_params)


# -- latency -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatencyJob:
    """What the latency consumer reads (picklable: it crosses into the child process)."""

    url: str
    topic: str
    total: int
    timeout_s: float


Stamps = tuple["array[int]", "array[int]"]  # send times and latencies, ns


def receive_stamped(log: EventLog, job: LatencyJob, ready: Callable[[], None]) -> Stamps:
    """Send times and latencies (ns, wall clock: comparable across processes) of the job."""
    consumer = log.consumer(None, auto_offset_reset="earliest")
    consumer.assign(all_partitions(job.topic))
    consumer.poll(max_records=1, timeout=0.5)  # connect and fetch metadata before the clock runs
    ready()
    sent_ns: array[int] = array("q")
    latency_ns: array[int] = array("q")
    deadline = time.monotonic() + job.timeout_s
    try:
        while len(sent_ns) < job.total and time.monotonic() < deadline:
            batch = consumer.poll(max_records=MAX_RECORDS, timeout=0.05)
            now = time.time_ns()  # one clock read per batch: every record in it arrived by now
            for record in batch:
                stamp = record.header(SENT_HEADER)
                if stamp is not None:
                    sent = int.from_bytes(stamp, "big")
                    sent_ns.append(sent)
                    latency_ns.append(now - sent)
    finally:
        consumer.close()
    return sent_ns, latency_ns


def consumer_process(job: LatencyJob, ready: ProcessEvent, results: Connection) -> None:
    """Child process entry: its own log handle, so the producer's GIL is not shared."""
    log = open_log(job.url)
    try:
        results.send(receive_stamped(log, job, ready.set))
    except Exception as exc:  # reported to the parent, which owns the error output
        results.send(f"{type(exc).__name__}: {exc}")
    finally:
        log.close()
        results.close()


def paced_produce(producer: Producer, topic: str, work: Workload, rate: int, total: int) -> int:
    """Produce ``total`` records at ``rate``/s, stamped at the call; returns the start (ns)."""
    keys, values = work.keys, work.values
    interval_ns = 1e9 / rate
    start_ns = time.time_ns()
    start = time.perf_counter_ns()  # pacing runs on the monotonic clock
    sent = 0
    while sent < total:
        due = min(total, int((time.perf_counter_ns() - start) / interval_ns) + 1)
        while sent < due:
            stamp = ((SENT_HEADER, time.time_ns().to_bytes(8, "big")),)
            key, value = keys[sent % len(keys)], values[sent % len(values)]
            producer.produce(topic, value, key, headers=stamp)
            sent += 1
        producer.poll(0)  # serve deliveries, and let a lingering batch go out
        time.sleep(0.0005)
    drain_producer(producer, timeout_s=60)
    return start_ns


Started = tuple[Callable[[], Stamps], Callable[[], None]]  # (wait for the result, clean up)


def consumer_thread(log: EventLog, job: LatencyJob) -> Started:
    """The latency consumer in a thread of this process (shares the producer's GIL)."""
    ready = threading.Event()
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(receive_stamped(log, job, ready.set))
        except Exception as exc:  # surfaced by result() in the main thread
            box.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not ready.wait(60):
        raise TimeoutError("latency consumer not ready within 60s")

    def result() -> Stamps:
        thread.join(job.timeout_s + 30)
        return checked(box[0] if box else "consumer thread did not finish")

    return result, lambda: None


def consumer_subprocess(job: LatencyJob) -> Started:
    """The latency consumer in a child process with its own interpreter and log handle."""
    # spawn, not fork: a forked child would inherit the parent's client threads (librdkafka)
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    receiving, sending = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=consumer_process, args=(job, ready, sending), daemon=True)
    proc.start()
    sending.close()

    def cleanup() -> None:
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
            proc.join()

    if not ready.wait(60):
        cleanup()
        raise TimeoutError("latency consumer process not ready within 60s")

    def result() -> Stamps:
        if not receiving.poll(job.timeout_s + 30):
            raise TimeoutError("latency consumer process sent no result")
        return checked(receiving.recv())

    return result, cleanup


def checked(result: Any) -> Stamps:
    if isinstance(result, str):
        raise RuntimeError(f"latency consumer failed: {result}")
    sent_ns, latency_ns = result
    return sent_ns, latency_ns


def bench_latency(backend: str, urls: dict[str, str], work: Workload, cfg: Config) -> None:
    """p50/p99 of produce→receive at a fixed rate, skipping the warm-up."""
    total = int(cfg.rate * cfg.seconds)
    timeout_s = cfg.seconds + 60
    with fresh_topic(backend, urls) as (log, url, topic):
        job = LatencyJob(url, topic, total, timeout_s)
        in_thread = cfg.latency_consumer == "thread"
        result, cleanup = consumer_thread(log, job) if in_thread else consumer_subprocess(job)
        try:
            producer = log.producer(linger_ms=LATENCY_LINGER_MS)
            t0 = time.perf_counter()
            start_ns = paced_produce(producer, topic, work, cfg.rate, total)
            achieved = total / (time.perf_counter() - t0)
            producer.close()
            sent_ns, latency_ns = result()
        finally:
            cleanup()
    if len(sent_ns) != total:
        raise RuntimeError(f"latency consumer received {len(sent_ns)} of {total} records")
    after = start_ns + int(cfg.warmup_s * 1e9)
    measured = [lat / 1e6 for sent, lat in zip(sent_ns, latency_ns, strict=True) if sent >= after]
    params = {
        "rate": cfg.rate,
        "seconds": cfg.seconds,
        "warmup_s": cfg.warmup_s,
        "achieved_rate": round(achieved),
        "records": len(measured),
        "partitions": PARTITIONS,
        "value_bytes": work.value_bytes,
        "linger_ms": LATENCY_LINGER_MS,
        "consumer": f"{cfg.latency_consumer}, manual assign, poll(timeout=0.05)",
        "clock": "time.time_ns() in a header at produce, read once per polled batch",
    }
    p50, p99 = statistics.median(measured), statistics.quantiles(measured, n=100)[98]
    emit("log.latency", backend, "p50_ms", p50, unit="ms", params=params)
    emit("log.latency", backend, "p99_ms", p99, unit="ms", params=params)


# -- driver --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[list[str], Config]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="finish in under a minute")
    parser.add_argument("--backend", action="append", choices=BACKENDS, help="repeatable")
    parser.add_argument("--events", type=int, help="records per throughput run")
    parser.add_argument(
        "--latency-consumer",
        choices=("process", "thread"),
        default="process",
        help="where the latency consumer runs (a thread shares the producer's GIL)",
    )
    args = parser.parse_args(argv)
    if args.events is not None and args.events < 1:
        parser.error("--events must be at least 1")
    quick: bool = args.quick
    cfg = Config(
        events=args.events or (100_000 if quick else 1_000_000),
        runs=3 if quick else 5,
        rate=5_000,
        seconds=3.0 if quick else 10.0,
        warmup_s=0.5 if quick else 1.0,
        latency_consumer=args.latency_consumer,
    )
    backends: list[str] = list(dict.fromkeys(args.backend or ["embedded", "kafka"]))
    return backends, cfg


def run_backend(backend: str, work: Workload, cfg: Config) -> bool:
    """Every figure of one backend; returns False if any of them failed."""
    ok = True
    urls = {"memory": "memory:"}
    if backend == "kafka":
        try:
            urls["kafka"] = kafka_url()
        except Exception as exc:  # no broker: report it, go on with the other backends
            emit_error("log", backend, exc)
            return False
    benches = [("log.produce", bench_throughput)]
    if backend != "memory":  # a memory log lives in one process: no cross-process latency
        benches.append(("log.latency", bench_latency))
    for name, bench in benches:
        try:
            bench(backend, urls, work, cfg)
        except Exception as exc:  # one failing figure must not hide the rest
            emit_error(name, backend, exc)
            ok = False
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    backends, cfg = parse_args(argv)
    work = build_workload(cfg.events)
    results = [run_backend(backend, work, cfg) for backend in backends]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

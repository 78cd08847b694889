"""Checkout API benchmark: POST /v1/checkouts answered with the engine's decision, at a rate.

    python benchmarks/api.py [--quick] [--backend embedded,kafka] [--rates 1000,300]
                             [--seconds S] [--warmup-s S] [--users N] [--budget-ms MS]
                             [--connections N] [--baseline]

Per backend, three real processes: ``riskstream serve`` (uvicorn, the checkout API), a
``riskstream worker`` running the fraud engine (on Kafka under a topic prefix of its own:
``--topology tests.integration.api_worker_app:topology``, the shipped rules), and this one,
the load generator. The broker is the one at ``RISKSTREAM_KAFKA_BOOTSTRAP``.

The load is open-loop: checkout ``i`` is due at ``start + i / rate`` and its latency runs
from that moment (not from when a connection was free) to the last byte of its answer, so a
stall shows up in the figures instead of slowing the load. Requests are pre-encoded HTTP/1.1
over keep-alive connections (a new one is opened whenever none is idle); each checkout has
its own transaction id, users come from a pool of ``--users``. Before the clock starts, the
worker must have answered probe checkouts within the budget; then ``--warmup-s`` of load is
sent and left out.

Prints one JSON object per figure (``api.checkout`` ``p50_ms`` / ``p99_ms``); ``params``
says how many answers came from the engine and how many from the timeout policy (an answer
past the budget is the policy's, so the budget caps the latency: watch
``timeout_policy_answers``), the server-side ``decision_latency_ms`` and the engine's own
legs read back from ``risk.decisions``. ``--baseline`` adds ``api.engine_only``: the same
checkouts at the same rate produced straight onto the log by this process, timed from the
produce call to the decision read back here — the engine and the log without HTTP or API.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from riskstream.events import Checkout
from riskstream.events.codec import codec_for
from riskstream.events.topics import TRANSACTIONS_TOPIC
from riskstream.fraud.decision import decode_decision
from riskstream.log import EventLog, TopicPartition, TopicSpec, open_log
from riskstream.services.api.recovery import watermarks
from riskstream.services.api.topics import ApiTopics
from riskstream.services.history import read_topic

ROOT = Path(__file__).resolve().parents[1]
KAFKA_ENV = "RISKSTREAM_KAFKA_BOOTSTRAP"
BACKENDS = ("embedded", "kafka")
API_KEY = "bench-key"
PARTITIONS = 8
NAMESPACED_TOPOLOGY = "tests.integration.api_worker_app:topology"


@dataclass(frozen=True)
class Config:
    backends: tuple[str, ...]
    rates: tuple[int, ...]
    seconds: float
    warmup_s: float
    users: int
    budget_ms: int
    connections: int
    baseline: bool


# -- output ------------------------------------------------------------------------------


def emit(
    metric: str,
    value: float,
    *,
    params: dict[str, Any],
    backend: str,
    bench: str = "api.checkout",
) -> None:
    figure = {
        "bench": bench,
        "backend": backend,
        "metric": metric,
        "value": round(value, 3),
        "unit": "ms",
        "params": params,
    }
    print(json.dumps(figure), flush=True)


def emit_error(exc: BaseException, *, backend: str) -> None:
    line = {"bench": "api.checkout", "backend": backend, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(line), file=sys.stderr, flush=True)


def pct(values: Sequence[float], q: int) -> float:
    if len(values) < 2:
        raise RuntimeError(f"{len(values)} samples: too few for percentiles")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def p50_p99(values: Sequence[float]) -> list[float]:
    return [round(pct(values, 50), 3), round(pct(values, 99), 3)] if len(values) > 1 else []


# -- processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """The API and the worker of one backend, and where they keep their files."""

    backend: str
    url: str
    prefix: str
    root: Path
    port: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "RISKSTREAM_API_KEYS": json.dumps({API_KEY: ["*"]}),
            "RISKSTREAM_API_TOPIC_PREFIX": self.prefix,
            "RISKSTREAM_PARTITIONS": str(PARTITIONS),
        }

    def start(self, budget_ms: int) -> None:
        cli = [sys.executable, "-c", "from riskstream.cli import main; main()"]
        topology = ["--topology", NAMESPACED_TOPOLOGY] if self.prefix else []
        worker = [*cli, "worker", "--log", self.url, "--state-dir", str(self.root / "state")]
        serve = [*cli, "serve", "--log", self.url, "--port", str(self.port)]
        serve += ["--decision-budget-ms", str(budget_ms)]
        for args, name in ((serve, "serve"), ([*worker, *topology], "worker")):
            out = (self.root / f"{name}.log").open("wb")
            self.processes.append(
                subprocess.Popen(args, cwd=ROOT, env=self.env(), stdout=out, stderr=out)
            )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by the API, the worker and this process."""
        used = {"load_generator": time.process_time()}
        for name, process in zip(("serve", "worker"), self.processes, strict=True):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{process.pid}/stat").read_text().rpartition(")")[2].split()
                used[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return used

    def check_alive(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                tail = b"".join(
                    (self.root / f"{n}.log").read_bytes()[-1500:] for n in ("serve", "worker")
                )
                raise RuntimeError(f"a process exited ({process.returncode}): {tail.decode()}")


@contextlib.contextmanager
def stack(backend: str, cfg: Config) -> Iterator[tuple[Stack, EventLog]]:
    root = Path(tempfile.mkdtemp(prefix="riskstream-api-bench-"))
    if backend == "kafka":
        bootstrap = os.environ.get(KAFKA_ENV)
        if not bootstrap:
            raise RuntimeError(f"the kafka backend needs {KAFKA_ENV} (host:port of a broker)")
        url, prefix = f"kafka://{bootstrap}", f"bench-{uuid.uuid4().hex[:10]}."
    else:
        url, prefix = f"embedded:{root / 'log'}", ""
    log = open_log(url)
    run = Stack(backend, url, prefix, root, free_port())
    try:
        # Topics first: on Kafka a topic serves a moment after its creation.
        ApiTopics(prefix).ensure(log, PARTITIONS)
        log.admin.create_topics(
            [TopicSpec(name=prefix + TRANSACTIONS_TOPIC, partitions=PARTITIONS)], exist_ok=True
        )
        time.sleep(1.0 if prefix else 0)
        run.start(cfg.budget_ms)
        yield run, log
    finally:
        run.stop()
        if prefix:
            with contextlib.suppress(Exception):  # a leftover topic is only untidy
                mine = [name for name in log.admin.list_topics() if name.startswith(prefix)]
                log.admin.delete_topics(mine)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


# -- the load --------------------------------------------------------------------------------


def checkout_event(number: int, users: int, run: str, event_time: int = 0) -> Checkout:
    user = f"user-{number % users}"
    return Checkout(
        event_id=f"{run}-{number}-checkout",
        user_id=user,
        event_time=event_time,
        transaction_id=f"{run}-tx-{number}",
        amount=20.0 + (number * 7919) % 400,
        currency="EUR",
        merchant_id=f"m-{number % 50}",
        item_count=1 + number % 3,
        instrument_fingerprint=f"{user}-card",
        bin_country="DE",
        device_id=f"{user}-device",
        ip=f"10.{(number // 65536) % 256}.{(number // 256) % 256}.{number % 256}",
        country="DE",
        shipping_address_hash=f"{user}-home",
        session_id=f"{user}-session",
    )


def checkout_body(number: int, users: int, run: str) -> bytes:
    """The checkout without event_time: the API stamps the time it received it."""
    fields = msgspec.structs.asdict(checkout_event(number, users, run))
    del fields["event_time"]
    return msgspec.json.encode({"type": "checkout", **fields})


def request_bytes(body: bytes) -> bytes:
    head = (
        "POST /v1/checkouts HTTP/1.1\r\nHost: bench\r\n"
        f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Answer(msgspec.Struct):
    transaction_id: str
    decided_by: str
    decision_latency_ms: float


@dataclass
class Results:
    latencies_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    engine: int = 0
    policy: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    opened: int = 0
    achieved: float = 0.0
    txids: list[str] = field(default_factory=list)


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def exchange(conn: Connection, request: bytes) -> tuple[int, bytes]:
    reader, writer = conn
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def open_connection(port: int) -> Connection:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


async def drive(
    port: int, requests: list[bytes], rate: int, connections: int, measured_from: int
) -> Results:
    """Send ``requests`` at ``rate``/s; requests before ``measured_from`` are warm-up."""
    results = Results()
    idle: deque[Connection] = deque()
    for _ in range(connections):
        idle.append(await open_connection(port))
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    decode = msgspec.json.Decoder(Answer).decode

    async def one(index: int, due: float) -> None:
        conn = idle.popleft() if idle else None
        if conn is None:
            results.opened += 1
            conn = await open_connection(port)
        try:
            status, body = await exchange(conn, requests[index])
        except (OSError, asyncio.IncompleteReadError) as exc:
            key = type(exc).__name__
            results.errors[key] = results.errors.get(key, 0) + 1
            conn[1].close()
            return
        done = loop.time()
        idle.append(conn)
        if index < measured_from:
            return
        if status != 200:
            results.errors[str(status)] = results.errors.get(str(status), 0) + 1
            return
        answer = decode(body)
        results.latencies_ms.append((done - due) * 1000)
        results.server_ms.append(answer.decision_latency_ms)
        results.txids.append(answer.transaction_id)
        if answer.decided_by == "engine":
            results.engine += 1
        else:
            results.policy += 1

    start = loop.time() + 0.05
    interval = 1 / rate
    for index in range(len(requests)):
        due = start + index * interval
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(index, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    results.achieved = len(requests) / (loop.time() - start)
    for _, writer in idle:
        writer.close()
    return results


async def probe_until_decided(port: int, run: str, timeout_s: float = 180.0) -> int:
    """Send checkouts one by one until three in a row are decided by the engine: answered
    within the budget, or (an idle engine can be slower than the budget) on a retry, which
    returns the decision once it arrived."""
    conn = await open_connection(port)
    deadline = time.monotonic() + timeout_s
    decided = sent = 0
    while decided < 3:
        request = request_bytes(checkout_body(sent, 100, f"{run}-probe"))
        sent += 1
        for _ in range(4):
            if time.monotonic() > deadline:
                raise RuntimeError("the engine never decided a probe checkout")
            status, body = await exchange(conn, request)
            engine = status == 200 and json.loads(body)["decided_by"] == "engine"
            if engine:
                break
            await asyncio.sleep(0.5)
        decided = decided + 1 if engine else 0
    conn[1].close()
    return sent


async def wait_healthy(port: int, run: Stack, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run.check_alive()
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
            conn = await open_connection(port)
            try:
                conn[1].write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
                head = await conn[0].readuntil(b"\r\n\r\n")
                if int(head[9:12]) == 200:
                    return
            finally:
                conn[1].close()
        await asyncio.sleep(0.2)
    raise RuntimeError("the API never became healthy")


# -- the figure --------------------------------------------------------------------------------


def engine_legs(log: EventLog, prefix: str, txids: set[str]) -> dict[str, list[float]]:
    """From the decisions on the log: the engine's own latency (user stage -> decision) and
    the API's receipt -> decided_at (the checkout's event time is when the API received it)."""
    own: list[float] = []
    to_decided: list[float] = []
    for record in read_topic(log, [ApiTopics(prefix).decisions]):
        decision = decode_decision(record.value)
        if decision.transaction_id in txids:
            own.append(float(decision.latency_ms))
            to_decided.append(float(decision.decided_at - decision.checkout_time))
    return {"engine_latency_ms": p50_p99(own), "received_to_decided_at_ms": p50_p99(to_decided)}


def bench(backend: str, cfg: Config) -> None:
    """One stack per backend; each rate is a run of its own on it (warm-up, then measured)."""
    run_id = uuid.uuid4().hex[:8]
    with stack(backend, cfg) as (run, log):
        asyncio.run(wait_healthy(run.port, run))
        probes = asyncio.run(probe_until_decided(run.port, run_id))
        for number, rate in enumerate(cfg.rates):
            measure(run, log, cfg, rate, f"{run_id}-{number}", probes)
            if cfg.baseline:
                engine_only(run, log, cfg, rate, f"{run_id}-{number}-direct")


def measure(run: Stack, log: EventLog, cfg: Config, rate: int, run_id: str, probes: int) -> None:
    warmup = int(rate * cfg.warmup_s)
    total = warmup + int(rate * cfg.seconds)
    requests = [request_bytes(checkout_body(i, cfg.users, run_id)) for i in range(total)]
    cpu_before, wall_before = run.cpu_seconds(), time.monotonic()
    results = asyncio.run(drive(run.port, requests, rate, cfg.connections, warmup))
    cpu_after, wall = run.cpu_seconds(), time.monotonic() - wall_before
    run.check_alive()
    legs = engine_legs(log, run.prefix, set(results.txids))
    answered = results.engine + results.policy
    params = {
        "rate": rate,
        "achieved_rate": round(results.achieved, 1),
        "seconds": cfg.seconds,
        "warmup_s": cfg.warmup_s,
        "users": cfg.users,
        "partitions": PARTITIONS,
        "budget_ms": cfg.budget_ms,
        "measured": len(results.latencies_ms),
        "engine_answers": results.engine,
        "timeout_policy_answers": results.policy,
        "timeout_share": round(results.policy / answered, 4) if answered else None,
        "errors": results.errors,
        "connections": cfg.connections,
        "connections_opened_under_load": results.opened,
        "probes_before_start": probes,
        "cpu_share": {
            name: round((cpu_after[name] - cpu_before[name]) / wall, 3)
            for name in cpu_after
            if name in cpu_before
        },
        "load_average_1m": round(os.getloadavg()[0], 2),
        "max_ms": round(max(results.latencies_ms), 3) if results.latencies_ms else None,
        "server_decision_latency_p50_p99_ms": p50_p99(results.server_ms),
        **legs,
        "latency": "due time of the request (open loop) -> last byte of the answer, "
        "HTTP/1.1 keep-alive from this process",
        "path": "load generator -> riskstream serve (uvicorn) -> log -> riskstream worker "
        "(fraud topology, shipped rules) -> log -> the API's decision waiter -> answer",
        "cpu_count": os.cpu_count(),
    }
    emit("p50_ms", pct(results.latencies_ms, 50), params=params, backend=run.backend)
    emit("p99_ms", pct(results.latencies_ms, 99), params=params, backend=run.backend)


class DecisionReader:
    """A thread noting when each decision becomes readable."""

    def __init__(self, log: EventLog, topic: str, *, blocking: bool) -> None:
        self.consumer = log.consumer(None)
        partitions = log.admin.describe_topics([topic])[topic].partitions
        tps = [TopicPartition(topic, number) for number in range(partitions)]
        self.consumer.assign(tps)
        for tp in tps:
            self.consumer.seek(tp, watermarks(self.consumer, tp)[1])
        self.read_ns: dict[str, int] = {}
        self._blocking = blocking  # the embedded consumer backs off up to 50 ms inside poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        peek = msgspec.json.Decoder(_TxOnly).decode
        while not self._stop.is_set():
            records = self.consumer.poll(5_000, 0.05 if self._blocking else 0.0)
            now = time.perf_counter_ns()
            for record in records:
                self.read_ns[peek(record.value or b"{}").transaction_id] = now
            if not records and not self._blocking:
                time.sleep(0.0005)

    def wait_for(self, txids: set[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not txids <= self.read_ns.keys() and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.consumer.close()


def engine_only(run: Stack, log: EventLog, cfg: Config, rate: int, run_id: str) -> None:
    """The same checkouts at the same rate, produced straight onto the log (no HTTP, no API):
    produce call -> the decision read by a consumer in this process. What the engine and
    the log take on their own, for comparison."""
    topics = ApiTopics(run.prefix)
    warmup = int(rate * cfg.warmup_s)
    events = [checkout_event(i, cfg.users, run_id) for i in range(warmup + int(rate * cfg.seconds))]
    encode = codec_for(Checkout.topic).encode
    reader = DecisionReader(log, topics.decisions, blocking=run.backend == "kafka")
    producer = log.producer(linger_ms=0)
    sent_ns: dict[str, int] = {}
    cpu_before, wall_before = run.cpu_seconds(), time.monotonic()
    start = time.perf_counter()
    for index, event in enumerate(events):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        now_ms = time.time_ns() // 1_000_000
        value = encode(msgspec.structs.replace(event, event_time=now_ms))
        producer.produce(topics.checkouts, value, event.key, timestamp=now_ms)
        if index >= warmup:
            sent_ns[event.transaction_id] = time.perf_counter_ns()
        producer.poll(0)
    producer.flush(30)
    achieved = len(events) / (time.perf_counter() - start)
    reader.wait_for(set(sent_ns), 60)
    cpu_after, wall = run.cpu_seconds(), time.monotonic() - wall_before
    reader.close()
    producer.close()
    read_ns = reader.read_ns
    latencies = [(read_ns[tx] - at) / 1e6 for tx, at in sent_ns.items() if tx in read_ns]
    params = {
        "rate": rate,
        "achieved_rate": round(achieved, 1),
        "seconds": cfg.seconds,
        "warmup_s": cfg.warmup_s,
        "users": cfg.users,
        "partitions": PARTITIONS,
        "measured": len(sent_ns),
        "decided": len(latencies),
        "cpu_share": {
            name: round((cpu_after[name] - cpu_before[name]) / wall, 3)
            for name in ("load_generator", "worker")
            if name in cpu_before and name in cpu_after
        },
        "load_average_1m": round(os.getloadavg()[0], 2),
        "max_ms": round(max(latencies), 3) if latencies else None,
        "latency": "produce call in this process -> the decision read by a consumer here",
        "path": "this process -> log -> riskstream worker -> log -> this process (no HTTP)",
        "cpu_count": os.cpu_count(),
    }
    for metric, q in (("p50_ms", 50), ("p99_ms", 99)):
        emit(metric, pct(latencies, q), params=params, backend=run.backend, bench="api.engine_only")


class _TxOnly(msgspec.Struct):
    transaction_id: str


def parse_args(argv: Sequence[str] | None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="finish in about a minute")
    parser.add_argument("--backend", default=",".join(BACKENDS), help="embedded,kafka")
    parser.add_argument("--rates", default="1000", help="checkouts per second, one run each")
    parser.add_argument("--seconds", type=float, help="measured seconds (default 10, quick 5)")
    parser.add_argument("--warmup-s", type=float, help="unmeasured seconds first (default 3/2)")
    parser.add_argument("--users", type=int, default=10_000, help="distinct users")
    parser.add_argument("--budget-ms", type=int, default=250, help="the API's decision budget")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also time the same checkouts produced straight onto the log (api.engine_only)",
    )
    args = parser.parse_args(argv)
    backends = tuple(args.backend.split(","))
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    return Config(
        backends=backends,
        rates=tuple(int(rate) for rate in args.rates.split(",")),
        seconds=args.seconds or (5.0 if args.quick else 10.0),
        warmup_s=args.warmup_s if args.warmup_s is not None else (2.0 if args.quick else 3.0),
        users=args.users,
        budget_ms=args.budget_ms,
        connections=args.connections,
        baseline=args.baseline,
    )


def main(argv: Sequence[str] | None = None) -> int:
    cfg = parse_args(argv)
    ok = True
    for backend in cfg.backends:
        try:
            bench(backend, cfg)
        except Exception as exc:  # one failing backend must not hide the other
            emit_error(exc, backend=backend)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

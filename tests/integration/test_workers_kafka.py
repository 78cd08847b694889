"""Real ``riskstream worker`` processes in one consumer group on the real Kafka broker.

Three workers share an 8-partition input while the test produces keyed records in waves.
One worker is SIGKILLed at random moments and restarted on its state directory; a third
worker joins a running group; poison records hit the middle of a partition; a worker is
stopped with SIGTERM. Every test ends once the group's committed offsets reach the end of
the input, stops the workers cleanly and then checks the sink, the dead letters and the
state changelog against a reference computed here from the inputs (the topology in
``worker_app`` is deterministic): every input has exactly one output (after deduplication by
``rs.id`` in ``low_latency``, with none at all in ``exactly_once``), every emitted running
total is the one an uninterrupted run emits, and the committed state is the reference's.

Workers run with each delivery mode's default commit interval and a 6 s session timeout, and
are watched through their Prometheus endpoints: ``riskstream_consumer_lag`` carries one
series per input partition a worker holds (dropped when the partition is revoked).
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import msgspec
import pytest

from riskstream.log import EventLog, Record, TopicPartition, TopicSpec, open_log
from riskstream.log.deadletter import dlq_topic
from riskstream.log.port import Producer
from riskstream.log.records import DeliveryReport
from riskstream.state import changelog_topic
from riskstream.state.changelog import MARKER_KEY
from riskstream.stream import OUTPUT_ID_HEADER
from tests.integration import worker_app

pytestmark = pytest.mark.kafka

Delivery = Literal["low_latency", "exactly_once"]
Input = tuple[bytes, dict[str, Any]]  # (key, value)

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = "tests.integration.worker_app:topology"
PARTITIONS = 8
KEYS = 400
SESSION_TIMEOUT_MS = 6_000
STATE_PREFIX = worker_app.STEP.encode() + b"\x00"  # the step's keys in the task store
_SERIES = re.compile(r"^(\w+)\{(.*)\}\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


# -- the application and its workers ---------------------------------------------------------


class App:
    """One test's uniquely named application, topics and group on the shared broker."""

    def __init__(self, bootstrap: str, tmp: Path, log: EventLog) -> None:
        run = uuid.uuid4().hex[:10]
        self.run = run
        self.bootstrap = bootstrap
        self.tmp = tmp
        self.log = log
        self.name = f"wk-{run}"  # the application and its (default) group
        self.source = f"wk-in-{run}"
        self.sink = f"wk-out-{run}"
        self.changelog = changelog_topic(self.name, "state")
        self.workers: list[Worker] = []
        self.feeds: list[Feed] = []
        log.admin.create_topics([TopicSpec(name=self.source, partitions=PARTITIONS)])

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            # This tree's sources and tests, whichever tree the test runs from.
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            worker_app.ENV_NAME: self.name,
            worker_app.ENV_SOURCE: self.source,
            worker_app.ENV_SINK: self.sink,
        }

    def worker(self, name: str, delivery: Delivery = "low_latency") -> Worker:
        worker = Worker(self, name, delivery)
        self.workers.append(worker)
        return worker

    def source_partitions(self) -> list[TopicPartition]:
        return [TopicPartition(self.source, p) for p in range(PARTITIONS)]

    def cleanup(self) -> None:
        for feed in self.feeds:
            feed.close()
        for worker in self.workers:
            worker.kill()
        ours = [t for t in self.log.admin.list_topics() if self.run in t]
        if ours:
            self.log.admin.delete_topics(ours)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Worker:
    """A ``riskstream worker`` process that can be killed and restarted on its state dir."""

    def __init__(self, app: App, name: str, delivery: Delivery) -> None:
        self.app = app
        self.name = name
        self.delivery = delivery
        self.state_dir = app.tmp / f"state-{name}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0
        self.log_path = app.tmp / f"{name}.log"

    def start(self) -> Worker:
        assert not self.alive(), f"{self.name} is already running"
        self.starts += 1
        self.port = _free_port()
        command = [
            sys.executable,
            "-c",
            "from riskstream.cli import main; main()",
            "worker",
            "--topology",
            TOPOLOGY,
            "--log",
            f"kafka://{self.app.bootstrap}",
            "--group",
            self.app.name,
            "--state-dir",
            str(self.state_dir),
            "--delivery",
            self.delivery,
            "--session-timeout-ms",
            str(SESSION_TIMEOUT_MS),
            "--metrics-port",
            str(self.port),
        ]
        with self.log_path.open("ab") as out:
            out.write(f"---- start #{self.starts} (metrics :{self.port})\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                command, cwd=ROOT, env=self.app.env, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None and self.alive(), self.describe()
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def describe(self) -> str:
        state = "running" if self.alive() else f"exited {self.proc and self.proc.returncode}"
        lines = (
            self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        )
        tail = "\n    ".join(lines[-25:])
        return f"worker {self.name} ({state}), last log lines:\n    {tail}"

    # -- its metrics ------------------------------------------------------------------------

    def metrics(self) -> list[tuple[str, dict[str, str], float]]:
        """The endpoint's series as (name, labels, value); empty while it is not serving."""
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/metrics", timeout=2
            ) as response:
                text = response.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return []
        series = []
        for line in text.splitlines():
            match = _SERIES.match(line)
            if match:
                name, labels, value = match.groups()
                series.append((name, dict(_LABEL.findall(labels)), float(value)))
        return series

    def owned(self, series: list[tuple[str, dict[str, str], float]] | None = None) -> set[int]:
        """Input partitions this worker holds (one lag series each)."""
        found = self.metrics() if series is None else series
        return {
            int(labels["partition"])
            for name, labels, _ in found
            if name == "riskstream_consumer_lag" and labels.get("topic") == self.app.source
        }

    def counter(self, metric: str, **wanted: str) -> float:
        return sum(
            value
            for name, labels, value in self.metrics()
            if name == metric and all(labels.get(k) == v for k, v in wanted.items())
        )


def _wait(what: str, ready: Callable[[], bool], workers: list[Worker], timeout: float = 60) -> None:
    """Poll ``ready`` until true; fail early if one of ``workers`` died."""
    deadline = time.monotonic() + timeout
    while not ready():
        for worker in workers:
            assert worker.alive(), f"while waiting for {what}: {worker.describe()}"
        if time.monotonic() > deadline:
            details = "\n".join(worker.describe() for worker in workers)
            pytest.fail(f"timed out waiting for {what}\n{details}")
        time.sleep(0.2)


# -- inputs, the reference run and reading back ----------------------------------------------


def _inputs(count: int, seed: int, first: int = 0) -> list[Input]:
    """``count`` keyed inputs; event times are wall-clock-like (retention keeps them)."""
    rng = random.Random(seed)
    base = int(time.time() * 1000)
    return [_input(rng, i, base) for i in range(first, first + count)]


def _input(rng: random.Random, i: int, base: int) -> Input:
    key = f"user-{rng.randrange(KEYS)}".encode()
    return key, {"i": i, "n": rng.randrange(1, 100), "t": base + i}


def _produce(log: EventLog, topic: str, inputs: list[Input]) -> None:
    producer = log.producer()
    for key, value in inputs:
        producer.produce(topic, msgspec.json.encode(value), key, timestamp=value["t"])
    assert producer.flush(30) == 0, "inputs not acknowledged"
    producer.close()


def _reference(inputs: list[Input]) -> tuple[dict[int, int], dict[bytes, int]]:
    """An uninterrupted run: the total emitted for each input, and the final total per key.
    Poison inputs (``boom``) are dead-lettered and change nothing."""
    totals: dict[bytes, int] = {}
    emitted: dict[int, int] = {}
    for key, value in inputs:
        if value.get("boom"):
            continue
        totals[key] = totals.get(key, 0) + value["n"]
        emitted[value["i"]] = totals[key]
    return emitted, totals


class Feed:
    """Produces keyed inputs from a thread, ``wave`` records every ``pause`` seconds, as
    long as the test goes on (at most ``limit``); :meth:`finish` adds a last ``tail`` at once.
    ``inputs`` holds everything produced, in order."""

    def __init__(
        self,
        app: App,
        *,
        seed: int,
        wave: int = 400,
        pause: float = 0.3,
        limit: int = 60_000,
        tail: int = 6_000,
    ) -> None:
        self.log, self.topic = app.log, app.source
        self.wave, self.pause, self.limit, self.tail = wave, pause, limit, tail
        self.inputs: list[Input] = []
        self.error: BaseException | None = None
        self._rng = random.Random(seed)
        self._base = int(time.time() * 1000)
        self._finish = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed", daemon=True)
        app.feeds.append(self)

    @property
    def produced(self) -> int:
        return len(self.inputs)

    def start(self) -> Feed:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            producer = self.log.producer()
            try:
                while not self._finish.is_set() and self.produced < self.limit:
                    self._send(producer, self.wave)
                    self._finish.wait(self.pause)
                self._finish.wait()
                if not self._closed.is_set():
                    self._send(producer, self.tail)
            finally:
                producer.close()
        except BaseException as exc:
            self.error = exc

    def _send(self, producer: Producer, count: int) -> None:
        made = [_input(self._rng, self.produced + n, self._base) for n in range(count)]
        for key, value in made:
            producer.produce(self.topic, msgspec.json.encode(value), key, timestamp=value["t"])
        assert producer.flush(30) == 0, "inputs not acknowledged"
        self.inputs.extend(made)  # only acknowledged inputs count as produced

    def finish(self, timeout: float = 60) -> None:
        """Produce the tail and wait until all of it is acknowledged."""
        self._finish.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the feed did not finish"
        assert self.error is None, f"the feed failed: {self.error!r}"

    def close(self) -> None:
        """Stop at once (test teardown)."""
        self._closed.set()
        self._finish.set()
        self._thread.join(30)


def _read_all(log: EventLog, topic: str, timeout: float = 60) -> list[Record]:
    """Every record of ``topic`` a ``read_committed`` consumer sees, up to the end."""
    partitions = log.admin.describe_topics([topic])[topic].partitions
    consumer = log.consumer()  # the Kafka backend reads read_committed
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    out: list[Record] = []
    deadline = time.monotonic() + timeout
    try:
        while not set(tps) <= consumer.at_end():
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            out.extend(consumer.poll(max_records=50_000, timeout=0.5))
    finally:
        consumer.close()
    return out


def _wait_caught_up(app: App, workers: list[Worker], timeout: float = 90) -> None:
    """Until the group's committed offsets reach the end of every input partition."""
    group = app.log.consumer(app.name)  # reads the group's offsets; never joins it
    probe = app.log.consumer()
    try:
        tps = app.source_partitions()
        ends = {tp: probe.watermarks(tp)[1] for tp in tps}
        state: dict[TopicPartition, int | None] = {}

        def done() -> bool:
            state.update(group.committed(tps))
            return all(state[tp] == ends[tp] for tp in tps)

        try:
            _wait("the group to commit every input", done, workers, timeout)
        finally:
            behind = {
                tp.partition: (state.get(tp), ends[tp]) for tp in tps if state.get(tp) != ends[tp]
            }
            if behind:
                print("partitions behind (committed, end):", behind)
    finally:
        group.close()
        probe.close()


def _stop_all(workers: list[Worker]) -> None:
    """SIGTERM every running worker at once; each must exit cleanly."""
    running = [w for w in workers if w.alive()]
    for worker in running:
        assert worker.proc is not None
        worker.proc.send_signal(signal.SIGTERM)
    for worker in running:
        assert worker.proc is not None
        assert worker.proc.wait(60) == 0, worker.describe()


def _check_outputs(app: App, inputs: list[Input], *, label: str) -> tuple[int, int]:
    """Compare the sink with the reference run; returns (raw outputs, raw duplicates)."""
    emitted, totals = _reference(inputs)
    records = _read_all(app.log, app.sink)
    by_id: dict[bytes, Record] = {}
    for record in records:
        ident = record.header(OUTPUT_ID_HEADER)
        assert ident is not None, f"an output without {OUTPUT_ID_HEADER}: {record}"
        first = by_id.setdefault(ident, record)
        # A duplicate is the same output again: same key, same value.
        assert (first.key, first.value) == (record.key, record.value), f"{ident!r} differs"
    duplicates = len(records) - len(by_id)
    copies = Counter(Counter(r.header(OUTPUT_ID_HEADER) for r in records).values())
    print(
        f"[{label}] {len(records)} raw outputs for {len(emitted)} inputs: "
        f"{duplicates} raw duplicates (ids by number of copies: {dict(sorted(copies.items()))})"
    )
    outputs = [(r.key, msgspec.json.decode(r.value or b"")) for r in by_id.values()]
    per_input = Counter(i for _, (i, _) in outputs)
    missing = sorted(set(emitted) - set(per_input))
    assert missing == [], f"{len(missing)} inputs have no output, e.g. {missing[:10]}"
    unexpected = sorted(set(per_input) - set(emitted))
    assert unexpected == [], f"outputs for inputs that must have none: {unexpected[:10]}"
    twice = sorted(i for i, n in per_input.items() if n > 1)
    assert twice == [], f"{len(twice)} inputs have outputs under several ids: {twice[:10]}"
    wrong = sorted((i, total, emitted[i]) for _, (i, total) in outputs if total != emitted[i])
    assert wrong == [], f"{len(wrong)} totals differ from an uninterrupted run: {wrong[:10]}"
    # The state as last emitted: each key's output of its latest input.
    last: dict[bytes, tuple[int, int]] = {}
    for key, (i, total) in outputs:
        assert key is not None
        if key not in last or i > last[key][0]:
            last[key] = (i, total)
    assert {key: total for key, (_, total) in last.items()} == totals
    return len(records), duplicates


def _check_state(app: App, inputs: list[Input]) -> None:
    """The committed state in the changelog equals the reference's final totals."""
    _, totals = _reference(inputs)
    latest: dict[bytes, bytes | None] = {}
    last_key: dict[int, bytes | None] = {}
    for record in _read_all(app.log, app.changelog):
        last_key[record.partition] = record.key
        if record.key is not None and record.key.startswith(STATE_PREFIX):
            latest[record.key[len(STATE_PREFIX) :]] = record.value
    # Every partition's changelog ends with a commit marker: no write is left uncommitted.
    assert {p: k for p, k in last_key.items() if k != MARKER_KEY} == {}
    state = {k: msgspec.msgpack.decode(v) for k, v in latest.items() if v is not None}
    assert state == totals, "the committed state differs from an uninterrupted run"


@pytest.fixture
def app(kafka_bootstrap: str, tmp_path: Path) -> Iterator[App]:
    log = open_log(f"kafka://{kafka_bootstrap}")
    made = App(kafka_bootstrap, tmp_path, log)
    try:
        yield made
    finally:
        try:
            made.cleanup()
        finally:
            log.close()


# -- the tests -------------------------------------------------------------------------------

KILLS = 3


def _holding(worker: Worker) -> Callable[[], bool]:
    """True once ``worker`` holds input partitions and has read records in this start."""
    return lambda: bool(worker.owned()) and worker.counter("riskstream_records_in_total") > 0


@pytest.mark.timeout(150)
@pytest.mark.parametrize("delivery", ["low_latency", "exactly_once"])
def test_sigkilled_worker_restarts_and_each_input_yields_one_output(
    app: App, delivery: Delivery
) -> None:
    # Each mode's default commit interval (low_latency 1 s, so a kill mostly lands after
    # outputs left but before their state and offsets committed: the restart must skip them;
    # exactly_once 100 ms, so a kill mostly lands in an open transaction).
    victim, *others = workers = [app.worker(f"w{n}", delivery).start() for n in range(3)]
    feed = Feed(app, seed=7).start()
    rng = random.Random()
    kills: list[tuple[int, list[int]]] = []  # (inputs produced, partitions held) at each kill
    suppressed = 0.0
    for _ in range(KILLS):
        # Kill it at a random moment while it holds partitions and records keep coming.
        _wait(f"{victim.name} (start #{victim.starts}) to process", _holding(victim), workers)
        time.sleep(rng.uniform(0.05, 1.5))
        series = victim.metrics()
        suppressed += sum(v for n, _, v in series if n == "riskstream_outputs_suppressed_total")
        kills.append((feed.produced, sorted(victim.owned(series))))
        victim.kill()
        assert all(w.alive() for w in others), "\n".join(w.describe() for w in others)
        victim.start()
    feed.finish()
    # The last restart takes partitions over again (once the killed member's session ends).
    _wait(f"{victim.name} (start #{victim.starts}) to process", _holding(victim), workers)
    _wait_caught_up(app, workers)
    for worker in workers:
        suppressed += worker.counter("riskstream_outputs_suppressed_total")
    _stop_all(workers)
    inputs = feed.inputs

    print(
        f"[{delivery}] {len(inputs)} inputs; at each kill (inputs produced, partitions held): "
        f"{kills}; outputs suppressed after restores (metrics seen): {suppressed:.0f}"
    )
    # Every kill hit a worker holding partitions, mid-stream: inputs kept coming in between.
    assert all(held for _, held in kills)
    produced = [n for n, _ in kills]
    assert produced == sorted(set(produced)) and produced[-1] < feed.limit
    raw, duplicates = _check_outputs(app, inputs, label=f"sigkill {delivery}")
    if delivery == "exactly_once":
        # read_committed sees each output once: no deduplication needed.
        assert (raw, duplicates) == (len(inputs), 0)
    _check_state(app, inputs)


def _covers(held: list[set[int]]) -> bool:
    """Every worker holds something, and together they hold each partition once."""
    everything = set(range(PARTITIONS))
    return all(held) and sum(map(len, held)) == PARTITIONS and set().union(*held) == everything


@pytest.mark.timeout(120)
@pytest.mark.parametrize("delivery", ["low_latency", "exactly_once"])
def test_third_worker_joining_takes_partitions_without_loss_or_duplicates(
    app: App, delivery: Delivery
) -> None:
    pair = [app.worker("w0", delivery).start(), app.worker("w1", delivery).start()]
    feed = Feed(app, seed=8).start()
    seen: dict[str, list[set[int]]] = {}

    def shared(label: str, workers: list[Worker]) -> bool:
        seen[label] = held = [w.owned() for w in workers]
        return _covers(held)

    _wait("two workers to share all partitions", lambda: shared("before", pair), pair)
    third = app.worker("w2", delivery).start()
    trio = [*pair, third]
    _wait(
        "three workers to share all partitions",
        lambda: shared("after", trio) and _holding(third)(),
        trio,
    )
    before, after = seen["before"], seen["after"]
    print(f"assignments before {before}, after {after}")
    # The newcomer's partitions came from the others, which revoked them (cooperatively).
    assert after[2] <= before[0] | before[1]
    assert after[0] <= before[0] and after[1] <= before[1]
    revoked = [w.counter("riskstream_rebalances_total", kind="revoked") for w in pair]
    assert sum(revoked) >= 1
    feed.finish()
    _wait_caught_up(app, trio)
    polled = [w.counter("riskstream_records_in_total") for w in trio]
    _stop_all(trio)
    print(f"records polled per worker: {polled}")
    assert all(polled)
    raw, duplicates = _check_outputs(app, feed.inputs, label=f"scale out {delivery}")
    # A cooperative hand-over commits the revoked partitions before they move.
    assert (raw, duplicates) == (len(feed.inputs), 0)
    _check_state(app, feed.inputs)


@pytest.mark.timeout(90)
def test_poison_records_are_dead_lettered_and_their_partition_flows_on(app: App) -> None:
    before = _inputs(3_000, seed=9)
    after = _inputs(3_000, seed=10, first=3_001)
    key = before[-1][0]  # a key with records before and after the poison
    assert any(k == key for k, _ in after)
    boom: Input = (key, {"i": 3_000, "n": 1_000, "t": before[-1][1]["t"] + 1, "boom": True})
    boom_value = msgspec.json.encode(boom[1])
    undecodable = b"\xff\xfe{not json"
    worker = app.worker("w0").start()
    _produce(app.log, app.source, before)
    _wait_caught_up(app, [worker])

    reports: list[DeliveryReport] = []
    producer = app.log.producer(on_delivery=reports.append)
    producer.produce(app.source, undecodable, key, timestamp=boom[1]["t"])
    producer.produce(app.source, boom_value, key, timestamp=boom[1]["t"])
    assert producer.flush(30) == 0
    producer.close()
    bad, raising = reports
    assert bad.ok and raising.ok and bad.partition == raising.partition
    _produce(app.log, app.source, after)
    _wait_caught_up(app, [worker])
    dead = worker.counter("riskstream_dead_letters_total", topic=app.source)
    _stop_all([worker])

    assert dead == 2
    letters = sorted(_read_all(app.log, dlq_topic(app.source)), key=lambda r: r.offset)
    assert [(r.key, r.value) for r in letters] == [(key, undecodable), (key, boom_value)]
    headers = [dict(r.headers) for r in letters]
    for found, report in zip(headers, (bad, raising), strict=True):
        assert found["dlq.topic"] == app.source.encode()
        assert found["dlq.partition"] == str(report.partition).encode()
        assert found["dlq.offset"] == str(report.offset).encode()
        origin = f"{app.source}/{report.partition}/{report.offset}/1"
        assert found[OUTPUT_ID_HEADER] == origin.encode()
    assert (headers[0]["dlq.error"], headers[0]["dlq.step"]) == (b"DecodeError", b"decode")
    assert (headers[1]["dlq.error"], headers[1]["dlq.step"]) == (
        b"PoisonError",
        worker_app.STEP.encode(),
    )
    assert b"boom at input 3000" in headers[1]["dlq.reason"]

    # Every good input, before and after the poison, has its output; the failed record left
    # no trace in the key's total (its step raised after updating the state).
    inputs = [*before, boom, *after]
    _check_outputs(app, inputs, label="poison")
    later = [
        r
        for r in _read_all(app.log, app.sink)
        if r.key == key and int((r.header(OUTPUT_ID_HEADER) or b"").split(b"/")[2]) > raising.offset
    ]
    assert later, "no output of the poisoned partition after the poison records"
    _check_state(app, inputs)


@pytest.mark.timeout(90)
def test_sigterm_mid_stream_loses_nothing_and_duplicates_nothing(app: App) -> None:
    victim, *others = workers = [app.worker(f"w{n}").start() for n in range(3)]
    feed = Feed(app, seed=11).start()
    _wait("the worker to hold partitions and process", _holding(victim), workers)
    time.sleep(random.uniform(0.05, 1.0))
    held = victim.owned()
    stopped_at = feed.produced
    assert victim.terminate() == 0, victim.describe()
    assert "everything committed" in victim.log_path.read_text()
    # The others take its partitions over at once: it left the group.
    _wait(
        "the two others to hold every partition",
        lambda: _covers([w.owned() for w in others]),
        others,
        timeout=30,
    )
    feed.finish()
    _wait_caught_up(app, others)
    _stop_all(others)
    print(f"SIGTERM of a worker holding {sorted(held)} after {stopped_at} inputs")
    assert held and 0 < stopped_at < feed.produced
    _, duplicates = _check_outputs(app, feed.inputs, label="sigterm")
    assert duplicates == 0  # it committed before leaving: nothing was written twice
    _check_state(app, feed.inputs)


@pytest.mark.timeout(150)
@pytest.mark.parametrize("delivery", ["low_latency", "exactly_once"])
def test_a_frozen_worker_loses_its_partitions_and_comes_back_without_harm(
    app: App, delivery: Delivery
) -> None:
    victim, *others = workers = [app.worker(f"w{n}", delivery).start() for n in range(3)]
    feed = Feed(app, seed=13).start()
    _wait("the worker to hold partitions and process", _holding(victim), workers)
    assert victim.proc is not None
    victim.proc.send_signal(signal.SIGSTOP)  # frozen past its session timeout: a zombie
    try:
        _wait(
            "the two others to take every partition",
            lambda: _covers([w.owned() for w in others]),
            others,
            timeout=60,
        )
    finally:
        victim.proc.send_signal(signal.SIGCONT)
    # Woken up, it still believes it holds its tasks, with work not yet committed: it must
    # find out before committing any of it, and rejoin.
    _wait("the woken worker to hold partitions again", lambda: bool(victim.owned()), workers)
    feed.finish()
    _wait_caught_up(app, workers)
    _stop_all(workers)
    _, duplicates = _check_outputs(app, feed.inputs, label=f"frozen {delivery}")
    if delivery == "exactly_once":
        assert duplicates == 0
    _check_state(app, feed.inputs)

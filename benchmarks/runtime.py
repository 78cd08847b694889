"""Stream-runtime benchmarks: the reference topology on the embedded log, in one process.

    python benchmarks/runtime.py [--quick] [--only throughput,latency,restore,state]
                                 [--events N] [--users N] [--profile PATH] [--tune-gc]

Prints one JSON object per figure on stdout (DESIGN.md §4 "Benchmarks"); a figure that fails
prints ``{"bench": ..., "backend": ..., "error": ...}`` on stderr, the others still run, and
the exit status is 1. The reference topology (keyed by user) reads the co-partitioned
``events.login/click/promo/checkout`` topics and runs a multi-horizon velocity counter over
checkouts, a 3-step pattern (login → click on that device → big promo, within 30 s) over all
activity and a left interval join of checkouts with the logins of the preceding 30 s, each
emitting to its own output topic. ``--profile PATH`` writes a cProfile of one throughput run
there, with the self time grouped by layer; ``--tune-gc`` measures throughput with the
garbage collector tuned (see ``GC_TUNED``).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import multiprocessing as mp
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any

import msgspec

from riskstream.events import Checkout, Click, Event, Login, PromoApplied, codec_for
from riskstream.log import EventLog, TopicPartition, TopicSpec, open_log
from riskstream.log.partitioner import partition_for
from riskstream.log.port import Admin, Consumer, DeliveryCallback, OffsetReset, Producer
from riskstream.log.records import Record
from riskstream.sim import SessionSimulator
from riskstream.state import MemoryStore, SqliteStore, ensure_changelog
from riskstream.stream.gc_policy import STREAMING_THRESHOLDS, streaming_gc
from riskstream.stream.joins import IntervalJoin, Left, Right
from riskstream.stream.output import OUTPUT_ID_HEADER
from riskstream.stream.patterns import MatchContext, Pattern, PatternDefinition
from riskstream.stream.runner import Runner
from riskstream.stream.task import Task
from riskstream.stream.task_store import PrefixedStore
from riskstream.stream.topology import Topology
from riskstream.stream.velocity import DEFAULT_HORIZONS, Velocity
from riskstream.testing.driver import DictStore

BACKEND = "embedded"
APPLICATION = "bench-runtime"
PARTITIONS = 8
TOPICS = ("events.login", "events.click", "events.promo", "events.checkout")
KINDS: tuple[type[Event], ...] = (Login, Click, PromoApplied, Checkout)
OUTPUTS = ("bench.velocity", "bench.patterns", "bench.joined")
WITHIN_MS = 30_000
JOIN_BEFORE_MS = 30_000
BIG_DISCOUNT = 50.0  # the simulator gives 10/25/50 % of carts of 5..800: ~1 promo in 6
MAX_BATCH = 10_000  # the runner's default poll size
SENT_HEADER = "bench-sent-ns"
RESTORE_VALUE_BYTES = 100

Activity = Login | Click | PromoApplied | Checkout
Input = tuple[str, bytes, bytes, int]  # topic, key, encoded value, event time


@dataclass(frozen=True)
class Config:
    """What one invocation measures."""

    events: int
    runs: int
    users: int
    rate: int
    seconds: float
    warmup_s: float
    restore_keys: int
    restore_runs: int
    state_keys: int
    trace_keys: int
    profile: Path | None
    tune_gc: bool


# -- output ------------------------------------------------------------------------------


def emit(
    bench: str,
    metric: str,
    value: float,
    *,
    unit: str,
    params: dict[str, Any],
    backend: str = BACKEND,
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


def emit_error(bench: str, exc: BaseException, *, backend: str = BACKEND) -> None:
    line = {"bench": bench, "backend": backend, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(line), file=sys.stderr, flush=True)


# -- the reference topology --------------------------------------------------------------


def _checkout_amount(checkout: Checkout) -> float:
    return checkout.amount


def _instrument(checkout: Checkout) -> str:
    return checkout.instrument_fingerprint


def _is_login(event: Event, _ctx: MatchContext[Event]) -> bool:
    return type(event) is Login and event.success


def _click_on_login_device(event: Event, ctx: MatchContext[Event]) -> bool:
    if type(event) is not Click:
        return False
    login = ctx["login"][0]
    return isinstance(login, Login) and event.device_id == login.device_id


def _big_promo(event: Event, _ctx: MatchContext[Event]) -> bool:
    return type(event) is PromoApplied and event.discount_value >= BIG_DISCOUNT


def _is_checkout(event: Event) -> bool:
    return type(event) is Checkout


def _is_plain_login(event: Event) -> bool:
    return type(event) is Login


def _event_time(event: Event) -> int:
    return event.event_time


def reference_topology(prefix: str = "") -> Topology:
    """Decode → velocity (checkouts) + pattern (all activity) + interval join → three sinks.

    One source reads the four co-partitioned topics: a source has one ``decode``, so it is
    the any-event codec (``codec_for("*")``: the same msgspec tagged-union decode as the
    per-topic codecs, which carry one event kind each), and the topology has no merge step.
    ``prefix`` goes before the application and every topic name (a shared broker's runs
    must not meet).
    """
    topology = Topology(prefix + APPLICATION)
    encode = msgspec.json.encode
    inputs = tuple(prefix + topic for topic in TOPICS)
    outputs = tuple(prefix + topic for topic in OUTPUTS)
    activity = topology.source(
        "activity", inputs, decode=codec_for("*").decode, event_time=_event_time
    )
    checkouts = activity.filter("checkouts", _is_checkout)
    velocity = Velocity(DEFAULT_HORIZONS, value=_checkout_amount, distinct=_instrument)
    checkouts.stateful("velocity", velocity).to(outputs[0], encode=encode)
    promo_abuse = (
        Pattern.begin("login", where=_is_login)
        .followed_by("click", where=_click_on_login_device)
        .followed_by("promo", where=_big_promo)
        .within(WITHIN_MS)
    )
    patterns = PatternDefinition({"promo_abuse": promo_abuse}, value_type=Activity)
    activity.stateful("promo-abuse", patterns).to(outputs[1], encode=encode)
    logins = activity.filter("logins", _is_plain_login)
    join = IntervalJoin(JOIN_BEFORE_MS, 0, how="left", left_type=Checkout, right_type=Login)
    checkouts.join("checkout-logins", logins, join, wrap_left=Left, wrap_right=Right).to(
        outputs[2], encode=encode
    )
    return topology


TOPOLOGY_NOTE = (
    "source activity = events.login/click/promo/checkout (8 partitions, key user id, "
    "codec_for('*').decode, event time e.event_time); velocity over checkouts (count, sum "
    "amount, distinct instrument; 1m/1h/24h/7d/30d); pattern login(success) -> click(same "
    f"device) -> promo(discount >= {BIG_DISCOUNT:g}) within 30s; left interval join checkout x "
    "logins of the preceding 30s; each to its own topic, msgspec json"
)


def prime_watermarks(tasks: Sequence[Task], since_ms: int, prefix: str = "") -> None:
    """Register every input topic with each task's watermark tracker.

    A task's watermark is the minimum over the inputs it has *seen*; an input counts only
    from its first record. Unprimed, the first topic of the first batch sets the watermark
    and the other topics' earlier records all go to the late topic.
    """
    marks = dict.fromkeys((prefix + topic for topic in TOPICS), since_ms)
    for task in tasks:
        task.restore_watermarks(marks)


# -- workload ------------------------------------------------------------------------------


def simulated(users: int, seed: int) -> Iterator[Event]:
    """The simulator's activity events (logins, clicks, promos, checkouts) in event-time order."""
    for event in SessionSimulator(users=users, seed=seed).events(sys.maxsize):
        if type(event) in KINDS:
            yield event


def build_inputs(events: int, users: int) -> list[Input]:
    """Encoded activity events, in event-time order (built before any timer starts)."""
    out: list[Input] = []
    for event in simulated(users, seed=11):
        out.append((event.topic, event.key, codec_for(event.topic).encode(event), event.event_time))
        if len(out) == events:
            break
    return out


def mix_of(inputs: Sequence[Input]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for topic, _key, _value, _time in inputs:
        counts[topic.removeprefix("events.")] += 1
    return dict(counts)


def as_records(inputs: Sequence[Input]) -> list[Record]:
    """The inputs as the log would return them: partitioned by key, offsets per partition."""
    offsets: dict[tuple[str, int], int] = defaultdict(int)
    records = []
    for topic, key, value, event_time in inputs:
        part = partition_for(key, PARTITIONS)
        offset = offsets[(topic, part)]
        offsets[(topic, part)] = offset + 1
        records.append(Record(topic, part, offset, event_time, key, value))
    return records


def batched(records: Sequence[Record], size: int) -> list[dict[int, list[Record]]]:
    """Poll-sized chunks, split by partition as the runner hands them to its tasks."""
    batches = []
    for start in range(0, len(records), size):
        by_partition: dict[int, list[Record]] = defaultdict(list)
        for record in records[start : start + size]:
            by_partition[record.partition].append(record)
        batches.append(dict(by_partition))
    return batches


@contextmanager
def temp_log(prefix: str) -> Iterator[tuple[EventLog, Path]]:
    """An embedded log in a new temp directory (removed on exit), and that directory."""
    root = Path(tempfile.mkdtemp(prefix=f"riskstream-{prefix}-"))
    log = open_log(f"embedded:{root / 'log'}")
    try:
        yield log, root
    finally:
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def create_inputs(log: EventLog, prefix: str = "") -> None:
    log.admin.create_topics([TopicSpec(name=prefix + t, partitions=PARTITIONS) for t in TOPICS])


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


# -- throughput ----------------------------------------------------------------------------


@contextmanager
def started(runner: Runner) -> Iterator[Runner]:
    """Start the runner and wait for its 8 tasks; on an error, close it before the log."""
    runner.start()
    try:
        wait_assigned(runner)
        yield runner
    except BaseException:
        with contextlib.suppress(Exception):  # the original error is the one to report
            runner.close()
        raise


def wait_assigned(runner: Runner, timeout_s: float = 60.0) -> None:
    """Join the group and open every task before the timer (empty topics: nothing to do)."""
    deadline = time.monotonic() + timeout_s
    while len(runner.units) < PARTITIONS:
        runner.poll_once(0.05)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(runner.units)} of {PARTITIONS} tasks after {timeout_s:.0f}s")


def prefill(log: EventLog, inputs: Sequence[Input]) -> None:
    producer = log.producer(linger_ms=5)
    produce = producer.produce
    for topic, key, value, event_time in inputs:
        produce(topic, value, key, timestamp=event_time)
    producer.flush()
    producer.close()


def run_until_caught_up(runner: Runner, total: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while runner.processed < total or not runner.caught_up():
        runner.poll_once(0.05)
        if time.monotonic() > deadline:
            raise TimeoutError(f"processed {runner.processed} of {total} in {timeout_s:.0f}s")


@dataclass
class RunStats:
    """One throughput run: its rate and what the topology did."""

    rate: float
    late: int
    dead_letters: int
    outputs: dict[str, int]


def output_counts(log: EventLog, prefix: str = "") -> dict[str, int]:
    consumer = log.consumer()
    try:
        tps = [TopicPartition(prefix + t, p) for t in OUTPUTS for p in range(PARTITIONS)]
        consumer.assign(tps)
        counts: dict[str, int] = defaultdict(int)
        for tp in tps:
            counts[tp.topic.removeprefix(prefix)] += consumer.watermarks(tp)[1]
        return dict(counts)
    finally:
        consumer.close()


def throughput_run(inputs: Sequence[Input], profiler: cProfile.Profile | None = None) -> RunStats:
    """Pre-fill the inputs, then time a runner from its first poll to ``close()``."""
    with temp_log("runtime") as (log, root):
        create_inputs(log)
        runner = Runner(reference_topology(), log, state_dir=root / "state", max_batch=MAX_BATCH)
        with started(runner):
            prefill(log, inputs)
            tasks = [unit.task for unit in runner.units.values()]
            prime_watermarks(tasks, inputs[0][3] - 1)
            if profiler is not None:
                profiler.enable()
            start = time.perf_counter()
            run_until_caught_up(runner, len(inputs), timeout_s=120 + len(inputs) / 2_000)
            late = sum(task.late_count for task in tasks)
            dead = sum(task.dead_letter_count for task in tasks)
            runner.close()
            elapsed = time.perf_counter() - start
            if profiler is not None:
                profiler.disable()
        outputs = output_counts(log)
    if runner.processed != len(inputs):
        raise RuntimeError(f"the runner processed {runner.processed} of {len(inputs)} records")
    return RunStats(len(inputs) / elapsed, late, dead, outputs)


def ceiling_run(
    batches: Sequence[dict[int, list[Record]]], total: int, first_ms: int
) -> tuple[float, dict[str, int]]:
    """The same topology in Tasks over in-memory records: no log, no commit, no state flush.
    Returns the rate and the outputs per topic."""
    tasks = [
        Task(reference_topology(), p, stores=lambda _step: DictStore(), clock=wall_ms)
        for p in range(PARTITIONS)
    ]
    prime_watermarks(tasks, first_ms - 1)
    outputs: dict[str, int] = defaultdict(int)
    start = time.perf_counter()
    for batch in batches:
        for part, records in batch.items():
            tasks[part].process(records)
        for task in tasks:
            task.advance()
            for output in task.outputs:
                outputs[output.topic] += 1
            task.outputs = []
    return total / (time.perf_counter() - start), dict(outputs)


def bench_throughput(inputs: list[Input], cfg: Config) -> None:
    with gc_tuned(cfg.tune_gc):
        runs = [throughput_run(inputs) for _ in range(cfg.runs)]
        batches = batched(as_records(inputs), MAX_BATCH)
        ceilings = [ceiling_run(batches, len(inputs), inputs[0][3]) for _ in range(cfg.runs)]
    rate = statistics.median(r.rate for r in runs)
    ceiling = statistics.median(c[0] for c in ceilings)
    last = runs[-1]
    common = {
        "events": len(inputs),
        "users": cfg.users,
        "partitions": PARTITIONS,
        "mix": mix_of(inputs),
        "topology": TOPOLOGY_NOTE,
        "gc": GC_TUNED if cfg.tune_gc else "python defaults",
        "cpu_count": os.cpu_count(),
    }
    params = {
        **common,
        "max_batch": MAX_BATCH,
        "commit_interval_ms": 1_000,
        "state": "SqliteStore per task (the Runner's), changelogged",
        "timed": "first poll after the pre-fill .. close() returned (state, offsets, outputs "
        "committed); group join and task opening before the timer",
        "watermarks": "every task primed with the 4 input topics before the timer",
        "late": last.late,
        "dead_letters": last.dead_letters,
        "outputs": last.outputs,
        "runs": [round(r.rate) for r in runs],
    }
    emit("runtime.throughput", "events_per_s", rate, unit="events/s", params=params)
    ceiling_params = {
        **common,
        "what": "Task.process over pre-built records in event-time order (decode, steps, "
        "sink encode), poll-sized batches split by partition; no log, no commit",
        "outputs": ceilings[-1][1],
        "runs": [round(c[0]) for c in ceilings],
    }
    emit("runtime.ceiling", "events_per_s", ceiling, unit="events/s", params=ceiling_params)
    ratio_params = {"runtime_events_per_s": round(rate), "ceiling_events_per_s": round(ceiling)}
    emit("runtime.throughput", "ratio_vs_ceiling", rate / ceiling, unit="x", params=ratio_params)


GC_TUNED = f"gc.freeze() after set-up, gc.set_threshold{STREAMING_THRESHOLDS}"


def gc_tuned(enabled: bool) -> contextlib.AbstractContextManager[None]:
    """Optionally tune the collector as ``riskstream worker`` does (riskstream.stream.gc_policy)."""
    return streaming_gc(enabled)


# -- profile -------------------------------------------------------------------------------

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("log read", ("log/embedded/consumer", "log/embedded/fetcher", "log/embedded/store")),
    ("encode/produce", ("log/embedded/producer", "json_encode", "msgspec.json.Encoder")),
    ("decode", ("events/codec", "msgspec.json.Decoder")),
    ("velocity", ("stream/velocity", "stream/windows/", "_checkout_amount", "_instrument")),
    ("pattern", ("stream/patterns/", "_is_login", "_click_on_login_device", "_big_promo")),
    ("join", ("stream/joins/",)),
    ("state/commit", ("riskstream/state/", "stream/task_store", "sqlite3")),
    ("task dispatch", ("stream/task", "stream/steps", "stream/item", "stream/eventtime")),
    ("runner", ("stream/runner",)),
)


def layer_of(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    where = f"{filename}:{line} {name}"
    for layer, needles in LAYERS:
        if any(needle in where for needle in needles):
            return layer
    return "other"


def profile_report(profiler: cProfile.Profile, rate: float, path: Path) -> None:
    """Self time per layer, then the top entries by cumulative and by self time."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    by_layer: dict[str, float] = defaultdict(float)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for func, (_cc, _nc, tottime, _ct, callers) in raw.items():
        if func[0] != "~" or not callers:
            by_layer[layer_of(func)] += tottime
            continue
        # A builtin (C) function: its time goes to its callers' layers, by their share.
        shares = {caller: stats[2] for caller, stats in callers.items()}
        total = sum(shares.values()) or 1.0
        for caller, share in shares.items():
            by_layer[layer_of(caller)] += tottime * share / total
    total = sum(by_layer.values())
    out.write(f"profiled throughput run: {rate:,.0f} events/s under cProfile\n")
    out.write("self time by layer:\n")
    for layer, seconds in sorted(by_layer.items(), key=lambda kv: -kv[1]):
        out.write(f"  {layer:<16} {seconds:7.3f} s  {100 * seconds / total:5.1f} %\n")
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(45)
    path.write_text(out.getvalue())


def bench_profile(inputs: list[Input], cfg: Config) -> None:
    if cfg.profile is None:
        return
    profiler = cProfile.Profile()
    stats = throughput_run(inputs, profiler)
    profile_report(profiler, stats.rate, cfg.profile)


# -- latency -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatencyJob:
    """What the producer and the output reader do (picklable: crosses into child processes)."""

    url: str
    rate: int
    seconds: float
    users: int
    timeout_s: float
    prefix: str = ""  # before every topic name


def producer_process(
    job: LatencyJob, ready: ProcessEvent, go: ProcessEvent, out: Connection
) -> None:
    """Child: produce simulated activity at ``job.rate``/s, event time and timestamp = now."""
    log = open_log(job.url)
    try:
        pool = [(e, codec_for(e.topic).encode) for e in _take(simulated(job.users, 5), 50_000)]
        producer = log.producer(linger_ms=1)
        ready.set()
        go.wait(60)
        total = int(job.rate * job.seconds)
        interval_ns = 1e9 / job.rate
        start = time.perf_counter_ns()
        sent = 0
        while sent < total:
            due = min(total, int((time.perf_counter_ns() - start) / interval_ns) + 1)
            while sent < due:
                event, encode = pool[sent % len(pool)]
                now = time.time_ns()
                stamp = now // 1_000_000
                value = encode(msgspec.structs.replace(event, event_time=stamp))
                headers = ((SENT_HEADER, now.to_bytes(8, "big")),)
                topic = job.prefix + event.topic
                producer.produce(topic, value, event.key, timestamp=stamp, headers=headers)
                sent += 1
            producer.poll(0)
            time.sleep(0.0002)
        producer.flush()
        out.send(total / ((time.perf_counter_ns() - start) / 1e9))
        producer.close()
    except Exception as exc:  # reported to the parent, which owns the error output
        out.send(f"{type(exc).__name__}: {exc}")
    finally:
        log.close()
        out.close()


def _take(events: Iterator[Event], n: int) -> list[Event]:
    return [event for _, event in zip(range(n), events, strict=False)]


Received = tuple[list[bytes], "array[int]"]  # output ids, receive times (ns)


def reader_process(
    job: LatencyJob, ready: ProcessEvent, stop: ProcessEvent, out: Connection
) -> None:
    """Child: read the output topics; note each output's id and when it was read (ns)."""
    log = open_log(job.url)
    try:
        consumer = log.consumer(None, auto_offset_reset="earliest")
        tps = [TopicPartition(job.prefix + t, p) for t in OUTPUTS for p in range(PARTITIONS)]
        consumer.assign(tps)
        consumer.poll(max_records=1, timeout=0.05)  # open the topic files before the clock runs
        ready.set()
        ids: list[bytes] = []
        received: array[int] = array("q")
        deadline = time.monotonic() + job.timeout_s
        while time.monotonic() < deadline:
            batch = consumer.poll(max_records=MAX_BATCH, timeout=0.05)
            now = time.time_ns()  # one clock read per batch: every record in it arrived by now
            for record in batch:
                ident = record.header("rs.id")
                if ident is not None:
                    ids.append(ident)
                    received.append(now)
            if not batch and stop.is_set() and set(tps) <= consumer.at_end():
                break
        consumer.close()
        out.send((ids, received))
    except Exception as exc:  # reported to the parent, which owns the error output
        out.send(f"{type(exc).__name__}: {exc}")
    finally:
        log.close()
        out.close()


class Stamps:
    """Wall-clock times the runner side takes through the log port, to split the latency:
    when the runner's poll returned each input, and when it handed each output over."""

    def __init__(self, outputs: Sequence[str] = OUTPUTS) -> None:
        self.polled: dict[bytes, int] = {}  # input origin -> ns
        self.handed: dict[bytes, int] = {}  # output id -> ns
        self.outputs = frozenset(outputs)

    def wrap_poll(self, poll: Callable[..., list[Record]]) -> Callable[..., list[Record]]:
        polled = self.polled

        def stamped(*args: Any, **kwargs: Any) -> list[Record]:
            records = poll(*args, **kwargs)
            now = time.time_ns()
            for r in records:
                polled[f"{r.topic}/{r.partition}/{r.offset}".encode()] = now
            return records

        return stamped

    def wrap_produce(self, produce: Callable[..., None]) -> Callable[..., None]:
        handed, outputs = self.handed, self.outputs

        def stamped(topic: str, *args: Any, **kwargs: Any) -> None:
            produce(topic, *args, **kwargs)
            if topic in outputs:
                ident = dict(kwargs.get("headers") or ()).get(OUTPUT_ID_HEADER)
                if ident is not None:
                    handed[ident] = time.time_ns()

        return stamped


class StampingLog:
    """The log as the runner sees it, with its group consumer's ``poll`` and its producers'
    ``produce`` stamped (instance attributes: the backend's own objects do the work)."""

    def __init__(self, inner: EventLog, stamps: Stamps) -> None:
        self._inner = inner
        self._stamps = stamps

    @property
    def url(self) -> str:
        return self._inner.url

    @property
    def admin(self) -> Admin:
        return self._inner.admin

    def producer(
        self, *, on_delivery: DeliveryCallback | None = None, linger_ms: int = 5
    ) -> Producer:
        producer = self._inner.producer(on_delivery=on_delivery, linger_ms=linger_ms)
        producer.produce = self._stamps.wrap_produce(producer.produce)  # type: ignore[method-assign]
        return producer

    def consumer(
        self,
        group_id: str | None = None,
        *,
        auto_offset_reset: OffsetReset = "earliest",
        session_timeout_ms: int = 10_000,
    ) -> Consumer:
        consumer = self._inner.consumer(
            group_id, auto_offset_reset=auto_offset_reset, session_timeout_ms=session_timeout_ms
        )
        if group_id is not None:
            consumer.poll = self._stamps.wrap_poll(consumer.poll)  # type: ignore[method-assign]
        return consumer

    def close(self) -> None:
        self._inner.close()


def sent_times(log: EventLog, prefix: str = "") -> dict[bytes, int]:
    """``topic/partition/offset`` of every input record -> its produce time (ns)."""
    consumer = log.consumer(None, auto_offset_reset="earliest")
    try:
        tps = [TopicPartition(prefix + t, p) for t in TOPICS for p in range(PARTITIONS)]
        consumer.assign(tps)
        sent: dict[bytes, int] = {}
        while True:
            batch = consumer.poll(max_records=50_000, timeout=0.2)
            for record in batch:
                stamp = record.header(SENT_HEADER)
                if stamp is not None:
                    origin = f"{record.topic}/{record.partition}/{record.offset}".encode()
                    sent[origin] = int.from_bytes(stamp, "big")
            if not batch and set(tps) <= consumer.at_end():
                return sent
    finally:
        consumer.close()


def checked(result: Any, what: str) -> Any:
    if isinstance(result, str):
        raise RuntimeError(f"{what} failed: {result}")
    return result


@dataclass
class Children:
    """The producer and reader processes and their pipes."""

    procs: list[Any]
    produced: Connection
    read: Connection
    go: ProcessEvent
    stop: ProcessEvent

    def end(self) -> None:
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join()


def start_children(job: LatencyJob) -> Children:
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
    children = Children(procs, produced, read, go, stop)
    if not (ready_p.wait(120) and ready_r.wait(120)):
        children.stop.set()
        children.end()
        raise TimeoutError("latency children not ready within 120s")
    return children


def serve_while(runner: Runner, busy: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while busy():
        runner.poll_once(0.1)
        if time.monotonic() > deadline:
            raise TimeoutError(f"latency run still busy after {timeout_s:.0f}s")


@dataclass
class Latencies:
    """Per measured output, ms: end to end, and its three legs."""

    total: list[float]
    log_in: list[float]  # input produce call -> the runner's poll returned it
    runner: list[float]  # -> the runner handed the output to its producer
    log_out: list[float]  # -> the reader process read it
    timers: int  # outputs fired by the watermark, left out


def latencies(
    received: Received, sent: dict[bytes, int], stamps: Stamps, after_ns: int
) -> Latencies:
    """Milliseconds from each input's produce call to the read of each output it caused.

    Outputs fired by the watermark (ids ``timer/...``: unmatched left joins, expiries) wait
    for their window by design and are left out, only counted.
    """
    ids, times = received
    out = Latencies([], [], [], [], 0)
    for ident, at in zip(ids, times, strict=True):
        if ident.startswith(b"timer/"):
            out.timers += 1
            continue
        origin = ident.rsplit(b"/", 1)[0]
        sent_ns = sent.get(origin)
        if sent_ns is None or sent_ns < after_ns:
            continue
        polled, handed = stamps.polled.get(origin, sent_ns), stamps.handed.get(ident, at)
        out.total.append((at - sent_ns) / 1e6)
        out.log_in.append((polled - sent_ns) / 1e6)
        out.runner.append((handed - polled) / 1e6)
        out.log_out.append((at - handed) / 1e6)
    return out


def p50_p99(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        raise RuntimeError(f"{len(values)} latency samples: too few for percentiles")
    return statistics.median(values), statistics.quantiles(values, n=100)[98]


@dataclass
class LatencyRun:
    """One latency run: the measured outputs and what the run looked like."""

    measured: Latencies
    achieved: float  # the producer's rate, events/s
    late: int
    inputs: int
    commit_interval_ms: int


def latency_run(
    log: EventLog,
    state_dir: Path,
    cfg: Config,
    *,
    prefix: str = "",
    stamping: Callable[[EventLog, Stamps], EventLog] = StampingLog,
    **runner_options: Any,
) -> LatencyRun:
    """Producer process -> ``log`` -> a Runner here (its log wrapped by ``stamping``) ->
    ``log`` -> reader process; the input topics are created here."""
    stamps = Stamps(prefix + topic for topic in OUTPUTS)
    create_inputs(log, prefix)
    runner = Runner(
        reference_topology(prefix), stamping(log, stamps), state_dir=state_dir, **runner_options
    )
    with started(runner), streaming_gc():  # the collector as `riskstream worker` tunes it
        job = LatencyJob(
            str(log.url), cfg.rate, cfg.seconds, cfg.users, cfg.seconds + 120, prefix=prefix
        )
        children = start_children(job)
        try:
            prime_watermarks([u.task for u in runner.units.values()], wall_ms() - 1, prefix)
            start_ns = time.time_ns()
            children.go.set()
            producer = children.procs[0]
            busy = lambda: producer.is_alive() or not runner.caught_up()  # noqa: E731
            serve_while(runner, busy, job.timeout_s)
            achieved = float(checked(children.produced.recv(), "latency producer"))
            runner.commit()
            late = sum(u.task.late_count for u in runner.units.values())
            children.stop.set()
            received: Received = checked(children.read.recv(), "latency reader")
        finally:
            children.stop.set()
            children.end()
        runner.close()
    sent = sent_times(log, prefix)
    measured = latencies(received, sent, stamps, start_ns + int(cfg.warmup_s * 1e9))
    return LatencyRun(measured, achieved, late, len(sent), runner.commit_interval_ms)


def latency_params(cfg: Config, run: LatencyRun, path: str) -> dict[str, Any]:
    measured = run.measured
    legs = {
        leg: [round(v, 3) for v in p50_p99(values)]
        for leg, values in (
            ("log_in", measured.log_in),
            ("runner", measured.runner),
            ("log_out", measured.log_out),
        )
    }
    return {
        "rate": cfg.rate,
        "seconds": cfg.seconds,
        "warmup_s": cfg.warmup_s,
        "achieved_rate": round(run.achieved),
        "inputs": run.inputs,
        "outputs_measured": len(measured.total),
        "timer_outputs_excluded": measured.timers,
        "late": run.late,
        "partitions": PARTITIONS,
        "users": cfg.users,
        "topology": TOPOLOGY_NOTE,
        "commit_interval_ms": run.commit_interval_ms,
        "path": path,
        "clock": "time.time_ns() at the input's produce call (header) to the read of each "
        "output it caused (matched by the output's rs.id); one clock read per polled batch",
        "legs_p50_p99_ms": legs,
        "legs": "log_in: produce call -> runner poll returned it; runner: -> output handed to "
        "the runner's producer (batch, steps, commit pauses); log_out: -> read by the reader",
        "cpu_count": os.cpu_count(),
    }


def bench_latency(cfg: Config) -> None:
    with temp_log("latency") as (log, root):
        run = latency_run(log, root / "state", cfg)
    path = (
        "producer process (linger_ms=1, event time = timestamp = now) -> embedded log "
        "-> Runner in this process (poll_once(0.1), outputs linger_ms=1) -> embedded log -> "
        "reader process (poll(timeout=0.05)); 2 CPUs shared by the three processes"
    )
    params = latency_params(cfg, run, path)
    p50, p99 = p50_p99(run.measured.total)
    emit("runtime.latency", "p50_ms", p50, unit="ms", params=params)
    emit("runtime.latency", "p99_ms", p99, unit="ms", params=params)


# -- restore -------------------------------------------------------------------------------

RESTORE_APP, RESTORE_STORE = "bench-restore", "kv"
RESTORE_COMMITS = 10


def fill_changelog(
    log: EventLog,
    directory: Path,
    keys: int,
    *,
    app: str = RESTORE_APP,
    on_commit: Callable[[int, SqliteStore], None] | None = None,
) -> None:
    """``keys`` keys with ~100-byte values, through a SqliteStore, in 10 commits;
    ``on_commit(n, store)`` after the n-th (1-based)."""
    ensure_changelog(log.admin, app, RESTORE_STORE, 1)
    changelog = f"{app}-{RESTORE_STORE}-changelog"
    pool = [os.urandom(RESTORE_VALUE_BYTES) for _ in range(4_099)]
    producer = log.producer(linger_ms=5)
    with SqliteStore(RESTORE_STORE, 0, changelog=changelog, directory=directory) as store:
        per_commit = -(-keys // RESTORE_COMMITS)
        for number, first in enumerate(range(0, keys, per_commit), 1):
            for i in range(first, min(keys, first + per_commit)):
                store.put(b"user-%08d" % i, pool[i % len(pool)])
            store.flush(producer, {"n": b"%d" % first})
            producer.flush()
            store.commit()
            if on_commit is not None:
                on_commit(number, store)
    producer.close()


def timed_restore(make: Callable[[], Any], log: EventLog, keys: int) -> float:
    """Seconds to open a store and restore it; checks it holds every key."""
    start = time.perf_counter()
    store = make()
    store.restore(log)
    elapsed = time.perf_counter() - start
    try:
        size = store.approximate_size()
        if size != keys:
            raise RuntimeError(f"{type(store).__name__} restored {size} of {keys} keys")
    finally:
        store.close()
    return elapsed


def bench_restore(cfg: Config) -> None:
    keys = cfg.restore_keys
    changelog = f"{RESTORE_APP}-{RESTORE_STORE}-changelog"
    with temp_log("restore") as (log, root):
        fill_changelog(log, root / "writer", keys)
        kinds: dict[str, Callable[[int], Any]] = {
            "sqlite_full": lambda n: SqliteStore(
                RESTORE_STORE, 0, changelog=changelog, directory=root / f"full-{n}"
            ),
            "memory_full": lambda _n: MemoryStore(RESTORE_STORE, 0, changelog=changelog),
            "sqlite_local_file": lambda _n: SqliteStore(
                RESTORE_STORE, 0, changelog=changelog, directory=root / "writer"
            ),
        }
        for kind, make in kinds.items():
            runs = [timed_restore(partial(make, n), log, keys) for n in range(cfg.restore_runs)]
            params = {
                "keys": keys,
                "value_bytes": RESTORE_VALUE_BYTES,
                "key_bytes": 13,
                "changelog_records": keys + RESTORE_COMMITS,
                "commits": RESTORE_COMMITS,
                "partition": "one changelog partition (one task's store)",
                "store": kind,
                "what": {
                    "sqlite_full": "new SqliteStore file, full replay of the changelog",
                    "memory_full": "new MemoryStore, full replay of the changelog",
                    "sqlite_local_file": "restart: open the committed SQLite file, replay the "
                    "changelog after its commit point (none)",
                }[kind],
                "timed": "store open + restore(log)",
                "runs": [round(r, 3) for r in runs],
            }
            emit("runtime.restore", "restore_s", statistics.median(runs), unit="s", params=params)


# -- state memory --------------------------------------------------------------------------


def session_templates() -> dict[type[Event], list[Event]]:
    """Real simulated events of each kind, to stamp with synthetic users and times."""
    found: dict[type[Event], list[Event]] = defaultdict(list)
    for event in _take(simulated(1_000, 3), 20_000):
        found[type(event)].append(event)
    return found


def key_session(templates: dict[type[Event], list[Event]], i: int, at: int) -> list[Event]:
    """User ``i``: a login, a click on that device, a promo (big for 1 in 5), a checkout."""
    user = f"user-{i:08d}"
    login = templates[Login][i % len(templates[Login])]
    device = f"dev-{user}-0"
    replace = msgspec.structs.replace
    promo = templates[PromoApplied][i % len(templates[PromoApplied])]
    return [
        replace(login, user_id=user, event_time=at, device_id=device, success=True),
        replace(
            templates[Click][i % len(templates[Click])],
            user_id=user,
            event_time=at + 1,
            device_id=device,
        ),
        replace(
            promo,
            user_id=user,
            event_time=at + 2,
            discount_value=BIG_DISCOUNT if i % 5 == 0 else 5.0,
        ),
        replace(
            templates[Checkout][i % len(templates[Checkout])],
            user_id=user,
            event_time=at + 3,
            device_id=device,
        ),
    ]


def state_records(keys: int, first_ms: int, chunk: int) -> Iterator[list[Record]]:
    """Every key's session, all inside 25 s of event time (nothing expires), in chunks."""
    templates = session_templates()
    offset = 0
    for start in range(0, keys, chunk):
        records = []
        for i in range(start, min(keys, start + chunk)):
            at = first_ms + i * 25_000 // keys
            for event in key_session(templates, i, at):
                value = codec_for(event.topic).encode(event)
                records.append(Record(event.topic, 0, offset, at, event.key, value))
                offset += 1
        yield records


def feed(task: Task, keys: int, first_ms: int, commit: Callable[[], None] | None = None) -> None:
    """Every key's session through ``task``; ``commit`` after each chunk of 10k keys."""
    for records in state_records(keys, first_ms, chunk=10_000):
        task.process(records)
        task.outputs = []
        if commit is not None:
            commit()


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


TRACE_GROUPS: tuple[tuple[str, str], ...] = (
    ("velocity", "stream/windows/"),
    ("velocity", "stream/velocity"),
    ("pattern", "stream/patterns/"),
    ("join", "stream/joins/"),
    ("events", "events/codec"),
    ("per-key caches and timers", "stream/"),
)


def traced_breakdown(keys: int, first_ms: int) -> tuple[float, dict[str, float]]:
    """tracemalloc over ``keys`` keys in one Task: bytes per key, in total and by layer."""
    task = Task(reference_topology(), 0, stores=lambda _s: DictStore(), clock=lambda: first_ms)
    prime_watermarks([task], first_ms - 1)
    gc.collect()
    tracemalloc.start()
    try:
        feed(task, keys, first_ms)
        gc.collect()
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    groups: dict[str, float] = defaultdict(float)
    for stat in snapshot.statistics("filename"):
        name = stat.traceback[0].filename
        if "tracemalloc" in name or "runtime.py" in name:
            continue
        group = next((g for g, needle in TRACE_GROUPS if needle in name), "other")
        groups[group] += stat.size
    total = sum(groups.values())
    return total / keys, {g: round(b / keys, 1) for g, b in groups.items()}


def state_in_sqlite(keys: int, first_ms: int) -> tuple[float, float, float]:
    """The runner's layout (one SqliteStore, a prefix per step) taking ``keys`` sessions and
    committing after every 10k keys, as the runner does at its commit interval: RSS growth
    per key (live logics beyond each step's bound and clean store entries beyond the store
    cache are evicted at commits), snapshot bytes per key, file bytes per key."""
    with temp_log("state") as (log, root):
        ensure_changelog(log.admin, APPLICATION, "state", 1)
        changelog = f"{APPLICATION}-state-changelog"
        store = SqliteStore(f"{APPLICATION}-state", 0, changelog=changelog, directory=root)
        task = Task(
            reference_topology(), 0, stores=lambda s: PrefixedStore(store, s), clock=wall_ms
        )
        prime_watermarks([task], first_ms - 1)
        producer = log.producer(linger_ms=5)

        def commit() -> None:
            task.flush_state()
            store.flush(producer, {})
            producer.flush()
            store.commit()

        gc.collect()
        before = rss_bytes()
        feed(task, keys, first_ms, commit)
        gc.collect()
        resident = (rss_bytes() - before) / keys
        snapshot_bytes = sum(len(value) for _key, value in store.items())
        producer.close()
        store.close()
        on_disk = sum(p.stat().st_size for p in store.path.parent.glob(f"{store.path.name}*"))
    return resident, snapshot_bytes / keys, on_disk / keys


def bench_state(cfg: Config) -> None:
    first_ms = 1_767_225_600_000
    per_key, groups = traced_breakdown(cfg.trace_keys, first_ms)
    live, snapshot, on_disk = state_in_sqlite(cfg.state_keys, first_ms)
    common = {
        "topology": TOPOLOGY_NOTE,
        "per_key_state": "each key (user) has one session - login, click on that device, promo "
        "(big for 1 in 5), checkout - all inside 25 s of event time, so every step holds "
        "state for every key: velocity 1 bucket, a pattern run waiting for its promo (4 keys "
        "in 5; the 5th matched), join buffers of 1 login and 1 checkout (the decoded events "
        "are shared by the pattern and the join)",
    }
    emit(
        "runtime.state",
        "bytes_per_key",
        per_key,
        unit="B",
        params={
            **common,
            "keys": cfg.trace_keys,
            "what": "tracemalloc: live logic objects, "
            "decoded events, per-key caches and timer entries of one Task, after gc",
            "by_layer": groups,
        },
    )
    emit(
        "runtime.state",
        "bytes_per_key",
        live,
        unit="B",
        params={
            **common,
            "keys": cfg.state_keys,
            "what": "process RSS growth while one Task (SqliteStore, the runner's layout) "
            "takes the keys, committing every 10k keys (live logics bounded per step, store "
            "cache bounded), after gc; meaningful at large key counts (allocator reuse)",
        },
    )
    emit(
        "runtime.state",
        "bytes_per_key",
        snapshot,
        unit="B",
        params={**common, "keys": cfg.state_keys, "what": "msgpack snapshots of all steps"},
    )
    emit(
        "runtime.state",
        "bytes_per_key",
        on_disk,
        unit="B",
        params={
            **common,
            "keys": cfg.state_keys,
            "what": "SqliteStore file after commit and close (all steps, prefixed keys)",
        },
    )


# -- driver --------------------------------------------------------------------------------

BENCHES = ("throughput", "latency", "restore", "state")


def parse_args(argv: Sequence[str] | None) -> tuple[list[str], Config]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="finish in under a minute")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHES)}")
    parser.add_argument("--events", type=int, help="records per throughput run")
    parser.add_argument("--users", type=int, default=10_000, help="distinct keys (user ids)")
    parser.add_argument("--profile", type=Path, help="write a profile of one throughput run")
    parser.add_argument("--tune-gc", action="store_true", help=f"throughput with {GC_TUNED}")
    args = parser.parse_args(argv)
    only = args.only.split(",") if args.only else list(BENCHES)
    unknown = set(only) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    if args.events is not None and args.events < 1:
        parser.error("--events must be at least 1")
    quick: bool = args.quick
    cfg = Config(
        events=args.events or (200_000 if quick else 1_000_000),
        runs=2 if quick else 3,
        users=args.users,
        rate=20_000,
        seconds=5.0 if quick else 20.0,
        warmup_s=1.0 if quick else 2.0,
        restore_keys=200_000 if quick else 1_000_000,
        restore_runs=1 if quick else 3,
        state_keys=20_000 if quick else 1_000_000,
        trace_keys=5_000 if quick else 100_000,
        profile=args.profile,
        tune_gc=args.tune_gc,
    )
    return only, cfg


def main(argv: Sequence[str] | None = None) -> int:
    only, cfg = parse_args(argv)
    ok = True
    inputs: list[Input] = []
    if "throughput" in only:
        inputs = build_inputs(cfg.events, cfg.users)

    def throughput() -> None:
        bench_throughput(inputs, cfg)
        bench_profile(inputs, cfg)

    benches: dict[str, Callable[[], None]] = {
        "throughput": throughput,
        "latency": lambda: bench_latency(cfg),
        "restore": lambda: bench_restore(cfg),
        "state": lambda: bench_state(cfg),
    }
    for name in only:
        try:
            benches[name]()
        except Exception as exc:  # one failing figure must not hide the rest
            emit_error(f"runtime.{name}", exc)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

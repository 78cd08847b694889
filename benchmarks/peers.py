"""Peers: riskstream against Quix Streams, Faust and the raw consume ceiling, on one broker.

    python benchmarks/peers.py [--quick] [--events N] [--users N] [--runs N]
                               [--only riskstream,quixstreams,faust,ceiling] [--no-fraud]
                               [--profile DIR]

Prints one JSON object per figure on stdout (DESIGN.md §4 "Benchmarks"), backend ``kafka``:
each contender's ``events_per_s`` and riskstream's ``ratio_vs_quixstreams``,
``ratio_vs_faust`` and ``ratio_vs_ceiling``. A contender that fails, or whose outputs differ
from the reference, prints ``{"bench": ..., "backend": ..., "error": ...}`` on stderr and
makes the exit status 1; the others still run.

The same fraud check runs in every framework, each written the way its docs recommend (the
apps are in ``benchmarks/peers/``; the check itself is stated in ``peers/expected.py``):
per-user velocity over a 10-minute window, one result per event, and an alert for a
high-value promo within 30 s of the session's first click after a login from a new device in
a new country. The input is written once: simulated traffic (``TrafficSimulator``), JSON as
riskstream encodes it, keyed by user id, on one topic with 8 partitions. Each contender is a
process of its own (the peers in virtualenvs of their own under ``.bench/``, created on first
use: their pins conflict with ours), in a fresh consumer group reading from the earliest
offset, and is timed from its first record to its N-th velocity result being readable on
the broker. The ceiling is a raw ``confluent_kafka.Consumer`` that only counts the records.
Runs are interleaved (each run starts with the next contender); figures are medians and the
ratios the median of the per-run ratios. Every topic and group a run makes carries a prefix
of its own (``bench-<hex>.``) and is deleted afterwards. Kafka comes from
``RISKSTREAM_KAFKA_BOOTSTRAP``, else ``scripts/kafka.sh start`` (never stopped here).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from log import kafka_url

from riskstream.events import Checkout, Event
from riskstream.events.codec import codec_for
from riskstream.log import Consumer, EventLog, TopicPartition, TopicSpec, open_log
from riskstream.sim import SimConfig, TrafficSimulator

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from expected import (  # benchmarks/peers is not a package: its directory is on the path
    Alert,
    Expected,
    alert_of,
    expected,
    velocity_digest,
    velocity_result,
)

BACKEND = "kafka"
ROOT = Path(__file__).resolve().parent.parent
APPS = Path(__file__).resolve().parent / "peers"
CONTENDERS = ("riskstream", "quixstreams", "faust", "ceiling")
PEERS = ("quixstreams", "faust")
TARGETS = {"quixstreams": 3.0, "faust": 10.0, "ceiling": 0.5}
CEILING_REPEATS = 3
STALL_S = 60.0  # a contender whose outputs stand still this long has failed
PARTITIONS = 8
SEED = 11
# The promo-abuse scenario is raised (default fraud rate 1 %, weight 3) so that the check
# fires often enough for the outputs to be compared; the traffic mix barely moves.
FRAUD_RATE = 0.05
PROMO_ABUSE_WEIGHT = 10.0
RUSH_RULE = "ato.new_device_promo_rush"
# Each peer's virtualenv: its pins, reinstalled when they change (the file records them).
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "quixstreams": (
        "quixstreams==3.28.1",
        "confluent-kafka==2.12.2",
        "rocksdict==0.3.29",
        "orjson==3.13.0",
    ),
    "faust": (
        "faust-streaming[rocksdict,uvloop]==0.15.3",
        "mode-streaming==0.7.1",
        "aiokafka[lz4]==0.14.0",
        "rocksdict==0.3.29",
        "uvloop==0.23.0",
        "orjson==3.13.0",
    ),
}
SETUP = {
    "riskstream": "riskstream_app.py: a Runner as `riskstream worker` runs it (SqliteStore per "
    "task with changelog, low_latency, 1 s commits, streaming GC); source with the any-event "
    "msgspec codec; Tumbling(10 min, Count, emit=update) -> velocity topic; process() step "
    "with a msgspec state per user -> alerts topic",
    "quixstreams": "quix_app.py: Application (at-least-once, RocksDB state + changelog, 5 s "
    "commits), StreamingDataFrame over JSON; branch tumbling_window(10 min).count().current() "
    "-> velocity topic; branch apply(stateful=True) -> filter -> alerts topic",
    "faust": "faust_app.py: one agent over the JSON topic, uvloop, rocksdb:// tables (rocksdict) "
    "+ changelogs, at-least-once, 2.8 s commits; Table.tumbling(10 min) += 1 / .current() -> "
    "await send to velocity topic; per-user Table -> await send to alerts topic",
    "ceiling": "ceiling_app.py: confluent_kafka.Consumer (librdkafka defaults, fresh group, "
    "earliest), consume(10_000) until N records, each checked for an error, nothing else",
}
TIMED = (
    "the contender's first record in hand (its first non-empty poll, or first call of its "
    "processing function) .. its N-th velocity result readable on the broker (end offsets "
    "polled every 25 ms); for the ceiling, its first non-empty consume .. its N-th record. "
    "Start-up, group join and state recovery come before the timer"
)


@dataclass(frozen=True)
class Config:
    """What one invocation measures."""

    events: int
    users: int
    runs: int
    only: tuple[str, ...]
    fraud: bool
    profile: Path | None
    venvs: Path


# -- output ------------------------------------------------------------------------------


def emit(bench: str, metric: str, value: float, *, unit: str, params: dict[str, Any]) -> None:
    figure = {
        "bench": bench,
        "backend": BACKEND,
        "metric": metric,
        "value": round(value, 3),
        "unit": unit,
        "params": params,
    }
    print(json.dumps(figure), flush=True)


def emit_error(bench: str, error: str) -> None:
    print(json.dumps({"bench": bench, "backend": BACKEND, "error": error}), file=sys.stderr)


def note(message: str) -> None:
    print(f"peers: {message}", file=sys.stderr, flush=True)


# -- the peers' virtualenvs ------------------------------------------------------------------


def peer_python(name: str, venvs: Path) -> Path:
    """The interpreter of ``name``'s virtualenv, created or brought up to its pins first."""
    venv = venvs / f"venv-{name}"
    python = venv / "bin" / "python"
    pins = "\n".join(REQUIREMENTS[name]) + "\n"
    marker = venv / "requirements.txt"
    if python.exists() and marker.exists() and marker.read_text() == pins:
        return python
    note(f"installing {name} into {venv} (wheels only)")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--only-binary=:all:", *REQUIREMENTS[name]], check=True, timeout=900)
    marker.write_text(pins)
    return python


# -- the workload ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """The encoded input and what the reference says every contender must output for it."""

    inputs: list[tuple[bytes, bytes, int]]  # key, value, event time
    checkouts: int
    reference: Expected
    mix: dict[str, int]


def build_workload(events: int, users: int) -> Workload:
    config = SimConfig(
        users=users,
        seed=SEED,
        fraud_rate=FRAUD_RATE,
        scenario_weights={"promo_abuse": PROMO_ABUSE_WEIGHT},
    )
    encode = codec_for("*").encode
    inputs: list[tuple[bytes, bytes, int]] = []
    mix: dict[str, int] = {}
    checkouts = 0
    event: Event
    for event in TrafficSimulator(config).events(events):
        inputs.append((event.key, encode(event), event.event_time))
        kind = type(event).__name__
        mix[kind] = mix.get(kind, 0) + 1
        checkouts += type(event) is Checkout
    decoded = msgspec.json.decode(b"[" + b",".join(value for _, value, _ in inputs) + b"]")
    return Workload(inputs, checkouts, expected(decoded), dict(sorted(mix.items())))


def prefill(log: EventLog, topic: str, inputs: Sequence[tuple[bytes, bytes, int]]) -> None:
    producer = log.producer(linger_ms=5)
    produce = producer.produce
    for key, value, event_time in inputs:
        produce(topic, value, key, timestamp=event_time)
    if producer.flush(120) != 0:
        raise RuntimeError("the input was not acknowledged within 120 s")
    producer.close()


# -- per-invocation names on the shared broker ------------------------------------------------


@dataclass
class Bench:
    """The broker, the run's names and its temp directory; everything is removed on exit."""

    url: str
    log: EventLog
    prefix: str
    root: Path
    groups: list[str] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return self.url.removeprefix("kafka://").split("?", 1)[0]

    @property
    def input(self) -> str:
        return self.prefix + "events"

    def create(self, *topics: str) -> None:
        specs = [TopicSpec(name=topic, partitions=PARTITIONS) for topic in topics]
        self.log.admin.create_topics(specs, exist_ok=True)

    def end_offsets(self, probe: Consumer, topic: str) -> int:
        return sum(probe.watermarks(TopicPartition(topic, p))[1] for p in range(PARTITIONS))

    def read(self, topic: str, timeout_s: float = 120.0) -> list[tuple[bytes | None, bytes]]:
        """Every record of ``topic``: (key, value)."""
        consumer = self.log.consumer(None, auto_offset_reset="earliest")
        try:
            tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            consumer.assign(tps)
            out: list[tuple[bytes | None, bytes]] = []
            deadline = time.monotonic() + timeout_s
            while not set(tps) <= consumer.at_end():
                out += [(r.key, r.value) for r in consumer.poll(50_000, 0.2) if r.value]
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{topic}: {len(out)} records read in {timeout_s:.0f}s")
            return out
        finally:
            consumer.close()


@contextmanager
def bench_run(url: str) -> Iterator[Bench]:
    log = open_log(url)
    bench = Bench(url, log, f"bench-{uuid.uuid4().hex[:10]}.", Path(tempfile.mkdtemp("-peers")))
    try:
        yield bench
    finally:
        try:
            mine = [name for name in log.admin.list_topics() if bench.prefix in name]
            if mine:
                log.admin.delete_topics(mine)
        except Exception as exc:  # a leftover topic is only untidy
            note(f"warning: could not delete the topics of {bench.prefix}: {exc}")
        delete_groups(bench.bootstrap, bench.groups)
        log.close()
        shutil.rmtree(bench.root, ignore_errors=True)


def delete_groups(bootstrap: str, groups: list[str]) -> None:
    """Best effort: the consumer groups of the run (the log port has no group admin)."""
    if not groups:
        return
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415 - only for the clean-up

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 4})
    with suppress(Exception):
        for future in admin.delete_consumer_groups(groups).values():
            with suppress(Exception):
                future.result(10)


# -- one contender, one run --------------------------------------------------------------------


@dataclass
class Outcome:
    """One timed run of one contender."""

    rate: float
    seconds: float
    cpu_s: float
    velocity: int = 0
    alerts: int = 0
    alert_users: int = 0
    mismatch: list[str] = field(default_factory=list)


class Contender:
    """A contender's process: started, timed from its stamp to its outputs, stopped."""

    def __init__(self, bench: Bench, name: str, tag: str, command: list[str]) -> None:
        self.bench = bench
        self.name = name
        self.stamp = bench.root / f"{tag}.stamp"
        self.log_path = bench.root / f"{tag}.log"
        with self.log_path.open("w") as out:
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
            )

    def tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return " | ".join(line.strip() for line in text[-lines:] if line.strip())

    def alive(self, what: str) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) {what}: {self.tail()}")

    def first_record(self, timeout_s: float = 180.0) -> int:
        """Wait for the stamp of the first record; its monotonic time in ns."""
        deadline = time.monotonic() + timeout_s
        while not self.stamp.exists() or not self.stamp.stat().st_size:
            self.alive("before its first record")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: no record within {timeout_s:.0f}s")
            time.sleep(0.005)
        return int(self.stamps()["first_ns"])

    def stamps(self, timeout_s: float = 5.0) -> dict[str, int]:
        """The stamp file's contents (the app may still be writing it)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                stamps: dict[str, int] = json.loads(self.stamp.read_text())
                return stamps
            except (OSError, ValueError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    def wait_outputs(self, probe: Consumer, topic: str, target: int, stall_s: float) -> int:
        """Poll ``topic``'s end offsets until they reach ``target``; the monotonic ns then.
        Gives up when they have not moved for ``stall_s``."""
        last, moved = -1, time.monotonic()
        while True:
            count = self.bench.end_offsets(probe, topic)
            if count >= target:
                return time.monotonic_ns()
            self.alive(f"after {count} of {target} outputs")
            now = time.monotonic()
            if count != last:
                last, moved = count, now
            elif now - moved > stall_s:
                raise TimeoutError(
                    f"{self.name}: stuck at {count} of {target} outputs for {stall_s:.0f}s: "
                    f"{self.tail()}"
                )
            time.sleep(0.025)

    def cpu_s(self) -> float:
        """User + system CPU of the process so far (every thread)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGTERM (each stops cleanly on it), SIGKILL after ``timeout_s``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def profiled(contender: Contender, out: Path | None) -> Iterator[None]:
    """py-spy on the contender's process while the block runs (for ``--profile``)."""
    if out is None:
        yield
        return
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    raw = out / f"{contender.name}.stacks"
    spy = subprocess.Popen(
        [py_spy, "record", "--pid", str(contender.proc.pid), "--rate", "200", "--format",
         "raw", "--nonblocking", "--output", str(raw)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
        if raw.exists():
            summarise_stacks(raw, out / f"{contender.name}.txt")


_LINE = re.compile(r":\d+\)$")


def summarise_stacks(raw: Path, out: Path, top: int = 30) -> None:
    """Self and inclusive sample shares of the top functions of py-spy's raw (collapsed)
    stacks, per function (line numbers dropped), idle frames (waiting in a poll or a sleep)
    included: they show where the wall time goes."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
    lines = [f"{total} samples at 200 Hz", "", "self %  function"]
    for frame, count in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * count / max(1, total):6.1f}  {frame}")
    lines += ["", "incl %  function"]
    for frame, count in sorted(inclusive.items(), key=lambda kv: -kv[1])[: top * 2]:
        lines.append(f"{100 * count / max(1, total):6.1f}  {frame}")
    out.write_text("\n".join(lines) + "\n")


def check_outputs(bench: Bench, velocity: str, alerts: str, reference: Expected) -> Outcome:
    """Read a contender's outputs and compare them with the reference (rate filled later)."""
    digest = velocity_digest(velocity_result(key, value) for key, value in bench.read(velocity))
    records = [alert_of(value) for _, value in bench.read(alerts)]
    found: set[Alert] = set(records)
    mismatch = []
    if digest != reference.velocity:
        mismatch.append(
            f"velocity (results, user-windows, sum of counts) {digest} != {reference.velocity}"
        )
    if found != reference.alerts or len(records) != len(found):
        missing, extra = len(reference.alerts - found), len(found - reference.alerts)
        mismatch.append(f"alerts: {len(records)} records, {missing} missing, {extra} unexpected")
    users = {user for user, _ in found}
    return Outcome(0.0, 0.0, 0.0, digest[0], len(records), len(users), mismatch)


def app_command(
    name: str, python: Path, bench: Bench, tag: str, expires_s: float
) -> tuple[list[str], str, str]:
    """The command line of a contender's app, and its velocity and alerts topics."""
    velocity, alerts = f"{tag}.velocity", f"{tag}.alerts"
    script = {"riskstream": "riskstream_app.py", "quixstreams": "quix_app.py"}.get(
        name, f"{name}_app.py"
    )
    command = [
        str(python), str(APPS / script), "--bootstrap", bench.bootstrap, "--input", bench.input,
        "--group", tag, "--stamp", str(bench.root / f"{tag}.stamp"),
    ]  # fmt: skip
    if name == "ceiling":
        return command, velocity, alerts
    command += ["--velocity", velocity, "--alerts", alerts]
    command += ["--state-dir", str(bench.root / tag)]
    if name == "faust":
        command += ["--partitions", str(PARTITIONS), "--expires-s", f"{expires_s:.0f}"]
    return command, velocity, alerts


def run_ceiling(bench: Bench, python: Path, work: Workload, run: int) -> Outcome:
    """The ceiling takes a fraction of a second: the median of a few processes, one after
    another, each in a fresh group."""
    outcomes = [
        run_contender(bench, "ceiling", python, work, f"{run}-{repeat}")
        for repeat in range(CEILING_REPEATS)
    ]
    return sorted(outcomes, key=lambda o: o.rate)[len(outcomes) // 2]


def run_contender(
    bench: Bench,
    name: str,
    python: Path,
    work: Workload,
    run: int | str,
    profile: Path | None = None,
) -> Outcome:
    """Start the contender on the pre-filled input, time it, stop it, check its outputs."""
    tag = f"{bench.prefix}{name}-{run}"
    bench.groups.append(tag)
    # Faust drops windows by the wall clock: keep every window of the input (and a day).
    expires_s = time.time() - work.inputs[0][2] / 1000 + 86_400
    command, velocity, alerts = app_command(name, python, bench, tag, expires_s)
    events = len(work.inputs)
    if name == "ceiling":
        command += ["--events", str(events)]
    else:
        bench.create(velocity, alerts)
    contender = Contender(bench, name, tag, command)
    try:
        if name == "ceiling":
            if contender.proc.wait(120 + events / 10_000) != 0:
                raise RuntimeError(f"exited ({contender.proc.returncode}): {contender.tail()}")
            stamps = contender.stamps()
            seconds = (stamps["last_ns"] - stamps["first_ns"]) / 1e9
            cpu_s = (stamps["last_cpu_ns"] - stamps["first_cpu_ns"]) / 1e9
            return Outcome(events / seconds, seconds, cpu_s, stamps["records"])
        probe = bench.log.consumer()
        try:
            first = contender.first_record()
            cpu_before = contender.cpu_s()
            with profiled(contender, profile):
                end = contender.wait_outputs(probe, velocity, events, STALL_S)
            cpu = contender.cpu_s() - cpu_before
        finally:
            probe.close()
    finally:
        contender.stop()
    outcome = check_outputs(bench, velocity, alerts, work.reference)
    outcome.seconds = (end - first) / 1e9
    outcome.rate = events / outcome.seconds
    outcome.cpu_s = cpu
    return outcome


# -- the full fraud topology (context for riskstream's figure) ---------------------------------


class DecisionReasons(msgspec.Struct):
    class Reason(msgspec.Struct):
        rule: str

    user_id: str
    reasons: list[Reason]


_decision = msgspec.json.Decoder(DecisionReasons)


def run_fraud(bench: Bench, work: Workload) -> dict[str, Any]:
    """riskstream's fraud topology over the same input, timed like the minimal one but to
    the last checkout's decision; which users its promo-rush rule flags."""
    tag = f"{bench.prefix}fraud"
    bench.groups.append(tag)
    decisions, alerts = f"{tag}.decisions", f"{tag}.alerts"
    command = [
        sys.executable, str(APPS / "riskstream_app.py"), "--topology", "fraud",
        "--bootstrap", bench.bootstrap, "--input", bench.input, "--group", tag,
        "--decisions", decisions, "--alerts", alerts, "--state-dir", str(bench.root / tag),
        "--stamp", str(bench.root / f"{tag}.stamp"),
    ]  # fmt: skip
    events = len(work.inputs)
    contender = Contender(bench, "riskstream fraud topology", tag, command)
    try:
        probe = bench.log.consumer()
        try:
            first = contender.first_record()
            cpu_before = contender.cpu_s()
            end = contender.wait_outputs(probe, decisions, work.checkouts, STALL_S)
            cpu = contender.cpu_s() - cpu_before
        finally:
            probe.close()
    finally:
        contender.stop()
    seconds = (end - first) / 1e9
    flagged = set()
    for _, value in bench.read(decisions):
        decision = _decision.decode(value)
        if any(reason.rule == RUSH_RULE for reason in decision.reasons):
            flagged.add(decision.user_id)
    minimal = set(work.reference.alert_users)
    return {
        "events_per_s": round(events / seconds),
        "seconds": round(seconds, 3),
        "decisions": work.checkouts,
        "cpu_us_per_event": round(1e6 * cpu / events, 1),
        f"users_flagged_by_{RUSH_RULE}": len(flagged),
        "of_them_flagged_by_the_minimal_check": len(flagged & minimal),
        "users_flagged_by_the_minimal_check_only": len(minimal - flagged),
        "what": "fraud_topology() (built-in features, shipped rules, no model) in the same "
        "Runner set-up, over the same topic; timed to the last checkout's decision readable",
    }


# -- driver ------------------------------------------------------------------------------------


def rotate(names: Sequence[str], by: int) -> list[str]:
    by %= max(1, len(names))
    return [*names[by:], *names[:by]]


def contender_params(
    name: str, outcomes: list[Outcome], work: Workload, cfg: Config
) -> dict[str, Any]:
    last = outcomes[-1]
    params: dict[str, Any] = {
        "events": len(work.inputs),
        "users": cfg.users,
        "partitions": PARTITIONS,
        "runs": [round(o.rate) for o in outcomes],
        "seconds": [round(o.seconds, 3) for o in outcomes],
        "setup": SETUP[name],
        "timed": TIMED,
    }
    # CPU per event moves far less than the wall-clock rate when others load the machine.
    cpu = [1e6 * o.cpu_s / len(work.inputs) for o in outcomes]
    params["cpu_us_per_event"] = round(statistics.median(cpu), 2)
    params["cpu_us_per_event_runs"] = [round(c, 2) for c in cpu]
    if name != "ceiling":
        params["outputs"] = {"velocity": last.velocity, "alerts": last.alerts}
        params["alert_users"] = last.alert_users
        params["matches_reference"] = not any(o.mismatch for o in outcomes)
    if name in REQUIREMENTS:
        params["versions"] = list(REQUIREMENTS[name])
    return params


def venv_pythons(cfg: Config) -> tuple[dict[str, Path], bool]:
    """Each contender's interpreter (ours, or its virtualenv's); False if one failed."""
    ok = True
    pythons: dict[str, Path] = {}
    for name in cfg.only:
        if name not in REQUIREMENTS:
            pythons[name] = Path(sys.executable)
            continue
        try:
            pythons[name] = peer_python(name, cfg.venvs)
        except Exception as exc:  # the others can still be measured
            emit_error(f"peers.{name}", f"virtualenv: {type(exc).__name__}: {exc}")
            ok = False
    return pythons, ok


@dataclass
class Results:
    """What the runs measured: each contender's outcomes (absent: it failed)."""

    outcomes: dict[str, list[Outcome]]
    fraud: dict[str, Any] | None = None
    ok: bool = True


def run_all(bench: Bench, cfg: Config, pythons: dict[str, Path], work: Workload) -> Results:
    """Interleaved runs of every contender over the pre-filled input, then the fraud
    topology once and, with ``--profile``, one profiled run each."""
    results = Results({name: [] for name in pythons})
    outcomes = results.outcomes
    for run in range(cfg.runs):
        for name in rotate(list(pythons), run):
            if name not in outcomes:
                continue  # failed in an earlier run
            note(f"run {run + 1}/{cfg.runs}: {name}")
            try:
                if name == "ceiling":
                    outcome = run_ceiling(bench, pythons[name], work, run)
                else:
                    outcome = run_contender(bench, name, pythons[name], work, run)
            except Exception as exc:  # one failing contender must not hide the rest
                emit_error(f"peers.{name}", f"run {run + 1}: {type(exc).__name__}: {exc}")
                del outcomes[name]
                results.ok = False
                continue
            note(f"{name}: {outcome.rate:,.0f} events/s {' '.join(outcome.mismatch)}")
            outcomes[name].append(outcome)
    if cfg.fraud and "riskstream" in outcomes:
        note("riskstream's fraud topology")
        try:
            results.fraud = run_fraud(bench, work)
        except Exception as exc:  # context only: the figures stand without it
            results.fraud = {"error": f"{type(exc).__name__}: {exc}"}
    if cfg.profile is not None:
        cfg.profile.mkdir(parents=True, exist_ok=True)
        for name in [name for name in outcomes if name != "ceiling"]:
            note(f"profiling {name} (py-spy, not timed) into {cfg.profile}")
            try:
                run_contender(bench, name, pythons[name], work, cfg.runs, cfg.profile)
            except Exception as exc:  # the figures stand without it
                note(f"profiling {name} failed: {type(exc).__name__}: {exc}")
    return results


def report(results: Results, work: Workload, cfg: Config) -> bool:
    """Print every figure; False if a contender's outputs differ from the reference."""
    ok = True
    outcomes = {name: runs for name, runs in results.outcomes.items() if runs}
    rates = {name: statistics.median(o.rate for o in runs) for name, runs in outcomes.items()}
    cpu = {
        name: 1e6 * statistics.median(o.cpu_s for o in runs) / len(work.inputs)
        for name, runs in outcomes.items()
    }
    for name, runs in outcomes.items():
        params = contender_params(name, runs, work, cfg)
        if name == "riskstream":
            params["mix"] = work.mix
            params["reference"] = {
                "alerts": len(work.reference.alerts),
                "alert_users": len(work.reference.alert_users),
            }
            params["same_outputs_as_reference"] = {
                other: not any(o.mismatch for o in others)
                for other, others in outcomes.items()
                if other != "ceiling"
            }
            if results.fraud is not None:
                params["fraud_topology"] = results.fraud
        emit(f"peers.{name}", "events_per_s", rates[name], unit="events/s", params=params)
        for outcome in runs:
            for problem in outcome.mismatch:
                emit_error(f"peers.{name}", f"outputs differ from the reference: {problem}")
                ok = False
    if "riskstream" not in outcomes:
        return ok
    ours = outcomes["riskstream"]
    for peer, target in TARGETS.items():
        if peer not in outcomes:
            continue
        paired = [a.rate / b.rate for a, b in zip(ours, outcomes[peer], strict=False)]
        ratio = statistics.median(paired)
        params = {
            "per_run": [round(r, 3) for r in paired],
            "riskstream_events_per_s": round(rates["riskstream"]),
            f"{peer}_events_per_s": round(rates[peer]),
            "target": target,
            "met": ratio >= target,
            "events": len(work.inputs),
            "cpu_us_per_event": {
                "riskstream": round(cpu["riskstream"], 2),
                peer: round(cpu[peer], 2),
            },
            # The same comparison per CPU-second: steadier on a shared machine.
            "cpu_ratio": round(cpu[peer] / cpu["riskstream"], 3),
        }
        emit("peers.riskstream", f"ratio_vs_{peer}", ratio, unit="x", params=params)
    return ok


def measure(cfg: Config) -> int:
    try:
        url = kafka_url()
    except Exception as exc:  # no broker: every figure would fail the same way
        emit_error("peers", f"{type(exc).__name__}: {exc}")
        return 1
    pythons, ok = venv_pythons(cfg)
    note(f"simulating {cfg.events:,} events")
    work = build_workload(cfg.events, cfg.users)
    with bench_run(url) as bench:
        # Every output topic up front: a topic created just before a client starts may not
        # be in its metadata yet, and aiokafka's producer then waits for it.
        outputs = [
            f"{bench.prefix}{name}-{run}.{kind}"
            for name in pythons
            if name != "ceiling"
            for run in range(cfg.runs + 1)  # the last one is --profile's
            for kind in ("velocity", "alerts")
        ]
        bench.create(bench.input, *outputs)
        prefill(bench.log, bench.input, work.inputs)
        results = run_all(bench, cfg, pythons, work)
    ok = report(results, work, cfg) and results.ok and ok
    return 0 if ok else 1


def parse_args(argv: Sequence[str] | None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="30k events, one run (CI)")
    parser.add_argument("--events", type=int, help="input events (default 30k quick, 300k)")
    parser.add_argument("--users", type=int, default=10_000, help="distinct users (keys)")
    parser.add_argument("--runs", type=int, help="interleaved runs (default 1 quick, 3)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(CONTENDERS)}")
    parser.add_argument(
        "--no-fraud", action="store_true", help="skip the full fraud topology (params only)"
    )
    parser.add_argument(
        "--profile", type=Path, help="then one py-spy run per contender, summaries to DIR"
    )
    parser.add_argument(
        "--venvs", type=Path, default=ROOT / ".bench", help="where the peers' virtualenvs live"
    )
    args = parser.parse_args(argv)
    only = tuple(args.only.split(",")) if args.only else CONTENDERS
    unknown = set(only) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    for number, flag in ((args.events, "--events"), (args.runs, "--runs")):
        if number is not None and number < 1:
            parser.error(f"{flag} must be at least 1")
    return Config(
        events=args.events or (30_000 if args.quick else 300_000),
        users=args.users,
        runs=args.runs or (1 if args.quick else 3),
        only=tuple(name for name in CONTENDERS if name in only),
        fraud=not args.no_fraud,
        profile=args.profile,
        venvs=args.venvs,
    )


def main(argv: Sequence[str] | None = None) -> int:
    cfg = parse_args(argv)
    # SIGTERM unwinds like Ctrl+C, so the contenders stop and the run's topics are deleted.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))
    return measure(cfg)


if __name__ == "__main__":
    sys.exit(main())

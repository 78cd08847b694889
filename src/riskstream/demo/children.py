"""The demo's processes: the fraud engine, the Fraud Service, the projector and a decision
probe, each in a process of its own so that they use both CPUs (threads of one process
would share one interpreter lock).

Each child opens its own log handle and runs the same building blocks as the long-running
commands (``riskstream worker``, ``fraud-service``, ``projections run``), under the run's
:class:`~riskstream.demo.namespace.Namespace`. Parent and child talk over a pipe:

* child → parent: ``("ready", {})`` once set up, ``("status", {...})`` a few times a second,
  ``("done", {...})`` after a clean stop, ``("error", traceback)`` if it failed;
* parent → child: ``("go", payload)`` to start working, ``("stop", None)`` to commit and
  exit.

Children are forked from a fork server that imported their modules once (a fresh
interpreter per child where there is none). A child ignores SIGINT (the parent, which gets
it too, stops the children in order) and exits by itself if its parent disappears (its end
of the pipe closes).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import signal
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any, Final

import msgspec

from riskstream.errors import RiskstreamError
from riskstream.log import EventLog, TopicPartition, open_log

from .namespace import Namespace

__all__ = ["Child", "ChildError", "ChildSpec", "DecisionSeen", "child_main"]

_STATUS_EVERY_S: Final = 0.25
_PROBE_EVERY_S: Final = 0.1

Message = tuple[str, Any]


#: What the children import, once, in the fork server they are forked from.
_PRELOAD: Final = (
    "riskstream.demo.children",
    "riskstream.fraud.topology",
    "riskstream.services.engine_config",
    "riskstream.services.fraud_app",
    "riskstream.services.fraud_service",
    "riskstream.services.projections",
    "riskstream.stream",
)


def _context() -> ForkServerContext | SpawnContext:
    """Children fork from a server that imported their modules once: no inherited threads
    or handles (the server is a fresh, single-threaded interpreter), and no interpreter
    start-up and imports per child. Where there is no fork server, a fresh interpreter
    per child."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(list(_PRELOAD))
    return context


class ChildError(RiskstreamError):
    """A demo process failed or did not answer in time."""


@dataclass(frozen=True, kw_only=True)
class ChildSpec:
    """What a child needs (picklable: it crosses into the child process)."""

    role: str  # worker | fraud-service | projector | probe
    log_url: str
    log_options: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""
    partitions: int = 8
    state_dir: str = ""
    store_url: str = ""
    notify_path: str = ""
    mfa_timeout_ms: int = 30_000


class DecisionSeen(msgspec.Struct, frozen=True):
    """What the probe keeps of a decision record (the rest is skipped when decoding)."""

    transaction_id: str
    action: str


# -- the parent's handle ---------------------------------------------------------------------


class Child:
    """A running child process and its end of the pipe."""

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.name = spec.role
        self.status: dict[str, Any] = {}
        self.final: dict[str, Any] | None = None
        context = _context()
        self._conn, theirs = context.Pipe(duplex=True)
        self._process: BaseProcess = context.Process(
            target=child_main, args=(spec, theirs), name=f"riskstream-demo-{spec.role}"
        )
        self._process.start()
        theirs.close()
        self.ready = False

    def pump(self) -> list[Message]:
        """Every message waiting (status updates are also kept in :attr:`status`)."""
        out: list[Message] = []
        try:
            while self._conn.poll():
                kind, payload = self._conn.recv()
                if kind == "error":
                    raise ChildError(f"the {self.name} process failed:\n{payload}")
                if kind == "ready":
                    self.ready = True
                elif kind == "status":
                    self.status.update(payload)
                elif kind == "done":
                    self.final = payload
                    self.status.update(payload)
                out.append((kind, payload))
        except (EOFError, OSError) as exc:
            if self.final is None:
                raise ChildError(f"the {self.name} process ended unexpectedly") from exc
        return out

    def alive(self) -> bool:
        return self._process.is_alive()

    def check(self) -> None:
        """Raise :class:`ChildError` if the process died without saying why."""
        self.pump()
        if not self.alive() and self.final is None:
            self.pump()
            raise ChildError(f"the {self.name} process exited with code {self._process.exitcode}")

    def wait_ready(self, timeout: float, tick: Callable[[], None] = lambda: None) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready:
            self.check()
            if time.monotonic() > deadline:
                raise ChildError(f"the {self.name} process was not ready after {timeout:.0f} s")
            tick()
            time.sleep(0.05)

    def send(self, kind: str, payload: Any = None) -> None:
        with contextlib.suppress(OSError):  # a dead child is reported by check()
            self._conn.send((kind, payload))

    def stop(self, timeout: float = 30.0) -> dict[str, Any] | None:
        """Ask it to commit and exit; terminate it if it does not within ``timeout``."""
        self.send("stop")
        deadline = time.monotonic() + timeout
        while self._process.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(ChildError):
                self.pump()
            self._process.join(0.05)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        with contextlib.suppress(ChildError):
            self.pump()
        self._conn.close()
        return self.final


# -- the child's side ------------------------------------------------------------------------


class _Control:
    """The child's view of the pipe: go, stop, a vanished parent."""

    def __init__(self, spec: ChildSpec, conn: Connection) -> None:
        self.conn = conn
        self.stopping = False
        self.go_payload: Any = None
        self.going = False
        self._last_status = 0.0

    def read(self) -> None:
        try:
            while self.conn.poll():
                kind, payload = self.conn.recv()
                if kind == "go":
                    self.going, self.go_payload = True, payload
                elif kind == "stop":
                    self.stopping = True
        except (EOFError, OSError):
            self.stopping = True  # the parent is gone: nobody will ever ask us to stop

    def wait_go(self) -> bool:
        """Block until go (True) or stop (False)."""
        while not self.going and not self.stopping:
            with contextlib.suppress(EOFError, OSError):
                self.conn.poll(0.1)
            self.read()
        return self.going and not self.stopping

    def due(self, every_s: float) -> bool:
        now = time.monotonic()
        if now - self._last_status >= every_s:
            self._last_status = now
            return True
        return False

    def send(self, kind: str, payload: Any) -> None:
        if kind in ("status", "done"):
            payload = {**payload, "cpu_s": round(time.process_time(), 3)}
        try:
            self.conn.send((kind, payload))
        except OSError:
            self.stopping = True


def child_main(spec: ChildSpec, conn: Connection) -> None:
    """A child process's entry point."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    control = _Control(spec, conn)
    try:
        log = open_log(spec.log_url, options=dict(spec.log_options))
        try:
            _ROLES[spec.role](spec, log, control)
        finally:
            log.close()
    except BaseException:
        with contextlib.suppress(OSError):
            conn.send(("error", traceback.format_exc()))
        raise SystemExit(1) from None
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def _worker(spec: ChildSpec, log: EventLog, control: _Control) -> None:
    from riskstream.fraud.topology import fraud_topology  # noqa: PLC0415 - in the child only
    from riskstream.services.engine_config import engine_from, thresholds_from  # noqa: PLC0415
    from riskstream.services.fraud_app import PublishedPolicy  # noqa: PLC0415
    from riskstream.settings import Settings  # noqa: PLC0415
    from riskstream.stream import Runner  # noqa: PLC0415
    from riskstream.stream.gc_policy import tune_gc_for_streaming  # noqa: PLC0415

    namespace = Namespace(spec.prefix)
    settings = Settings()
    engine = engine_from(settings)
    policy = PublishedPolicy(
        log,
        engine,
        thresholds=thresholds_from(settings),
        rules_topic=namespace.rules,
        lists_topic=namespace.lists,
        models_topic=namespace.models,
    )
    try:
        policy.wait_caught_up(30.0)
        topology = fraud_topology(namespace.fraud(), engine=engine, policy=policy)
        runner = Runner(topology, log, state_dir=spec.state_dir)
        inputs = frozenset(namespace.inputs)

        def status() -> dict[str, Any]:
            processed = sum(
                position
                for unit in runner.units.values()
                for tp, position in unit.positions.items()
                if tp.topic in inputs
            )
            champion = policy.models.current_champion()
            return {
                "processed": processed,
                "model": None if champion is None else champion.version,
                "at": time.time(),
            }

        try:
            runner.start()
            control.send("ready", {})
            if not control.wait_go():
                return
            tune_gc_for_streaming()
            _cycle(control, runner.poll_once, status, _STATUS_EVERY_S)
            runner.commit()
            final = status()  # the positions go with the tasks when the runner closes
        finally:
            runner.close()
        control.send("done", final)
    finally:
        policy.close()


def _fraud_service(spec: ChildSpec, log: EventLog, control: _Control) -> None:
    from riskstream.services.fraud_service import (  # noqa: PLC0415 - in the child only
        FileNotifier,
        ensure_topics,
        fraud_service_topology,
    )
    from riskstream.stream import Runner  # noqa: PLC0415

    config = Namespace(spec.prefix).fraud_service(mfa_timeout_ms=spec.mfa_timeout_ms)
    notifier = FileNotifier(spec.notify_path)
    try:
        ensure_topics(log, config, partitions=spec.partitions)
        runner = Runner(
            fraud_service_topology(config, notifier=notifier), log, state_dir=spec.state_dir
        )

        def status() -> dict[str, Any]:
            return {"processed": runner.processed, "at": time.time()}

        try:
            runner.start()
            control.send("ready", {})
            if not control.wait_go():
                return
            _cycle(control, runner.poll_once, status, _STATUS_EVERY_S)
        finally:
            runner.close()
        control.send("done", status())
    finally:
        notifier.close()


def _projector(spec: ChildSpec, log: EventLog, control: _Control) -> None:
    from riskstream.services.projections import Projector, open_store  # noqa: PLC0415

    namespace = Namespace(spec.prefix)
    store = open_store(spec.store_url)
    try:
        projector = Projector(
            store, log, group_id=namespace.projector_group, topics=namespace.projections()
        )

        def status() -> dict[str, Any]:
            return {"processed": projector.records, "at": time.time()}

        try:
            projector.start()
            control.send("ready", {})
            if not control.wait_go():
                return
            _cycle(control, projector.poll_once, status, _STATUS_EVERY_S, timeout=0.2)
        finally:
            projector.close()
        control.send("done", status())
    finally:
        store.close()


def _probe(spec: ChildSpec, log: EventLog, control: _Control) -> None:
    """Reads the decisions from where the live phase began and notes, per decision, when it
    became readable here (one ``time.time_ns()`` per poll that returned it)."""
    consumer = log.consumer()
    try:
        control.send("ready", {})
        if not control.wait_go():
            return
        starts = {TopicPartition(t, p): offset for t, p, offset in control.go_payload}
        consumer.assign(list(starts))
        for tp, offset in starts.items():
            consumer.seek(tp, offset)
        decode = msgspec.json.Decoder(DecisionSeen).decode
        seen: list[tuple[str, int, str]] = []
        total = 0
        while True:
            batch = consumer.poll(max_records=10_000, timeout=0.02)
            now = time.time_ns()
            for record in batch:
                if record.value is not None:
                    decision = decode(record.value)
                    seen.append((decision.transaction_id, now, decision.action))
            total += len(batch)
            if control.due(_PROBE_EVERY_S) or control.stopping:
                control.read()
                control.send("status", {"seen": seen, "read": total})
                seen = []
                if control.stopping:
                    break
        control.send("done", {"read": total})
    finally:
        consumer.close()


def _cycle(
    control: _Control,
    poll_once: Callable[..., int],
    status: Callable[[], dict[str, Any]],
    every_s: float,
    *,
    timeout: float = 0.1,
) -> None:
    """Poll until told to stop, sending a status every ``every_s``."""
    while True:
        poll_once(timeout)
        if control.due(every_s):
            control.read()
            if control.stopping:
                return
            control.send("status", status())


_ROLES: Final[dict[str, Callable[[ChildSpec, EventLog, _Control], None]]] = {
    "worker": _worker,
    "fraud-service": _fraud_service,
    "projector": _projector,
    "probe": _probe,
}

"""Running the demo, phase by phase.

1. **setup** - the run's log (a fresh embedded one, or a namespace on the one given), the
   input topics, the shipped rules published; the fraud engine, the Fraud Service, the
   projector and a decision probe start in processes of their own.
2. **history** - weeks of simulated traffic written to the log (ground truth to a file).
3. **catch-up** - the engine decides the whole history as fast as it can: the throughput.
   It starts as soon as the processes are up, while the history is still being written:
   together the writer and the engine use both CPUs, in turn they would take the sum of
   their times. The Fraud Service and the projector, which only follow the engine's
   decisions, start once the history is all written, not to take CPU time from those two.
   The phase ends when every history checkout is decided.
4. **train** - LightGBM learns from the history's decisions and labels; the model is
   published as champion and the running engine loads it.
5. **live** - the same customers, as the history left them, one session each (and
   fraudsters) at ``rate`` events per second, event time = now: each checkout's decision
   latency is measured, simulated customers answer the MFA challenges.
6. **settle** - every live checkout decided, every challenge answered and settled, the read
   models caught up.
7. **report** - decisions read back from the log, truth from the file, outcomes from the
   read models: the summary, the terminal tables and the HTML report.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from riskstream.errors import RiskstreamError
from riskstream.events import Checkout, Event
from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.model import TrainingError
from riskstream.fraud.rules import default_rule_set
from riskstream.log import EventLog, TopicPartition, open_log
from riskstream.services.engine_config import engine_from
from riskstream.services.projections import ReadModels, open_store, view_status
from riskstream.services.rules_topic import publish_rules
from riskstream.settings import Settings
from riskstream.sim import GroundTruth, SimWriter, TruthFile, WriteResult, read_truth
from riskstream.sim.population import Population

from .children import ChildSpec
from .config import DemoConfig, RunLayout
from .customers import SimulatedCustomers
from .dashboard import Dashboard
from .facts import RunFacts
from .fleet import Fleet
from .html import write_html
from .metrics import FLAGGED
from .summary import DemoSummary, build_summary, encode_summary
from .traffic import LiveTraffic, create_input_topics, history_simulator, is_live
from .training import read_decisions, train_on_history

__all__ = ["PHASES", "DemoError", "DemoResult", "new_dashboard", "run_demo"]

logger = logging.getLogger(__name__)

PHASES: Final = (
    ("setup", "start the engine, the Fraud Service and the projector"),
    ("history", "simulate the history onto the log"),
    ("catch-up", "the engine decides the history, starting while it is written"),
    ("train", "train the model on the decided history, publish it"),
    ("live", "live traffic"),
    ("settle", "settle challenges, catch up the read models"),
    ("report", "read back and report"),
)
_READY_TIMEOUT_S: Final = 180.0
_CATCH_UP_TIMEOUT_S: Final = 900.0
_DECIDE_TIMEOUT_S: Final = 120.0
_MODEL_TIMEOUT_S: Final = 60.0
_TICK_S: Final = 0.05
_SHOW_EVERY_S: Final = 0.25  # the catch-up's progress while the history is written


class DemoError(RiskstreamError):
    """The demo could not complete (a process failed, a phase timed out)."""


@dataclass(frozen=True, slots=True)
class DemoResult:
    summary: DemoSummary
    json_path: Path
    html_path: Path
    run_dir: Path | None  # kept (--keep), else None


def new_dashboard(config: DemoConfig) -> Dashboard:
    where = config.log_url or "a fresh embedded log"
    dashboard = Dashboard(f"riskstream demo on {where}")
    for key, title in PHASES:
        dashboard.add(key, title)
    return dashboard


def run_demo(config: DemoConfig, dashboard: Dashboard | None = None) -> DemoResult:
    """Run every phase (see the module docstring); raises :class:`DemoError`.

    The run starts processes that import the caller's main module: a script calls this
    under ``if __name__ == "__main__":``."""
    return _Run(config, dashboard or new_dashboard(config)).execute()


class _Run:
    def __init__(self, config: DemoConfig, dashboard: Dashboard) -> None:
        self.config = config
        self.dash = dashboard
        self.layout = RunLayout.create(config)
        self.ns = self.layout.namespace
        self.facts = RunFacts(
            run_id=self.layout.run_id,
            log_url=self.layout.log_url,
            prefix=self.ns.prefix,
            config=config,
            started_at=time.time(),
        )
        self.fleet: Fleet | None = None
        self._starting: threading.Thread | None = None
        self._start_failure: BaseException | None = None
        self.live_truth: dict[str, GroundTruth] = {}
        self.customers: SimulatedCustomers | None = None
        self.population: Population | None = None  # as the history left it
        self._began: dict[str, float] = {}  # phase -> wall clock (phases may overlap)
        self._go_at: float | None = None  # time.monotonic() the catch-up began
        self._decisions: _TopicCount | None = None

    # -- the whole run ------------------------------------------------------------------------

    def execute(self) -> DemoResult:
        log = open_log(self.layout.log_url, options=dict(self.config.log_options))
        truth = TruthFile(self.layout.truth_path)
        try:
            engine = engine_from(Settings())
            self._setup(log, engine)
            self._history(log, truth)
            self._catch_up(log)
            self._train(log, engine)
            self._live(log, truth)
            self._settle(log)
            self._stop_fleet()
            return self._report(log)
        finally:
            truth.close()
            self._shutdown()
            self._clean_up(log)

    def _begin(self, key: str, *, total: float | None = None, detail: str = "") -> None:
        self._began[key] = time.time()
        self.dash.start(key, total=total, detail=detail)

    def _end(self, key: str, detail: str | None = None) -> None:
        self.facts.phases[key] = (self._began[key], time.time())
        self.dash.finish(key, detail)

    def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        """Until ``done()``; raises a child's failure, or :class:`DemoError` on timeout."""
        deadline = time.monotonic() + timeout
        while not done():
            failure = None if self.fleet is None else self.fleet.failure
            if failure is not None:
                raise DemoError(str(failure)) from failure
            if time.monotonic() > deadline:
                raise DemoError(f"{what}: not done after {timeout:.0f} s")
            time.sleep(_TICK_S)

    def _require_fleet(self) -> Fleet:
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        if self._start_failure is not None:
            raise DemoError(f"cannot start the processes: {self._start_failure}")
        if self.fleet is None:
            raise DemoError("the processes were not started")
        return self.fleet

    # -- phases -------------------------------------------------------------------------------

    def _setup(self, log: EventLog, engine: FeatureEngine) -> None:
        self._begin("setup", detail=self.layout.log_url)
        config, layout = self.config, self.layout
        create_input_topics(log, self.ns, config.partitions)
        publish_rules(log, default_rule_set(engine.catalogue), topic=self.ns.rules)
        common = ChildSpec(
            role="",
            log_url=layout.log_url,
            log_options=dict(config.log_options),
            prefix=self.ns.prefix,
            partitions=config.partitions,
        )
        specs = {
            "worker": replace(common, role="worker", state_dir=str(layout.state_dir("worker"))),
            "fraud-service": replace(
                common,
                role="fraud-service",
                state_dir=str(layout.state_dir("fraud-service")),
                notify_path=str(layout.notify_path),
                mfa_timeout_ms=round(config.mfa_timeout_s * 1000),
            ),
            "projector": replace(common, role="projector", store_url=layout.store_url),
            "probe": replace(common, role="probe"),
        }
        # The processes start (a fork server imports their modules) while the history is
        # simulated: a thread waits for them, the history phase does not.
        self._starting = threading.Thread(
            target=self._start_fleet, args=(specs,), name="demo-start", daemon=True
        )
        self._starting.start()
        self._end("setup", f"{len(specs)} processes starting")

    def _start_fleet(self, specs: dict[str, ChildSpec]) -> None:
        try:
            self.fleet = Fleet(specs, self.dash)
        except BaseException as exc:  # handed to the run's thread by _require_fleet
            self._start_failure = exc

    def _history(self, log: EventLog, truth: TruthFile) -> None:
        config = self.config
        end_ms = int(time.time() * 1000)
        simulator = history_simulator(
            seed=config.seed,
            users=config.users,
            fraud_rate=config.fraud_rate,
            days=config.history_days,
            end_ms=end_ms,
        )
        start_ms = simulator.config.start_ms
        span = end_ms - start_ms
        self._begin("history", total=span)
        writer = self._writer(log, batch_size=10_000, linger_ms=20)
        frauds = 0
        shown = 0.0

        def record(truth_record: GroundTruth) -> None:
            nonlocal frauds
            truth.write(truth_record)
            frauds += truth_record.is_fraud

        def progress(_: int) -> None:
            nonlocal shown
            done = min(span, max(0, simulator.now_ms - start_ms))
            stats = simulator.stats
            self.dash.progress(
                "history",
                done,
                detail=f"{config.history_days:g} days of {config.users:,} customers: "
                f"{writer.result.produced:,} events, {stats.total_checkouts:,} checkouts, "
                f"{frauds:,} fraudulent",
            )
            # The catch-up starts, and shows its progress, while the history is written.
            if self._go_at is None:
                self._go_if_ready(log)
            elif time.monotonic() - shown >= _SHOW_EVERY_S:
                shown = time.monotonic()
                self._show_catch_up(stats.total_checkouts, writing=True)

        writer.write(simulator.events(until_ms=end_ms, truth=record), progress=progress)
        self.population = simulator.population
        events = self._written(writer.close(), "the history")
        facts = self.facts
        facts.history_events = events
        facts.history_checkouts = simulator.stats.total_checkouts
        facts.history_frauds = frauds
        facts.history_start_ms, facts.history_end_ms = start_ms, end_ms
        self._end(
            "history",
            f"{events:,} events, {facts.history_checkouts:,} checkouts ({frauds:,} fraudulent) "
            f"of {config.users:,} customers over {config.history_days:g} days",
        )

    def _go_if_ready(self, log: EventLog) -> None:
        """Once every process is up, the engine starts deciding (the catch-up begins),
        whether or not the history is all written."""
        fleet = self.fleet
        if fleet is None or not fleet.ready:
            return
        self._decisions = _TopicCount(log, self.ns.decisions)  # the worker created it
        self._begin("catch-up", detail="the engine starts deciding the history")
        self._go_at = time.monotonic()
        fleet["worker"].send("go")

    def _show_catch_up(self, checkouts: int, *, writing: bool) -> int:
        """Decided history checkouts, on the dashboard against those written so far."""
        count = 0 if self._decisions is None else self._decisions.count()
        self.dash.progress(
            "catch-up",
            count,
            total=checkouts,
            detail=f"{count:,} of {checkouts:,} checkouts decided"
            f"{' (of those written so far)' if writing else ''}, "
            f"{self.dash.engine_processed:,} events at {self.dash.engine_rate:,.0f}/s",
        )
        return count

    def _catch_up(self, log: EventLog) -> None:
        facts = self.facts
        target = facts.history_checkouts
        try:
            if self._go_at is None:  # the history was written before the processes were up
                fleet = self._require_fleet()
                self._wait(lambda: fleet.ready, _READY_TIMEOUT_S, "starting up")
                self._go_if_ready(log)
            go_at = self._go_at
            if go_at is None:
                raise DemoError("the processes were not started")
            fleet = self._require_fleet()
            for role in ("fraud-service", "projector"):  # the history is all written
                fleet[role].send("go")
            self._wait(
                lambda: self._show_catch_up(target, writing=False) >= target,
                _CATCH_UP_TIMEOUT_S,
                "deciding the history",
            )
            facts.catch_up_s = time.monotonic() - go_at
            self._wait(
                lambda: self.dash.engine_processed >= facts.history_events,
                _DECIDE_TIMEOUT_S,
                "reading the whole history",
            )
        finally:
            if self._decisions is not None:
                self._decisions.close()
                self._decisions = None
        rate = facts.history_events / facts.catch_up_s
        overlap = max(0.0, facts.phases["history"][1] - self._began["catch-up"])
        self._end(
            "catch-up",
            f"{facts.history_events:,} events, {target:,} decisions in {facts.catch_up_s:.1f} s "
            f"= {rate:,.0f} events/s ({overlap:.1f} s of it while the history was written)",
        )

    def _train(self, log: EventLog, engine: FeatureEngine) -> None:
        self._begin("train", detail="reading the history's decisions and labels")
        facts = self.facts
        try:
            model = train_on_history(
                log,
                self.ns,
                history_start=facts.history_start_ms,
                history_end=facts.history_end_ms,
                engine=engine,
                created_at=int(time.time() * 1000),
                seed=self.config.seed,
            )
        except TrainingError as exc:
            raise DemoError(
                f"cannot train the model: {exc} (a longer history or more customers help)"
            ) from exc
        facts.model = model
        self.dash.progress("train", 0, detail=f"model {model.version} published, loading")
        self._wait(
            lambda: self.dash.model == model.version, _MODEL_TIMEOUT_S, "loading the new model"
        )
        a = model.artifact
        self._end(
            "train",
            f"LightGBM {model.version}: {a.training_rows:,} checkouts, {a.training_frauds:,} "
            f"labelled fraud; the engine scores with it",
        )

    def _live(self, log: EventLog, truth: TruthFile) -> None:
        config = self.config
        self._begin("live", total=config.duration_s, detail="starting the live simulator")

        def record(truth_record: GroundTruth) -> None:
            truth.write(truth_record)
            self.live_truth[truth_record.transaction_id] = truth_record

        if self.population is None:
            raise DemoError("no history to go on from")
        traffic = LiveTraffic(
            seed=config.seed,
            population=self.population,
            fraud_rate=config.live_fraud_rate,
            rate=config.rate,
            truth=record,
        )
        traffic.prime()
        self.customers = SimulatedCustomers(
            log,
            self.ns.fraud_service(mfa_timeout_ms=round(config.mfa_timeout_s * 1000)),
            self.layout.notify_path,
            self.live_truth,
            delay_s=config.mfa_delay_s,
            seed=config.seed,
        )
        starts = _end_offsets(log, self.ns.decisions)
        fleet = self._require_fleet()
        probe = fleet["probe"]
        probe.send("go", [(tp.topic, tp.partition, o) for tp, o in starts])
        # The probe reports after its first poll: from then on it reads each decision at once.
        self._wait(lambda: "read" in probe.status, _READY_TIMEOUT_S, "starting the probe")
        writer = self._writer(log, batch_size=100, linger_ms=1)
        sent_ns: dict[str, int] = {}  # live checkout -> just before its produce call
        fleet.sent_ns = sent_ns
        fleet.customers = self.customers
        began = time.monotonic()

        def sent(event: Event) -> None:
            if type(event) is Checkout:
                sent_ns[event.transaction_id] = time.time_ns()

        def progress(_: int) -> None:
            count = self.dash.live_produced = writer.result.produced
            self.dash.live_checkouts = len(sent_ns)
            elapsed = time.monotonic() - began
            self.dash.progress(
                "live",
                min(elapsed, config.duration_s),
                detail=f"{count:,} events, {len(sent_ns):,} checkouts "
                f"at {count / max(elapsed, 1e-9):,.0f} events/s",
            )

        facts = self.facts
        first = time.time()
        writer.write(traffic.events(config.duration_s), progress=progress, on_send=sent)
        facts.live_window = (first, time.time())
        facts.live_s = time.monotonic() - began
        result = writer.close()
        truth.close()  # complete on disk: the report reads it back
        events = facts.live_events = self._written(result, "the live traffic")
        facts.sent_ns = dict(sent_ns)
        facts.live_customers = traffic.population.visited
        facts.live_revisits = traffic.population.revisits
        self._end(
            "live",
            f"{events:,} events, {len(facts.sent_ns):,} checkouts in {facts.live_s:.1f} s "
            f"= {events / facts.live_s:,.0f} events/s",
        )

    def _writer(self, log: EventLog, *, batch_size: int, linger_ms: int) -> SimWriter:
        """Onto the run's input topics (created in setup); the run keeps the ground truth."""
        return SimWriter(
            log,
            topic_prefix=self.ns.prefix,
            create_topics=False,
            batch_size=batch_size,
            linger_ms=linger_ms,
        )

    def _written(self, result: WriteResult, what: str) -> int:
        """How many events the log took (all of them, or :class:`DemoError`)."""
        if not result.ok:
            raise DemoError(f"the log did not take {what}: {result.first_error}")
        self.facts.produced += result.produced
        self.facts.acknowledged += result.acknowledged
        return result.produced

    def _settle(self, log: EventLog) -> None:
        facts = self.facts
        expected = facts.sent_ns
        self._begin("settle", total=len(expected), detail="waiting for the last decisions")

        seen = self._require_fleet().seen

        def decided() -> bool:
            count = sum(1 for tx in expected if tx in seen)
            self.dash.progress("settle", count, detail=f"{count:,} of {len(expected):,} decided")
            return count >= len(expected)

        self._wait(decided, _DECIDE_TIMEOUT_S, "deciding the live checkouts")
        held = [tx for tx in expected if seen[tx][1] in FLAGGED]
        store = open_store(self.layout.store_url)
        try:
            models = ReadModels(store)
            open_held = list(held)

            def settled() -> bool:
                nonlocal open_held
                customers = self.customers
                if customers is not None and customers.pending:
                    return False
                open_held = [
                    tx
                    for tx in open_held
                    if (row := models.transaction(tx)) is None
                    or row.status not in ("released", "cancelled")
                ]
                self.dash.progress(
                    "settle",
                    len(expected),
                    detail=f"{len(held) - len(open_held):,} of {len(held):,} held payments "
                    "released or cancelled",
                )
                return not open_held

            self._wait(settled, self.config.mfa_timeout_s + 30, "settling the held payments")
            topics = self.ns.projections()

            def projected() -> bool:
                _, lag = view_status(store, log, group_id=self.ns.projector_group, topics=topics)
                return lag == 0

            self._wait(projected, 60, "catching up the read models")
        finally:
            store.close()
        self._end("settle", f"{len(expected):,} decided, {len(held):,} held and settled")

    def _report(self, log: EventLog) -> DemoResult:
        self._begin("report", detail="reading back decisions, truth and read models")
        facts = self.facts
        facts.decisions = [d for d in read_decisions(log, self.ns) if is_live(d.transaction_id)]
        facts.truth = [r for r in read_truth(self.layout.truth_path) if is_live(r.transaction_id)]
        facts.read_ns = {tx: at for tx, (at, _) in self._require_fleet().seen.items()}
        store = open_store(self.layout.store_url)
        try:
            models = ReadModels(store)
            for record in facts.truth:
                row = models.transaction(record.transaction_id)
                if row is not None:
                    facts.statuses[record.transaction_id] = row.status
                    if row.mfa_passed is not None:
                        facts.mfa_outcomes[record.transaction_id] = row.mfa_passed
        finally:
            store.close()
        facts.finished_at = time.time()
        summary = build_summary(facts)
        out = self.config.out_dir
        out.mkdir(parents=True, exist_ok=True)
        json_path, html_path = out / "summary.json", out / "report.html"
        json_path.write_bytes(encode_summary(summary) + b"\n")
        write_html(html_path, summary, facts)
        self._end("report", f"{html_path}")
        return DemoResult(
            summary=summary,
            json_path=json_path,
            html_path=html_path,
            run_dir=self.layout.run_dir if self.config.keep else None,
        )

    def _stop_fleet(self) -> None:
        """Stop the processes (each commits) and keep their last figures."""
        facts = self.facts
        customers = self.customers
        if customers is not None:
            customers.close()
            self.customers = None
            facts.mfa_passed, facts.mfa_failed = customers.passed, customers.failed
            facts.mfa_refused = customers.refused
        fleet = self._require_fleet()
        facts.engine_samples = fleet.engine_samples
        finals = fleet.stop()
        worker = finals["worker"]
        facts.engine_processed = int(worker.get("processed", self.dash.engine_processed))
        if "at" in worker:
            facts.engine_samples.append((worker["at"], facts.engine_processed))
        facts.fraud_service_processed = int(finals["fraud-service"].get("processed", 0))
        facts.projected = int(finals["projector"].get("processed", 0))
        facts.cpu_s = {role: float(f["cpu_s"]) for role, f in finals.items() if "cpu_s" in f}
        facts.cpu_s["main"] = round(time.process_time(), 3)

    def _shutdown(self) -> None:
        """Whatever still runs after a failure or an interrupt: stop it."""
        if self.customers is not None:
            with contextlib.suppress(Exception):
                self.customers.close()
        if self._decisions is not None:
            with contextlib.suppress(Exception):
                self._decisions.close()
        if self._starting is not None:
            self._starting.join()
        if self.fleet is not None:
            self.fleet.shutdown()

    def _clean_up(self, log: EventLog) -> None:
        try:
            if self.ns.prefix and not self.config.keep:
                try:
                    mine = [t for t in log.admin.list_topics() if self.ns.owns(t)]
                    log.admin.delete_topics(mine)
                except RiskstreamError as exc:  # the run's figures stand; say what is left
                    logger.warning("topics under %s not all deleted: %s", self.ns.prefix, exc)
        finally:
            log.close()
        if not self.config.keep:
            shutil.rmtree(self.layout.run_dir, ignore_errors=True)


class _TopicCount:
    """How many records a topic holds, by its end offsets (a consumer that is never
    assigned answers offset queries at once, also on Kafka)."""

    def __init__(self, log: EventLog, topic: str) -> None:
        spec = log.admin.describe_topics([topic])[topic]
        self.partitions = [TopicPartition(topic, p) for p in range(spec.partitions)]
        self.probe = log.consumer()

    def count(self) -> int:
        return sum(self.probe.watermarks(tp)[1] for tp in self.partitions)

    def close(self) -> None:
        self.probe.close()


def _end_offsets(log: EventLog, topic: str) -> list[tuple[TopicPartition, int]]:
    counter = _TopicCount(log, topic)
    try:
        return [(tp, counter.probe.watermarks(tp)[1]) for tp in counter.partitions]
    finally:
        counter.close()

"""``riskstream simulate``: labelled traffic onto the log, as fast as possible or paced.

As fast as possible (the default), simulated time starts at ``--start`` and runs ahead of the
wall clock (days of traffic in seconds). With ``--rate R`` the traffic is live: R events per
second of wall clock, event time = now, after a warm-up of ``--warmup S`` simulated seconds:
the sessions in flight at the start arrive whole, their earlier events first, at once and
stamped in the past (see :mod:`riskstream.sim.pacing`). ``--events N`` or ``--duration S``
(wall-clock seconds) ends the run; when paced, both count live traffic only, after those
earlier events. Ground truth goes to ``--truth FILE.jsonl`` and/or, with ``--truth-topic``,
to the ``sim.truth`` topic; the engine never reads either.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from riskstream.events import Event
from riskstream.log import open_log
from riskstream.settings import Settings
from riskstream.sim import (
    DEFAULT_START_MS,
    LEGIT,
    SCENARIOS,
    SimConfig,
    SimWriter,
    TrafficSimulator,
    WriteResult,
    live_simulator,
    paced,
)

__all__ = ["simulate"]

console = Console(stderr=True)

_DEFAULT_EVENTS = 100_000
_TRUTH_OPTION = typer.Option(
    None, "--truth", help="Write one ground-truth record per checkout to this JSONL file."
)


def _parse_start(text: str | None) -> int:
    if text is None:
        return DEFAULT_START_MS
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO-8601 instant: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _until(events: Iterable[Event], seconds: float, simulator: TrafficSimulator) -> Iterator[Event]:
    """Stop ``seconds`` of wall-clock time after the first live event (after any warm-up and
    the earlier events of the sessions in flight)."""
    deadline: float | None = None
    for count, event in enumerate(events):
        if deadline is None:
            if simulator.live:
                deadline = time.monotonic() + seconds
        elif count & 63 == 0 and time.monotonic() >= deadline:
            return
        yield event


def simulate(
    log_url: str | None = typer.Option(
        None,
        "--log",
        help="Event log URL (default: RISKSTREAM_LOG_URL or embedded:.riskstream/log).",
    ),
    events: int | None = typer.Option(
        None, "--events", min=1, help=f"Stop after this many events (default {_DEFAULT_EVENTS:,})."
    ),
    duration: float | None = typer.Option(
        None, "--duration", min=0.1, help="Stop after this many seconds of wall-clock time."
    ),
    rate: float | None = typer.Option(
        None, "--rate", min=1, help="Paced: events per second of wall clock, event time = now."
    ),
    warmup: float | None = typer.Option(
        None,
        "--warmup",
        min=0.0,
        metavar="SECONDS",
        help="Paced only: simulate this long before now, so traffic starts with sessions in "
        "flight; their earlier events are sent first, stamped in the past, and sessions "
        "over by now are left out (default 120, or 600,000/RATE if less; 0: none).",
    ),
    seed: int = typer.Option(7, "--seed", help="Same seed, same events (byte for byte)."),
    users: int = typer.Option(10_000, "--users", min=1, help="Customers in the population."),
    fraud_rate: float = typer.Option(
        0.01, "--fraud-rate", min=0.0, max=0.5, help="Target share of checkouts that are fraud."
    ),
    truth: Path | None = _TRUTH_OPTION,
    truth_topic: bool = typer.Option(
        False, "--truth-topic", help="Also produce ground truth to the sim.truth topic."
    ),
    start: str | None = typer.Option(
        None, "--start", help="Simulated start instant, ISO 8601 (default 2026-01-01T00:00Z)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary."),
) -> None:
    """Simulate customers and labelled fraud onto the event log."""
    settings = Settings()
    if log_url:
        settings = settings.model_copy(update={"log_url": log_url})
    if events is None and duration is None:
        events = _DEFAULT_EVENTS
    if warmup is not None and rate is None:
        raise typer.BadParameter(
            "only paced traffic warms up: give --rate too", param_hint="--warmup"
        )
    config = SimConfig(seed=seed, users=users, fraud_rate=fraud_rate, start_ms=_parse_start(start))
    simulator = (
        live_simulator(rate, config, warmup_s=warmup)
        if rate is not None
        else TrafficSimulator(config)
    )
    mode = f"paced at {rate:,.0f} events/s" if rate is not None else "as fast as possible"
    stop = f"{events:,} events" if events is not None else f"{duration:g} s"
    console.print(
        f"[bold]riskstream simulate[/] onto [cyan]{settings.log_url}[/]: {users:,} users, "
        f"seed {seed}, fraud {fraud_rate:.2%} of checkouts, {mode}, for {stop}"
    )
    log = open_log(settings.log_url, options=settings.log_options)
    batch = 10_000 if rate is None else max(1, min(10_000, int(rate // 20)))
    if rate is not None:
        with console.status("warming up: simulating the sessions already in flight"):
            simulator.prime()
        if simulator.backlog:
            console.print(
                f"{simulator.backlog:,} earlier events of the sessions in flight go first, "
                "stamped in the past"
            )
    began = time.perf_counter()
    try:
        with SimWriter(
            log,
            partitions=settings.partitions,
            truth_path=truth,
            truth_topic=truth_topic,
            batch_size=batch,
        ) as writer:
            stream: Iterable[Event] = (
                simulator.events(events, truth=writer.truth)
                if rate is None
                else paced(simulator, rate, limit=events, truth=writer.truth)
            )
            if duration is not None:
                stream = _until(stream, duration, simulator)
            _write_with_progress(writer, stream, simulator, events, duration, as_json)
    finally:
        log.close()
    result = writer.result
    seconds = time.perf_counter() - began
    summary = _summary(simulator, result, seconds, settings.log_url, seed, mode, truth)
    if as_json:
        print(json.dumps(summary))
    else:
        _render(simulator, result, seconds, truth)
    if not result.ok:
        console.print(
            f"[red]{result.delivery_errors:,} records were not acknowledged[/] "
            f"(first: {result.first_error})"
        )
        raise typer.Exit(1)


def _write_with_progress(
    writer: SimWriter,
    stream: Iterable[Event],
    simulator: TrafficSimulator,
    events: int | None,
    duration: float | None,
    as_json: bool,
) -> None:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if events is not None else TaskProgressColumn(),
        TextColumn("[cyan]{task.fields[speed]}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}"),
        console=console,
        transient=as_json,
    ) as progress:
        total = duration if events is None else events + simulator.backlog  # primed by now
        task = progress.add_task("simulate", total=total, speed="", detail="")
        began = time.perf_counter()
        produced = 0

        def advance(count: int) -> None:
            nonlocal produced
            produced += count
            elapsed = max(time.perf_counter() - began, 1e-9)
            stats = simulator.stats
            progress.update(
                task,
                completed=produced if events is not None else min(elapsed, duration or 0),
                speed=f"{produced / elapsed:,.0f} ev/s",
                detail=f"checkouts {stats.total_checkouts:,} · fraud {stats.fraud_checkouts:,} · "
                f"sim {_sim_clock(simulator.now_ms)}",
            )

        writer.write(stream, progress=advance)
        writer.flush()


def _sim_clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _summary(
    simulator: TrafficSimulator,
    result: WriteResult,
    seconds: float,
    url: str,
    seed: int,
    mode: str,
    truth: Path | None,
) -> dict[str, Any]:
    return {
        "log": url,
        "seed": seed,
        "mode": mode,
        "ok": result.ok,
        "produced": result.produced,
        "acknowledged": result.acknowledged,
        "delivery_errors": result.delivery_errors,
        "seconds": round(seconds, 3),
        "events_per_s": round(result.produced / max(seconds, 1e-9)),
        "truth_file": str(truth) if truth is not None else None,
        "truth_records": result.truth_records,
        "per_topic": dict(sorted(result.per_topic.items())),
        "warmup_s": _warmup_s(simulator),
        "backlog": simulator.backlog,
        **simulator.stats.to_dict(),
    }


def _warmup_s(simulator: TrafficSimulator) -> float | None:
    config = simulator.config
    return None if config.emit_from_ms is None else (config.emit_from_ms - config.start_ms) / 1000


def _render(
    simulator: TrafficSimulator, result: WriteResult, seconds: float, truth: Path | None
) -> None:
    stats = simulator.stats
    types = Table(title="events by type")
    types.add_column("event type")
    types.add_column("count", justify="right")
    types.add_column("share", justify="right")
    for name, count in stats.by_type.most_common():
        types.add_row(name, f"{count:,}", f"{count / max(1, stats.events):.1%}")
    console.print(types)
    scenarios = Table(title="checkouts by scenario (ground truth)")
    for column in ("scenario", "incidents", "checkouts", "amount", "labelled"):
        scenarios.add_column(column, justify="left" if column == "scenario" else "right")
    for name in (LEGIT, *SCENARIOS):
        if stats.checkouts[name] or stats.incidents[name]:
            scenarios.add_row(
                name,
                "-" if name == LEGIT else f"{stats.incidents[name]:,}",
                f"{stats.checkouts[name]:,}",
                f"{stats.amount.get(name, 0.0):,.2f}",
                "-" if name == LEGIT else f"{stats.labelled[name]:,}",
            )
    console.print(scenarios)
    console.print(
        f"{result.produced:,} events ({result.acknowledged:,} acknowledged) in {seconds:.1f} s "
        f"= {result.produced / max(seconds, 1e-9):,.0f} events/s; {stats.total_checkouts:,} "
        f"checkouts, {stats.fraud_checkouts:,} fraudulent ({stats.fraud_share:.2%})"
        + (f"; ground truth in {truth}" if truth is not None else "")
    )

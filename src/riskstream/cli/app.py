"""Composition root of the command line: settings in, commands out."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from riskstream.cli.demo import demo
from riskstream.cli.dlq import dlq_app
from riskstream.cli.export import export
from riskstream.cli.fraud_commands import backtest, train
from riskstream.cli.fraud_service import fraud_service
from riskstream.cli.offers import offers
from riskstream.cli.projections import projections_app
from riskstream.cli.rules import lists_app, rules_app
from riskstream.cli.serve import serve
from riskstream.cli.simulate import simulate
from riskstream.cli.worker import worker
from riskstream.log import open_log
from riskstream.settings import Settings
from riskstream.sim.smoke import SmokeSummary, run_smoke

__all__ = ["app", "main"]

app = typer.Typer(
    help="riskstream: real-time fraud detection on an event log.", no_args_is_help=True
)
topics_app = typer.Typer(help="Inspect and manage topics.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(dlq_app, name="dlq")
app.add_typer(rules_app, name="rules")
app.add_typer(lists_app, name="lists")
app.add_typer(projections_app, name="projections")
app.command()(worker)
app.command()(simulate)
app.command()(train)
app.command()(backtest)
app.command("fraud-service")(fraud_service)
app.command()(offers)
app.command()(export)
app.command()(serve)
app.command()(demo)
console = Console(stderr=True)

LogOption = typer.Option(
    None, "--log", help="Event log URL (default: RISKSTREAM_LOG_URL or embedded:.riskstream/log)."
)
JsonOption = typer.Option(False, "--json", help="Print a machine-readable summary on stdout.")


def _settings(log_url: str | None) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"log_url": log_url}) if log_url else settings


@app.command()
def smoke(
    events: int = typer.Option(100_000, min=1, help="How many simulated events to produce."),
    log_url: str | None = LogOption,
    as_json: bool = JsonOption,
) -> None:
    """Check the log: simulate traffic onto it, read this run's records back, verify that
    everything acknowledged arrived, and summarise."""
    settings = _settings(log_url)
    log = open_log(settings.log_url, options=settings.log_options)
    console.print(f"[bold]riskstream smoke[/] on [cyan]{settings.log_url}[/]: {events:,} events")
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=as_json,
    ) as progress:
        tasks = {
            "produce": progress.add_task("produce", total=events),
            "consume": progress.add_task("read back", total=events),
        }
        summary = run_smoke(
            log,
            events=events,
            partitions=settings.partitions,
            progress=lambda phase, n: progress.advance(tasks[phase], n),
        )
    log.close()
    if as_json:
        print(json.dumps(_smoke_json(summary, settings.log_url)))
    else:
        _render_smoke(summary)
    if not summary.ok:
        console.print("[red]smoke check failed: produced, acknowledged and read counts differ[/]")
        raise typer.Exit(1)


def _smoke_json(summary: SmokeSummary, url: str) -> dict[str, object]:
    return {
        "log": url,
        "ok": summary.ok,
        "produced": summary.produced,
        "acknowledged": summary.acknowledged,
        "consumed": summary.consumed,
        "decoded": summary.decoded,
        "dead_lettered": summary.dead_lettered,
        "users": summary.users,
        "per_type": dict(summary.per_type),
        "produce_events_per_s": round(summary.produced / max(summary.produce_s, 1e-9)),
        "consume_events_per_s": round(summary.consumed / max(summary.consume_s, 1e-9)),
    }


def _render_smoke(summary: SmokeSummary) -> None:
    table = Table(title="events read back, by type")
    table.add_column("event type")
    table.add_column("count", justify="right")
    for name, count in summary.per_type.most_common():
        table.add_row(name, f"{count:,}")
    console.print(table)
    produce_rate = summary.produced / max(summary.produce_s, 1e-9)
    consume_rate = summary.consumed / max(summary.consume_s, 1e-9)
    console.print(
        f"produced {summary.produced:,} ({summary.acknowledged:,} acknowledged) from "
        f"{summary.users:,} users at {produce_rate:,.0f} events/s; read back {summary.consumed:,} "
        f"at {consume_rate:,.0f} events/s; {summary.dead_lettered} dead-lettered"
    )


@topics_app.command("list")
def topics_list(log_url: str | None = LogOption, as_json: bool = JsonOption) -> None:
    """List topics with their partitions and policies."""
    settings = _settings(log_url)
    log = open_log(settings.log_url, options=settings.log_options)
    described = log.admin.describe_topics()
    log.close()
    if as_json:
        print(
            json.dumps(
                {
                    name: {"partitions": s.partitions, "compacted": s.compacted}
                    for name, s in described.items()
                }
            )
        )
        return
    table = Table(title=f"topics on {settings.log_url}")
    for column in ("topic", "partitions", "compacted", "retention ms"):
        table.add_column(column)
    for name in sorted(described):
        spec = described[name]
        table.add_row(
            name, str(spec.partitions), str(spec.compacted), str(spec.retention_ms or "-")
        )
    Console().print(table)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)

"""``riskstream demo``: the main job, end to end, with a live display and a report.

Simulated history → the fraud engine decides it → a LightGBM model trained on it and loaded
→ live traffic through the engine, the Fraud Service and the read models → a report against
the simulator's ground truth, in the terminal, as ``summary.json`` and as ``report.html``
(in ``--out``). The work lives in :mod:`riskstream.demo`.

Exit codes: 0 done, 1 the run failed or its figures are incomplete, 2 invalid options.
``--json`` prints the summary on stdout (the live display goes to stderr).
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import typer
from rich.console import Console
from rich.text import Text

from riskstream.demo import (
    DEFAULT_OUT,
    DemoConfig,
    DemoError,
    LiveDisplay,
    default_users,
    new_dashboard,
    render_summary,
    run_demo,
)
from riskstream.demo.config import DEFAULT_DURATION_S, DEFAULT_RATE, MIN_USERS
from riskstream.errors import ConfigError, RiskstreamError
from riskstream.settings import Settings

__all__ = ["demo"]

console = Console(stderr=True)

_OUT = typer.Option(DEFAULT_OUT, "--out", help="Directory for report.html and summary.json.")


def demo(
    duration: float = typer.Option(
        DEFAULT_DURATION_S, "--duration", min=1.0, help="Seconds of live traffic after the history."
    ),
    rate: float = typer.Option(
        DEFAULT_RATE,
        "--rate",
        min=1.0,
        help="Live events per second (a faster or longer live phase needs more customers).",
    ),
    seed: int = typer.Option(7, "--seed", help="Same seed, same customers and fraud."),
    log_url: str | None = typer.Option(
        None,
        "--log",
        help="Run on this log (e.g. kafka://127.0.0.1:19092), every topic under a namespace of "
        "the run's, deleted afterwards unless --keep (default: a fresh embedded log).",
    ),
    out: Path = _OUT,
    users: int | None = typer.Option(
        None,
        "--users",
        min=10,
        help="Customers in the population; each has at most one live session (default: "
        f"enough for that, at least {MIN_USERS:,}: "
        f"{default_users(DEFAULT_RATE, DEFAULT_DURATION_S):,} at the default rate and duration).",
    ),
    history_days: float = typer.Option(
        21.0, "--history-days", min=0.1, help="Days of history the model learns from."
    ),
    fraud_rate: float = typer.Option(
        0.01,
        "--fraud-rate",
        min=0.0001,
        max=0.4,
        help="Share of the history's checkouts that are fraud (what the model learns from).",
    ),
    live_fraud_rate: float = typer.Option(
        0.05,
        "--live-fraud-rate",
        min=0.0001,
        max=0.4,
        help="Share of the live checkouts that are fraud (enough of each scenario to measure).",
    ),
    keep: bool = typer.Option(
        False, "--keep", help="Keep the run's log, state and read models (and its topics)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Run the whole product on simulated traffic and report on it against the ground truth."""
    try:
        config = DemoConfig(
            duration_s=duration,
            rate=rate,
            seed=seed,
            users=default_users(rate, duration) if users is None else users,
            history_days=history_days,
            fraud_rate=fraud_rate,
            live_fraud_rate=live_fraud_rate,
            log_url=log_url,
            log_options=Settings().log_options,
            out_dir=out,
            keep=keep,
        )
    except ConfigError as exc:
        console.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(2) from exc
    dashboard = new_dashboard(config)
    try:
        with LiveDisplay(dashboard, console, transient=as_json):
            result = run_demo(config, dashboard)
    except (DemoError, RiskstreamError) as exc:
        console.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(1) from exc
    summary = result.summary
    if as_json:
        payload = msgspec.to_builtins(summary)
        payload["report_html"] = str(result.html_path)
        payload["summary_json"] = str(result.json_path)
        payload["run_dir"] = None if result.run_dir is None else str(result.run_dir)
        print(json.dumps(payload))
    else:
        render_summary(summary, Console())
    console.print(Text(f"report: {result.html_path} (figures: {result.json_path})"))
    if result.run_dir is not None:
        console.print(Text(f"the run's log, state and read models: {result.run_dir}"))
    if not summary.ok:
        raise typer.Exit(1)

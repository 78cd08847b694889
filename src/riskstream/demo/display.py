"""The live view of a demo run (rich): the phases with their progress, and what the engine,
the Fraud Service, the read models and the customers are doing, refreshed four times a
second from the run's :class:`~riskstream.demo.dashboard.Dashboard`."""

from __future__ import annotations

from types import TracebackType
from typing import Final

import numpy as np
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .dashboard import Dashboard, Phase

__all__ = ["LiveDisplay"]

_MARKS = {"done": ("✔", "green"), "running": ("▶", "yellow"), "pending": ("·", "dim")}


class LiveDisplay:
    """``with LiveDisplay(dashboard, console): run_demo(config, dashboard)``."""

    def __init__(self, dashboard: Dashboard, console: Console, *, transient: bool = False):
        self.dashboard = dashboard
        self._live = Live(
            self, console=console, refresh_per_second=4, transient=transient, redirect_stderr=False
        )

    def __rich__(self) -> RenderableType:
        dash = self.dashboard
        return Panel(
            Group(_Phases(dash), Text(""), _figures(dash)),
            title=Text(dash.title, style="bold"),
            title_align="left",
        )

    def __enter__(self) -> LiveDisplay:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, traceback)


_FIXED_WIDTH: Final = 1 + 8 + 20 + 6 + 4  # the columns before the detail, and the gaps


class _Phases:
    """The phases' table, its detail column cut to the width there is: a longer one would
    make the table squeeze every column, the marks and the bars too."""

    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield _phases(self.dash, detail_width=max(options.max_width - _FIXED_WIDTH, 10))


def _phases(dash: Dashboard, *, detail_width: int) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(width=1)
    table.add_column(width=8, no_wrap=True)
    table.add_column(width=20)
    table.add_column(justify="right", width=6)
    table.add_column(overflow="ellipsis", no_wrap=True, max_width=detail_width)
    for phase in dash.phases.values():
        mark, style = _MARKS[phase.status]
        table.add_row(
            Text(mark, style=style),
            Text(phase.key, style="bold" if phase.status == "running" else ""),
            _bar(phase),
            Text(f"{phase.elapsed:.1f}s" if phase.started is not None else "", style="cyan"),
            Text(phase.detail or phase.title, style="" if phase.status != "pending" else "dim"),
        )
    return table


def _bar(phase: Phase) -> RenderableType:
    if phase.status == "pending":
        return Text("")
    if phase.total:
        return ProgressBar(total=phase.total, completed=min(phase.done, phase.total), width=20)
    if phase.status == "done":
        return ProgressBar(total=1, completed=1, width=20)
    return ProgressBar(total=None, width=20)


def _figures(dash: Dashboard) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    engine = f"{dash.engine_processed:,} events processed"
    if dash.engine_rate:
        engine += f", {dash.engine_rate:,.0f} events/s now"
    if dash.model:
        engine += f"; model {dash.model}"
    table.add_row("fraud engine", engine)
    if dash.live_produced:
        actions = ", ".join(
            f"{action} {dash.live_actions[action]:,}"
            for action in ("allow", "review", "challenge", "block")
        )
        table.add_row(
            "live traffic",
            f"{dash.live_produced:,} events, {dash.live_checkouts:,} checkouts; {actions}",
        )
    latencies = list(dash.latency_ms)
    if latencies:
        p50, p95, p99 = np.percentile(np.asarray(latencies), [50, 95, 99])
        table.add_row(
            "decision latency",
            f"p50 {p50:,.1f} ms · p95 {p95:,.1f} ms · p99 {p99:,.1f} ms "
            f"({len(latencies):,} checkouts)",
        )
    if dash.mfa_passed or dash.mfa_failed:
        table.add_row(
            "MFA answers", f"{dash.mfa_passed:,} passed (customers), {dash.mfa_failed:,} failed"
        )
    table.add_row(
        "services",
        f"Fraud Service {dash.fraud_service_processed:,} records · "
        f"read models {dash.projected:,} records projected",
    )
    return table

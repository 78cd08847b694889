"""The demo's report in the terminal: the headline figures and the per-scenario matrix."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .summary import DemoSummary

__all__ = ["render_summary"]


def _share(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f} %"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _columns(table: Table, *names: str) -> Table:
    for index, name in enumerate(names):
        table.add_column(name, justify="left" if index == 0 else "right")
    return table


def render_summary(summary: DemoSummary, console: Console) -> None:
    s = summary
    latency = s.latency
    t = s.throughput
    headline = Table(title="riskstream demo: the run in figures", box=box.SIMPLE, show_header=False)
    headline.add_column(style="bold", no_wrap=True)
    headline.add_column()
    answers = s.mfa.answered_passed + s.mfa.answered_failed
    headline.add_row(
        "events processed",
        f"{s.events_processed:,} ({s.history_events:,} history + {s.live_events:,} live + "
        f"{answers:,} MFA answers)",
    )
    headline.add_row(
        "throughput",
        f"{t.catch_up_events_per_s:,.0f} events/s deciding the history "
        f"({t.catch_up_events:,} events, {t.catch_up_seconds:.1f} s, the first "
        f"{t.catch_up_overlap_seconds:.1f} s while it was written); live "
        f"{t.live_events_per_s or 0:,.0f}/s of {t.live_offered_per_s:,.0f}/s offered",
    )
    headline.add_row(
        "decision latency",
        "-"
        if latency is None
        else f"p50 {latency.p50_ms:,.1f} ms · p95 {latency.p95_ms:,.1f} ms · "
        f"p99 {latency.p99_ms:,.1f} ms · max {latency.max_ms:,.1f} ms "
        f"({latency.samples:,} live checkouts)",
    )
    actions = ", ".join(f"{a} {n:,}" for a, n in s.actions.items())
    headline.add_row(
        "decisions", f"{s.decided:,} of {s.live_checkouts:,} live checkouts: {actions}"
    )
    headline.add_row(
        "live customers",
        f"{s.live_customers:,} of {s.users:,} had their one live session"
        + (f" ({s.live_revisits:,} sessions found none left)" if s.live_revisits else ""),
    )
    d = s.detection
    if d is not None:
        headline.add_row(
            "detection (ground truth)",
            f"recall {_share(d.recall)}, precision {_share(d.precision)} "
            f"({d.frauds_flagged:,} of {d.frauds:,} frauds challenged or blocked)",
        )
    money = s.fraud_amount
    headline.add_row(
        "fraud amount",
        f"{money.stopped:,.2f} stopped of {money.total:,.2f} ({_share(money.stopped_share)}); "
        f"{money.let_through:,.2f} let through"
        + (f", {money.held:,.2f} still held" if money.held else ""),
    )
    legit = s.legit
    headline.add_row(
        "legitimate checkouts",
        f"{_share(legit.share, 2)} challenged or blocked ({legit.challenged:,} challenged, "
        f"{legit.blocked:,} blocked of {legit.checkouts:,}); {legit.released:,} released "
        f"after MFA, {legit.cancelled:,} cancelled",
    )
    if s.model is not None:
        m = s.model
        auc = "-" if m.live_roc_auc is None else f"{m.live_roc_auc:.3f}"
        headline.add_row(
            "model",
            f"LightGBM {m.version}: {m.training_rows:,} history checkouts "
            f"({m.training_frauds:,} labelled fraud); live ROC AUC {auc}",
        )
    headline.add_row(
        "phases",
        " · ".join(f"{name} {sec:.1f}s" for name, sec in s.phases.items())
        + f" · total {s.seconds:.1f}s",
    )
    console.print(headline)
    scenarios = _columns(
        Table(
            title="live checkouts by scenario (ground truth) and the engine's action\n"
            "(caught: challenged or blocked)",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        ),
        "scenario",
        "n",
        "allow",
        "review",
        "chall",
        "block",
        "caught",
    )
    scenarios.columns[0].no_wrap = True
    for row in s.scenarios:
        scenarios.add_row(
            Text(row.scenario, style="red" if row.fraud else ""),
            f"{row.checkouts:,}",
            f"{row.allow:,}",
            f"{row.review:,}",
            f"{row.challenge:,}",
            f"{row.block:,}",
            _percent(row.flagged_share),
        )
    console.print(scenarios)
    for problem in s.problems:
        console.print(Text(f"incomplete: {problem}", style="red"))

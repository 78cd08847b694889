"""The HTML report: one self-contained file, the plots inlined as SVG (matplotlib, Agg).

Four plots - decision latency, engine throughput over the run, recall per fraud scenario,
and the risk scores of fraud against legitimate checkouts - above the figures and tables
of :class:`~riskstream.demo.summary.DemoSummary`. Nothing is loaded from elsewhere: the file
can be mailed or archived as it is.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from riskstream.services.engine_config import thresholds_from
from riskstream.settings import Settings

from .facts import RunFacts
from .metrics import latencies_ms, throughput_series
from .summary import DemoSummary

__all__ = ["PLOTS", "render_html", "write_html"]

PLOTS: Final = ("latency", "throughput", "recall", "scores")
_FRAUD: Final = "#c0392b"
_LEGIT: Final = "#2e86c1"
_GREY: Final = "#7f8c8d"
_RC: Final[dict[Any, Any]] = {
    "svg.fonttype": "none",  # text stays text: smaller, selectable
    "svg.hashsalt": "riskstream-demo",  # stable element ids
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_PHASE_COLOURS: Final = {"catch-up": "#f9e79f", "train": "#d7bde2", "live": "#abebc6"}

matplotlib.use("Agg")  # figures are drawn off-screen, whatever else imports pyplot


def write_html(path: Path, summary: DemoSummary, facts: RunFacts) -> None:
    path.write_text(render_html(summary, facts), encoding="utf-8")


def render_html(summary: DemoSummary, facts: RunFacts) -> str:
    plots = {
        "latency": _latency_plot(latencies_ms(facts.sent_ns, facts.read_ns), summary),
        "throughput": _throughput_plot(facts, summary),
        "recall": _recall_plot(summary),
        "scores": _scores_plot(facts),
    }
    figures = "\n".join(
        f'<figure id="plot-{name}">{svg}<figcaption>{html.escape(_CAPTIONS[name])}'
        "</figcaption></figure>"
        for name, svg in plots.items()
    )
    return _PAGE.format(
        title=html.escape(f"riskstream demo {summary.run_id}"),
        style=_STYLE,
        heading=html.escape(f"riskstream demo - run {summary.run_id}"),
        subtitle=html.escape(
            f"{summary.log}{_under(summary.namespace)} · seed {summary.seed} · "
            f"{summary.users:,} customers ({summary.live_customers:,} with a live session) · "
            f"{summary.history_days:g} days of history · {summary.rate:,.0f} events/s live for "
            f"{summary.duration_s:g} s · finished {_when(facts.finished_at)}"
        ),
        problems=_problems(summary),
        cards=_cards(summary),
        figures=figures,
        tables=_tables(summary),
    )


def _under(namespace: str) -> str:
    return f" (topics under {namespace})" if namespace else ""


# -- plots ----------------------------------------------------------------------------------


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context(_RC):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: no XML prolog or doctype


def _figure() -> Figure:
    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(6.4, 3.6), layout="constrained")
        figure.add_subplot()
    return figure


def _latency_plot(values: Sequence[float], summary: DemoSummary) -> str:
    figure = _figure()
    with matplotlib.rc_context(_RC):
        axes = figure.axes[0]
        if values:
            positive = [max(v, 0.1) for v in values]
            low, high = min(positive), max(positive)
            bins = _log_bins(low, high, 40)
            axes.hist(positive, bins=bins, color=_LEGIT, alpha=0.8)
            axes.set_xscale("log")
            stats = summary.latency
            if stats is not None:
                for label, at, style in (
                    ("p50", stats.p50_ms, "-"),
                    ("p95", stats.p95_ms, "--"),
                    ("p99", stats.p99_ms, ":"),
                ):
                    axes.axvline(at, color=_FRAUD, linestyle=style, label=f"{label} {at:,.1f} ms")
                axes.legend(frameon=False)
        else:
            _empty(axes)
        axes.set_xlabel("checkout produced → decision readable (ms, log scale)")
        axes.set_ylabel("checkouts")
        axes.set_title("Decision latency (live phase)")
    return _svg(figure)


def _log_bins(low: float, high: float, count: int) -> list[float]:
    if high <= low:
        return [low * 0.9, high * 1.1]
    ratio = (high / low) ** (1 / count)
    return [low * ratio**i for i in range(count + 1)]


def _throughput_plot(facts: RunFacts, summary: DemoSummary) -> str:
    figure = _figure()
    with matplotlib.rc_context(_RC):
        axes = figure.axes[0]
        series = [(t, r) for t, r in throughput_series(facts.engine_samples) if r > 0]
        if series:
            origin = facts.engine_samples[0][0]
            for name, colour in _PHASE_COLOURS.items():
                span = facts.phases.get(name)
                if span is not None:
                    axes.axvspan(
                        span[0] - origin,
                        span[1] - origin,
                        color=colour,
                        alpha=0.5,
                        label=name,
                        linewidth=0,
                    )
            axes.plot(
                [t for t, _ in series],
                [r for _, r in series],
                color=_LEGIT,
                linewidth=1.2,
                marker=".",
                markersize=3,
                label="events/s processed",
            )
            axes.axhline(
                summary.rate,
                color=_GREY,
                linestyle="--",
                linewidth=0.8,
                label=f"live rate {summary.rate:,.0f}/s",
            )
            rates = [r for _, r in series] + [summary.rate]
            axes.set_ylim(min(rates) / 2, max(rates) * 3)
            axes.set_yscale("log")
            axes.legend(frameon=False, loc="upper right", fontsize=8)
        else:
            _empty(axes)
        axes.set_xlabel("seconds since the engine started")
        axes.set_ylabel("input events per second (log scale)")
        axes.set_title("Fraud engine throughput: the history, then live traffic")
    return _svg(figure)


def _recall_plot(summary: DemoSummary) -> str:
    figure = _figure()
    with matplotlib.rc_context(_RC):
        axes = figure.axes[0]
        rows = [r for r in summary.scenarios if r.fraud]
        if rows:
            positions = list(range(len(rows)))
            axes.barh(
                [p - 0.2 for p in positions],
                [r.flagged_share or 0.0 for r in rows],
                height=0.4,
                color=_FRAUD,
                label="challenged or blocked",
            )
            axes.barh(
                [p + 0.2 for p in positions],
                [r.stopped_share or 0.0 for r in rows],
                height=0.4,
                color=_FRAUD,
                alpha=0.4,
                label="payment cancelled",
            )
            for position, row in zip(positions, rows, strict=True):
                axes.text(
                    1.01,
                    position,
                    f"{row.flagged}/{row.checkouts}",
                    va="center",
                    fontsize=8,
                    transform=axes.get_yaxis_transform(),
                )
            axes.set_yticks(positions, [r.scenario for r in rows])
            axes.invert_yaxis()
            axes.set_xlim(0, 1)
            axes.legend(frameon=False, loc="lower right", fontsize=8)
        else:
            _empty(axes)
        legit = summary.legit
        axes.set_xlabel(
            f"share of live checkouts (legitimate challenged or blocked: {_share(legit.share, 2)})"
        )
        axes.set_title("Recall per fraud scenario (ground truth)")
    return _svg(figure)


_SCORE_FLOOR: Final = 1e-3  # scores below are drawn at the floor (log axis)


def _scores_plot(facts: RunFacts) -> str:
    figure = _figure()
    with matplotlib.rc_context(_RC):
        axes = figure.axes[0]
        fraud_ids = {r.transaction_id for r in facts.truth if r.is_fraud}
        known = {r.transaction_id for r in facts.truth}
        fraud = [d.score for d in facts.decisions if d.transaction_id in fraud_ids]
        legit = [
            d.score
            for d in facts.decisions
            if d.transaction_id in known and d.transaction_id not in fraud_ids
        ]
        if fraud or legit:
            top = max([*fraud, *legit, 1000.0])
            bins = _log_bins(_SCORE_FLOOR, top * 1.01, 50)
            for values, colour, name in ((legit, _LEGIT, "legitimate"), (fraud, _FRAUD, "fraud")):
                if values:
                    axes.hist(
                        [max(v, _SCORE_FLOOR) for v in values],
                        bins=bins,
                        weights=[1 / len(values)] * len(values),
                        color=colour,
                        alpha=0.6,
                        label=f"{name} ({len(values):,})",
                    )
            axes.set_xscale("log")
            for name, at in _thresholds():
                axes.axvline(at, color=_GREY, linestyle=":", linewidth=0.8)
                axes.text(
                    at,
                    0.98,
                    name,
                    transform=axes.get_xaxis_transform(),
                    fontsize=7,
                    rotation=90,
                    ha="right",
                    va="top",
                    color=_GREY,
                )
            axes.legend(frameon=False, loc="upper left")
        else:
            _empty(axes)
        axes.set_xlabel("risk score: rules + model weight x fraud probability (log scale)")
        axes.set_ylabel("share of the class's checkouts")
        axes.set_title("Risk scores: fraud against legitimate checkouts")
    return _svg(figure)


def _thresholds() -> Iterable[tuple[str, float]]:
    """The thresholds the engine decides with (the same settings as its process)."""
    configured = thresholds_from(Settings())
    return (
        ("review", configured.review),
        ("challenge", configured.challenge),
        ("block", configured.block),
    )


def _empty(axes: Axes) -> None:
    axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)


# -- text -----------------------------------------------------------------------------------


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _share(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f} %"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


def _problems(summary: DemoSummary) -> str:
    if not summary.problems:
        return ""
    items = "".join(f"<li>{html.escape(p)}</li>" for p in summary.problems)
    return f'<div class="problems"><strong>Incomplete run:</strong><ul>{items}</ul></div>'


def _cards(summary: DemoSummary) -> str:
    latency = summary.latency
    money = summary.fraud_amount
    cards = [
        (
            "events processed",
            f"{summary.events_processed:,}",
            f"{summary.history_events:,} history + {summary.live_events:,} live + "
            f"{summary.mfa.answered_passed + summary.mfa.answered_failed:,} MFA answers",
        ),
        (
            "throughput",
            f"{summary.throughput.catch_up_events_per_s:,.0f} events/s",
            f"deciding the history ({summary.throughput.catch_up_seconds:.1f} s)",
        ),
        (
            "decision latency p50 / p95 / p99",
            "-"
            if latency is None
            else f"{latency.p50_ms:,.0f} / {latency.p95_ms:,.0f} / {latency.p99_ms:,.0f} ms",
            f"{summary.decided:,} live checkouts at {summary.rate:,.0f} events/s",
        ),
        (
            "fraud amount stopped",
            _share(money.stopped_share),
            f"{money.stopped:,.2f} of {money.total:,.2f}; {money.let_through:,.2f} let through",
        ),
        (
            "legitimate checkouts challenged or blocked",
            _share(summary.legit.share, 2),
            f"{summary.legit.challenged + summary.legit.blocked:,} of {summary.legit.checkouts:,}",
        ),
        (
            "model ROC AUC (live)",
            "-"
            if summary.model is None or summary.model.live_roc_auc is None
            else f"{summary.model.live_roc_auc:.3f}",
            "" if summary.model is None else f"LightGBM {summary.model.version}",
        ),
    ]
    return "\n".join(
        f'<div class="card"><div class="label">{html.escape(label)}</div>'
        f'<div class="value">{html.escape(value)}</div>'
        f'<div class="note">{html.escape(note)}</div></div>'
        for label, value, note in cards
    )


def _table(caption: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _tables(summary: DemoSummary) -> str:
    parts = [
        _table(
            "Live checkouts by scenario (ground truth) and the engine's action",
            [
                "scenario",
                "checkouts",
                "allow",
                "review",
                "challenge",
                "block",
                "undecided",
                "challenged or blocked",
                "cancelled",
                "amount",
                "amount cancelled",
            ],
            (
                [
                    r.scenario,
                    f"{r.checkouts:,}",
                    f"{r.allow:,}",
                    f"{r.review:,}",
                    f"{r.challenge:,}",
                    f"{r.block:,}",
                    f"{r.undecided:,}",
                    _share(r.flagged_share),
                    _share(r.stopped_share),
                    f"{r.amount:,.2f}",
                    f"{r.amount_stopped:,.2f}",
                ]
                for r in summary.scenarios
            ),
        )
    ]
    d = summary.detection
    if d is not None:
        parts.append(
            _table(
                "Confusion matrix (decisions against the ground truth)",
                ["", "challenged or blocked", "allowed or reviewed", "total"],
                [
                    [
                        "fraud",
                        f"{d.frauds_flagged:,}",
                        f"{d.frauds - d.frauds_flagged:,}",
                        f"{d.frauds:,}",
                    ],
                    [
                        "legitimate",
                        f"{d.legit_flagged:,}",
                        f"{d.legit - d.legit_flagged:,}",
                        f"{d.legit:,}",
                    ],
                    ["precision / recall", _share(d.precision), _share(d.recall), ""],
                ],
            )
        )
    money, legit, mfa = summary.fraud_amount, summary.legit, summary.mfa
    parts.append(
        _table(
            "What became of the payments (read models)",
            ["", "value"],
            [
                ["fraud amount", f"{money.total:,.2f}"],
                ["stopped (cancelled)", f"{money.stopped:,.2f} ({_share(money.stopped_share)})"],
                ["let through", f"{money.let_through:,.2f}"],
                ["still held", f"{money.held:,.2f}"],
                ["legitimate checkouts", f"{legit.checkouts:,}"],
                ["challenged / blocked", f"{legit.challenged:,} / {legit.blocked:,}"],
                ["released after MFA", f"{legit.released:,}"],
                ["legitimate payments cancelled", f"{legit.cancelled:,}"],
                [
                    "MFA answers passed / failed",
                    f"{mfa.answered_passed:,} / {mfa.answered_failed:,}",
                ],
            ],
        )
    )
    latency, engine = summary.latency, summary.engine_latency
    t = summary.throughput
    parts.append(
        _table(
            "Performance",
            ["", "value"],
            [
                [
                    "decision latency p50 / p95 / p99 / max",
                    "-"
                    if latency is None
                    else f"{_ms(latency.p50_ms)} / {_ms(latency.p95_ms)} / {_ms(latency.p99_ms)} / "
                    f"{_ms(latency.max_ms)}",
                ],
                [
                    "of which in the topology p50 / p99",
                    "-" if engine is None else f"{_ms(engine.p50_ms)} / {_ms(engine.p99_ms)}",
                ],
                [
                    "throughput deciding the history",
                    f"{t.catch_up_events_per_s:,.0f} events/s ({t.catch_up_events:,} events in "
                    f"{t.catch_up_seconds:.1f} s, the first {t.catch_up_overlap_seconds:.1f} s "
                    "while the history was written)",
                ],
                [
                    "throughput live (offered)",
                    f"{t.live_events_per_s or 0:,.0f} events/s ({t.live_offered_per_s:,.0f})",
                ],
                ["latency", summary.latency_definition],
                ["throughput", t.definition],
            ],
        )
    )
    parts.append(
        _table(
            "Phases",
            ["phase", "seconds"],
            [[name, f"{seconds:.1f}"] for name, seconds in summary.phases.items()]
            + [["total", f"{summary.seconds:.1f}"]],
        )
    )
    return "\n".join(parts)


_CAPTIONS: Final = {
    "latency": "Each live checkout: from its produce call to its decision being readable.",
    "throughput": "Input events the engine processed per second; shaded: the phases.",
    "recall": "Share of each scenario's checkouts challenged or blocked, and cancelled.",
    "scores": "Risk score distributions; dotted: the review, challenge and block thresholds.",
}

_STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
.subtitle { color: #666; margin-bottom: 1.5rem; }
.cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 0.8rem; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.8rem; }
.card .label { color: #666; font-size: 0.85rem; }
.card .value { font-size: 1.4rem; font-weight: 600; margin: 0.2rem 0; }
.card .note { color: #888; font-size: 0.8rem; }
.plots { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; margin: 1.5rem 0; }
figure { margin: 0; } figure svg { width: 100%; height: auto; }
figcaption { color: #666; font-size: 0.8rem; }
table { border-collapse: collapse; margin: 1.2rem 0; font-size: 0.85rem; }
caption { text-align: left; font-weight: 600; margin-bottom: 0.3rem; }
th, td { border-bottom: 1px solid #eee; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.problems { background: #fdecea; border: 1px solid #e6b0aa; padding: 0.5rem 1rem; }
"""

_PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<h1>{heading}</h1>
<div class="subtitle">{subtitle}</div>
{problems}
<div class="cards">
{cards}
</div>
<div class="plots">
{figures}
</div>
{tables}
</body>
</html>
"""

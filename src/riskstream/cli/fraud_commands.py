"""``riskstream train`` and ``riskstream backtest``: models and rules tried on history.

Both replay the log through the fraud topology in this process, isolated (nothing is
written, no offset committed); the work lives in :mod:`riskstream.services.training` and
:mod:`riskstream.services.backtest`, this module parses options and renders.

Exit codes: 0 done, 2 invalid input (times, a rules file that does not check - every error
as ``file:line:col`` -, a model file that does not load, a model the engine cannot serve, a
training period without both classes), 1 the log failed. ``--json`` prints one
machine-readable object on stdout; tables go to stdout, progress and messages to stderr.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from riskstream.errors import RiskstreamError
from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.model import (
    DEFAULT_ALERTS_PER_DAY,
    ModelArtifact,
    ModelError,
    ModelFeatureMismatch,
    Scorer,
    TrainingError,
    render_evaluation,
)
from riskstream.fraud.policy import Thresholds
from riskstream.fraud.rules import RuleError, RuleSet, RuleSetError, default_rule_set
from riskstream.log import EventLog, open_log
from riskstream.services.backtest import (
    BacktestReport,
    CutoffStats,
    Detection,
    ProductionDiff,
    ScenarioStats,
    ScoreThresholds,
    encode_report,
    run_backtest,
)
from riskstream.services.engine_config import thresholds_from
from riskstream.services.fraud_app import EXPLAIN_ABOVE
from riskstream.services.hotreload import wall_clock_ms
from riskstream.services.lists import parse_ttl
from riskstream.services.models_registry import ModelSlot
from riskstream.services.rules_topic import format_rule_error
from riskstream.services.training import (
    TrainingRun,
    check_periods,
    publish_trained,
    train_model,
)
from riskstream.settings import Settings
from riskstream.sim import GroundTruth, read_truth

__all__ = ["backtest", "train"]

console = Console(stderr=True)

INVALID = 2  # exit code: invalid input
_INSTANT = "ISO 8601 (UTC unless it says otherwise) or epoch milliseconds"

# Defined here rather than imported from app.py, which imports this module.
LogOption = typer.Option(
    None, "--log", help="Event log URL (default: RISKSTREAM_LOG_URL or embedded:.riskstream/log)."
)
JsonOption = typer.Option(False, "--json", help="Print a machine-readable summary on stdout.")
PublishOption = typer.Option(
    None, "--publish", help="Publish the model into this slot on risk.models."
)
OutOption = typer.Option(None, "--out", help="Write the model artifact to this file.")
RulesOption = typer.Option(
    None, "--rules", help="The candidate rules file (default: the shipped rules)."
)
ModelOption = typer.Option(None, "--model", help="A model artifact to decide with, as champion.")
TruthOption = typer.Option(
    None, "--truth", help="A simulator ground-truth JSONL file, to measure against."
)
ReviewOption = typer.Option(
    None, "--review", help="Risk score from which to review (default: RISKSTREAM_REVIEW_THRESHOLD)."
)
ChallengeOption = typer.Option(
    None,
    "--challenge",
    help="Risk score from which to challenge (default: RISKSTREAM_CHALLENGE_THRESHOLD).",
)
BlockOption = typer.Option(
    None, "--block", help="Risk score from which to block (default: RISKSTREAM_BLOCK_THRESHOLD)."
)
ModelWeightOption = typer.Option(
    None,
    "--model-weight",
    min=0.0,
    help="Risk score points per unit of the model's fraud probability "
    "(default: RISKSTREAM_MODEL_WEIGHT).",
)


def _fail(message: str, code: int = INVALID) -> typer.Exit:
    console.print(Text(f"error: {message}", style="red"), soft_wrap=True)
    return typer.Exit(code)


def _instant(text: str, option: str) -> int:
    """``2026-01-08``, ``2026-01-08T12:00Z`` or ``1767830400000`` → epoch milliseconds."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"{option}: not an instant ({_INSTANT}): {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _maybe_instant(text: str | None, option: str) -> int | None:
    return None if text is None else _instant(text, option)


def _duration(text: str, option: str) -> int:
    if text.strip() == "0":
        return 0
    try:
        return parse_ttl(text)
    except ValueError as exc:
        raise _fail(f"{option}: {exc}") from None


def _when(ms: int | None) -> str:
    if ms is None:
        return "…"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


@contextmanager
def _open(log_url: str | None) -> Iterator[EventLog]:
    """The log the options name; errors of ours end the command with a message, exit 1."""
    settings = Settings()
    try:
        log = open_log(log_url or settings.log_url, options=settings.log_options)
    except RiskstreamError as exc:
        raise _fail(str(exc), 1) from exc
    try:
        yield log
    finally:
        log.close()


@contextmanager
def _replay_progress(*, transient: bool) -> Iterator[Progress]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
    ) as progress:
        yield progress


# -- train -----------------------------------------------------------------------------------


def train(
    train_from: str = typer.Option(
        ..., "--from", help=f"Start of training ({_INSTANT}); earlier events warm profiles up."
    ),
    until: str = typer.Option(
        ..., "--until", help="End of training and start of the evaluation; labels as of then."
    ),
    eval_until: str | None = typer.Option(
        None, "--eval-until", help="End of the evaluation (default: the end of the log)."
    ),
    label_maturity: str = typer.Option(
        "30d",
        "--label-maturity",
        help="Leave out the checkouts of this last span before --until (labels still due).",
    ),
    alerts_per_day: int = typer.Option(
        DEFAULT_ALERTS_PER_DAY, "--alerts-per-day", min=1, help="The analysts' daily budget."
    ),
    incident_window: str = typer.Option(
        "2h",
        "--incident-window",
        help="Carry each label to the checkouts from the same device and country within this "
        "span (one incident); 0 trains on the labels as given.",
    ),
    publish: ModelSlot | None = PublishOption,
    out: Path | None = OutOption,
    log_url: str | None = LogOption,
    as_json: bool = JsonOption,
) -> None:
    """Train a fraud model on replayed history, evaluate it on the period after, and write
    and/or publish it. The same log gives the same model version."""
    start = _instant(train_from, "--from")
    end = _instant(until, "--until")
    evaluate_to = _maybe_instant(eval_until, "--eval-until")
    maturity = _duration(label_maturity, "--label-maturity")
    incident_ms = _duration(incident_window, "--incident-window")
    try:
        check_periods(start, end, evaluate_to, maturity)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    engine = FeatureEngine()
    with _open(log_url) as log:
        url = log.url
        with _replay_progress(transient=as_json) as progress:
            task = progress.add_task("replay", total=None)
            try:
                run = train_model(
                    log,
                    train_from=start,
                    train_until=end,
                    eval_until=evaluate_to,
                    label_maturity_ms=maturity,
                    alerts_per_day=alerts_per_day,
                    incident_window_ms=incident_ms or None,
                    created_at=wall_clock_ms(),
                    engine=engine,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
            except (TrainingError, ValueError) as exc:
                progress.stop()
                raise _fail(str(exc)) from exc
            except RiskstreamError as exc:
                progress.stop()
                raise _fail(str(exc), 1) from exc
        if not as_json:
            _render_training(run)
        try:
            unused = run.artifact.check_features(engine.feature_names)
        except ModelFeatureMismatch as exc:
            raise _fail(f"model {run.artifact.version} refused: {exc}") from exc
        if out is not None:
            try:
                out.write_bytes(run.artifact.to_bytes())
            except OSError as exc:
                raise _fail(f"cannot write {out}: {exc}", 1) from exc
        if publish is not None:
            try:
                publish_trained(log, publish, run.artifact, engine)
            except RiskstreamError as exc:
                raise _fail(f"cannot publish: {exc}", 1) from exc
    if as_json:
        print(json.dumps(_training_json(run, url, out, publish, unused)))
        return
    done = [f"model {run.artifact.version}"]
    if out is not None:
        done.append(f"written to {out}")
    if publish is not None:
        done.append(f"published as {publish.value}")
    if out is None and publish is None:
        done.append("neither written nor published (give --out or --publish)")
    console.print(Text(", ".join(done)))


def _render_training(run: TrainingRun) -> None:
    a = run.artifact
    out = Console()
    out.print(
        Text(
            f"trained on {_when(a.trained_from)} .. {_when(a.trained_to - a.label_maturity_ms)} "
            f"UTC: {a.training_rows:,} checkouts, {a.training_frauds:,} labelled fraud as of "
            f"{_when(a.trained_to)} ({len(a.features)} features)"
        )
    )
    out.print(Text(render_evaluation(run.evaluation)))


def _training_json(
    run: TrainingRun,
    url: str,
    out: Path | None,
    publish: ModelSlot | None,
    unused: tuple[str, ...],
) -> dict[str, object]:
    a = run.artifact
    return {
        "ok": True,
        "log": url,
        "version": a.version,
        "features": list(a.feature_names),
        "unused_engine_features": list(unused),
        "trained_from": a.trained_from,
        "trained_to": a.trained_to,
        "label_maturity_ms": a.label_maturity_ms,
        "training_rows": a.training_rows,
        "training_frauds": a.training_frauds,
        "checkouts_replayed": run.checkouts,
        "labels": len(run.labels),
        "events_replayed": run.replay.events,
        "evaluation": run.evaluation.as_metrics(),
        "created_at": a.created_at,
        "out": None if out is None else str(out),
        "published": None if publish is None else publish.value,
    }


# -- backtest --------------------------------------------------------------------------------


def _rules(file: Path | None, engine: FeatureEngine, *, as_json: bool) -> RuleSet:
    """The candidate rules (the shipped defaults without ``--rules``), or every error and
    exit 2. Built under the file's name, so the version does not depend on the directory."""
    if file is None:
        return default_rule_set(engine.catalogue)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        if as_json:
            print(json.dumps({"ok": False, "file": str(file), "errors": [str(exc)]}))
        raise _fail(f"cannot read {file}: {exc}") from exc
    try:
        return RuleSet.from_text(text, engine.catalogue, name=file.name)
    except RuleSetError as exc:
        errors = [_located(error, file) for error in exc.errors]
        for error in errors:
            console.print(Text(format_rule_error(error)), soft_wrap=True)
        count = len(errors)
        console.print(Text(f"{file}: {count} error{'s' * (count != 1)}", style="red"))
        if as_json:
            print(
                json.dumps(
                    {
                        "ok": False,
                        "file": str(file),
                        "errors": [format_rule_error(error) for error in errors],
                    }
                )
            )
        raise typer.Exit(INVALID) from exc


def _located(error: RuleError, file: Path) -> RuleError:
    """The error at the path the user gave (the set was built under the file's name)."""
    if error.file != file.name:
        return error
    return RuleError(
        error.message, file=str(file), line=error.line, column=error.column, code=error.code
    )


def _model(file: Path | None, engine: FeatureEngine) -> Scorer | None:
    if file is None:
        return None
    try:
        artifact = ModelArtifact.from_bytes(file.read_bytes())
        artifact.check_features(engine.feature_names)
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc}") from exc
    except ModelError as exc:
        raise _fail(f"{file}: {exc}") from exc
    return Scorer(artifact, explain_above=EXPLAIN_ABOVE)


def _truth(file: Path | None) -> list[GroundTruth] | None:
    if file is None:
        return None
    try:
        return list(read_truth(file))
    except (OSError, msgspec.DecodeError) as exc:
        raise _fail(f"cannot read ground truth {file}: {exc}") from exc


def _thresholds(
    review: float | None, challenge: float | None, block: float | None, weight: float | None
) -> Thresholds:
    """The settings' thresholds with the options given in their place; exit 2 out of order."""
    configured = thresholds_from(Settings())
    try:
        return Thresholds(
            review=configured.review if review is None else review,
            challenge=configured.challenge if challenge is None else challenge,
            block=configured.block if block is None else block,
            model_weight=configured.model_weight if weight is None else weight,
            alert_at=configured.alert_at,
        )
    except ValueError as exc:
        raise _fail(f"--review, --challenge, --block: {exc}") from exc


def backtest(
    start: str | None = typer.Option(
        None, "--from", help=f"First checkout time ({_INSTANT}); default: the log's start."
    ),
    end: str | None = typer.Option(
        None, "--to", help="Checkouts before this instant (default: to the end of the log)."
    ),
    rules_file: Path | None = RulesOption,
    model_file: Path | None = ModelOption,
    truth_file: Path | None = TruthOption,
    review: float | None = ReviewOption,
    challenge: float | None = ChallengeOption,
    block: float | None = BlockOption,
    model_weight: float | None = ModelWeightOption,
    examples: int = typer.Option(
        20, "--examples", min=0, help="How many changed checkouts to list."
    ),
    log_url: str | None = LogOption,
    as_json: bool = JsonOption,
) -> None:
    """Decide history again with candidate rules (and model) and thresholds: precision,
    recall, fraud amount caught against the labels, the model alone swept over probability
    cut-offs, and what changes against production's decisions. Writes nothing to the log."""
    start_ms = _maybe_instant(start, "--from")
    end_ms = _maybe_instant(end, "--to")
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise _fail("--to must be after --from")
    thresholds = _thresholds(review, challenge, block, model_weight)
    engine = FeatureEngine()
    rules = _rules(rules_file, engine, as_json=as_json)
    model = _model(model_file, engine)
    truth = _truth(truth_file)
    with _open(log_url) as log, _replay_progress(transient=as_json) as progress:
        task = progress.add_task("replay", total=None)
        try:
            report = run_backtest(
                log,
                rules=rules,
                model=model,
                engine=engine,
                thresholds=thresholds,
                start_ms=start_ms,
                end_ms=end_ms,
                truth=truth,
                examples=examples,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except RiskstreamError as exc:
            progress.stop()
            raise _fail(str(exc), 1) from exc
    if as_json:
        print(encode_report(report).decode())
        return
    _render_report(report)


# -- rendering a backtest --------------------------------------------------------------------


def _share(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f} %"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _detection_rows(d: Detection) -> list[tuple[str, str]]:
    caught = f"{d.fraud_amount_caught:,.2f} of {d.fraud_amount:,.2f}"
    legit = f"{d.legit_flagged:,} of {d.legit:,}"
    return [
        ("checkouts", f"{d.checkouts:,}"),
        ("frauds", f"{d.frauds:,}"),
        ("flagged (challenge, block)", f"{d.flagged:,}"),
        ("precision", f"{_ratio(d.precision)} ({d.frauds_flagged:,} frauds)"),
        ("recall", _ratio(d.recall)),
        ("fraud amount caught", f"{caught} ({_share(d.fraud_amount_share)})"),
        ("legitimate flagged", f"{legit} ({_share(d.legit_flagged_share)})"),
        ("reviewed", f"{d.reviewed:,}"),
        ("review precision", f"{_ratio(d.review_precision)} ({d.frauds_reviewed:,} frauds)"),
        ("review recall", _ratio(d.review_recall)),
    ]


def _columns(table: Table, *names: str) -> Table:
    """Columns named ``names``: the first left-aligned, the figures right-aligned."""
    for index, name in enumerate(names):
        table.add_column(name, justify="left" if index == 0 else "right", overflow="fold")
    return table


def _render_report(report: BacktestReport) -> None:
    out = Console()
    models = ", ".join(report.model_versions) or "none"
    out.print(
        Text(
            f"backtest {_when(report.period_start)} .. {_when(report.period_end)} UTC: "
            f"{report.checkouts:,} checkouts, rules {', '.join(report.rules_versions) or '-'}, "
            f"model {models}"
        )
    )
    if report.thresholds is not None:
        out.print(Text(_thresholds_line(report.thresholds, model=bool(report.model_versions))))
    out.print(_quality_table(report))
    actions = _columns(Table(title="by action"), "action", "checkouts", "labelled fraud", "amount")
    for count in report.actions:
        actions.add_row(
            count.action, f"{count.checkouts:,}", f"{count.frauds:,}", f"{count.amount:,.2f}"
        )
    out.print(actions)
    if report.rules:
        rules = _columns(
            Table(title="top rules by hits"), "rule", "hits", "labelled fraud", "precision"
        )
        for stat in report.rules[:10]:
            rule = Text(stat.rule + (" (shadow)" if stat.shadow else ""))
            rules.add_row(rule, f"{stat.hits:,}", f"{stat.frauds:,}", _ratio(stat.precision))
        out.print(rules)
    if report.truth is not None:
        out.print(_scenario_table(report.truth.scenarios))
    if report.model_sweep is not None:
        sweep = report.model_sweep
        out.print(_sweep_table("model alone, against labels", sweep.labels))
        if sweep.truth is not None:
            out.print(_sweep_table("model alone, against ground truth", sweep.truth))
    if report.production is None:
        out.print(Text("no production decisions on the log (risk.decisions): no comparison"))
    else:
        _render_diff(out, report.production)


def _quality_table(report: BacktestReport) -> Table:
    quality = _columns(Table(title="detection"), "", "against labels")
    columns = [_detection_rows(report.detection)]
    if report.truth is not None:
        quality.add_column("against ground truth", justify="right")
        columns.append(_detection_rows(report.truth.detection))
    for index, (name, value) in enumerate(columns[0]):
        quality.add_row(name, value, *(column[index][1] for column in columns[1:]))
    return quality


def _thresholds_line(t: ScoreThresholds, *, model: bool) -> str:
    line = (
        f"thresholds: review {t.review:g}, challenge {t.challenge:g}, block {t.block:g}; "
        f"score = rules + {t.model_weight:g} x model probability"
    )
    if not model:
        return line
    reached = [
        f"{action} from p >= {cutoff:g}"
        for action, cutoff in (
            ("review", t.model_review_from),
            ("challenge", t.model_challenge_from),
            ("block", t.model_block_from),
        )
        if cutoff is not None
    ]
    return f"{line}; the model alone: {', '.join(reached) or 'no action'}"


def _sweep_table(title: str, cutoffs: list[CutoffStats]) -> Table:
    """One row per cut-off; "frauds added" are those the candidate's decisions let through."""
    table = _columns(
        Table(title=title),
        "p >=",
        "flagged",
        "precision",
        "recall",
        "fraud amount caught",
        "legitimate flagged",
        "frauds added",
    )
    for c in cutoffs:
        table.add_row(
            f"{c.cutoff:g}",
            f"{c.flagged:,}",
            _ratio(c.precision),
            _ratio(c.recall),
            f"{c.fraud_amount_caught:,.2f} ({_share(c.fraud_amount_share)})",
            f"{c.legit_flagged:,} ({_share(c.legit_flagged_share, 2)})",
            f"{c.frauds_new:,}",
        )
    return table


def _scenario_table(scenarios: list[ScenarioStats]) -> Table:
    table = _columns(
        Table(title="by scenario (ground truth)"),
        "scenario",
        "checkouts",
        "labelled",
        "flagged",
        "share flagged",
        "amount caught",
    )
    for s in scenarios:
        table.add_row(
            s.scenario,
            f"{s.checkouts:,}",
            f"{s.labelled:,}",
            f"{s.flagged:,}",
            _share(s.flagged_share),
            f"{s.amount_caught:,.2f} ({_share(s.amount_share)})",
        )
    return table


def _render_diff(out: Console, diff: ProductionDiff) -> None:
    title = (
        f"against production: {diff.changed:,} of {diff.compared:,} changed "
        f"({diff.stricter:,} stricter, {diff.looser:,} looser); "
        f"{diff.undecided:,} not decided by production"
    )
    transitions = _columns(
        Table(title=title), "production", "candidate", "checkouts", "labelled fraud"
    )
    for t in diff.transitions:
        transitions.add_row(t.production, t.candidate, f"{t.checkouts:,}", f"{t.frauds:,}")
    out.print(transitions)
    out.print(
        Text(
            f"on the compared checkouts: production precision {_ratio(diff.production.precision)}"
            f" recall {_ratio(diff.production.recall)}; candidate precision "
            f"{_ratio(diff.candidate.precision)} recall {_ratio(diff.candidate.recall)}"
        )
    )
    if not diff.examples:
        return
    changed = _columns(
        Table(title="changed checkouts"),
        "transaction",
        "time (UTC)",
        "amount",
        "fraud",
        "production",
        "candidate",
        "candidate rules",
    )
    for c in diff.examples:
        changed.add_row(
            Text(c.transaction_id),
            _when(c.checkout_time),
            f"{c.amount:,.2f}",
            "yes" if c.fraud else "",
            f"{c.production} ({c.production_score:g})",
            f"{c.candidate} ({c.candidate_score:g})",
            Text(", ".join(c.candidate_rules)),
        )
    out.print(changed)

"""``riskstream dlq list|redrive``: inspect dead letters and re-drive them after a fix.

The logic lives in :mod:`riskstream.log.dlq`; this module only parses options and renders.
``--json`` prints one machine-readable object on stdout; tables go to stdout as in
``topics list``; progress and summaries go to stderr.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from riskstream.errors import RiskstreamError
from riskstream.log import EventLog, open_log
from riskstream.log.dlq import (
    DeadLetter,
    DeadLetterFilter,
    DlqTopic,
    RedriveError,
    RedriveResult,
    dlq_topics,
    preview,
    read_dead_letters,
    redrive,
    resolve_dlq_topic,
)
from riskstream.settings import Settings

__all__ = ["dlq_app"]

dlq_app = typer.Typer(
    help="Inspect dead letters (dlq.* topics) and re-drive them after a fix.",
    no_args_is_help=True,
)
console = Console(stderr=True)

# Defined here rather than imported from app.py, which imports this module.
LogOption = typer.Option(
    None, "--log", help="Event log URL (default: RISKSTREAM_LOG_URL or embedded:.riskstream/log)."
)
JsonOption = typer.Option(False, "--json", help="Print a machine-readable summary on stdout.")
ErrorOption = typer.Option(
    None, "--error", help="Only dead letters of this error class, e.g. ValueError (repeatable)."
)
StepOption = typer.Option(
    None, "--step", help="Only dead letters of this step, e.g. decode (repeatable)."
)

_VALUE_PREVIEW = 60
_JSON_PREVIEW = 200


@contextmanager
def _open(log_url: str | None) -> Iterator[EventLog]:
    """The log the options name; errors of ours end the command with a message, exit 1."""
    settings = Settings()
    url = log_url or settings.log_url
    try:
        log = open_log(url, options=settings.log_options)
    except RiskstreamError as exc:
        console.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(1) from exc
    try:
        yield log
    except RiskstreamError as exc:
        console.print(Text(f"error: {exc}", style="red"))
        raise typer.Exit(1) from exc
    finally:
        log.close()


# -- list ------------------------------------------------------------------------------------


@dlq_app.command("list")
def dlq_list(
    topic: str | None = typer.Argument(
        None, help="A dead-letter topic (dlq.events.login) or its source (events.login)."
    ),
    log_url: str | None = LogOption,
    limit: int = typer.Option(20, "--limit", min=1, help="Show at most this many dead letters."),
    as_json: bool = JsonOption,
) -> None:
    """Without TOPIC: every dlq.* topic and its count. With TOPIC: its dead letters."""
    with _open(log_url) as log:
        if topic is None:
            _list_topics(log, dlq_topics(log), as_json=as_json)
            return
        name = resolve_dlq_topic(log, topic)
        total = sum(t.count for t in dlq_topics(log, [name]))
        letters = read_dead_letters(log, name, limit=limit)
        if as_json:
            print(
                json.dumps(
                    {
                        "log": log.url,
                        "topic": name,
                        "count": total,
                        "shown": len(letters),
                        "dead_letters": [_letter_json(letter) for letter in letters],
                    }
                )
            )
            return
        _render_letters(name, letters, total)


def _list_topics(log: EventLog, topics: list[DlqTopic], *, as_json: bool) -> None:
    if as_json:
        described = {
            t.name: {"source": t.source, "partitions": t.partitions, "count": t.count}
            for t in topics
        }
        total = sum(t.count for t in topics)
        print(json.dumps({"log": log.url, "topics": described, "total": total}))
        return
    if not topics:
        console.print(f"no dead-letter topics on [cyan]{log.url}[/]")
        return
    table = Table(title=f"dead-letter topics on {log.url}")
    table.add_column("topic")
    table.add_column("source")
    table.add_column("partitions", justify="right")
    table.add_column("dead letters", justify="right")
    for t in topics:
        table.add_row(Text(t.name), Text(t.source), str(t.partitions), f"{t.count:,}")
    Console().print(table)


def _letter_json(letter: DeadLetter) -> dict[str, object]:
    return {
        "dlq_partition": letter.dlq_partition,
        "dlq_offset": letter.dlq_offset,
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "timestamp": letter.timestamp,
        "time": letter.time,
        "step": letter.step,
        "error": letter.error,
        "reason": letter.reason,
        "path": letter.path,
        "key": None if letter.key is None else preview(letter.key, _JSON_PREVIEW),
        "value": None if letter.value is None else preview(letter.value, _JSON_PREVIEW),
        "value_size": None if letter.value is None else len(letter.value),
        "headers": [[name, preview(value, _JSON_PREVIEW)] for name, value in letter.headers],
        "redriven_from": letter.redriven_from,
    }


def _render_letters(name: str, letters: list[DeadLetter], total: int) -> None:
    table = Table(title=f"{name}: {len(letters):,} of {total:,} dead letters", show_lines=True)
    table.add_column("dead letter / source / time (UTC)", overflow="fold")
    table.add_column("step / error / path / reason", overflow="fold")
    table.add_column("key / value", overflow="fold")
    for letter in letters:
        where = Text(f"{letter.dlq_partition}/{letter.dlq_offset}", style="bold")
        where.append(f"\nfrom {letter.source or '-'}\n{_when(letter.time)}")
        if letter.redriven_from:
            where.append(f"\nre-driven from {letter.redriven_from}", style="dim")
        failure = Text(f"{letter.step or '-'} ")
        failure.append(letter.error or "-", style="red")
        failure.append(f"\n{letter.path or '-'}\n{letter.reason or '-'}")
        record = Text("key " + ("-" if letter.key is None else preview(letter.key, 40)))
        record.append("\n" + _value_cell(letter.value))
        table.add_row(where, failure, record)
    Console().print(table)


def _value_cell(value: bytes | None) -> str:
    if value is None:
        return "value - (null)"
    return f"value ({len(value):,} B) {preview(value, _VALUE_PREVIEW)}"


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


# -- redrive ---------------------------------------------------------------------------------


@dlq_app.command("redrive")
def dlq_redrive(
    topic: str = typer.Argument(
        ..., help="A dead-letter topic (dlq.events.login) or its source (events.login)."
    ),
    log_url: str | None = LogOption,
    to: str | None = typer.Option(
        None, "--to", help="Re-produce into this topic instead of each dead letter's source."
    ),
    errors: list[str] | None = ErrorOption,
    steps: list[str] | None = StepOption,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only count what would be re-driven; produce and commit nothing."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Re-produce dead letters to their source topic; a second run skips what was re-driven.

    Progress is committed (group riskstream-dlq-redrive.<dlq topic>) only after the re-produced
    records are acknowledged. Dead letters skipped by --error/--step are passed over for good
    by that group; they stay in the topic for `dlq list`.
    """
    where = DeadLetterFilter(errors=frozenset(errors or ()), steps=frozenset(steps or ()))
    with _open(log_url) as log, _progress(transient=as_json) as progress:
        task = progress.add_task("re-drive" if not dry_run else "count", total=None)
        try:
            result = redrive(
                log,
                topic,
                to=to,
                where=where if errors or steps else None,
                dry_run=dry_run,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except RedriveError as exc:
            progress.stop()
            console.print(Text(f"error: {exc}", style="red"))
            _report(log, exc.result, as_json=as_json, error=str(exc))
            raise typer.Exit(1) from exc
    _report(log, result, as_json=as_json, error=None)


def _progress(*, transient: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
    )


def _report(log: EventLog, result: RedriveResult, *, as_json: bool, error: str | None) -> None:
    if as_json:
        print(json.dumps({"log": log.url, "ok": error is None, "error": error, **_result(result)}))
        return
    verb = "would re-drive" if result.dry_run else "re-drove"
    targets = ", ".join(f"{n:,} to {name}" for name, n in result.targets.items()) or "nothing"
    console.print(
        Text(
            f"{result.topic}: {verb} {result.redriven:,} dead letters ({targets}); "
            f"{result.skipped:,} skipped by filter; progress in group {result.group}"
        )
    )
    if result.skipped and not result.dry_run:
        console.print(
            Text(
                f"the {result.skipped:,} skipped dead letters stay in {result.topic} "
                "(see `riskstream dlq list`) but later re-drives pass over them",
                style="yellow",
            )
        )


def _result(result: RedriveResult) -> dict[str, object]:
    return {
        "topic": result.topic,
        "group": result.group,
        "dry_run": result.dry_run,
        "redriven": result.redriven,
        "skipped": result.skipped,
        "targets": result.targets,
    }

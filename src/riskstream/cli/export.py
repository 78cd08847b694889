"""``riskstream export``: the events, decisions and labels of a time range, as Parquet.

``--out jan.parquet`` writes ``jan.events.parquet``, ``jan.decisions.parquet`` and
``jan.labels.parquet`` (the schemas are described in :mod:`riskstream.services.export`).
The read joins no consumer group and commits nothing.

Exit codes: 0 done, 2 invalid input (instants, an empty range), 1 the log or the files
failed. ``--json`` prints one machine-readable object on stdout; progress and messages go
to stderr.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from riskstream.errors import RiskstreamError
from riskstream.log import open_log
from riskstream.services.export import DEFAULT_BATCH_ROWS, ExportSummary, export_parquet
from riskstream.settings import Settings

__all__ = ["export"]

console = Console(stderr=True)

INVALID = 2  # exit code: invalid input
_INSTANT = "ISO 8601 (UTC unless it says otherwise) or epoch milliseconds"


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


def export(
    start: str = typer.Option(..., "--from", help=f"First instant of the range ({_INSTANT})."),
    end: str = typer.Option(..., "--to", help="End of the range, excluded."),
    out_file: str = typer.Option(
        ..., "--out", help="FILE.parquet: writes FILE.events/.decisions/.labels.parquet."
    ),
    labels_until: str | None = typer.Option(
        None,
        "--labels-until",
        help="Collect labels that arrived up to this instant (default: --to), to label the "
        "range's checkouts with what was learnt later.",
    ),
    log_url: str | None = typer.Option(
        None, "--log", help="Event log URL (default: RISKSTREAM_LOG_URL or the embedded log)."
    ),
    batch_rows: int = typer.Option(
        DEFAULT_BATCH_ROWS, min=1, help="Rows per Parquet row group (bounds the memory used)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary."),
) -> None:
    """Export events, decisions and labels of a time range to Parquet, for data science."""
    out = Path(out_file)
    start_ms, end_ms = _instant(start, "--from"), _instant(end, "--to")
    until_ms = None if labels_until is None else _instant(labels_until, "--labels-until")
    if end_ms <= start_ms:
        raise _fail("--to must be after --from")
    if until_ms is not None and until_ms < end_ms:
        raise _fail("--labels-until must not be before --to")
    if not out.parent.is_dir():
        raise _fail(f"--out: no directory {str(out.parent)!r}")
    settings = Settings()
    try:
        log = open_log(log_url or settings.log_url, options=settings.log_options)
    except RiskstreamError as exc:
        raise _fail(str(exc), 1) from None
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,.0f} records read"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("export", total=None)
            summary = export_parquet(
                log,
                out,
                start_ms=start_ms,
                end_ms=end_ms,
                labels_until_ms=until_ms,
                batch_rows=batch_rows,
                progress=lambda n: progress.advance(task, n),
            )
    except (RiskstreamError, OSError) as exc:
        raise _fail(f"export failed: {exc}", 1) from None
    finally:
        log.close()
    if as_json:
        print(json.dumps(_summary_json(summary, start_ms, end_ms)))
    else:
        _render(summary)


def _summary_json(summary: ExportSummary, start_ms: int, end_ms: int) -> dict[str, object]:
    return {
        "from_ms": start_ms,
        "to_ms": end_ms,
        "files": {name: str(path) for name, path in summary.files.items()},
        "rows": summary.rows,
        "records_read": summary.records_read,
        "undecodable": summary.undecodable,
    }


def _render(summary: ExportSummary) -> None:
    table = Table(title="exported")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("file")
    for name, path in summary.files.items():
        table.add_row(name, f"{summary.rows[name]:,}", str(path))
    Console().print(table)
    if summary.undecodable:
        console.print(f"{summary.undecodable:,} records did not decode and were skipped")

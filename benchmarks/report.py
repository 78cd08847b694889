"""Render benchmark figures (DESIGN.md §4 JSON lines) as one summary table.

    python benchmarks/report.py                   # the newest run of scripts/bench.sh
    python benchmarks/report.py RUN_DIR           # every *.jsonl (figures) and *.log (errors) in it
    python benchmarks/report.py a.jsonl b.jsonl   # given files; `-` reads standard input
    python benchmarks/report.py --markdown ...    # a Markdown table instead of a terminal one

Figure lines are ``{"bench", "backend", "metric", "value", "unit", "params"}``; error lines
(``{"bench", "backend", "error"}``, which benchmarks print on stderr) are listed after the
table and make the exit status 1. Anything else on a line (progress, warnings) is ignored, so
a benchmark's captured stderr can be passed as is.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(".riskstream/bench")
PARAM_WIDTH = 70
# Parameters that say what a figure measured, shown first when present.
LEADING_PARAMS = ("events", "users", "workers", "rate", "rates", "partitions", "runs")


@dataclass(frozen=True, slots=True)
class Figure:
    bench: str
    backend: str
    metric: str
    value: float
    unit: str
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True, slots=True)
class Failure:
    bench: str
    backend: str
    error: str
    source: str = ""


def _json_objects(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        text = line.strip()
        if not text.startswith("{"):
            continue
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            yield parsed


def parse(lines: Iterable[str], source: str = "") -> tuple[list[Figure], list[Failure]]:
    """The figures and failures among ``lines``; other lines are skipped."""
    figures: list[Figure] = []
    failures: list[Failure] = []
    for obj in _json_objects(lines):
        bench, backend = str(obj.get("bench", "?")), str(obj.get("backend", "?"))
        if "error" in obj:
            failures.append(Failure(bench, backend, str(obj["error"]), source))
        elif isinstance(obj.get("value"), int | float) and "metric" in obj:
            params = obj.get("params")
            figures.append(
                Figure(
                    bench=bench,
                    backend=backend,
                    metric=str(obj["metric"]),
                    value=float(obj["value"]),
                    unit=str(obj.get("unit", "")),
                    params=params if isinstance(params, dict) else {},
                    source=source,
                )
            )
    return figures, failures


def _files(paths: list[str]) -> Iterator[tuple[str, Iterable[str]]]:
    for raw in paths:
        if raw == "-":
            yield "stdin", sys.stdin
            continue
        path = Path(raw)
        candidates = (
            sorted([*path.glob("*.jsonl"), *path.glob("*.log")]) if path.is_dir() else [path]
        )
        for file in candidates:
            yield file.name, file.read_text(encoding="utf-8", errors="replace").splitlines()


def newest_run(results: Path = RESULTS_DIR) -> Path | None:
    """The newest run directory that scripts/bench.sh wrote, if any."""
    runs = sorted(p for p in results.glob("*") if p.is_dir()) if results.is_dir() else []
    return runs[-1] if runs else None


def format_value(value: float) -> str:
    """Thousands separators for big figures, three significant digits for small ones."""
    if abs(value) >= 1_000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool | int | float | str):
        return (
            f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
        )
    return None


def format_params(params: dict[str, Any], width: int = PARAM_WIDTH) -> str:
    """Scalar parameters, the telling ones first; lists and nested objects are left out."""
    ordered = [k for k in LEADING_PARAMS if k in params] + sorted(
        k for k in params if k not in LEADING_PARAMS
    )
    parts = [f"{k}={text}" for k in ordered if (text := _scalar(params[k])) is not None]
    joined = " ".join(parts)
    return joined if len(joined) <= width else joined[: width - 1] + "…"


def _rows(figures: list[Figure]) -> list[tuple[str, str, str, str, str, str]]:
    # Keep each benchmark's own order of figures; group benchmarks by first appearance.
    order: dict[str, int] = {}
    for figure in figures:
        order.setdefault(figure.bench.split(".")[0], len(order))
    ranked = sorted(enumerate(figures), key=lambda p: (order[p[1].bench.split(".")[0]], p[0]))
    return [
        (f.bench, f.backend, f.metric, format_value(f.value), f.unit, format_params(f.params))
        for _, f in ranked
    ]


HEADERS = ("bench", "backend", "metric", "value", "unit", "params")


def render_markdown(figures: list[Figure], failures: list[Failure]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += [
        "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in _rows(figures)
    ]
    if failures:
        lines += ["", "Failures:"]
        lines += [f"- `{f.bench}` ({f.backend}): {f.error}" for f in failures]
    return "\n".join(lines)


def render_table(figures: list[Figure], failures: list[Failure], console: Console) -> None:
    table = Table(title=f"riskstream benchmarks ({len(figures)} figures)")
    for header in HEADERS:
        table.add_column(
            header,
            justify="right" if header == "value" else "left",
            no_wrap=header != "params",
        )
    for row in _rows(figures):
        style = "bold" if row[2].startswith("ratio_vs_") else None
        table.add_row(*row, style=style)
    console.print(table)
    for failure in failures:
        console.print(f"[red]failed[/] {failure.bench} ({failure.backend}): {failure.error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="run directories, JSONL files or - for stdin")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    paths: list[str] = args.paths
    if not paths:
        run = newest_run()
        if run is None:
            print(f"report.py: no runs under {RESULTS_DIR}; pass files or -", file=sys.stderr)
            return 2
        paths = [str(run)]
    figures: list[Figure] = []
    failures: list[Failure] = []
    for source, lines in _files(paths):
        found, failed = parse(lines, source)
        figures += found
        failures += failed
    if args.markdown:
        print(render_markdown(figures, failures))
    else:
        render_table(figures, failures, Console(width=max(Console().width, 140)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

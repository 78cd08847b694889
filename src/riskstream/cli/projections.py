"""``riskstream projections run|rebuild|status``: the read models' projector and its tools.

* ``run`` keeps every view up to date as a member of the projector's consumer group, until
  SIGTERM/SIGINT (each batch is committed with its offsets, so a stop loses nothing), or,
  with ``--until-caught-up``, until everything logged at start is projected.
* ``rebuild [VIEW]`` rebuilds one view (or all) from the log beside the live one and swaps
  it in; it reads without a consumer group, so no projector's offsets move, and a running
  projector goes on undisturbed.
* ``status`` shows each view's definition version, whether a rebuild is under way, and how
  many records it has not folded yet.

The query store is ``--store`` or ``RISKSTREAM_QUERY_STORE`` (``sqlite:PATH``, the default
``sqlite:.riskstream/query.db``, or ``postgresql://…``). Exit codes: 0 done, 2 invalid
input, 1 the store or the log failed. ``--json`` prints one object on stdout.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from types import FrameType

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from riskstream.errors import RiskstreamError
from riskstream.log import open_log
from riskstream.services.projections import (
    DEFAULT_GROUP,
    DEFAULT_STORE_URL,
    VIEWS,
    Projector,
    UnknownViewError,
    open_store,
    rebuild,
    view_status,
)
from riskstream.settings import Settings

__all__ = ["projections_app"]

console = Console(stderr=True)

INVALID = 2

projections_app = typer.Typer(
    help="CQRS read models: run the projector, rebuild views from the log, show their status.",
    no_args_is_help=True,
)

StoreOption = typer.Option(
    DEFAULT_STORE_URL,
    "--store",
    envvar="RISKSTREAM_QUERY_STORE",
    help="Query store URL: sqlite:PATH or postgresql://user@host:port/db[?schema=NAME].",
)
LogOption = typer.Option(None, "--log", help="Event log URL (default: settings).")
GroupOption = typer.Option(DEFAULT_GROUP, help="The projector's consumer group.")
JsonOption = typer.Option(False, "--json", help="Print a machine-readable summary on stdout.")


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(Text(f"error: {message}", style="red"))
    return typer.Exit(code)


@projections_app.command("run")
def run(
    store_url: str = StoreOption,
    log_url: str | None = LogOption,
    group: str = GroupOption,
    until_caught_up: bool = typer.Option(
        False, help="Stop once everything logged at start is projected."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Keep every view up to date from the log."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        console.print(f"signal {signal.Signals(signum).name}: finishing the batch")
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    settings = Settings()
    try:
        log = open_log(log_url or settings.log_url, options=settings.log_options)
        store = open_store(store_url)
    except RiskstreamError as exc:
        raise _fail(str(exc)) from None
    projector = Projector(store, log, group_id=group)
    try:
        projector.start()
        console.print(
            f"projecting {', '.join(VIEWS)} into {store.url} as group {group}"
            + (" until caught up" if until_caught_up else "")
        )
        if until_caught_up:
            projector.catch_up()
        else:
            projector.run(stopping.is_set)
    except (RiskstreamError, TimeoutError) as exc:
        raise _fail(str(exc)) from None
    finally:
        projector.close()
        store.close()
        log.close()
    summary = {
        "records": projector.records,
        "undecodable": projector.undecodable,
        "applied": dict(projector.stats.applied),
        "duplicates": dict(projector.stats.duplicates),
    }
    if as_json:
        print(json.dumps(summary))
    console.print(f"projector stopped after {projector.records:,} records; all committed")


@projections_app.command("rebuild")
def rebuild_command(
    view: str | None = typer.Argument(
        None, help=f"The view to rebuild ({', '.join(VIEWS)}); all when left out."
    ),
    store_url: str = StoreOption,
    log_url: str | None = LogOption,
    as_json: bool = JsonOption,
) -> None:
    """Rebuild a view from the log and swap it in (live projectors are not disturbed)."""
    settings = Settings()
    try:
        log = open_log(log_url or settings.log_url, options=settings.log_options)
        store = open_store(store_url)
    except RiskstreamError as exc:
        raise _fail(str(exc)) from None
    try:
        with console.status(f"rebuilding {view or 'every view'} from {log.url}"):
            report = rebuild(store, log, None if view is None else [view])
    except UnknownViewError as exc:
        raise _fail(str(exc), INVALID) from None
    except RiskstreamError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
        log.close()
    summary = {
        "views": report.views,
        "records": report.records,
        "undecodable": report.undecodable,
        "applied": dict(report.stats.applied),
        "seconds": round(report.seconds, 3),
    }
    if as_json:
        print(json.dumps(summary))
    else:
        console.print(
            f"rebuilt {', '.join(report.views)} from {report.records:,} records "
            f"in {report.seconds:.2f}s"
        )


@projections_app.command("status")
def status_command(
    store_url: str = StoreOption,
    log_url: str | None = LogOption,
    group: str = GroupOption,
    as_json: bool = JsonOption,
) -> None:
    """Each view's version, rebuild state and lag behind the log."""
    settings = Settings()
    try:
        log = open_log(log_url or settings.log_url, options=settings.log_options)
        store = open_store(store_url)
    except RiskstreamError as exc:
        raise _fail(str(exc)) from None
    try:
        views, lag = view_status(store, log, group_id=group)
    except RiskstreamError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
        log.close()
    if as_json:
        print(
            json.dumps(
                {
                    "projector_lag": lag,
                    "views": {
                        v.view: {
                            "version": v.version,
                            "current": v.current,
                            "rebuilding": v.rebuilding,
                            "lag": v.lag,
                        }
                        for v in views
                    },
                }
            )
        )
        return
    table = Table(title=f"read models in {store.url} (projector lag {lag:,})")
    for column in ("view", "version", "current", "rebuilding", "lag"):
        table.add_column(column)
    for v in views:
        table.add_row(v.view, str(v.version), str(v.current), str(v.rebuilding), f"{v.lag:,}")
    Console().print(table)

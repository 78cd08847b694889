"""``riskstream serve``: the HTTP API under uvicorn, until SIGTERM or SIGINT.

One process serves every endpoint: the checkout decisions and event ingestion, and the
Fraud Service's MFA endpoint. The idempotency store lives in the process, so run one
``serve`` per set of transaction ids (behind a router that sends a transaction id to the
same process, when more than one).
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

import typer
import uvicorn
from rich.console import Console

from riskstream.log import open_log
from riskstream.services.api.app import create_app
from riskstream.services.api.auth import ApiKeys
from riskstream.services.api.settings import ApiSettings, TimeoutAction
from riskstream.services.engine_config import engine_from
from riskstream.services.fraud_service.config import FraudServiceConfig
from riskstream.services.fraud_service.router import mfa_router
from riskstream.services.projections.router import query_router
from riskstream.services.projections.store import DEFAULT_STORE_URL, open_store
from riskstream.settings import Settings

__all__ = ["serve"]

console = Console(stderr=True)

_TIMEOUT_ACTION = typer.Option(
    None,
    help="The answer when the decision misses the budget: allow (fail open), review or block "
    "(fail closed) (default: RISKSTREAM_API_TIMEOUT_ACTION, review).",
)


def _stopped(signum: int, _frame: FrameType | None) -> None:
    console.print(f"signal {signal.Signals(signum).name}: stopped serving")


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, min=0, max=65535, help="Port to listen on."),
    log_url: str | None = typer.Option(None, "--log", help="Event log URL (default: settings)."),
    decision_budget_ms: int | None = typer.Option(
        None,
        min=1,
        help="How long a checkout waits for its decision "
        "(default: RISKSTREAM_API_DECISION_BUDGET_MS, 250).",
    ),
    timeout_action: TimeoutAction | None = _TIMEOUT_ACTION,
    access_log: bool = typer.Option(False, help="Log every request (costly at high rates)."),
    query_store: str = typer.Option(
        DEFAULT_STORE_URL,
        "--store",
        envvar="RISKSTREAM_QUERY_STORE",
        help="The read models' store (sqlite:PATH or postgresql://...), kept by "
        "`riskstream projections run`.",
    ),
) -> None:
    """Serve the HTTP API: checkouts, events, MFA, health, metrics, OpenAPI."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings()
    if log_url:
        settings = settings.model_copy(update={"log_url": log_url})
    overrides: dict[str, object] = {}
    if decision_budget_ms is not None:
        overrides["decision_budget_ms"] = decision_budget_ms
    if timeout_action is not None:
        overrides["timeout_action"] = timeout_action
    api = ApiSettings().model_copy(update=overrides)
    if not settings.api_keys:
        console.print(
            "[yellow]no API keys configured (RISKSTREAM_API_KEYS): every call but "
            "/healthz and /metrics will be refused[/]"
        )
    log = open_log(settings.log_url, options=settings.log_options)
    try:
        keys = ApiKeys(settings.api_keys)
        mfa = mfa_router(log, keys, config=FraudServiceConfig().prefixed(api.topic_prefix))
        # The read side: queries, the audit trail and time travel, on the projections' store.
        store = open_store(query_store)
        queries = query_router(store, log, keys, engine=engine_from(settings))
        app = create_app(log, settings, routers=[mfa, queries], api_settings=api)
        console.print(
            f"serving on http://{host}:{port} (log {settings.log_url}, decision budget "
            f"{api.decision_budget_ms} ms, on timeout {api.timeout_action.value})"
        )
        # uvicorn stops gracefully on SIGTERM/SIGINT, then raises the signal again for the
        # handler it found: let that be a no-op, so the log is closed and the exit status is 0.
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop_signal, _stopped)
        uvicorn.run(
            app,
            host=host,
            port=port,
            access_log=access_log,
            log_level="info",
            timeout_graceful_shutdown=10,
        )
    finally:
        log.close()

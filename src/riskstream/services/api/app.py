"""The HTTP application: checkout decisions, event ingestion, health, metrics, OpenAPI.

:func:`create_app` composes the API's own routes with routers other services bring (the
Fraud Service's MFA endpoint, the read models' queries). Its lifespan starts, in order:
the topics it needs, the outbox (the one producer), the decision waiter's consumer (at the
end of ``risk.decisions``), the recovery of recent checkouts and decisions from the log
into the idempotency store, and then the waiter's polling — so a restarted API answers a
retry of what it produced before, and no decision slips between recovery and waiting.
Everything runs on the event loop's thread (see ``outbox`` and ``waiter`` for why).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from riskstream.log.port import EventLog
from riskstream.services.api.auth import ApiKeys
from riskstream.services.api.checkouts import CheckoutDesk, checkout_router, wall_clock_ms
from riskstream.services.api.idempotency import IdempotencyStore
from riskstream.services.api.ingest import events_router
from riskstream.services.api.metrics import ApiMetrics
from riskstream.services.api.openapi import install_openapi
from riskstream.services.api.outbox import Outbox
from riskstream.services.api.recovery import recover
from riskstream.services.api.settings import ApiSettings
from riskstream.services.api.topics import ApiTopics
from riskstream.services.api.waiter import DecisionWaiter
from riskstream.settings import Settings

__all__ = ["ApiRuntime", "create_app"]

logger = logging.getLogger(__name__)

PUBLIC_PATHS: Final = frozenset({"/healthz", "/metrics"})


class ApiRuntime:
    """The moving parts behind the routes, started and stopped by the app's lifespan."""

    def __init__(
        self,
        log: EventLog,
        settings: Settings,
        api: ApiSettings,
        *,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.log = log
        self.settings = settings
        self.api = api
        self.clock = clock
        self.topics = ApiTopics(api.topic_prefix)
        self.metrics = ApiMetrics()
        self.outbox = Outbox(log)
        self.waiter = DecisionWaiter(
            log, self.topics.decisions, max_watched=api.idempotency_entries
        )
        self.store = IdempotencyStore(api.idempotency_entries, on_evict=self.waiter.unwatch)
        self.desk = CheckoutDesk(
            store=self.store,
            waiter=self.waiter,
            outbox=self.outbox,
            topics=self.topics,
            metrics=self.metrics,
            budget_ms=api.decision_budget_ms,
            timeout_action=api.timeout_action,
            clock=clock,
        )
        self.ready = False
        metrics = self.metrics
        metrics.gauge(
            "riskstream_api_waiting_decisions",
            "Transactions whose decision is awaited (in flight or overdue).",
            lambda: self.waiter.watching,
        )
        metrics.gauge(
            "riskstream_api_idempotency_entries",
            "Transactions remembered for retries.",
            lambda: len(self.store),
        )
        metrics.gauge(
            "riskstream_api_decisions_read",
            "Decisions the waiter has read (any transaction).",
            lambda: self.waiter.seen,
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.topics.ensure, self.log, self.settings.partitions)
        self.outbox.start(loop)
        ends = await asyncio.to_thread(self.waiter.assign)
        found = await asyncio.to_thread(
            recover,
            self.log,
            checkouts_topic=self.topics.checkouts,
            decisions_topic=self.topics.decisions,
            capacity=self.api.idempotency_entries,
            decision_ends=ends,
        )
        undecided = self.desk.remember(found.checkouts, found.decisions)
        self.waiter.start(loop)
        self.ready = True
        logger.info(
            "checkout API ready: %d checkouts and %d decisions recovered (%d undecided, "
            "%d unreadable records); decisions from %s",
            len(found.checkouts),
            len(found.decisions),
            undecided,
            found.skipped,
            self.topics.decisions,
        )

    async def stop(self) -> None:
        self.ready = False
        self.waiter.close()
        self.outbox.close()

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "unavailable",
            "ready": self.ready,
            "outbox": self.outbox.running,
            "decision_waiter": self.waiter.running,
            "waiting_decisions": self.waiter.watching,
            "log": self.log.url,
        }

    @property
    def healthy(self) -> bool:
        return self.ready and self.outbox.running and self.waiter.running


def _operations_router(runtime: ApiRuntime) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness and readiness (no key needed)")
    async def healthz() -> JSONResponse:
        """``200`` when the producer and the decision waiter run, else ``503``."""
        return JSONResponse(runtime.health(), status_code=200 if runtime.healthy else 503)

    @router.get(
        "/metrics",
        summary="Prometheus metrics (no key needed)",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    async def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def create_app(
    log: EventLog,
    settings: Settings,
    *,
    routers: Sequence[APIRouter] = (),
    api_settings: ApiSettings | None = None,
    clock: Callable[[], int] = wall_clock_ms,
) -> FastAPI:
    """The riskstream HTTP API on ``log``.

    ``settings`` gives the API keys and partition count, ``api_settings`` (default: from the
    ``RISKSTREAM_API_*`` environment) the decision budget, the timeout policy and the rest.
    ``routers`` are included as they are (their lifespans run with the app's). The caller
    owns ``log`` and closes it after the app stops.
    """
    api = api_settings if api_settings is not None else ApiSettings()
    runtime = ApiRuntime(log, settings, api, clock=clock)
    keys = ApiKeys(settings.api_keys)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="riskstream",
        version="1",
        description="Real-time fraud decisions for checkouts, event ingestion, and the "
        "services around the engine. Every endpoint but /healthz and /metrics needs an API "
        "key with the endpoint's scope.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.include_router(_operations_router(runtime))
    app.include_router(checkout_router(runtime.desk, keys, max_body_bytes=api.max_body_bytes))
    app.include_router(
        events_router(
            runtime.outbox,
            runtime.topics,
            keys,
            runtime.metrics,
            max_events=api.max_batch_events,
            max_body_bytes=api.max_body_bytes,
            clock=clock,
        )
    )
    for router in routers:
        app.include_router(router)
    install_openapi(app, public=PUBLIC_PATHS)
    return app

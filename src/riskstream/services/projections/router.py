"""The query API: read models and the audit trail over HTTP (scope ``read``).

Read models (answered from the query store, fast):

* ``GET /v1/users/{user_id}/summary`` — the user's risk profile summary
* ``GET /v1/users/{user_id}/transactions`` — their newest transactions with status
* ``GET /v1/decisions/recent`` — newest decisions (``limit``, ``action``, ``user_id``, ``before``)
* ``GET /v1/alerts/recent`` — newest alerts
* ``GET /v1/rules/stats`` — per-rule hits and precision (``mode=live|shadow``)

Audit trail (answered from the log, the source of truth; see :mod:`riskstream.services.audit`):

* ``GET /v1/users/{user_id}/history`` — every event and decision of the user, in order
* ``GET /v1/users/{user_id}/profile?as_of=…`` — the profile as of a past moment
* ``GET /v1/transactions/{transaction_id}`` — its status, the decision record and what followed

Times in query parameters are epoch milliseconds or ISO 8601 (UTC unless an offset is given).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.policy import PolicySource
from riskstream.log.port import EventLog
from riskstream.services.api.auth import ApiKeys, Scope, require
from riskstream.services.audit import (
    DEFAULT_MAX_SCAN,
    HistoryLimitError,
    ProbeCheckout,
    profile_as_of,
    transaction_story,
    user_history,
)
from riskstream.services.projections.errors import QueryStoreError
from riskstream.services.projections.queries import ReadModels
from riskstream.services.projections.store import QueryStore
from riskstream.services.projections.topics import DEFAULT_TOPICS, TopicMap

__all__ = ["parse_time", "query_router"]

_encoder = msgspec.json.Encoder()
T = TypeVar("T")
Limit = Annotated[int, Query(ge=1, le=1_000, description="How many rows, newest first.")]


def parse_time(value: str, name: str) -> int:
    """Epoch milliseconds from ``value`` (milliseconds or ISO 8601); 422 naming ``name``."""
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{name}: expected epoch milliseconds or an ISO 8601 time, got {value!r}",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _json(value: Any) -> Response:
    return Response(_encoder.encode(value), media_type="application/json")


def _guard(call: Callable[[], T]) -> T:
    """Store and log trouble as HTTP answers (a missing store is 503, too much to read 422)."""
    try:
        return call()
    except HistoryLimitError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except QueryStoreError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"query store unavailable: {exc}"
        ) from None


def query_router(
    store: QueryStore,
    log: EventLog,
    keys: ApiKeys,
    *,
    engine: FeatureEngine | None = None,
    policy: PolicySource | None = None,
    topics: TopicMap = DEFAULT_TOPICS,
    max_scan: int = DEFAULT_MAX_SCAN,
) -> APIRouter:
    """The routes above, each requiring a key with the ``read`` scope. ``engine`` and
    ``policy`` are what time travel recomputes profiles with (default: the shipped ones)."""
    models = ReadModels(store)
    engine = engine or FeatureEngine()
    router = APIRouter(
        prefix="/v1",
        tags=["read models and audit"],
        dependencies=[Depends(require(keys, Scope.READ))],
    )

    @router.get("/users/{user_id}/summary", summary="A user's risk profile summary")
    def user_summary(user_id: str) -> Response:
        found = _guard(lambda: models.user_summary(user_id))
        if found is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no user {user_id!r} in the read models"
            )
        return _json(found)

    @router.get("/users/{user_id}/transactions", summary="A user's newest transactions")
    def user_transactions(user_id: str, limit: Limit = 50) -> Response:
        return _json(_guard(lambda: models.user_transactions(user_id, limit=limit)))

    @router.get("/decisions/recent", summary="The newest decisions")
    def recent_decisions(
        limit: Limit = 50,
        action: Annotated[str | None, Query(pattern="^(allow|review|challenge|block)$")] = None,
        user_id: str | None = None,
        before: Annotated[
            str | None, Query(description="Only decisions made before this time.")
        ] = None,
    ) -> Response:
        cut = None if before is None else parse_time(before, "before")
        return _json(
            _guard(
                lambda: models.recent_decisions(
                    limit=limit, action=action, user_id=user_id, before=cut
                )
            )
        )

    @router.get("/alerts/recent", summary="The newest alerts")
    def recent_alerts(
        limit: Limit = 50, user_id: str | None = None, before: str | None = None
    ) -> Response:
        cut = None if before is None else parse_time(before, "before")
        return _json(_guard(lambda: models.recent_alerts(limit=limit, user_id=user_id, before=cut)))

    @router.get("/rules/stats", summary="Per-rule hit counts and precision")
    def rule_stats(
        mode: Annotated[str | None, Query(pattern="^(live|shadow)$")] = None,
    ) -> Response:
        return _json(_guard(lambda: models.rule_stats(mode=mode)))

    @router.get("/users/{user_id}/history", summary="Every event and decision of a user, in order")
    def history(
        user_id: str,
        since: Annotated[str | None, Query(description="From this time (ms or ISO 8601).")] = None,
        until: Annotated[str | None, Query(description="Up to this time (ms or ISO).")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
    ) -> Response:
        start = None if since is None else parse_time(since, "since")
        end = None if until is None else parse_time(until, "until")
        return _json(
            _guard(
                lambda: user_history(
                    log,
                    user_id,
                    since=start,
                    until=end,
                    limit=limit,
                    topics=topics,
                    max_scan=max_scan,
                )
            )
        )

    @router.get("/users/{user_id}/profile", summary="A user's profile as of a past moment")
    def profile(
        user_id: str,
        as_of: Annotated[
            str,
            Query(description="The moment (ms or ISO 8601); events at it are included."),
        ],
        entities: Annotated[
            bool,
            Query(description="Also replay every user who touched the probe's entities."),
        ] = False,
        amount: Annotated[float | None, Query(description="The probe checkout's amount.")] = None,
        merchant_id: str | None = None,
        device_id: str | None = None,
        country: str | None = None,
    ) -> Response:
        moment = parse_time(as_of, "as_of")
        probe = ProbeCheckout(
            amount=amount, merchant_id=merchant_id, device_id=device_id, country=country
        )
        found = _guard(
            lambda: profile_as_of(
                log,
                user_id,
                moment,
                probe=probe,
                entities=entities,
                engine=engine,
                policy=policy,
                topics=topics,
                max_scan=max_scan,
            )
        )
        if not found.known:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no events of user {user_id!r} at or before {moment}"
            )
        return _json(found)

    @router.get(
        "/transactions/{transaction_id}",
        summary="A transaction: its decision record and everything after it",
    )
    def transaction(
        transaction_id: str,
        user_id: Annotated[
            str | None,
            Query(description="Its user, when the read models have not seen it yet."),
        ] = None,
    ) -> Response:
        row = _guard(lambda: models.transaction(transaction_id))
        owner = row.user_id if row is not None else user_id
        if owner is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no transaction {transaction_id!r} in the read models"
            )
        story = _guard(
            lambda: transaction_story(
                log, owner, transaction_id, status=row, topics=topics, max_scan=max_scan
            )
        )
        if story is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no transaction {transaction_id!r} in the log"
            )
        return _json(story)

    return router

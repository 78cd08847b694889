"""``POST /v1/events``: batched ingestion of everything users do but check out.

The body is a JSON array of tagged events (``{"type": "login", ...}``), each validated with
the event codecs. **All or nothing**: if any item is invalid the answer is ``422`` listing
every problem (its index, the field and why) and nothing is produced; a valid batch is
produced and answered ``202`` once the log acknowledged every record. Why not a partial
``207``: the events of a batch usually tell one story (a session's login, clicks, promo),
and writing part of it would feed the engine a story with holes; a client fixes the batch
and sends it again, with nothing to reconcile. Should the log refuse records of a valid
batch, the answer is ``503`` naming them; resending the batch may repeat the others, which
carry their ``event_id`` to be recognised by.

Checkouts go through ``POST /v1/checkouts`` (they need a decision, idempotently), MFA
outcomes through the Fraud Service; both are refused here.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Final

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import Response

from riskstream.errors import EventDecodeError
from riskstream.events import EVENT_TYPES, Checkout, Event, MfaCompleted
from riskstream.events.codec import EventCodec, codec_for
from riskstream.services.api.auth import ApiKeys, Principal, Scope, require
from riskstream.services.api.metrics import ApiMetrics
from riskstream.services.api.models import check_event_time
from riskstream.services.api.outbox import Outbox, Outgoing
from riskstream.services.api.problems import (
    Problem,
    field_problem,
    from_decode_error,
    path_problem,
    problem_response,
)
from riskstream.services.api.topics import ApiTopics

__all__ = ["INGESTED_TYPES", "EventsAccepted", "events_router", "parse_batch"]

#: Event kinds this endpoint takes, and where the others go.
REFUSED: Final[dict[type[Event], str]] = {
    Checkout: "checkouts go through POST /v1/checkouts",
    MfaCompleted: "MFA outcomes come from the Fraud Service (POST /v1/mfa/{challenge_id})",
}
INGESTED_TYPES: Final = tuple(t for t in EVENT_TYPES if t not in REFUSED)


class EventsAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """A batch written to the log."""

    accepted: int
    by_type: dict[str, int]


_any_event: Final[EventCodec[Event]] = codec_for("*")  # every activity kind, by tag
_batch = msgspec.json.Decoder(list[msgspec.Raw])
_encoder = msgspec.json.Encoder()


def _tag(event: Event) -> str:
    return str(type(event).__struct_config__.tag)


def parse_batch(body: bytes, *, max_events: int, now_ms: int) -> tuple[list[Event], list[Problem]]:
    """The batch's events, or every problem with it."""
    try:
        items = _batch.decode(body)
    except msgspec.DecodeError as exc:
        return [], [from_decode_error(exc)]
    if not items:
        return [], [field_problem([], "the batch is empty", kind="too_short")]
    if len(items) > max_events:
        message = f"at most {max_events} events per batch, got {len(items)}"
        return [], [field_problem([], message, kind="too_long")]
    events: list[Event] = []
    problems: list[Problem] = []
    for index, raw in enumerate(items):
        try:
            event = _any_event.decode(bytes(raw))
        except EventDecodeError as exc:
            problems.append(path_problem(exc.path, exc.reason, index=index))
            continue
        refused = REFUSED.get(type(event))
        if refused is not None:
            problems.append(field_problem(["type"], refused, index=index))
            continue
        late = check_event_time(event.event_time, now_ms)
        if late is not None:
            problems.append(field_problem(["event_time"], late, index=index))
            continue
        events.append(event)
    return events, problems


def events_router(
    outbox: Outbox,
    topics: ApiTopics,
    keys: ApiKeys,
    metrics: ApiMetrics,
    *,
    max_events: int,
    max_body_bytes: int,
    clock: Callable[[], int],
) -> APIRouter:
    """The ``POST /v1/events`` route."""
    router = APIRouter(tags=["events"])
    allowed = require(keys, Scope.EVENTS)

    async def caller(request: Request) -> Principal:
        return allowed(request)

    @router.post(
        "/v1/events",
        summary="Ingest a batch of events",
        dependencies=[Depends(caller)],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=None,
        responses={
            202: {
                "description": "Every event written to the log",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/EventsAccepted"}}
                },
            },
            413: {"description": "Body too large"},
            422: {
                "description": "Invalid batch (nothing written): each problem with its index",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Problems"}}
                },
            },
            503: {"description": "The log refused some events (named by index)"},
        },
        openapi_extra={
            "x-required-scope": Scope.EVENTS.value,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": max_events,
                            "items": {"$ref": "#/components/schemas/IngestedEvent"},
                        }
                    }
                },
            },
        },
    )
    async def post_events(request: Request) -> Response:
        """Validate every event; write them all (keyed by user id, each to its topic) or,
        if any is invalid, none."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            metrics.rejected.labels("events", "413").inc()
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "body too large")
        body = await request.body()
        if len(body) > max_body_bytes:
            metrics.rejected.labels("events", "413").inc()
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "body too large")
        events, problems = parse_batch(body, max_events=max_events, now_ms=clock())
        if problems:
            metrics.rejected.labels("events", "422").inc()
            return problem_response(problems)
        records = [
            Outgoing(
                topics.event(event.topic),
                codec_for(event.topic).encode(event),
                event.key,
                event.event_time,
            )
            for event in events
        ]
        done: asyncio.Future[list[tuple[int, str]]] = asyncio.get_running_loop().create_future()
        try:
            outbox.send(records, done.set_result)
        except RuntimeError as exc:  # shutting down
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
        errors = await done
        if errors:
            metrics.produce_failures.labels("events").inc(len(errors))
            failed = [{"index": index, "error": error} for index, error in errors]
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                {"message": "the log refused some events", "failed": failed},
                headers={"Retry-After": "1"},
            )
        by_type = Counter(_tag(event) for event in events)
        for kind, count in by_type.items():
            metrics.events.labels(kind).inc(count)
        accepted = EventsAccepted(accepted=len(events), by_type=dict(by_type))
        return Response(
            _encoder.encode(accepted),
            status_code=status.HTTP_202_ACCEPTED,
            media_type="application/json",
        )

    return router

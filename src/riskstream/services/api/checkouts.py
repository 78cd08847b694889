"""``POST /v1/checkouts``: the checkout in, its verdict out, within the decision budget.

The handler validates the body, remembers the transaction id (a duplicate arriving now
joins this request instead of producing again), registers with the decision waiter, hands
the checkout to the outbox and awaits the decision for at most the budget. A decision in
time is answered as the engine gave it (with the challenge id of a ``challenge``, derived
by :func:`~riskstream.services.fraud_service.challenge.challenge_id_for`). Past the budget the
configured fail-open or fail-closed action is answered, counted, and recorded on
``risk.api.timeouts``; the transaction stays watched, so its late decision still lands in
the idempotency store.

Retries (same transaction id, same contents) never produce again. They get the answer
already given — except that an answer of the timeout policy is provisional: once the
engine's decision is known, a retry gets that decision (the Fraud Service acts on it
anyway), and while it is not, the retry waits up to the budget for it before repeating the
policy's answer. Other contents under a known transaction id are a ``409``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Final, cast

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import Response

from riskstream.events.codec import codec_for
from riskstream.events.schemas import Checkout
from riskstream.fraud.decision import Decision
from riskstream.services.api.auth import ApiKeys, Principal, Scope, require
from riskstream.services.api.idempotency import Entry, IdempotencyStore, fingerprint
from riskstream.services.api.metrics import ApiMetrics
from riskstream.services.api.models import (
    ENGINE,
    TIMEOUT_POLICY,
    CheckoutAnswer,
    CheckoutRequest,
    ModelOpinion,
    Reason,
    checkout_event,
    checkout_problems,
)
from riskstream.services.api.outbox import Outbox, Outgoing
from riskstream.services.api.problems import field_problem, from_decode_error, problem_response
from riskstream.services.api.settings import TimeoutAction
from riskstream.services.api.timeouts import encode_timeout, timeout_event
from riskstream.services.api.topics import ApiTopics
from riskstream.services.api.waiter import DecisionWaiter
from riskstream.services.fraud_service.challenge import challenge_id_for

__all__ = [
    "CheckoutDesk",
    "ProduceFailedError",
    "checkout_router",
    "engine_answer",
    "wall_clock_ms",
]

logger = logging.getLogger(__name__)

REPLAYED_HEADER: Final = "Idempotent-Replayed"
_WARN_EVERY_S: Final = 10.0

Clock = Callable[[], int]
"""Epoch milliseconds."""


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class ProduceFailedError(Exception):
    """The checkout was not acknowledged by the log."""


class _AbandonedError(Exception):
    """The first request for a transaction went away before its answer."""


def engine_answer(decision: Decision, latency_ms: float) -> CheckoutAnswer:
    """The engine's decision as the API answers it."""
    action = decision.action
    model = decision.model
    return CheckoutAnswer(
        transaction_id=decision.transaction_id,
        action=cast(Any, action),
        score=decision.score,
        reasons=[
            Reason(
                rule=reason.rule,
                version=reason.version,
                score=reason.score,
                action=reason.action,
                features=reason.features,
            )
            for reason in decision.reasons
        ],
        challenge_id=challenge_id_for(decision.transaction_id) if action == "challenge" else None,
        decided_by=ENGINE,
        decision_latency_ms=round(latency_ms, 3),
        model=None
        if model is None
        else ModelOpinion(version=model.version, probability=model.probability),
    )


class CheckoutDesk:
    """Answers checkouts; owns the idempotency logic (see the module docstring)."""

    def __init__(
        self,
        *,
        store: IdempotencyStore,
        waiter: DecisionWaiter,
        outbox: Outbox,
        topics: ApiTopics,
        metrics: ApiMetrics,
        budget_ms: int,
        timeout_action: TimeoutAction,
        clock: Clock = wall_clock_ms,
    ) -> None:
        self.store = store
        self.waiter = waiter
        self.outbox = outbox
        self.topics = topics
        self.metrics = metrics
        self.budget_ms = budget_ms
        self.timeout_action = timeout_action
        self.clock = clock
        self._encode = codec_for(Checkout.topic).encode
        self._unwarned = 0
        self._warned_at = 0.0

    # -- entry point ----------------------------------------------------------------------------

    async def answer(self, checkout: Checkout, started: float) -> tuple[CheckoutAnswer, bool]:
        """The verdict on ``checkout`` and whether it was a replay (nothing produced).

        ``started`` is the request's ``time.perf_counter()``. Raises
        :class:`ProduceFailedError` when the log refused the checkout, ``HTTPException``
        409 for a transaction id reused with other contents.
        """
        transaction_id = checkout.transaction_id
        digest = fingerprint(checkout)
        entry = self.store.get(transaction_id)
        if entry is not None:
            if entry.fingerprint is not None and entry.fingerprint != digest:
                self.metrics.conflicts.inc()
                raise HTTPException(
                    status.HTTP_409_CONFLICT,
                    f"transaction_id {transaction_id!r} was already used for another checkout",
                )
            self.metrics.replays.inc()
            return await self._replay(transaction_id, entry, started), True
        return await self._first(checkout, digest, started), False

    # -- the first request for a transaction -----------------------------------------------------

    async def _first(self, checkout: Checkout, digest: bytes, started: float) -> CheckoutAnswer:
        transaction_id = checkout.transaction_id
        answered: asyncio.Future[CheckoutAnswer] = asyncio.get_running_loop().create_future()
        entry = self.store.put(transaction_id, Entry(checkout.user_id, digest, answered=answered))
        decision = self.waiter.watch(transaction_id)  # before producing: nothing can be missed
        try:
            record = Outgoing(
                self.checkouts_topic, self._encode(checkout), checkout.key, checkout.event_time
            )
            try:
                self.outbox.send([record], partial(self._produced, transaction_id, decision))
            except RuntimeError as exc:  # shutting down
                raise ProduceFailedError(str(exc)) from exc
            answer = await self._decide(checkout.user_id, transaction_id, decision, started)
        except BaseException as exc:
            entry.answered = None
            if isinstance(exc, ProduceFailedError):
                if self.store.get(transaction_id) is entry:
                    self.store.discard(transaction_id)  # not on the log: a retry may produce it
                self.waiter.unwatch(transaction_id)
                answered.set_exception(exc)
            else:  # cancelled: duplicates wait for the decision themselves
                answered.set_exception(_AbandonedError())
                self._follow(transaction_id, decision, started)
            answered.exception()  # retrieved: duplicates may not be there to see it
            raise
        entry.answer = answer
        entry.answered = None
        answered.set_result(answer)
        return answer

    @property
    def checkouts_topic(self) -> str:
        return self.topics.checkouts

    def _produced(
        self, transaction_id: str, decision: asyncio.Future[Decision], errors: list[tuple[int, str]]
    ) -> None:
        if not errors:
            return
        self.metrics.produce_failures.labels(self.checkouts_topic).inc()
        reason = errors[0][1]
        logger.error("checkout %s was not written to the log: %s", transaction_id, reason)
        if not decision.done():
            decision.set_exception(ProduceFailedError(reason))
            decision.exception()  # retrieved here; the handler re-reads it
        self.waiter.unwatch(transaction_id)
        entry = self.store.get(transaction_id)
        if entry is not None and entry.answer is not None:
            self.store.discard(transaction_id)  # answered by policy, yet never logged

    async def _decide(
        self,
        user_id: str,
        transaction_id: str,
        decision: asyncio.Future[Decision],
        started: float,
        *,
        record_timeout: bool = True,
    ) -> CheckoutAnswer:
        """The engine's answer if it comes within the budget, else the policy's."""
        if not decision.done():
            await asyncio.wait((decision,), timeout=self.budget_ms / 1000)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if decision.done() and not decision.cancelled():
            answer = engine_answer(decision.result(), elapsed_ms)  # raises ProduceFailedError
        else:
            answer = self._on_timeout(user_id, transaction_id, elapsed_ms, record=record_timeout)
            self._follow(transaction_id, decision, started)
        self.metrics.checkouts.labels(answer.action, answer.decided_by).inc()
        self.metrics.decision_seconds.observe(elapsed_ms / 1000)
        return answer

    def _on_timeout(
        self, user_id: str, transaction_id: str, waited_ms: float, *, record: bool
    ) -> CheckoutAnswer:
        action = self.timeout_action
        self.metrics.timeouts.inc()
        if record:
            event = timeout_event(
                transaction_id=transaction_id,
                user_id=user_id,
                action=action.value,
                policy=action.policy,
                budget_ms=self.budget_ms,
                waited_ms=waited_ms,
                now_ms=self.clock(),
            )
            outgoing = Outgoing(
                self.topics.timeouts, encode_timeout(event), event.key, event.event_time
            )
            try:
                self.outbox.send([outgoing], self._timeout_recorded)
            except RuntimeError as exc:  # shutting down: the answer stands, unrecorded
                self._timeout_recorded([(0, str(exc))])
            self._warn(transaction_id)
        return CheckoutAnswer(
            transaction_id=transaction_id,
            action=cast(Any, action.value),
            score=None,
            reasons=[],
            challenge_id=None,
            decided_by=TIMEOUT_POLICY,
            decision_latency_ms=round(waited_ms, 3),
        )

    def _timeout_recorded(self, errors: list[tuple[int, str]]) -> None:
        if errors:
            self.metrics.produce_failures.labels(self.topics.timeouts).inc()
            logger.error("a timeout record was not written to the log: %s", errors[0][1])

    def _warn(self, transaction_id: str) -> None:
        # One line per burst, not one per checkout: a stopped engine would flood the log.
        self._unwarned += 1
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:
            logger.warning(
                "%d checkout(s) answered by the %s timeout policy (%s) since the last report, "
                "latest %s: no decision within %d ms",
                self._unwarned,
                self.timeout_action.policy,
                self.timeout_action.value,
                transaction_id,
                self.budget_ms,
            )
            self._unwarned = 0
            self._warned_at = now

    def _follow(
        self, transaction_id: str, decision: asyncio.Future[Decision], started: float | None
    ) -> None:
        """When the decision comes after all, it becomes the answer for retries (with the
        time since ``started``, or the engine's own latency for a recovered checkout)."""

        def arrived(future: asyncio.Future[Decision]) -> None:
            entry = self.store.get(transaction_id)
            if entry is None or future.cancelled() or future.exception() is not None:
                return
            decided = future.result()
            if started is None:
                latency_ms = float(decided.latency_ms)
            else:
                latency_ms = (time.perf_counter() - started) * 1000
            entry.answer = engine_answer(decided, latency_ms)

        decision.add_done_callback(arrived)

    def remember(self, checkouts: list[Checkout], decisions: list[Decision]) -> int:
        """Take in what the log says was produced and decided before this process started;
        returns how many checkouts still await their decision (they are watched)."""
        store = self.store
        for checkout in checkouts:
            store.put(checkout.transaction_id, Entry(checkout.user_id, fingerprint(checkout)))
        for decided in decisions:
            entry = store.get(decided.transaction_id)
            if entry is None:
                entry = store.put(decided.transaction_id, Entry(decided.user_id, None))
            entry.answer = engine_answer(decided, decided.latency_ms)
        undecided = [
            c.transaction_id
            for c in checkouts
            if (e := store.get(c.transaction_id)) is not None and e.answer is None
        ]
        for transaction_id in undecided:
            self._follow(transaction_id, self.waiter.watch(transaction_id), None)
        return len(undecided)

    # -- retries ---------------------------------------------------------------------------------

    async def _replay(self, transaction_id: str, entry: Entry, started: float) -> CheckoutAnswer:
        if entry.answer is None and entry.answered is not None:
            with contextlib.suppress(_AbandonedError):
                await asyncio.shield(entry.answered)  # the first request is still waiting
        answer = entry.answer
        if answer is not None and answer.decided_by == ENGINE:
            return answer
        # Produced (by this process or before a restart), but no decision known yet.
        decision = self.waiter.watched(transaction_id)
        if decision is None:
            decision = self.waiter.watch(transaction_id)
        fresh = await self._decide(
            entry.user_id, transaction_id, decision, started, record_timeout=answer is None
        )
        if fresh.decided_by == ENGINE or answer is None:
            entry.answer = fresh
            return fresh
        return answer  # still undecided: the policy's answer, as given the first time


_request_decoder = msgspec.json.Decoder(CheckoutRequest)
_answer_encoder = msgspec.json.Encoder()


def checkout_router(desk: CheckoutDesk, keys: ApiKeys, *, max_body_bytes: int) -> APIRouter:
    """The ``POST /v1/checkouts`` route."""
    router = APIRouter(tags=["checkouts"])
    allowed = require(keys, Scope.CHECKOUT)

    async def caller(request: Request) -> Principal:
        return allowed(request)  # a key check is cheap: no thread-pool hop for it

    @router.post(
        "/v1/checkouts",
        summary="Decide a checkout",
        dependencies=[Depends(caller)],
        response_model=None,
        responses={
            200: {
                "description": "The verdict (engine or timeout policy)",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/CheckoutAnswer"}}
                },
            },
            409: {"description": "The transaction id was used for another checkout"},
            413: {"description": "Body too large"},
            422: {
                "description": "Invalid body: every problem, each naming its field",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Problems"}}
                },
            },
            503: {"description": "The checkout could not be written to the log"},
        },
        openapi_extra={
            "x-required-scope": Scope.CHECKOUT.value,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/CheckoutRequest"}}
                },
            },
        },
    )
    async def post_checkout(request: Request) -> Response:
        """Validate the checkout, write it to the log and answer its decision within the
        budget; idempotent by ``transaction_id`` (a retry never produces a second checkout).
        """
        started = time.perf_counter()
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            desk.metrics.rejected.labels("checkouts", "413").inc()
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "body too large")
        body = await request.body()
        if len(body) > max_body_bytes:
            desk.metrics.rejected.labels("checkouts", "413").inc()
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "body too large")
        try:
            parsed = _request_decoder.decode(body)
        except msgspec.DecodeError as exc:
            desk.metrics.rejected.labels("checkouts", "422").inc()
            return problem_response([from_decode_error(exc)])
        now_ms = desk.clock()
        problems = checkout_problems(parsed, now_ms)
        if problems:
            desk.metrics.rejected.labels("checkouts", "422").inc()
            return problem_response([field_problem([name], msg) for name, msg in problems])
        try:
            answer, replayed = await desk.answer(checkout_event(parsed, now_ms), started)
        except ProduceFailedError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"the checkout could not be written to the log: {exc}",
                headers={"Retry-After": "1"},
            ) from None
        headers = {REPLAYED_HEADER: "true"} if replayed else None
        return Response(
            _answer_encoder.encode(answer), media_type="application/json", headers=headers
        )

    return router

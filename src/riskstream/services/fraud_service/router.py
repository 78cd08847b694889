"""``POST /v1/mfa/{challenge_id}``: the result of an MFA challenge, from the MFA provider.

::

    POST /v1/mfa/mfa-1f3a9c0d5e7b2a64      (scope: mfa)
    {"passed": true}                        ("method" optional, default "otp")

    202 {"challenge_id": ..., "transaction_id": ..., "status": "accepted"}
    404 no such challenge was issued · 409 answered already, expired, or its transaction
    closed · 503 the log did not take the answer

202, not 200: the answer is on the log; the Fraud Service releases or cancels the
transaction when it reads it (``risk.transactions`` and the read side tell which).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.concurrency import run_in_threadpool

from riskstream.errors import LogError
from riskstream.log.port import EventLog
from riskstream.services.api.auth import ApiKeys, Scope, require
from riskstream.services.fraud_service.config import FraudServiceConfig
from riskstream.services.fraud_service.errors import ChallengeClosedError, UnknownChallengeError
from riskstream.services.fraud_service.mfa import MfaSubmitter

__all__ = ["MfaAccepted", "MfaAnswer", "mfa_router"]


class MfaAnswer(BaseModel):
    """The body: whether the user passed the challenge, and how they answered it."""

    model_config = ConfigDict(extra="forbid")

    passed: StrictBool
    method: str = Field("otp", min_length=1, max_length=32)


class MfaAccepted(BaseModel):
    challenge_id: str
    transaction_id: str
    status: Literal["accepted"] = "accepted"


class _Error(BaseModel):
    detail: str


class _Submitters:
    """The router's submitter, started with the app (or at the first request) and closed
    with it."""

    def __init__(self, make: Callable[[], MfaSubmitter]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self.current: MfaSubmitter | None = None

    def get(self) -> MfaSubmitter:
        with self._lock:
            if self.current is None:
                self.current = self._make()
            return self.current

    def close(self) -> None:
        with self._lock:
            submitter, self.current = self.current, None
        if submitter is not None:
            submitter.close()


def mfa_router(
    log: EventLog,
    keys: ApiKeys,
    *,
    config: FraudServiceConfig | None = None,
    clock: Callable[[], int] | None = None,
) -> APIRouter:
    """The MFA endpoint, to include in the API app (its lifespan starts and stops the
    follower of the issued challenges)."""
    submitters = _Submitters(lambda: MfaSubmitter(log, config, clock=clock))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        submitter = await run_in_threadpool(submitters.get)
        await run_in_threadpool(submitter.book.sync, submitter.lookup_timeout)
        try:
            yield
        finally:
            await run_in_threadpool(submitters.close)

    router = APIRouter(tags=["mfa"], lifespan=lifespan)
    errors: dict[int | str, dict[str, Any]] = {
        404: {"model": _Error, "description": "No such challenge was issued."},
        409: {"model": _Error, "description": "Answered already, expired, or closed."},
        503: {"model": _Error, "description": "The answer could not be written."},
    }

    @router.post(
        "/v1/mfa/{challenge_id}",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=MfaAccepted,
        responses=errors,
        summary="Submit the result of an MFA challenge",
        dependencies=[Depends(require(keys, Scope.MFA))],
    )
    def submit(
        challenge_id: Annotated[str, Path(min_length=1, max_length=64)], answer: MfaAnswer
    ) -> MfaAccepted:
        try:
            accepted = submitters.get().submit(challenge_id, answer.passed, method=answer.method)
        except UnknownChallengeError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        except ChallengeClosedError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        except LogError as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
        return MfaAccepted(challenge_id=challenge_id, transaction_id=accepted.transaction_id)

    return router

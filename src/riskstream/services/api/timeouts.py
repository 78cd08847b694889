"""The record of a checkout answered by the timeout policy, on ``risk.api.timeouts``.

Why a topic and not only a log line: the log is the system of record. A fail-open answer
let a sale through without the engine's verdict, a fail-closed one held it; either is a
decision about the transaction that the read models and the audit trail must be able to
show beside the engine's own (late) decision, and that a person can count and reconcile.
Process logs rotate away and cannot be queried next to the decisions. The record is keyed
by user id like everything about a user, and its ``event_id`` derives from the transaction
id, so a retry that times out again can be recognised as the same fact.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from riskstream.events import Event
from riskstream.services.api.topics import TIMEOUTS_TOPIC

__all__ = ["CheckoutTimedOut", "decode_timeout", "encode_timeout", "timeout_event"]


class CheckoutTimedOut(Event, frozen=True, kw_only=True, tag="checkout_timed_out"):
    """The decision missed the API's budget; the checkout got the policy's action."""

    topic: ClassVar[str] = TIMEOUTS_TOPIC

    transaction_id: str
    action: str  # what the API answered: allow | review | block
    policy: str  # fail-open | fail-closed
    budget_ms: int
    waited_ms: float


def timeout_event(
    *,
    transaction_id: str,
    user_id: str,
    action: str,
    policy: str,
    budget_ms: int,
    waited_ms: float,
    now_ms: int,
) -> CheckoutTimedOut:
    return CheckoutTimedOut(
        event_id=f"{transaction_id}-timeout",
        user_id=user_id,
        event_time=now_ms,
        source="api",
        transaction_id=transaction_id,
        action=action,
        policy=policy,
        budget_ms=budget_ms,
        waited_ms=round(waited_ms, 3),
    )


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(CheckoutTimedOut)


def encode_timeout(event: CheckoutTimedOut) -> bytes:
    return _encoder.encode(event)


def decode_timeout(raw: bytes) -> CheckoutTimedOut:
    return _decoder.decode(raw)

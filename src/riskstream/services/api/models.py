"""What the checkout endpoint takes and answers.

:class:`CheckoutRequest` mirrors :class:`riskstream.events.Checkout` field for field (a test
holds them together), with the edge's stricter checks: unknown fields, malformed codes and
out-of-range numbers are refused with the field named. ``event_id`` and ``event_time`` may
be left out: the API derives the id from the transaction id and stamps the time it received
the checkout. A body that is itself an encoded ``Checkout`` event (``"type": "checkout"``)
is accepted as is.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Final, Literal

import msgspec

from riskstream.events import Checkout
from riskstream.fraud.features.profile_stage import MAX_CLOCK_SKEW_MS

__all__ = [
    "CheckoutAnswer",
    "CheckoutRequest",
    "ModelOpinion",
    "Reason",
    "check_event_time",
    "checkout_event",
    "checkout_problems",
]

_Text = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
_Country = Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$", description="ISO 3166 alpha-2")]
# Printable ASCII without spaces: safe in URLs, headers and log keys.
_TransactionId = Annotated[str, msgspec.Meta(pattern="^[!-~]{1,128}$")]


class CheckoutRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An attempt to pay, as the shop reports it."""

    transaction_id: _TransactionId
    user_id: _Text
    amount: Annotated[float, msgspec.Meta(gt=0, le=1e12)]
    currency: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$", description="ISO 4217")]
    merchant_id: _Text
    item_count: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    instrument_fingerprint: _Text
    bin_country: _Country
    device_id: _Text
    ip: Annotated[str, msgspec.Meta(min_length=2, max_length=45, description="IPv4 or IPv6")]
    country: _Country
    shipping_address_hash: _Text
    session_id: _Text | None = None
    bin: Annotated[str, msgspec.Meta(pattern="^[0-9]{6,8}$")] | None = None
    event_id: _Text | None = None
    event_time: Annotated[int, msgspec.Meta(gt=0, description="epoch ms")] | None = None
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "api"
    type: Literal["checkout"] = "checkout"
    schema_version: Literal[1] = 1


def check_event_time(event_time: int, now_ms: int) -> str | None:
    """Why ``event_time`` is refused, if it is: the engine dead-letters events claiming a
    time further ahead of its clock, so such a checkout would never be decided."""
    if event_time - now_ms > MAX_CLOCK_SKEW_MS:
        return f"event_time is more than {MAX_CLOCK_SKEW_MS} ms ahead of the server's clock"
    return None


def checkout_problems(request: CheckoutRequest, now_ms: int) -> list[tuple[str, str]]:
    """``(field, message)`` for what the schema cannot say."""
    problems = []
    try:
        ipaddress.ip_address(request.ip)
    except ValueError:
        problems.append(("ip", "Expected an IPv4 or IPv6 address"))
    if request.event_time is not None:
        refused = check_event_time(request.event_time, now_ms)
        if refused is not None:
            problems.append(("event_time", refused))
    return problems


def checkout_event(request: CheckoutRequest, now_ms: int) -> Checkout:
    """The event the engine decides on."""
    return Checkout(
        event_id=request.event_id or f"{request.transaction_id}-checkout",
        user_id=request.user_id,
        event_time=request.event_time if request.event_time is not None else now_ms,
        source=request.source,
        transaction_id=request.transaction_id,
        amount=request.amount,
        currency=request.currency,
        merchant_id=request.merchant_id,
        item_count=request.item_count,
        instrument_fingerprint=request.instrument_fingerprint,
        bin_country=request.bin_country,
        device_id=request.device_id,
        ip=request.ip,
        country=request.country,
        shipping_address_hash=request.shipping_address_hash,
        session_id=request.session_id,
        bin=request.bin,
    )


class Reason(msgspec.Struct, frozen=True, kw_only=True):
    """A rule that fired: its id and version, its points, its action and what it read."""

    rule: str
    version: int
    score: float
    action: str
    features: dict[str, Any]


class ModelOpinion(msgspec.Struct, frozen=True, kw_only=True):
    """The champion model's fraud probability (part of ``score``)."""

    version: str
    probability: float


DecidedBy = Literal["engine", "timeout-policy"]
ENGINE: Final = "engine"
TIMEOUT_POLICY: Final = "timeout-policy"


class CheckoutAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The verdict on a checkout.

    ``decided_by`` is ``engine`` when the fraud engine's decision arrived within the budget,
    ``timeout-policy`` when it did not and the configured fail-open/fail-closed action was
    given instead (``score`` is then ``null`` and ``reasons`` empty). ``challenge_id`` names
    the MFA challenge of a ``challenge``. ``decision_latency_ms`` is how long the API took to
    have the verdict (for a decision recovered from the log, the engine's own latency).
    """

    transaction_id: str
    action: Literal["allow", "review", "challenge", "block"]
    score: float | None
    reasons: list[Reason]
    challenge_id: str | None
    decided_by: DecidedBy
    decision_latency_ms: float
    model: ModelOpinion | None = None

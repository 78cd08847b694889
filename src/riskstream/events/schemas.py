"""Typed, frozen event schemas.

Every event is a tagged ``msgspec.Struct``: the ``type`` field on the wire names the class,
so one topic can carry a union of event kinds and decode without guessing. Fields common to
all events live on :class:`Event`; ``user_id`` is the partition key of every user-activity
topic, so a user's events are co-partitioned and one task sees all of them.

Times are ``int`` epoch milliseconds. Money is a ``float`` in the currency's major unit
(fraud features compare magnitudes; ledgers are not kept here).
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

__all__ = [
    "SCHEMA_VERSION",
    "AddressChanged",
    "Chargeback",
    "Checkout",
    "Click",
    "Event",
    "FraudReported",
    "Login",
    "MfaChallengeIssued",
    "MfaCompleted",
    "MouseMovement",
    "ProfileUpdated",
    "PromoApplied",
    "TransactionCancelled",
    "TransactionPaused",
    "TransactionReleased",
]

SCHEMA_VERSION = 1


class Event(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=False
):
    """Fields every event carries.

    ``event_id`` is unique per event (producers derive it deterministically where they can,
    so a retried send is recognisable); ``event_time`` is when it happened, not when it was
    logged; ``source`` names the producing system.
    """

    topic: ClassVar[str]

    event_id: str
    user_id: str
    event_time: int
    source: str = "unknown"
    schema_version: int = SCHEMA_VERSION

    @property
    def key(self) -> bytes:
        """The partition key: the user id, UTF-8 encoded."""
        return self.user_id.encode()


class Login(Event, frozen=True, kw_only=True, tag="login"):
    """A login attempt, successful or not."""

    topic: ClassVar[str] = "events.login"

    device_id: str
    ip: str
    country: str
    latitude: float | None = None
    longitude: float | None = None
    success: bool = True
    user_agent: str = ""


class Click(Event, frozen=True, kw_only=True, tag="click"):
    """A page view or click within a session."""

    topic: ClassVar[str] = "events.click"

    session_id: str
    page: str
    first_in_session: bool = False
    device_id: str | None = None


class MouseMovement(Event, frozen=True, kw_only=True, tag="mouse"):
    """A summary of one batch of pointer samples (raw samples stay on the client)."""

    topic: ClassVar[str] = "events.mouse"

    session_id: str
    sample_count: int
    duration_ms: int
    path_length: float
    straightness: float  # straight-line distance / path length, in [0, 1]; 1 is robot-straight
    mean_speed: float  # pixels per ms
    max_speed: float


class PromoApplied(Event, frozen=True, kw_only=True, tag="promo"):
    """A promotion code applied to a cart."""

    topic: ClassVar[str] = "events.promo"

    session_id: str | None = None
    code: str
    discount_value: float
    cart_value: float
    device_id: str | None = None


class Checkout(Event, frozen=True, kw_only=True, tag="checkout"):
    """An attempt to pay: the event every decision is about."""

    topic: ClassVar[str] = "events.checkout"

    transaction_id: str
    amount: float
    currency: str
    merchant_id: str
    item_count: int
    instrument_fingerprint: str
    bin_country: str
    device_id: str
    ip: str
    country: str
    shipping_address_hash: str
    session_id: str | None = None
    bin: str | None = None  # the card's issuer identification number (first 6-8 digits)


class AddressChanged(Event, frozen=True, kw_only=True, tag="address_changed"):
    """The shipping or billing address of an account changed."""

    topic: ClassVar[str] = "events.account"

    address_hash: str
    kind: str = "shipping"  # shipping | billing
    device_id: str | None = None


class ProfileUpdated(Event, frozen=True, kw_only=True, tag="profile_updated"):
    """Account details changed (email, phone, password)."""

    topic: ClassVar[str] = "events.account"

    fields: tuple[str, ...]
    email_hash: str | None = None
    phone_hash: str | None = None
    device_id: str | None = None


class Chargeback(Event, frozen=True, kw_only=True, tag="chargeback"):
    """A disputed transaction: a fraud label that arrives days or weeks later."""

    topic: ClassVar[str] = "events.label"

    transaction_id: str
    amount: float
    reason_code: str = ""


class FraudReported(Event, frozen=True, kw_only=True, tag="fraud_reported"):
    """A transaction reported as fraudulent (by the customer, an analyst or a partner)."""

    topic: ClassVar[str] = "events.label"

    transaction_id: str
    reporter: str = "customer"
    confirmed: bool = True


class MfaCompleted(Event, frozen=True, kw_only=True, tag="mfa_completed"):
    """The outcome of an MFA challenge: a label the engine learns from (failed = fraud)."""

    topic: ClassVar[str] = "events.label"
    transaction_id: str
    challenge_id: str
    passed: bool
    method: str = "otp"


class TransactionPaused(Event, frozen=True, kw_only=True, tag="transaction_paused"):
    """The Fraud Service held a checkout: it completes only if released."""

    topic: ClassVar[str] = "risk.transactions"
    transaction_id: str
    action: str  # the decision's action: challenge | block
    score: float
    reasons: tuple[str, ...] = ()


class MfaChallengeIssued(Event, frozen=True, kw_only=True, tag="mfa_challenge_issued"):
    """An MFA challenge was sent to the user for a paused transaction."""

    topic: ClassVar[str] = "risk.transactions"
    transaction_id: str
    challenge_id: str
    channel: str
    expires_at: int


class TransactionReleased(Event, frozen=True, kw_only=True, tag="transaction_released"):
    """A paused transaction may complete (MFA passed, or an analyst released it)."""

    topic: ClassVar[str] = "risk.transactions"
    transaction_id: str
    reason: str


class TransactionCancelled(Event, frozen=True, kw_only=True, tag="transaction_cancelled"):
    """A paused transaction will not complete (blocked, MFA failed or expired)."""

    topic: ClassVar[str] = "risk.transactions"
    transaction_id: str
    reason: str

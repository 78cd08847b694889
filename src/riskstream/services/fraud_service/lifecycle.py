"""A paused transaction's life, event-sourced: commands in, events out, state = fold(events).

::

    challenge ─▶ TransactionPaused ─▶ MfaChallengeIssued ─┬▶ TransactionReleased (mfa passed)
                                                          ├▶ TransactionCancelled (mfa failed)
                                                          └▶ TransactionCancelled (mfa expired)
    block     ─▶ TransactionPaused ─▶ TransactionCancelled (blocked)

Allow decisions pass untouched, and so do review decisions: the payment goes on and an
analyst looks at it afterwards (from ``risk.decisions`` and the read side), so no payment
waits on a queue of people. Only challenge and block hold a payment.

Three pure *command* functions (:func:`on_decision`, :func:`on_answer`, :func:`on_expiry`)
look at a user's :class:`Ledger` and say which events happen; :func:`fold` is the only way a
:class:`Transaction` changes, and :func:`apply` folds one event into the ledger. Nothing
reads a clock: every event's time and id derive from its inputs - the decision's
``decided_at``, the answer's ``event_time``, the challenge's ``expires_at`` - so a replay
after a crash writes the same events, byte for byte, and a reader deduplicates by
``event_id`` (``txn/<transaction id>/<step>``: each step happens once per transaction).

An answer counts if it was given by ``expires_at`` (its event time), even if it is read
later; one given after is ignored and the challenge expires. Events that do not fit the
state (an answer for an unknown or closed transaction, a duplicate decision) change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

import msgspec

from riskstream.events import (
    MfaChallengeIssued,
    MfaCompleted,
    TransactionCancelled,
    TransactionPaused,
    TransactionReleased,
)
from riskstream.services.fraud_service.challenge import challenge_id_for
from riskstream.services.fraud_service.config import FraudServiceConfig

__all__ = [
    "BLOCKED",
    "HOLDING_ACTIONS",
    "KEEP_CLOSED",
    "MFA_EXPIRED",
    "MFA_FAILED",
    "MFA_PASSED",
    "DecisionFacts",
    "Ledger",
    "LifecycleEvent",
    "RuleRef",
    "Status",
    "Transaction",
    "apply",
    "decode_decision_facts",
    "fold",
    "lifecycle_event_id",
    "next_expiry",
    "on_answer",
    "on_decision",
    "on_expiry",
    "replay",
]

#: Reasons of releases and cancellations.
BLOCKED: Final = "blocked"
MFA_PASSED: Final = "mfa passed"
MFA_FAILED: Final = "mfa failed"
MFA_EXPIRED: Final = "mfa expired"

#: Closed transactions a ledger remembers per user, so a duplicate decision or answer is
#: recognised; the oldest closed ones go first (a duplicate of one forgotten would pause its
#: transaction again).
KEEP_CLOSED: Final = 64

#: The actions that hold a payment.
HOLDING_ACTIONS: Final = frozenset({"challenge", "block"})

LifecycleEvent = TransactionPaused | MfaChallengeIssued | TransactionReleased | TransactionCancelled


class Status(StrEnum):
    PAUSED = "paused"  # held, nothing asked yet (a block is cancelled at once)
    CHALLENGED = "challenged"  # an MFA challenge is out
    RELEASED = "released"
    CANCELLED = "cancelled"


_OPEN: Final = frozenset({Status.PAUSED, Status.CHALLENGED})


class Transaction(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What the lifecycle events of one transaction say about it (see :func:`fold`)."""

    transaction_id: str
    user_id: str
    status: Status
    action: str  # the decision's: challenge | block
    score: float
    paused_at: int
    reasons: tuple[str, ...] = ()
    challenge_id: str | None = None
    channel: str | None = None
    expires_at: int | None = None
    closed_at: int | None = None
    outcome: str | None = None  # the reason it was released or cancelled
    events: tuple[str, ...] = ()  # ids of the events folded in, in order

    @property
    def is_open(self) -> bool:
        return self.status in _OPEN


class Ledger(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One user's paused transactions, open and recently closed (treated as immutable:
    :func:`apply` returns a new ledger)."""

    transactions: dict[str, Transaction] = msgspec.field(default_factory=dict)

    def get(self, transaction_id: str) -> Transaction | None:
        return self.transactions.get(transaction_id)


def lifecycle_event_id(transaction_id: str, step: str) -> str:
    """The id of a transaction's ``step`` (paused, challenge, released, cancelled)."""
    return f"txn/{transaction_id}/{step}"


# -- the fold -------------------------------------------------------------------------------


def fold(state: Transaction | None, event: LifecycleEvent) -> Transaction | None:
    """The transaction after ``event``. Pure and idempotent: an event already folded in, or
    one that does not fit the state (out of order, after the close), changes nothing."""
    if state is not None and event.event_id in state.events:
        return state
    if isinstance(event, TransactionPaused):
        if state is not None:
            return state
        return Transaction(
            transaction_id=event.transaction_id,
            user_id=event.user_id,
            status=Status.PAUSED,
            action=event.action,
            score=event.score,
            paused_at=event.event_time,
            reasons=event.reasons,
            events=(event.event_id,),
        )
    if state is None or not state.is_open or state.transaction_id != event.transaction_id:
        return state
    events = (*state.events, event.event_id)
    if isinstance(event, MfaChallengeIssued):
        if state.status is not Status.PAUSED:
            return state
        return msgspec.structs.replace(
            state,
            status=Status.CHALLENGED,
            challenge_id=event.challenge_id,
            channel=event.channel,
            expires_at=event.expires_at,
            events=events,
        )
    status = Status.RELEASED if isinstance(event, TransactionReleased) else Status.CANCELLED
    return msgspec.structs.replace(
        state, status=status, closed_at=event.event_time, outcome=event.reason, events=events
    )


def apply(ledger: Ledger, event: LifecycleEvent) -> Ledger:
    """The ledger after ``event`` (the same object if nothing changed)."""
    current = ledger.transactions.get(event.transaction_id)
    folded = fold(current, event)
    if folded is current or folded is None:
        return ledger
    transactions = dict(ledger.transactions)
    transactions[event.transaction_id] = folded
    if len(transactions) > KEEP_CLOSED and not folded.is_open:
        _forget_oldest_closed(transactions)
    return Ledger(transactions=transactions)


def _forget_oldest_closed(transactions: dict[str, Transaction]) -> None:
    closed = sorted(
        (tx.closed_at or 0, txid) for txid, tx in transactions.items() if not tx.is_open
    )
    for _, txid in closed[: max(0, len(closed) - KEEP_CLOSED)]:
        del transactions[txid]


def replay(events: Iterable[LifecycleEvent]) -> dict[str, Transaction]:
    """Every transaction the events speak of, folded (no closed ones forgotten)."""
    found: dict[str, Transaction] = {}
    for event in events:
        folded = fold(found.get(event.transaction_id), event)
        if folded is not None:
            found[event.transaction_id] = folded
    return found


# -- the commands ---------------------------------------------------------------------------


class RuleRef(msgspec.Struct, frozen=True):
    rule: str


class DecisionFacts(msgspec.Struct, frozen=True, kw_only=True):
    """The part of a :class:`~riskstream.fraud.decision.Decision` the service acts on (the
    rest of the record - features, model verdicts - is skipped while decoding)."""

    transaction_id: str
    user_id: str
    action: str
    score: float
    decided_at: int
    reasons: tuple[RuleRef, ...] = ()


_decision_decoder = msgspec.json.Decoder(DecisionFacts)


def decode_decision_facts(raw: bytes | None) -> DecisionFacts:
    """Decode a decision record of ``risk.decisions`` (``msgspec.DecodeError`` if invalid)."""
    if raw is None:
        raise ValueError("decision record without a value")
    return _decision_decoder.decode(raw)


def on_decision(
    ledger: Ledger, decision: DecisionFacts, config: FraudServiceConfig
) -> list[LifecycleEvent]:
    """Challenge: pause and issue a challenge; block: pause and cancel; else nothing. A
    transaction the ledger knows already (a duplicate decision) gets nothing new."""
    if decision.action not in HOLDING_ACTIONS:
        return []
    txid = decision.transaction_id
    if txid in ledger.transactions:
        return []
    at = decision.decided_at
    paused = TransactionPaused(
        event_id=lifecycle_event_id(txid, "paused"),
        user_id=decision.user_id,
        event_time=at,
        source=config.source,
        transaction_id=txid,
        action=decision.action,
        score=decision.score,
        reasons=tuple(reason.rule for reason in decision.reasons),
    )
    if decision.action == "block":
        return [paused, _cancelled(paused, BLOCKED, at, config)]
    issued = MfaChallengeIssued(
        event_id=lifecycle_event_id(txid, "challenge"),
        user_id=decision.user_id,
        event_time=at,
        source=config.source,
        transaction_id=txid,
        challenge_id=challenge_id_for(txid),
        channel=config.channel,
        expires_at=at + config.mfa_timeout_ms,
    )
    return [paused, issued]


def on_answer(
    ledger: Ledger, answer: MfaCompleted, config: FraudServiceConfig
) -> list[LifecycleEvent]:
    """An answer to the open challenge, given in time, releases (passed) or cancels (failed)
    the transaction; any other answer changes nothing."""
    tx = ledger.transactions.get(answer.transaction_id)
    if tx is None or tx.status is not Status.CHALLENGED or answer.challenge_id != tx.challenge_id:
        return []
    if tx.expires_at is not None and answer.event_time > tx.expires_at:
        return []  # too late: the challenge expires
    if answer.passed:
        released = TransactionReleased(
            event_id=lifecycle_event_id(tx.transaction_id, "released"),
            user_id=tx.user_id,
            event_time=answer.event_time,
            source=config.source,
            transaction_id=tx.transaction_id,
            reason=MFA_PASSED,
        )
        return [released]
    return [_cancelled(tx, MFA_FAILED, answer.event_time, config)]


def on_expiry(ledger: Ledger, now: int, config: FraudServiceConfig) -> list[LifecycleEvent]:
    """Cancel every challenge unanswered at ``now`` (at its own ``expires_at``)."""
    due = sorted(
        (tx.expires_at, txid)
        for txid, tx in ledger.transactions.items()
        if tx.status is Status.CHALLENGED and tx.expires_at is not None and tx.expires_at <= now
    )
    return [
        _cancelled(ledger.transactions[txid], MFA_EXPIRED, expires_at, config)
        for expires_at, txid in due
    ]


def next_expiry(ledger: Ledger) -> int | None:
    """The earliest ``expires_at`` of the ledger's open challenges."""
    times = [
        tx.expires_at
        for tx in ledger.transactions.values()
        if tx.status is Status.CHALLENGED and tx.expires_at is not None
    ]
    return min(times, default=None)


def _cancelled(
    of: Transaction | TransactionPaused, reason: str, at: int, config: FraudServiceConfig
) -> TransactionCancelled:
    return TransactionCancelled(
        event_id=lifecycle_event_id(of.transaction_id, "cancelled"),
        user_id=of.user_id,
        event_time=at,
        source=config.source,
        transaction_id=of.transaction_id,
        reason=reason,
    )

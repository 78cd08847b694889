"""Transaction status: one row per transaction, from checkout to its last label.

The row gathers the checkout, its decision, the Fraud Service's lifecycle (pause, MFA
challenge, release or cancel) and the labels (MFA outcome, chargeback, fraud report). These
arrive on different topics, so in any order: every field is set by a rule that gives the same
row whatever the order — the earliest time wins (ties by value), a decision is kept once —
and the status is computed from the fields, never stepped. Folding a fact twice changes
nothing, so no applied ids are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

import msgspec

from riskstream.events import (
    Chargeback,
    Checkout,
    FraudReported,
    MfaChallengeIssued,
    MfaCompleted,
    TransactionCancelled,
    TransactionPaused,
    TransactionReleased,
)
from riskstream.fraud.decision import Decision
from riskstream.services.projections.facts import (
    DECISIONS_TOPIC,
    LABEL_TOPIC,
    TRANSACTIONS_TOPIC,
    Fact,
)
from riskstream.services.projections.sqlrows import select_in, upsert
from riskstream.services.projections.store import Tx
from riskstream.services.projections.view import Tables

__all__ = ["TransactionStatus", "Transactions", "status_of"]

CHECKOUT_TOPIC: Final = Checkout.topic


class TransactionStatus(msgspec.Struct, kw_only=True):
    """Where a transaction stands. ``status``: pending (checkout seen, no decision yet),
    decided (allow/review, or no lifecycle yet), paused, challenged, released, cancelled."""

    transaction_id: str
    user_id: str
    status: str = "pending"
    checkout_time: int | None = None
    amount: float | None = None
    currency: str | None = None
    merchant_id: str | None = None
    action: str | None = None
    score: float | None = None
    rules: list[str] | None = None
    decided_at: int | None = None
    paused_at: int | None = None
    challenge_id: str | None = None
    challenge_channel: str | None = None
    challenge_issued_at: int | None = None
    challenge_expires_at: int | None = None
    mfa_passed: bool | None = None
    mfa_method: str | None = None
    mfa_at: int | None = None
    released_at: int | None = None
    release_reason: str | None = None
    cancelled_at: int | None = None
    cancel_reason: str | None = None
    chargeback_at: int | None = None
    fraud_reported_at: int | None = None
    fraud: bool = False
    fraud_at: int | None = None


_COLUMNS: Final = tuple(TransactionStatus.__struct_fields__)
_BOOLS: Final = frozenset({"mfa_passed", "fraud"})
_rules_encoder = msgspec.json.Encoder()
_rules_decoder = msgspec.json.Decoder(list[str])


def status_of(row: TransactionStatus) -> str:
    """The lifecycle status the row's fields imply (release vs cancel: the later one)."""
    released, cancelled = row.released_at, row.cancelled_at
    if cancelled is not None and (released is None or cancelled >= released):
        return "cancelled"
    if released is not None:
        return "released"
    if row.challenge_id is not None:
        return "challenged"
    if row.paused_at is not None:
        return "paused"
    if row.action is not None:
        return "decided"
    return "pending"


def _earlier(old_time: int | None, old_value: Any, new_time: int, new_value: Any) -> bool:
    """Whether ``(new_time, new_value)`` replaces ``(old_time, old_value)``: earliest wins,
    ties by value, so the result does not depend on which came first."""
    if old_time is None:
        return True
    if new_time != old_time:
        return new_time < old_time
    return str(new_value) < str(old_value)


def _min(old: int | None, new: int) -> int:
    return new if old is None else min(old, new)


def fold(row: TransactionStatus, value: Decision | Any) -> None:
    """Fold one fact about ``row``'s transaction into it."""
    if isinstance(value, Checkout):
        row.checkout_time = value.event_time
        row.amount = value.amount
        row.currency = value.currency
        row.merchant_id = value.merchant_id
    elif isinstance(value, Decision):
        if row.action is None:
            row.action = value.action
            row.score = value.score
            row.rules = [reason.rule for reason in value.reasons]
            row.decided_at = value.decided_at
        if row.checkout_time is None:  # the checkout event, when read, is the authority
            row.checkout_time = value.checkout_time
            row.amount = value.amount
            row.currency = value.currency
            row.merchant_id = value.merchant_id
    elif isinstance(value, TransactionPaused):
        row.paused_at = _min(row.paused_at, value.event_time)
    elif isinstance(value, MfaChallengeIssued):
        if _earlier(
            row.challenge_issued_at, row.challenge_id, value.event_time, value.challenge_id
        ):
            row.challenge_id = value.challenge_id
            row.challenge_channel = value.channel
            row.challenge_issued_at = value.event_time
            row.challenge_expires_at = value.expires_at
    elif isinstance(value, TransactionReleased):
        if _earlier(row.released_at, row.release_reason, value.event_time, value.reason):
            row.released_at, row.release_reason = value.event_time, value.reason
    elif isinstance(value, TransactionCancelled):
        if _earlier(row.cancelled_at, row.cancel_reason, value.event_time, value.reason):
            row.cancelled_at, row.cancel_reason = value.event_time, value.reason
    elif isinstance(value, MfaCompleted):
        if _earlier(row.mfa_at, row.mfa_passed, value.event_time, value.passed):
            row.mfa_at, row.mfa_passed, row.mfa_method = (
                value.event_time,
                value.passed,
                value.method,
            )
        if not value.passed:
            _fraud(row, value.event_time)
    elif isinstance(value, Chargeback):
        row.chargeback_at = _min(row.chargeback_at, value.event_time)
        _fraud(row, value.event_time)
    elif isinstance(value, FraudReported) and value.confirmed:
        row.fraud_reported_at = _min(row.fraud_reported_at, value.event_time)
        _fraud(row, value.event_time)


def _fraud(row: TransactionStatus, time: int) -> None:
    row.fraud = True
    row.fraud_at = _min(row.fraud_at, time)


def _load(row: tuple[Any, ...]) -> TransactionStatus:
    values = dict(zip(_COLUMNS, row, strict=True))
    for column in _BOOLS:
        if values[column] is not None:
            values[column] = bool(values[column])
    if values["rules"] is not None:
        values["rules"] = _rules_decoder.decode(values["rules"])
    return TransactionStatus(**values)


def _dump(row: TransactionStatus) -> tuple[Any, ...]:
    values = [getattr(row, column) for column in _COLUMNS]
    for index, column in enumerate(_COLUMNS):
        value = values[index]
        if column in _BOOLS and value is not None:
            values[index] = int(value)
        elif column == "rules" and value is not None:
            values[index] = _rules_encoder.encode(value).decode()
    return tuple(values)


def _transaction_id(value: Any) -> str | None:
    return getattr(value, "transaction_id", None)


class Transactions:
    """The ``transactions`` view: :class:`TransactionStatus` by transaction id."""

    name: ClassVar[str] = "transactions"
    version: ClassVar[int] = 1
    topics: ClassVar[tuple[str, ...]] = (
        CHECKOUT_TOPIC,
        DECISIONS_TOPIC,
        TRANSACTIONS_TOPIC,
        LABEL_TOPIC,
    )
    tables: ClassVar[tuple[str, ...]] = ("rows",)

    def create(self, tx: Tx, tables: Tables) -> None:
        types = {
            "transaction_id": "TEXT PRIMARY KEY",
            "user_id": "TEXT NOT NULL",
            "status": "TEXT NOT NULL",
            "amount": "DOUBLE PRECISION",
            "score": "DOUBLE PRECISION",
            "fraud": "INTEGER NOT NULL",
            "mfa_passed": "INTEGER",
        }
        text = {"currency", "merchant_id", "action", "rules", "challenge_id"}
        text |= {"challenge_channel", "mfa_method", "release_reason", "cancel_reason"}
        columns = ", ".join(
            f"{column} {types.get(column, 'TEXT' if column in text else 'BIGINT')}"
            for column in _COLUMNS
        )
        tx.execute(tables.sql(f"CREATE TABLE {{rows}} ({columns})"))
        tx.execute(
            tables.sql("CREATE INDEX ix_{gen}_{rows}_user ON {rows} (user_id, checkout_time)")
        )
        tx.execute(tables.sql("CREATE INDEX ix_{gen}_{rows}_status ON {rows} (status)"))

    def dedupe_id(self, fact: Fact) -> str | None:
        return None  # every field is set idempotently

    def apply(self, tx: Tx, tables: Tables, facts: Sequence[Fact]) -> None:
        relevant = [
            (tid, fact) for fact in facts if (tid := _transaction_id(fact.value)) is not None
        ]
        if not relevant:
            return
        table = tables["rows"]
        rows = {
            row.transaction_id: row
            for row in map(
                _load,
                select_in(
                    tx,
                    f"SELECT {', '.join(_COLUMNS)} FROM {table} WHERE transaction_id IN ({{keys}})",
                    (tid for tid, _ in relevant),
                ),
            )
        }
        for tid, fact in relevant:
            row = rows.get(tid)
            if row is None:
                row = rows[tid] = TransactionStatus(transaction_id=tid, user_id=fact.value.user_id)
            fold(row, fact.value)
        touched = {tid for tid, _ in relevant}
        for tid in touched:
            rows[tid].status = status_of(rows[tid])
        upsert(tx, table, _COLUMNS, ("transaction_id",), (_dump(rows[tid]) for tid in touched))

    def get(self, tx: Tx, tables: Tables, transaction_id: str) -> TransactionStatus | None:
        found = tx.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM {tables['rows']} WHERE transaction_id = ?",
            [transaction_id],
        )
        return _load(found[0]) if found else None

    def of_user(
        self, tx: Tx, tables: Tables, user_id: str, *, limit: int
    ) -> list[TransactionStatus]:
        """The user's newest transactions (by checkout time)."""
        rows = tx.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM {tables['rows']} WHERE user_id = ? "
            "ORDER BY checkout_time DESC, transaction_id DESC LIMIT ?",
            [user_id, limit],
        )
        return [_load(row) for row in rows]

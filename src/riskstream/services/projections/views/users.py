"""User risk profile summary: what an analyst wants on one screen about a user.

* decisions by action and the last decision (the latest checkout decided);
* fraud evidence received (chargebacks, confirmed reports, failed MFA);
* the devices and countries seen most recently (successful logins and checkouts);
* holds: transactions the Fraud Service paused, their MFA challenges, open until released or
  cancelled.

Counters are the only folds that are not idempotent: decisions and labels are counted once
by their id (the ``applied`` table). Devices, countries and holds keep first/last times, so
folding an event twice, or in another order, gives the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

import msgspec

from riskstream.events import (
    Chargeback,
    Checkout,
    FraudReported,
    Login,
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
from riskstream.services.projections.store import Tx, greatest, least
from riskstream.services.projections.view import Tables

__all__ = ["Hold", "LastDecision", "Seen", "UserSummary", "Users", "is_fraud_label"]

ACTIONS: Final = ("allow", "review", "challenge", "block")


class LastDecision(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: str
    action: str
    score: float
    checkout_time: int
    decided_at: int


class Seen(msgspec.Struct, frozen=True, kw_only=True):
    """A device or country of the user, with when it was first and last seen."""

    id: str
    first_seen: int
    last_seen: int


class Hold(msgspec.Struct, frozen=True, kw_only=True):
    """A paused transaction of the user and its MFA challenge, if one was issued."""

    transaction_id: str
    paused_at: int | None
    challenge_id: str | None
    channel: str | None
    issued_at: int | None
    expires_at: int | None


class UserSummary(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    decisions: int
    by_action: dict[str, int]
    last_decision: LastDecision | None
    fraud_labels: int
    devices: list[Seen]
    countries: list[Seen]
    open_holds: list[Hold]  # paused, not yet released or cancelled
    open_challenges: int  # open holds with an MFA challenge issued


def is_fraud_label(value: object) -> bool:
    """Chargebacks, confirmed fraud reports and failed MFA: evidence of fraud."""
    if isinstance(value, Chargeback):
        return True
    if isinstance(value, FraudReported):
        return value.confirmed
    return isinstance(value, MfaCompleted) and not value.passed


_SUMMARY: Final = (
    "user_id",
    "decisions",
    *(f"{action}_count" for action in ACTIONS),
    "fraud_labels",
    "last_transaction_id",
    "last_action",
    "last_score",
    "last_checkout_time",
    "last_decided_at",
)
_COUNTERS: Final = ("decisions", *(f"{action}_count" for action in ACTIONS), "fraud_labels")
_HOLDS: Final = (
    "user_id",
    "transaction_id",
    "paused_at",
    "challenge_id",
    "channel",
    "issued_at",
    "expires_at",
    "closed_at",
    "outcome",
)
_SEEN: Final = ("user_id", "id", "first_seen", "last_seen")
RECENT_SEEN: Final = 5


def _later(old: list[Any], decision: Decision) -> bool:
    """Whether ``decision`` is later than the summary's last one (by checkout time, then id)."""
    if old[_SUMMARY.index("last_transaction_id")] is None:
        return True
    mine = (decision.checkout_time, decision.transaction_id)
    theirs = (old[_SUMMARY.index("last_checkout_time")], old[_SUMMARY.index("last_transaction_id")])
    return mine > theirs


class Users:
    """The ``users`` view: :class:`UserSummary` by user id."""

    name: ClassVar[str] = "users"
    version: ClassVar[int] = 1
    topics: ClassVar[tuple[str, ...]] = (
        Login.topic,
        Checkout.topic,
        DECISIONS_TOPIC,
        TRANSACTIONS_TOPIC,
        LABEL_TOPIC,
    )
    tables: ClassVar[tuple[str, ...]] = ("summary", "devices", "countries", "holds")

    def create(self, tx: Tx, tables: Tables) -> None:
        counts = ", ".join(f"{action}_count BIGINT NOT NULL" for action in ACTIONS)
        tx.execute(
            tables.sql(
                f"""CREATE TABLE {{summary}} (
                    user_id TEXT PRIMARY KEY,
                    decisions BIGINT NOT NULL,
                    {counts},
                    fraud_labels BIGINT NOT NULL,
                    last_transaction_id TEXT,
                    last_action TEXT,
                    last_score DOUBLE PRECISION,
                    last_checkout_time BIGINT,
                    last_decided_at BIGINT)"""
            )
        )
        for table in ("devices", "countries"):
            tx.execute(
                tables.sql(
                    f"""CREATE TABLE {{{table}}} (
                        user_id TEXT NOT NULL,
                        id TEXT NOT NULL,
                        first_seen BIGINT NOT NULL,
                        last_seen BIGINT NOT NULL,
                        PRIMARY KEY (user_id, id))"""
                )
            )
        tx.execute(
            tables.sql(
                """CREATE TABLE {holds} (
                    user_id TEXT NOT NULL,
                    transaction_id TEXT NOT NULL,
                    paused_at BIGINT,
                    challenge_id TEXT,
                    channel TEXT,
                    issued_at BIGINT,
                    expires_at BIGINT,
                    closed_at BIGINT,
                    outcome TEXT,
                    PRIMARY KEY (user_id, transaction_id))"""
            )
        )
        tx.execute(tables.sql("CREATE INDEX ix_{gen}_{holds}_tx ON {holds} (transaction_id)"))

    def dedupe_id(self, fact: Fact) -> str | None:
        value = fact.value
        if isinstance(value, Decision) or is_fraud_label(value):
            return fact.id  # counted: once per decision / label
        return None

    def apply(self, tx: Tx, tables: Tables, facts: Sequence[Fact]) -> None:
        self._counters(tx, tables, facts)
        self._seen(tx, tables, facts)
        self._holds(tx, tables, facts)

    # -- write side -------------------------------------------------------------------------

    def _counters(self, tx: Tx, tables: Tables, facts: Sequence[Fact]) -> None:
        counted = [
            fact.value
            for fact in facts
            if isinstance(fact.value, Decision) or is_fraud_label(fact.value)
        ]
        if not counted:
            return
        table = tables["summary"]
        rows = {
            row[0]: list(row)
            for row in select_in(
                tx,
                f"SELECT {', '.join(_SUMMARY)} FROM {table} WHERE user_id IN ({{keys}})",
                (value.user_id for value in counted),
            )
        }
        index = {column: number for number, column in enumerate(_SUMMARY)}
        for value in counted:
            row = rows.get(value.user_id)
            if row is None:
                row = rows[value.user_id] = [None] * len(_SUMMARY)
                row[0] = value.user_id
                for column in _COUNTERS:
                    row[index[column]] = 0
            if isinstance(value, Decision):
                row[index["decisions"]] += 1
                column = f"{value.action}_count"
                if column in index:
                    row[index[column]] += 1
                if _later(row, value):
                    row[index["last_transaction_id"]] = value.transaction_id
                    row[index["last_action"]] = value.action
                    row[index["last_score"]] = value.score
                    row[index["last_checkout_time"]] = value.checkout_time
                    row[index["last_decided_at"]] = value.decided_at
            else:
                row[index["fraud_labels"]] += 1
        upsert(tx, table, _SUMMARY, ("user_id",), rows.values())

    def _seen(self, tx: Tx, tables: Tables, facts: Sequence[Fact]) -> None:
        devices: dict[tuple[str, str], list[int]] = {}
        countries: dict[tuple[str, str], list[int]] = {}
        for fact in facts:
            value = fact.value
            if isinstance(value, Login) and not value.success:
                continue  # a failed login proves nothing about the user's devices
            if isinstance(value, Login | Checkout):
                time = value.event_time
                for seen, key in ((devices, value.device_id), (countries, value.country)):
                    span = seen.get((value.user_id, key))
                    if span is None:
                        seen[(value.user_id, key)] = [time, time]
                    else:
                        span[0], span[1] = min(span[0], time), max(span[1], time)
        dialect = tx.dialect
        for table, seen in (("devices", devices), ("countries", countries)):
            name = tables[table]
            upsert(
                tx,
                name,
                _SEEN,
                ("user_id", "id"),
                ((user, key, first, last) for (user, key), (first, last) in seen.items()),
                update={
                    "first_seen": least(dialect, f"{name}.first_seen", "excluded.first_seen"),
                    "last_seen": greatest(dialect, f"{name}.last_seen", "excluded.last_seen"),
                },
            )

    def _holds(self, tx: Tx, tables: Tables, facts: Sequence[Fact]) -> None:
        lifecycle = [
            fact.value
            for fact in facts
            if isinstance(
                fact.value,
                TransactionPaused | MfaChallengeIssued | TransactionReleased | TransactionCancelled,
            )
        ]
        if not lifecycle:
            return
        table = tables["holds"]
        loaded = select_in(
            tx,
            f"SELECT {', '.join(_HOLDS)} FROM {table} WHERE transaction_id IN ({{keys}})",
            (value.transaction_id for value in lifecycle),
        )
        rows = {(row[0], row[1]): list(row) for row in loaded}
        index = {column: number for number, column in enumerate(_HOLDS)}
        for value in lifecycle:
            key = (value.user_id, value.transaction_id)
            row = rows.get(key)
            if row is None:
                row = rows[key] = [*key, *([None] * (len(_HOLDS) - 2))]
            time = value.event_time
            if isinstance(value, TransactionPaused):
                old = row[index["paused_at"]]
                row[index["paused_at"]] = time if old is None else min(old, time)
            elif isinstance(value, MfaChallengeIssued):
                old_key = (row[index["issued_at"]], row[index["challenge_id"]])
                if old_key[0] is None or (time, value.challenge_id) < old_key:
                    row[index["challenge_id"]] = value.challenge_id
                    row[index["channel"]] = value.channel
                    row[index["issued_at"]] = time
                    row[index["expires_at"]] = value.expires_at
            else:
                outcome = "released" if isinstance(value, TransactionReleased) else "cancelled"
                old_key = (row[index["closed_at"]], row[index["outcome"]])
                if old_key[0] is None or (time, outcome) < old_key:
                    row[index["closed_at"]] = time
                    row[index["outcome"]] = outcome
        upsert(tx, table, _HOLDS, ("user_id", "transaction_id"), rows.values())

    # -- read side --------------------------------------------------------------------------

    def get(self, tx: Tx, tables: Tables, user_id: str) -> UserSummary | None:
        summary = tx.execute(
            f"SELECT {', '.join(_SUMMARY)} FROM {tables['summary']} WHERE user_id = ?",
            [user_id],
        )
        devices = self._recent(tx, tables["devices"], user_id)
        countries = self._recent(tx, tables["countries"], user_id)
        holds = tx.execute(
            f"SELECT transaction_id, paused_at, challenge_id, channel, issued_at, expires_at "
            f"FROM {tables['holds']} WHERE user_id = ? AND closed_at IS NULL "
            "ORDER BY transaction_id",
            [user_id],
        )
        if not (summary or devices or countries or holds):
            return None
        values = dict(zip(_SUMMARY, summary[0], strict=True)) if summary else {}
        last = None
        if values.get("last_transaction_id") is not None:
            last = LastDecision(
                transaction_id=values["last_transaction_id"],
                action=values["last_action"],
                score=values["last_score"],
                checkout_time=values["last_checkout_time"],
                decided_at=values["last_decided_at"],
            )
        return UserSummary(
            user_id=user_id,
            decisions=values.get("decisions", 0),
            by_action={action: values.get(f"{action}_count", 0) for action in ACTIONS},
            last_decision=last,
            fraud_labels=values.get("fraud_labels", 0),
            devices=devices,
            countries=countries,
            open_challenges=sum(1 for row in holds if row[2] is not None),
            open_holds=[
                Hold(
                    transaction_id=row[0],
                    paused_at=row[1],
                    challenge_id=row[2],
                    channel=row[3],
                    issued_at=row[4],
                    expires_at=row[5],
                )
                for row in holds
            ],
        )

    def _recent(self, tx: Tx, table: str, user_id: str) -> list[Seen]:
        rows = tx.execute(
            f"SELECT id, first_seen, last_seen FROM {table} WHERE user_id = ? "
            "ORDER BY last_seen DESC, id LIMIT ?",
            [user_id, RECENT_SEEN],
        )
        return [Seen(id=row[0], first_seen=row[1], last_seen=row[2]) for row in rows]

"""Recent decisions and recent alerts: one row per decided transaction, newest first.

Keyed by transaction id and inserted only if absent, so a decision written twice (a worker
retried or restarted) is one row: the first one read, which is the same in every replay of a
partition. Nothing is counted, so no applied ids are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

import msgspec

from riskstream.fraud.decision import Decision
from riskstream.services.projections.facts import ALERTS_TOPIC, DECISIONS_TOPIC, Fact
from riskstream.services.projections.store import Tx
from riskstream.services.projections.view import Tables

__all__ = ["DecisionSummary", "RecentAlerts", "RecentDecisions"]


class DecisionSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A decision as lists show it (the full record is in the transaction's audit trail)."""

    transaction_id: str
    user_id: str
    action: str
    score: float
    amount: float
    currency: str
    merchant_id: str
    checkout_time: int
    decided_at: int
    latency_ms: int
    rules: list[str]  # the live rules that fired
    model_probability: float | None


_COLUMNS: Final = tuple(DecisionSummary.__struct_fields__)
_rules_json = msgspec.json.Encoder()
_rules_decoder = msgspec.json.Decoder(list[str])


def _row(decision: Decision) -> tuple[Any, ...]:
    return (
        decision.transaction_id,
        decision.user_id,
        decision.action,
        decision.score,
        decision.amount,
        decision.currency,
        decision.merchant_id,
        decision.checkout_time,
        decision.decided_at,
        decision.latency_ms,
        _rules_json.encode([reason.rule for reason in decision.reasons]).decode(),
        decision.model.probability if decision.model is not None else None,
    )


def _summary(row: tuple[Any, ...]) -> DecisionSummary:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["rules"] = _rules_decoder.decode(values["rules"])
    return DecisionSummary(**values)


class _Recent:
    version: ClassVar[int] = 1
    tables: ClassVar[tuple[str, ...]] = ("rows",)

    def create(self, tx: Tx, tables: Tables) -> None:
        tx.execute(
            tables.sql(
                """CREATE TABLE {rows} (
                    transaction_id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL,
                    action TEXT NOT NULL,
                    score DOUBLE PRECISION NOT NULL,
                    amount DOUBLE PRECISION NOT NULL,
                    currency TEXT NOT NULL,
                    merchant_id TEXT NOT NULL,
                    checkout_time BIGINT NOT NULL,
                    decided_at BIGINT NOT NULL,
                    latency_ms BIGINT NOT NULL,
                    rules TEXT NOT NULL,
                    model_probability DOUBLE PRECISION)"""
            )
        )
        tx.execute(tables.sql("CREATE INDEX ix_{gen}_{rows}_time ON {rows} (decided_at)"))
        tx.execute(tables.sql("CREATE INDEX ix_{gen}_{rows}_user ON {rows} (user_id, decided_at)"))
        tx.execute(tables.sql("CREATE INDEX ix_{gen}_{rows}_action ON {rows} (action, decided_at)"))

    def dedupe_id(self, fact: Fact) -> str | None:
        return None  # insert-if-absent by transaction id is idempotent

    def apply(self, tx: Tx, tables: Tables, facts: Sequence[Fact]) -> None:
        rows = [_row(fact.value) for fact in facts if isinstance(fact.value, Decision)]
        if rows:
            marks = ", ".join("?" * len(_COLUMNS))
            tx.executemany(
                f"INSERT INTO {tables['rows']} ({', '.join(_COLUMNS)}) VALUES ({marks}) "
                "ON CONFLICT (transaction_id) DO NOTHING",
                rows,
            )

    def query(
        self,
        tx: Tx,
        tables: Tables,
        *,
        limit: int,
        user_id: str | None = None,
        action: str | None = None,
        before: int | None = None,
    ) -> list[DecisionSummary]:
        """The newest ``limit`` rows (by decision time), optionally of one user or action,
        decided before ``before`` (for paging)."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("user_id", user_id), ("action", action)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if before is not None:
            where.append("decided_at < ?")
            params.append(before)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = tx.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM {tables['rows']} {clause}"
            "ORDER BY decided_at DESC, transaction_id DESC LIMIT ?",
            [*params, limit],
        )
        return [_summary(row) for row in rows]


class RecentDecisions(_Recent):
    """Every decision (``risk.decisions``)."""

    name: ClassVar[str] = "decisions"
    topics: ClassVar[tuple[str, ...]] = (DECISIONS_TOPIC,)


class RecentAlerts(_Recent):
    """Decisions strong enough to alert (``risk.alerts``)."""

    name: ClassVar[str] = "alerts"
    topics: ClassVar[tuple[str, ...]] = (ALERTS_TOPIC,)

"""Per-rule hit counts and precision, from decisions and the labels that follow them.

A rule *hit* is a decision in which it fired (``live``) or would have fired (``shadow``).
A hit is a *fraud hit* once its transaction is labelled fraud (chargeback, confirmed fraud
report, failed MFA) and a *legit hit* once the user passed MFA for it and no fraud label
came. ``precision`` = fraud hits / hits (unlabelled hits count as not fraud, so it rises as
labels arrive); ``labelled_precision`` = fraud / (fraud + legit), among labelled hits only.

Labels may arrive before or after their decision (other topics), so each transaction keeps
its outcome — the rules it fired, fraud, legit — and the counters move by the difference
between its contribution before and after a fact: any order, and any repetition, of the same
facts gives the same counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar, Final

import msgspec

from riskstream.events import MfaCompleted
from riskstream.fraud.decision import Decision
from riskstream.services.projections.facts import DECISIONS_TOPIC, LABEL_TOPIC, Fact
from riskstream.services.projections.sqlrows import select_in, upsert
from riskstream.services.projections.store import Tx
from riskstream.services.projections.view import Tables
from riskstream.services.projections.views.users import is_fraud_label

__all__ = ["RuleStats", "Rules"]

RuleKey = tuple[str, int, str]  # rule id, version, live | shadow


class RuleStats(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    version: int
    mode: str  # live | shadow
    hits: int
    fraud_hits: int
    legit_hits: int
    precision: float | None
    labelled_precision: float | None


class _Outcome(msgspec.Struct):
    fired: list[RuleKey] | None  # None: no decision seen yet
    fraud: bool
    legit: bool

    def contribution(self) -> dict[RuleKey, tuple[int, int, int]]:
        if not self.fired:
            return {}
        each = (1, int(self.fraud), int(self.legit and not self.fraud))
        return dict.fromkeys(self.fired, each)


_fired_encoder = msgspec.json.Encoder()
_fired_decoder = msgspec.json.Decoder(list[tuple[str, int, str]])
_STATS: Final = ("rule", "version", "mode", "hits", "fraud_hits", "legit_hits")


def _counts(value: object) -> bool:
    """Whether a fact moves an outcome: a decision that fired a rule, or a label."""
    if isinstance(value, Decision):
        return bool(value.reasons or value.shadow)
    return is_fraud_label(value) or (isinstance(value, MfaCompleted) and value.passed)


def _fired(decision: Decision) -> list[RuleKey]:
    live = [(reason.rule, reason.version, "live") for reason in decision.reasons]
    shadow = [(reason.rule, reason.version, "shadow") for reason in decision.shadow]
    return sorted(set(live + shadow))


class Rules:
    """The ``rules`` view: :class:`RuleStats` per rule version and mode."""

    name: ClassVar[str] = "rules"
    version: ClassVar[int] = 1
    topics: ClassVar[tuple[str, ...]] = (DECISIONS_TOPIC, LABEL_TOPIC)
    tables: ClassVar[tuple[str, ...]] = ("stats", "outcomes")

    def create(self, tx: Tx, tables: Tables) -> None:
        tx.execute(
            tables.sql(
                """CREATE TABLE {stats} (
                    rule TEXT NOT NULL,
                    version BIGINT NOT NULL,
                    mode TEXT NOT NULL,
                    hits BIGINT NOT NULL,
                    fraud_hits BIGINT NOT NULL,
                    legit_hits BIGINT NOT NULL,
                    PRIMARY KEY (rule, version, mode))"""
            )
        )
        tx.execute(
            tables.sql(
                """CREATE TABLE {outcomes} (
                    transaction_id TEXT PRIMARY KEY,
                    fired TEXT,
                    fraud INTEGER NOT NULL,
                    legit INTEGER NOT NULL)"""
            )
        )

    def dedupe_id(self, fact: Fact) -> str | None:
        return None  # outcomes change only once per kind of fact

    def apply(self, tx: Tx, tables: Tables, facts: Sequence[Fact]) -> None:
        relevant = [
            (tid, fact.value)
            for fact in facts
            if _counts(fact.value) and (tid := getattr(fact.value, "transaction_id", None))
        ]
        if not relevant:
            return
        outcomes_table = tables["outcomes"]
        loaded = select_in(
            tx,
            f"SELECT transaction_id, fired, fraud, legit FROM {outcomes_table} "
            "WHERE transaction_id IN ({keys})",
            (tid for tid, _ in relevant),
        )
        outcomes = {
            row[0]: _Outcome(
                _fired_decoder.decode(row[1]) if row[1] is not None else None,
                bool(row[2]),
                bool(row[3]),
            )
            for row in loaded
        }
        before = {tid: outcome.contribution() for tid, outcome in outcomes.items()}
        for tid, value in relevant:
            outcome = outcomes.get(tid)
            if outcome is None:
                outcome = outcomes[tid] = _Outcome(None, fraud=False, legit=False)
                before[tid] = {}
            if isinstance(value, Decision):
                if outcome.fired is None:
                    outcome.fired = _fired(value)
            elif is_fraud_label(value):
                outcome.fraud = True
            else:
                outcome.legit = True
        delta: Counter[tuple[RuleKey, int]] = Counter()
        for tid, outcome in outcomes.items():
            after = outcome.contribution()
            for key in after.keys() | before[tid].keys():
                new, old = after.get(key, (0, 0, 0)), before[tid].get(key, (0, 0, 0))
                for column in range(3):
                    delta[(key, column)] += new[column] - old[column]
        upsert(
            tx,
            outcomes_table,
            ("transaction_id", "fired", "fraud", "legit"),
            ("transaction_id",),
            (
                (
                    tid,
                    _fired_encoder.encode(o.fired).decode() if o.fired is not None else None,
                    int(o.fraud),
                    int(o.legit),
                )
                for tid, o in outcomes.items()
            ),
        )
        keys = {key for key, _ in delta}
        stats = tables["stats"]
        upsert(
            tx,
            stats,
            _STATS,
            ("rule", "version", "mode"),
            (
                (*key, delta[(key, 0)], delta[(key, 1)], delta[(key, 2)])
                for key in sorted(keys)
                if any(delta[(key, column)] for column in range(3))
            ),
            update={column: f"{stats}.{column} + excluded.{column}" for column in _STATS[3:]},
        )

    def query(self, tx: Tx, tables: Tables, *, mode: str | None = None) -> list[RuleStats]:
        where, params = ("WHERE mode = ? ", [mode]) if mode is not None else ("", [])
        rows = tx.execute(
            f"SELECT {', '.join(_STATS)} FROM {tables['stats']} {where}"
            "ORDER BY hits DESC, rule, version, mode",
            params,
        )
        return [_stats(row) for row in rows]


def _stats(row: tuple[Any, ...]) -> RuleStats:
    rule, version, mode, hits, fraud, legit = row
    labelled = fraud + legit
    return RuleStats(
        rule=rule,
        version=version,
        mode=mode,
        hits=hits,
        fraud_hits=fraud,
        legit_hits=legit,
        precision=fraud / hits if hits else None,
        labelled_precision=fraud / labelled if labelled else None,
    )

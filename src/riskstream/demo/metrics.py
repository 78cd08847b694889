"""The demo report's arithmetic, on plain inputs (no I/O): latency percentiles, throughput
over time, the per-scenario confusion matrix, money stopped and let through, the friction
put on genuine customers.

Vocabulary: a checkout is *flagged* when the engine challenged or blocked it (review lets
the payment go on); it is *stopped* when the Fraud Service cancelled it (blocked, or the
MFA challenge failed or expired); it was *let through* when the payment went on (allowed,
reviewed, or released after MFA); it is *held* while a challenge is still open.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Protocol

import msgspec
import numpy as np

from riskstream.fraud.rules import Action
from riskstream.services.backtest import FLAGGED_ACTIONS, TrueOutcome

__all__ = [
    "ACTIONS",
    "FLAGGED",
    "FraudMoney",
    "Friction",
    "LatencyStats",
    "ScenarioRow",
    "TrueCheckout",
    "fraud_money",
    "friction",
    "latencies_ms",
    "latency_stats",
    "scenario_rows",
    "throughput_series",
]

ACTIONS: Final = tuple(action.value for action in Action)  # weakest first
FLAGGED: Final = FLAGGED_ACTIONS
UNDECIDED: Final = "undecided"

# Transaction statuses of the read model, by what became of the payment.
_STOPPED: Final = frozenset({"cancelled"})
_THROUGH: Final = frozenset({"decided", "released"})
_HELD: Final = frozenset({"paused", "challenged"})


class TrueCheckout(TrueOutcome, Protocol):
    """What a checkout really was, and its amount (a simulator's ground-truth record)."""

    @property
    def amount(self) -> float: ...


# -- latency and throughput ----------------------------------------------------------------


class LatencyStats(msgspec.Struct, frozen=True, kw_only=True):
    """Percentiles (linear interpolation between closest ranks) of latencies in ms."""

    samples: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float


def latencies_ms(sent_ns: Mapping[str, int], read_ns: Mapping[str, int]) -> list[float]:
    """For each transaction read and sent: read - sent, in milliseconds (negative
    differences - clocks of one machine do not go back - are kept as they are)."""
    return [(at - sent_ns[tx]) / 1e6 for tx, at in read_ns.items() if tx in sent_ns]


def latency_stats(values: Sequence[float]) -> LatencyStats | None:
    """``None`` without samples."""
    if not values:
        return None
    array = np.asarray(values, dtype=np.float64)
    p50, p95, p99 = np.percentile(array, [50, 95, 99])
    return LatencyStats(
        samples=len(values),
        p50_ms=round(float(p50), 3),
        p95_ms=round(float(p95), 3),
        p99_ms=round(float(p99), 3),
        max_ms=round(float(array.max()), 3),
        mean_ms=round(float(array.mean()), 3),
    )


def throughput_series(
    samples: Sequence[tuple[float, int]], bucket_s: float = 1.0
) -> list[tuple[float, float]]:
    """``(time, cumulative count)`` samples, in time order → ``(bucket end, count per
    second)`` for each ``bucket_s`` after the first sample: the count at the last sample
    of each bucket minus the one before, over the time between them."""
    if len(samples) < 2:
        return []
    start = samples[0][0]
    ends: dict[int, tuple[float, int]] = {}
    for at, count in samples:
        ends[math.floor((at - start) / bucket_s)] = (at, count)
    series: list[tuple[float, float]] = []
    previous = samples[0]
    for bucket in sorted(ends):
        at, count = ends[bucket]
        if at > previous[0]:
            series.append((round(at - start, 3), (count - previous[1]) / (at - previous[0])))
            previous = (at, count)
    return series


# -- detection ------------------------------------------------------------------------------


class ScenarioRow(msgspec.Struct, frozen=True, kw_only=True):
    """One scenario's checkouts by the engine's action (``undecided``: no decision read),
    and what became of them. ``flagged_share`` is the scenario's recall for fraud, the
    share of customers put to the test for ``legit``; ``stopped`` payments were cancelled."""

    scenario: str
    fraud: bool
    checkouts: int
    allow: int
    review: int
    challenge: int
    block: int
    undecided: int
    flagged: int
    flagged_share: float | None
    stopped: int
    stopped_share: float | None
    amount: float
    amount_stopped: float


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 6) if whole else None


def _money(values: Iterable[float]) -> float:
    return round(math.fsum(values), 2)


def scenario_rows(
    truth: Iterable[TrueCheckout], actions: Mapping[str, str], statuses: Mapping[str, str]
) -> list[ScenarioRow]:
    """One row per scenario (``legit`` first, then by name); every checkout of ``truth``
    is in exactly one action cell of its scenario."""
    groups: dict[str, list[TrueCheckout]] = defaultdict(list)
    for record in truth:
        groups[record.scenario].append(record)
    rows = []
    for scenario in sorted(groups, key=lambda name: (name != "legit", name)):
        group = groups[scenario]
        counts = Counter(actions.get(r.transaction_id, UNDECIDED) for r in group)
        unknown = set(counts) - {*ACTIONS, UNDECIDED}
        if unknown:
            raise ValueError(f"unknown actions {sorted(unknown)}")
        flagged = counts["challenge"] + counts["block"]
        stopped = [r for r in group if statuses.get(r.transaction_id) in _STOPPED]
        rows.append(
            ScenarioRow(
                scenario=scenario,
                fraud=any(r.is_fraud for r in group),
                checkouts=len(group),
                allow=counts["allow"],
                review=counts["review"],
                challenge=counts["challenge"],
                block=counts["block"],
                undecided=counts[UNDECIDED],
                flagged=flagged,
                flagged_share=_ratio(flagged, len(group)),
                stopped=len(stopped),
                stopped_share=_ratio(len(stopped), len(group)),
                amount=_money(r.amount for r in group),
                amount_stopped=_money(r.amount for r in stopped),
            )
        )
    return rows


class FraudMoney(msgspec.Struct, frozen=True, kw_only=True):
    """The fraudulent checkouts' amount by what became of the payments; ``unsettled``
    ones have no outcome in the read model (no decision projected)."""

    total: float
    stopped: float
    let_through: float
    held: float
    unsettled: float
    stopped_share: float | None


def fraud_money(truth: Iterable[TrueCheckout], statuses: Mapping[str, str]) -> FraudMoney:
    sums: dict[str, list[float]] = defaultdict(list)
    for record in truth:
        if not record.is_fraud:
            continue
        status = statuses.get(record.transaction_id)
        if status in _STOPPED:
            sums["stopped"].append(record.amount)
        elif status in _THROUGH:
            sums["through"].append(record.amount)
        elif status in _HELD:
            sums["held"].append(record.amount)
        else:
            sums["unsettled"].append(record.amount)
    total = _money(a for values in sums.values() for a in values)
    stopped = _money(sums["stopped"])
    return FraudMoney(
        total=total,
        stopped=stopped,
        let_through=_money(sums["through"]),
        held=_money(sums["held"]),
        unsettled=_money(sums["unsettled"]),
        stopped_share=_ratio(stopped, total),
    )


class Friction(msgspec.Struct, frozen=True, kw_only=True):
    """What genuine customers went through: challenged or blocked (``share``), released
    after passing MFA, payments cancelled (blocked, or a challenge that expired)."""

    checkouts: int
    challenged: int
    blocked: int
    share: float | None
    released: int
    cancelled: int
    cancelled_share: float | None


def friction(
    truth: Iterable[TrueCheckout], actions: Mapping[str, str], statuses: Mapping[str, str]
) -> Friction:
    legit = [r for r in truth if not r.is_fraud]
    challenged = sum(1 for r in legit if actions.get(r.transaction_id) == "challenge")
    blocked = sum(1 for r in legit if actions.get(r.transaction_id) == "block")
    flagged = [r for r in legit if actions.get(r.transaction_id) in FLAGGED]
    released = sum(1 for r in flagged if statuses.get(r.transaction_id) == "released")
    cancelled = sum(1 for r in legit if statuses.get(r.transaction_id) in _STOPPED)
    return Friction(
        checkouts=len(legit),
        challenged=challenged,
        blocked=blocked,
        share=_ratio(challenged + blocked, len(legit)),
        released=released,
        cancelled=cancelled,
        cancelled_share=_ratio(cancelled, len(legit)),
    )

"""The demo report's arithmetic on hand-made inputs, every figure counted by hand."""

from __future__ import annotations

import pytest

from riskstream.demo.metrics import (
    fraud_money,
    friction,
    latencies_ms,
    latency_stats,
    scenario_rows,
    throughput_series,
)
from tests.unit.demo.kit import truth

MS = 1_000_000  # ns


def test_latencies_join_produce_and_read_times_by_transaction() -> None:
    sent = {"a": 0, "b": 10 * MS, "c": 20 * MS}
    read = {"a": 15 * MS, "b": 12 * MS, "x": 99 * MS}  # c never read, x never sent
    assert sorted(latencies_ms(sent, read)) == [2.0, 15.0]


def test_latency_percentiles_interpolate_between_ranks() -> None:
    stats = latency_stats([float(v) for v in range(1, 101)])  # 1..100 ms
    assert stats is not None
    assert stats.samples == 100
    assert stats.p50_ms == pytest.approx(50.5)
    assert stats.p95_ms == pytest.approx(95.05)
    assert stats.p99_ms == pytest.approx(99.01)
    assert stats.max_ms == 100.0
    assert stats.mean_ms == pytest.approx(50.5)
    assert latency_stats([]) is None
    single = latency_stats([7.0])
    assert single is not None and single.p50_ms == single.p99_ms == 7.0


def test_throughput_is_the_count_difference_over_the_time_between_samples() -> None:
    samples = [(100.0, 0), (100.5, 500), (101.0, 1000), (101.5, 1200), (102.0, 1400), (104.0, 1400)]
    # buckets of 1 s from the first sample: [0, 1) ends at 100.5, [1, 2) at 101.5, [2, 3) at
    # 102.0, [4, 5) at 104.0
    assert throughput_series(samples) == [
        (0.5, 1000.0),
        (1.5, 700.0),
        (2.0, 400.0),
        (4.0, 0.0),
    ]
    assert throughput_series(samples[:1]) == []


def _records() -> list:
    return [
        truth("l1", "legit", 10.0),
        truth("l2", "legit", 20.0),
        truth("l3", "legit", 30.0),
        truth("l4", "legit", 40.0),
        truth("a1", "account_takeover", 100.0),
        truth("a2", "account_takeover", 200.0),
        truth("a3", "account_takeover", 300.0),
        truth("c1", "card_testing", 1.0),
        truth("c2", "card_testing", 2.0),
    ]


ACTIONS = {
    "l1": "allow",
    "l2": "review",
    "l3": "challenge",
    "l4": "block",
    "a1": "block",
    "a2": "challenge",
    "a3": "allow",
    "c1": "challenge",
    # c2 was never decided
}
STATUSES = {
    "l1": "decided",
    "l2": "decided",
    "l3": "released",  # passed MFA
    "l4": "cancelled",  # blocked
    "a1": "cancelled",
    "a2": "cancelled",  # failed MFA
    "a3": "decided",
    "c1": "challenged",  # still open
}


def test_every_checkout_is_in_exactly_one_cell_of_its_scenario() -> None:
    rows = {row.scenario: row for row in scenario_rows(_records(), ACTIONS, STATUSES)}
    assert list(rows) == ["legit", "account_takeover", "card_testing"]
    legit = rows["legit"]
    assert (legit.allow, legit.review, legit.challenge, legit.block, legit.undecided) == (
        1, 1, 1, 1, 0,
    )  # fmt: skip
    assert not legit.fraud
    assert legit.flagged == 2 and legit.flagged_share == 0.5
    assert legit.stopped == 1 and legit.amount_stopped == 40.0
    ato = rows["account_takeover"]
    assert ato.fraud and ato.checkouts == 3
    assert (ato.allow, ato.challenge, ato.block) == (1, 1, 1)
    assert ato.flagged_share == pytest.approx(2 / 3, abs=1e-6)
    assert ato.stopped == 2 and ato.amount == 600.0 and ato.amount_stopped == 300.0
    cards = rows["card_testing"]
    assert (cards.challenge, cards.undecided, cards.stopped) == (1, 1, 0)
    cells = sum(r.allow + r.review + r.challenge + r.block + r.undecided for r in rows.values())
    assert cells == len(_records())


def test_an_unknown_action_is_an_error_not_a_silent_cell() -> None:
    with pytest.raises(ValueError, match="unknown actions"):
        scenario_rows([truth("x", "legit", 1.0)], {"x": "hold"}, {})


def test_fraud_money_by_what_became_of_the_payment() -> None:
    money = fraud_money(_records(), STATUSES)
    assert money.total == 603.0
    assert money.stopped == 300.0  # a1 blocked, a2 failed MFA
    assert money.let_through == 300.0  # a3 allowed
    assert money.held == 1.0  # c1 challenged, not answered yet
    assert money.unsettled == 2.0  # c2 never decided
    assert money.stopped_share == pytest.approx(300 / 603, abs=1e-6)


def test_friction_counts_the_genuine_customers_put_to_the_test() -> None:
    found = friction(_records(), ACTIONS, STATUSES)
    assert found.checkouts == 4
    assert (found.challenged, found.blocked) == (1, 1)
    assert found.share == 0.5
    assert found.released == 1
    assert found.cancelled == 1 and found.cancelled_share == 0.25

"""The ground-truth report names the rules that fired on each scenario: what catches a
fraud scenario, and what challenges legitimate customers."""

from __future__ import annotations

from riskstream.services.backtest import ScenarioRule, compute_report, encode_report
from tests.unit.services.test_backtest_report import CANDIDATE, LABELS, TRUTH, Truth, decision


def test_rules_are_counted_per_scenario_with_what_they_flagged() -> None:
    truth = compute_report(CANDIDATE, LABELS, truth=TRUTH).truth
    assert truth is not None
    assert truth.rules == [
        # legit (t6) fired nothing; then the scenarios by name
        ScenarioRule(scenario="account_takeover", rule="r1", shadow=False, hits=2, flagged=2),
        ScenarioRule(scenario="account_takeover", rule="r2", shadow=False, hits=1, flagged=1),
        ScenarioRule(scenario="bot_checkout", rule="r2", shadow=False, hits=1, flagged=0),
        ScenarioRule(scenario="promo_abuse", rule="r2", shadow=False, hits=1, flagged=1),
        ScenarioRule(scenario="promo_abuse", rule="r3", shadow=True, hits=1, flagged=1),
    ]


def test_the_rules_behind_false_alarms_come_first() -> None:
    decisions = [
        decision("a", "challenge", 10.0, rules=("noisy", "both")),
        decision("b", "review", 10.0, rules=("noisy",)),
        decision("c", "block", 10.0, rules=("both", "both")),  # a rule counts once a checkout
    ]
    truth = [Truth("a", "legit", False), Truth("b", "legit", False), Truth("c", "zeta", True)]
    report = compute_report(decisions, set(), truth=truth)
    assert report.truth is not None
    assert [(r.scenario, r.rule, r.hits, r.flagged) for r in report.truth.rules] == [
        ("legit", "noisy", 2, 1),
        ("legit", "both", 1, 1),
        ("zeta", "both", 1, 1),
    ]
    encoded = encode_report(report)
    assert b'"rules":[{"scenario":"legit","rule":"noisy","shadow":false,"hits":2,' in encoded

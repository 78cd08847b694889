"""Hand-made inputs for the demo report's unit tests."""

from __future__ import annotations

from riskstream.demo.config import DemoConfig
from riskstream.demo.facts import RunFacts
from riskstream.fraud.decision import Decision, ModelVerdict
from riskstream.sim import GroundTruth

T0 = 1_767_225_600_000


def truth(tx: str, scenario: str, amount: float) -> GroundTruth:
    return GroundTruth(
        transaction_id=tx,
        user_id=f"u-{tx}",
        event_time=T0,
        scenario=scenario,
        is_fraud=scenario != "legit",
        amount=amount,
        merchant_id="m1",
    )


def decision(
    tx: str,
    action: str,
    amount: float,
    *,
    score: float = 0.0,
    probability: float | None = None,
    latency_ms: int = 5,
) -> Decision:
    return Decision(
        transaction_id=tx,
        user_id=f"u-{tx}",
        checkout_time=T0,
        amount=amount,
        currency="EUR",
        merchant_id="m1",
        action=action,
        score=score,
        rule_score=score,
        rule_action=action,
        reasons=[],
        shadow=[],
        faults=[],
        model=None
        if probability is None
        else ModelVerdict(version="m-1", probability=probability, contributions=[]),
        challenger=None,
        rules_version="r-1",
        lists_version="",
        features_version="f-1",
        features={},
        missing=[],
        decided_at=T0 + latency_ms,
        latency_ms=latency_ms,
    )


def facts(**overrides: object) -> RunFacts:
    found = RunFacts(run_id="r1", log_url="embedded:/tmp/x", prefix="", config=DemoConfig())
    for name, value in overrides.items():
        setattr(found, name, value)
    return found

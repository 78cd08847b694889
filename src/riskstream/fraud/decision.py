"""The decision record: one record explains everything about how a checkout was decided.

It names the action and score, every rule that fired (id, version, score, action and the
feature values it read), the shadow rules that would have fired, the champion model's
probability with its strongest feature contributions, the challenger's opinion beside it,
the versions of rules, lists, model and features in force, every feature value the
checkout had, which parts of the profile were missing (if any) and how long it took.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from riskstream.fraud.features.messages import CheckoutFacts
from riskstream.fraud.policy import ActivePolicy, ModelOpinion
from riskstream.fraud.rules import Action, RuleHit

__all__ = ["Decision", "ModelVerdict", "RuleReason", "decide", "decode_decision", "encode_decision"]


class RuleReason(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    version: int
    score: float
    action: str
    features: dict[str, Any]


class ModelVerdict(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    probability: float
    contributions: list[tuple[str, float, Any]]


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: str
    user_id: str
    checkout_time: int
    amount: float
    currency: str
    merchant_id: str
    action: str  # allow | review | challenge | block
    score: float
    rule_score: float
    rule_action: str
    reasons: list[RuleReason]
    shadow: list[RuleReason]
    faults: list[str]
    model: ModelVerdict | None
    challenger: ModelVerdict | None
    rules_version: str
    lists_version: str
    features_version: str
    features: dict[str, Any]
    missing: list[str]  # profile parts that never answered or failed ("device: <error>")
    decided_at: int
    latency_ms: int

    @property
    def severity(self) -> int:
        return Action(self.action).severity


def _reasons(hits: tuple[RuleHit, ...]) -> list[RuleReason]:
    return [
        RuleReason(
            rule=hit.rule_id,
            version=hit.version,
            score=hit.score,
            action=hit.action.value,
            features=dict(hit.features),
        )
        for hit in hits
    ]


def _verdict(version: str, opinion: ModelOpinion | None) -> ModelVerdict | None:
    if opinion is None:
        return None
    return ModelVerdict(
        version=version,
        probability=opinion.probability,
        contributions=[
            (name, float(push), value) for name, push, value in opinion.top_contributions
        ],
    )


def decide(
    facts: CheckoutFacts,
    features: Mapping[str, Any],
    policy: ActivePolicy,
    *,
    now: int,
    features_version: str,
    missing: tuple[str, ...] = (),
    champion: ModelOpinion | None = None,
    challenger: ModelOpinion | None = None,
) -> Decision:
    """Evaluate the rules and combine them with the model opinions into one decision."""
    evaluation = policy.rules.evaluate(features, policy.lists)
    thresholds = policy.thresholds
    score = float(evaluation.score)
    if champion is not None:
        score += thresholds.model_weight * champion.probability
    action = thresholds.action_for(score)
    if evaluation.action.severity > action.severity:
        action = evaluation.action
    return Decision(
        transaction_id=facts.transaction_id,
        user_id=facts.user_id,
        checkout_time=facts.time,
        amount=facts.amount,
        currency=facts.currency,
        merchant_id=facts.merchant_id,
        action=action.value,
        score=round(score, 4),
        rule_score=float(evaluation.score),
        rule_action=evaluation.action.value,
        reasons=_reasons(evaluation.fired),
        shadow=_reasons(evaluation.shadow_hits),
        faults=[f"{f.rule_id} v{f.version}: {f.error}" for f in evaluation.faults],
        model=_verdict(policy.champion.version, champion) if policy.champion else None,
        challenger=_verdict(policy.challenger.version, challenger) if policy.challenger else None,
        rules_version=evaluation.ruleset_version,
        lists_version=policy.lists_version,
        features_version=features_version,
        features=dict(features),
        missing=list(missing),
        decided_at=now,
        latency_ms=max(0, now - facts.seen_at),
    )


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Decision)


def encode_decision(decision: Decision) -> bytes:
    return _encoder.encode(decision)


def decode_decision(raw: bytes | None) -> Decision:
    if raw is None:
        raise ValueError("decision record without a value")
    return _decoder.decode(raw)

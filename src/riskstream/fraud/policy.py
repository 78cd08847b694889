"""What decides: the active rules, lists, models and thresholds, as one immutable snapshot.

The decision stage asks its :class:`PolicySource` for the current :class:`ActivePolicy`
once per checkout; a running worker's source follows the published rules, lists and
models (``riskstream.services``) and swaps the snapshot whole, so a decision never mixes
two rule sets. Backtests and tests pass a :class:`StaticPolicy`. The domain does no I/O:
where a policy comes from is the composition root's business.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from riskstream.fraud.rules import Action, FeatureCatalogue, RuleSet, default_rule_set

__all__ = [
    "ActivePolicy",
    "ModelOpinion",
    "ModelScorer",
    "PolicySource",
    "StaticPolicy",
    "Thresholds",
    "default_policy",
]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """How a risk score becomes an action.

    The score is the enforced rules' score plus ``model_weight`` x the champion model's
    fraud probability. The action is the strongest of the rules' action and the one the
    score reaches (``review`` / ``challenge`` / ``block`` thresholds). Decisions at
    ``alert_at`` or stronger also go to the alerts topic.
    """

    review: float = 30.0
    challenge: float = 60.0
    block: float = 90.0
    model_weight: float = 2000.0
    alert_at: Action = Action.CHALLENGE

    def __post_init__(self) -> None:
        if not self.review <= self.challenge <= self.block:
            raise ValueError("thresholds must satisfy review <= challenge <= block")

    def action_for(self, score: float) -> Action:
        if score >= self.block:
            return Action.BLOCK
        if score >= self.challenge:
            return Action.CHALLENGE
        if score >= self.review:
            return Action.REVIEW
        return Action.ALLOW


class ModelOpinion(Protocol):
    """A model's fraud probability for one checkout and its strongest reasons:
    ``(feature, contribution to the log-odds, value)``, largest magnitude first (empty when
    the score was not explained)."""

    @property
    def probability(self) -> float: ...

    @property
    def top_contributions(self) -> Sequence[tuple[str, float, Any]]: ...


class ModelScorer(Protocol):
    """A loaded model, ready to score the engine's feature mappings in batches
    (:class:`riskstream.fraud.model.Scorer`)."""

    @property
    def version(self) -> str: ...

    def score_batch(
        self, feature_dicts: Sequence[Mapping[str, object]]
    ) -> Sequence[ModelOpinion]: ...


@dataclass(frozen=True, slots=True)
class ActivePolicy:
    rules: RuleSet
    lists: Mapping[str, Collection[str]] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    champion: ModelScorer | None = None
    challenger: ModelScorer | None = None
    lists_version: str = ""


class PolicySource(Protocol):
    def current(self) -> ActivePolicy: ...


class StaticPolicy:
    """A policy that never changes (backtests, tests, a worker without a registry)."""

    __slots__ = ("policy",)

    def __init__(self, policy: ActivePolicy) -> None:
        self.policy = policy

    def current(self) -> ActivePolicy:
        return self.policy


def default_policy(catalogue: FeatureCatalogue) -> ActivePolicy:
    """The shipped default rules with default thresholds and no model."""
    return ActivePolicy(default_rule_set(catalogue))

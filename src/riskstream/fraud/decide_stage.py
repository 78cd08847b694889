"""The decision stage: gathers a checkout's profile parts and decides.

Parts arrive keyed by the user, in any order. Once every part the user stage announced has
arrived, the checkout is scored (rules, then the champion model and the challenger beside
it) and its :class:`Decision` goes downstream. A part that never arrives cannot hold a
payment forever: after ``part_timeout_ms`` of processing time the checkout is decided with
what is there, and the decision names what was missing. Recently decided transactions are
remembered, so a part replayed after a restart does not decide a checkout twice.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import msgspec

from riskstream.fraud.decision import decide
from riskstream.fraud.features.messages import CheckoutFacts, CheckoutPart
from riskstream.fraud.policy import ModelOpinion, ModelScorer, PolicySource
from riskstream.stream.item import Item
from riskstream.stream.processor import Context, KeyState

__all__ = ["DecisionStage", "Pending", "PendingCheckout"]

logger = logging.getLogger(__name__)

DEFAULT_PART_TIMEOUT_MS: Final = 2_000
_REMEMBER_DECIDED: Final = 64


class PendingCheckout(msgspec.Struct, gc=False, array_like=True):
    facts: CheckoutFacts
    features: dict[str, Any]
    parts: list[str]
    deadline: int


class Pending(msgspec.Struct, gc=False, array_like=True):
    checkouts: dict[str, PendingCheckout] = msgspec.field(default_factory=dict)
    decided: dict[str, int] = msgspec.field(default_factory=dict)  # transaction -> checkout time


class DecisionStage:
    """The ``decide`` step of the fraud topology (state: :class:`Pending`)."""

    def __init__(
        self,
        policy: PolicySource,
        *,
        features_version: str,
        part_timeout_ms: int = DEFAULT_PART_TIMEOUT_MS,
    ) -> None:
        self.policy = policy
        self.features_version = features_version
        self.part_timeout_ms = part_timeout_ms

    def process(self, item: Item, state: KeyState[Any], ctx: Context) -> None:
        part: CheckoutPart = item.value
        facts = part.facts
        txid = facts.transaction_id
        pending: Pending = state.get() or Pending()
        if txid in pending.decided:
            return  # a part replayed after the decision was made
        entry = pending.checkouts.get(txid)
        if entry is None:
            deadline = ctx.now() + self.part_timeout_ms
            entry = PendingCheckout(facts, {}, [], deadline)
            pending.checkouts[txid] = entry
            ctx.schedule(deadline, processing_time=True)
        elif part.part in entry.parts:
            return
        if part.part == "user":
            entry.facts = facts  # the user part carries the authoritative facts
        entry.parts.append(part.part)
        entry.features.update(part.features)
        if len(entry.parts) >= len(entry.facts.expected):
            self._decide(pending, entry, ctx)
        state.set(pending)

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None:
        pending: Pending | None = state.get()
        if pending is None:
            return
        for entry in [e for e in pending.checkouts.values() if e.deadline <= at]:
            self._decide(pending, entry, ctx)
        state.set(pending)

    def _decide(self, pending: Pending, entry: PendingCheckout, ctx: Context) -> None:
        facts = entry.facts
        policy = self.policy.current()
        features = entry.features
        champion = _opinion(policy.champion, features)
        challenger = _opinion(policy.challenger, features)
        missing = tuple(p for p in facts.expected if p not in entry.parts)
        decision = decide(
            facts,
            features,
            policy,
            now=ctx.now(),
            features_version=self.features_version,
            missing=missing,
            champion=champion,
            challenger=challenger,
        )
        ctx.forward(decision, event_time=facts.time)
        txid = facts.transaction_id
        del pending.checkouts[txid]
        decided = pending.decided
        decided[txid] = facts.time
        if len(decided) > _REMEMBER_DECIDED:
            del decided[next(iter(decided))]


def _opinion(model: ModelScorer | None, features: dict[str, Any]) -> ModelOpinion | None:
    if model is None:
        return None
    try:
        return model.score_batch([features])[0]
    except Exception:  # a broken model must not block payments: rules still decide
        logger.exception("model %s failed to score; deciding on rules alone", model.version)
        return None

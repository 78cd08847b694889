"""The decision stage: gathers a checkout's profile parts and decides.

Parts arrive keyed by the user, in any order. Once every part the user stage announced has
arrived, the checkout is scored (rules, then the champion model and the challenger beside
it) and its :class:`Decision` goes downstream. A profile that fails to answer sends its
error as its part, so the checkout is decided at once on the rest and the decision names it;
a part that never arrives at all (a bug) cannot hold a payment forever: after
``part_timeout_ms`` of processing time the checkout is decided with what is there. Recently
decided transactions are remembered, so a part replayed after a restart does not decide a
checkout twice.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import msgspec

from riskstream.fraud.decision import Decision, decide
from riskstream.fraud.features.messages import CheckoutFacts, CheckoutPart
from riskstream.fraud.policy import ActivePolicy, ModelOpinion, ModelScorer, PolicySource
from riskstream.stream.item import Item
from riskstream.stream.processor import Context, KeyState, Later

__all__ = ["DecisionStage", "Pending", "PendingCheckout"]

logger = logging.getLogger(__name__)

# A last resort: parts always come (a profile that fails sends its error instead), but they
# queue behind a backlog after an outage - waiting for them then is right, deciding on
# partial profiles is not.
DEFAULT_PART_TIMEOUT_MS: Final = 300_000
_REMEMBER_DECIDED: Final = 64


class PendingCheckout(msgspec.Struct, gc=False, array_like=True):
    facts: CheckoutFacts
    features: dict[str, Any]
    parts: list[str]
    deadline: int
    errors: list[str] = msgspec.field(default_factory=list)  # parts that failed to answer


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
        # Checkouts completed during the current batch (tasks run one at a time, and each
        # batch ends with end_batch, so this never mixes two tasks' checkouts).
        self._ready: list[tuple[PendingCheckout, Later]] = []

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
        user = part.user  # the user-side part, carried by an entity's answer
        if user is not None:
            entry.facts = facts  # the user part carries the authoritative facts
            entry.parts.append("user")
            entry.features.update(user)
        elif part.part == "user":
            entry.facts = facts
        entry.parts.append(part.part)
        entry.features.update(part.features)
        if part.error is not None:
            entry.errors.append(f"{part.part}: {part.error}")
        if len(entry.parts) >= len(entry.facts.expected):
            self._settle(pending, entry)
            # Scored with the rest of the batch's checkouts, in one model call.
            self._ready.append((entry, ctx.later()))
        state.set(pending)

    def end_batch(self) -> None:
        """Decide the checkouts the batch completed: one model call for all of them."""
        ready, self._ready = self._ready, []
        if not ready:
            return
        policy = self.policy.current()
        rows = [entry.features for entry, _ in ready]
        champions = _opinions(policy.champion, rows)
        challengers = _opinions(policy.challenger, rows)
        for (entry, later), champion, challenger in zip(ready, champions, challengers, strict=True):
            decision = self._decision(entry, policy, later.now(), champion, challenger)
            later.forward(decision, event_time=entry.facts.time)

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None:
        """Parts overdue: decide with what arrived (the decision names what is missing)."""
        pending: Pending | None = state.get()
        if pending is None:
            return
        overdue = [e for e in pending.checkouts.values() if e.deadline <= at]
        if not overdue:
            return
        policy = self.policy.current()
        rows = [entry.features for entry in overdue]
        champions = _opinions(policy.champion, rows)
        challengers = _opinions(policy.challenger, rows)
        for entry, champion, challenger in zip(overdue, champions, challengers, strict=True):
            self._settle(pending, entry)
            decision = self._decision(entry, policy, ctx.now(), champion, challenger)
            ctx.forward(decision, event_time=entry.facts.time)
        state.set(pending)

    def _settle(self, pending: Pending, entry: PendingCheckout) -> None:
        """The checkout leaves the pending set and is remembered as decided."""
        txid = entry.facts.transaction_id
        del pending.checkouts[txid]
        decided = pending.decided
        decided[txid] = entry.facts.time
        if len(decided) > _REMEMBER_DECIDED:
            del decided[next(iter(decided))]

    def _decision(
        self,
        entry: PendingCheckout,
        policy: ActivePolicy,
        now: int,
        champion: ModelOpinion | None,
        challenger: ModelOpinion | None,
    ) -> Decision:
        facts = entry.facts
        return decide(
            facts,
            entry.features,
            policy,
            now=now,
            features_version=self.features_version,
            missing=(
                *(p for p in facts.expected if p not in entry.parts),
                *entry.errors,
            ),
            champion=champion,
            challenger=challenger,
        )


def _opinions(model: ModelScorer | None, rows: list[dict[str, Any]]) -> list[ModelOpinion | None]:
    if model is None:
        return [None] * len(rows)
    try:
        return list(model.score_batch(rows))
    except Exception:  # a broken model must not block payments: rules still decide
        logger.exception("model %s failed to score; deciding on rules alone", model.version)
        return [None] * len(rows)

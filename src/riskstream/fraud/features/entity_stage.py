"""The entity stage: the profiles of devices, instruments, IPs and merchants.

Keyed ``"<entity>:<id>"`` through the entity repartition topic, so one device's profile
sees that device's touches from every user. A checkout query is answered with the
entity's features as of the checkout's event time, read before its own touch is applied.
The user-side features a query carries go back with its answer (or its error); alone (key
``"user:<id>"``) they pass straight through to the decision stage.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from riskstream.fraud.features.aggregates import AggregateState
from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.features.messages import CheckoutPart, EntityMessage
from riskstream.stream.item import Item
from riskstream.stream.processor import Context, KeyState

__all__ = ["EntityProfile", "EntityStage"]

logger = logging.getLogger(__name__)


class EntityProfile(msgspec.Struct, gc=False, array_like=True):
    first_seen: int
    aggregates: AggregateState


class EntityStage:
    """The ``entities`` step of the fraud topology (state: :class:`EntityProfile`)."""

    def __init__(self, engine: FeatureEngine) -> None:
        self.engine = engine

    def process(self, item: Item, state: KeyState[Any], ctx: Context) -> None:
        message: EntityMessage = item.value
        entity, _, _ = message.route.partition(":")
        facts = message.facts
        if entity == "user":
            if facts is not None:
                ctx.forward(CheckoutPart("user", facts, message.features or {}))
            return
        try:
            self._answer(entity, message, state, ctx)
        except Exception as exc:
            if facts is None:
                raise  # a plain touch: dead-lettered with the reason
            # The checkout is waiting for this part: send the failure instead of silence, so
            # the decision is made at once and names the part it lacked.
            logger.warning("profile %s failed on %s: %r", message.route, facts.transaction_id, exc)
            error = f"{type(exc).__name__}: {exc}"
            ctx.forward(CheckoutPart(entity, facts, {}, error, message.features))

    def _answer(
        self, entity: str, message: EntityMessage, state: KeyState[Any], ctx: Context
    ) -> None:
        facts = message.facts
        aggregates = self.engine.aggregates[entity]
        touch = message.touch
        profile: EntityProfile | None = state.get()
        if profile is None:
            profile = EntityProfile(touch.time, aggregates.new_state())
        if facts is not None:
            features = aggregates.read(profile.aggregates, facts.time)
            if entity == "device":
                features["device.age_ms"] = max(0, facts.time - profile.first_seen)
            ctx.forward(CheckoutPart(entity, facts, features, None, message.features))
        aggregates.update(profile.aggregates, touch)
        profile.first_seen = min(profile.first_seen, touch.time)
        state.set(profile)

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None:
        """The entity stage sets no timers."""

"""The user stage: folds every event into its user's profile and asks the other profiles.

For a checkout it reads the user-side features *before* folding the checkout in, then sends
one query per entity the checkout names (device, instrument, IP, merchant) through the
entity repartition topic, the first carrying the user-side features; other events become
touches for the entity profiles whose declared aggregates read them. Events no aggregate
reads (most traffic: clicks, pointer moves) make no touch at all.
"""

from __future__ import annotations

from typing import Any, Final

from riskstream.events import Checkout, Event
from riskstream.fraud.features.engine import ENTITY_PARTS, FeatureEngine
from riskstream.fraud.features.messages import CheckoutFacts, EntityMessage
from riskstream.fraud.features.profile import UserProfile, checkout_features, fold
from riskstream.fraud.features.routing import touch_of, touched_types
from riskstream.stream.item import Item
from riskstream.stream.processor import Context, KeyState

__all__ = ["MAX_CLOCK_SKEW_MS", "FutureEventError", "UserStage"]

#: How far ahead of processing time an event may claim to be. Beyond it the event is refused
#: (dead-lettered): a client with a wrong clock must not age every profile it touches.
MAX_CLOCK_SKEW_MS: Final = 86_400_000


class FutureEventError(ValueError):
    """An event time too far in the future to be believed."""


class UserStage:
    """The ``profile`` step of the fraud topology (state: :class:`UserProfile`)."""

    def __init__(self, engine: FeatureEngine) -> None:
        self.engine = engine
        self._aggregates = engine.aggregates["user"]
        self._routes = engine.routes
        # the events whose touch someone reads: the user's aggregates, an entity profile, or
        # the checkout's own queries
        self._touched = touched_types(self._aggregates.kinds | engine.routes.keys() | {"checkout"})

    def process(self, item: Item, state: KeyState[Any], ctx: Context) -> None:
        event: Event = item.value
        if event.event_time > ctx.now() + MAX_CLOCK_SKEW_MS:
            raise FutureEventError(
                f"event time {event.event_time} is more than {MAX_CLOCK_SKEW_MS} ms ahead of "
                f"processing time {ctx.now()}"
            )
        aggregates = self._aggregates
        profile: UserProfile | None = state.get()
        if profile is None:
            profile = UserProfile(event.event_time, aggregates.new_state())
        if type(event) in self._touched:
            touch = touch_of(event, profile)
            if touch is not None:
                if type(event) is Checkout:
                    self._ask(event, profile, touch, ctx)
                else:
                    for entity in self._routes.get(touch.kind, ()):
                        entity_id = getattr(touch, entity)
                        if entity_id:
                            ctx.forward(EntityMessage(f"{entity}:{entity_id}", touch))
                aggregates.update(profile.aggregates, touch)
        fold(profile, event)
        state.set(profile)

    def _ask(self, checkout: Checkout, profile: UserProfile, touch: Any, ctx: Context) -> None:
        features = checkout_features(profile, checkout, self._aggregates)
        routes = [
            (entity, f"{entity}:{entity_id}")
            for entity in ENTITY_PARTS
            if (entity_id := getattr(touch, entity))
        ]
        facts = CheckoutFacts(
            checkout.transaction_id,
            checkout.user_id,
            checkout.event_time,
            checkout.amount,
            checkout.currency,
            checkout.merchant_id,
            ctx.now(),
            ("user", *(entity for entity, _ in routes)),
        )
        if not routes:  # no entity to ask: the user-side part goes alone
            ctx.forward(EntityMessage(f"user:{checkout.user_id}", touch, facts, features))
            return
        carried: dict[str, Any] | None = features  # rides with the first query
        for _, route in routes:
            ctx.forward(EntityMessage(route, touch, facts, carried))
            carried = None

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None:
        """The user stage sets no timers."""

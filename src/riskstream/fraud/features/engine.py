"""The feature engine: the built-in profile features plus the declared aggregates.

One object holds everything the topology, training and backtests need to agree on: the
compiled aggregates per entity, which touches each entity's profile must see, and the
catalogue of every feature a checkout gets (rules are type-checked and models are matched
against it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from riskstream.fraud.features.aggregates import EntityAggregates
from riskstream.fraud.features.spec import FeatureSpecs, catalogue_entries, default_features
from riskstream.fraud.features.touch import ENTITIES
from riskstream.fraud.rules.catalogue import DEFAULT_LISTS, Feature, FeatureCatalogue, ValueType
from riskstream.fraud.rules.expected import EXPECTED_FEATURES

__all__ = ["BUILTIN_FEATURES", "ENTITY_PARTS", "PROFILE_FEATURES", "FeatureEngine"]

#: Features computed by code (profiles), not declared: their meanings are in
#: :mod:`riskstream.fraud.rules.expected`.
BUILTIN_FEATURES: Final = (
    "login.new_device",
    "login.new_country",
    "login.country",
    "session.ms_since_login",
    "promo.value",
    "promo.cart_value",
    "promo.code",
    "promo.seconds_after_first_click",
    "checkout.amount",
    "checkout.currency",
    "checkout.country",
    "checkout.bin_country",
    "checkout.item_count",
    "checkout.seconds_after_first_click",
    "checkout.new_shipping_address",
    "user.email_hash",
    "account.age_ms",
    "account.ms_since_address_change",
    "account.ms_since_profile_change",
    "device.id",
    "device.age_ms",
    "instrument.id",
    "instrument.bin",
    "instrument.new_for_user",
    "ip.address",
    "merchant.id",
    "travel.speed_kmh",
    "travel.distance_km",
    "mouse.samples",
    "mouse.straightness",
    "mouse.mean_speed",
    "mouse.max_speed",
)

#: Features computed by code beyond the expected catalogue: a checkout in terms a tree model
#: cannot derive from two columns itself (their comparison, their ratio). The model and
#: published rules (checked against the engine's catalogue) read them; the default rules
#: keep to the expected features.
PROFILE_FEATURES: Final = (
    Feature(
        "checkout.cross_border",
        ValueType.BOOL,
        "the card was issued in another country than the checkout's (BIN country vs IP)",
    ),
    Feature(
        "checkout.amount_to_usual",
        ValueType.NUMBER,
        "the amount / user.avg_checkout_amount_30d (null without checkouts in 30 days)",
    ),
    Feature(
        "mouse.speed_ratio",
        ValueType.NUMBER,
        "peak / mean pointer speed in the session: near 1 is a constant-speed script",
    ),
)

#: The entity profiles every checkout asks, besides its user's.
ENTITY_PARTS: Final = tuple(entity for entity in ENTITIES if entity != "user")

# Touch kinds an entity profile sees even when no declared aggregate reads them.
_ALWAYS: Final[Mapping[str, frozenset[str]]] = {
    "device": frozenset({"login", "checkout", "promo"}),  # device.age_ms: first seen by anyone
}


class FeatureEngine:
    """Compiled features: ``aggregates[entity]``, ``routes[kind]``, ``catalogue``."""

    def __init__(self, specs: FeatureSpecs | None = None) -> None:
        self.specs = default_features() if specs is None else specs
        self.aggregates: dict[str, EntityAggregates] = {
            entity: EntityAggregates.compile(self.specs.for_entity(entity)) for entity in ENTITIES
        }
        reads: dict[str, set[str]] = {entity: set(_ALWAYS.get(entity, ())) for entity in ENTITIES}
        for spec in self.specs.specs:
            reads[spec.entity].update(spec.kinds)
        # kind -> the non-user entities whose profiles a touch of that kind updates
        self.routes: dict[str, tuple[str, ...]] = {}
        for entity in ENTITY_PARTS:
            for kind in reads[entity]:
                self.routes[kind] = (*self.routes.get(kind, ()), entity)
        builtin = [EXPECTED_FEATURES.feature(name) for name in BUILTIN_FEATURES]
        builtin += PROFILE_FEATURES
        declared = list(catalogue_entries(self.specs))
        self.catalogue = FeatureCatalogue.of(_merge(builtin, declared), lists=DEFAULT_LISTS)
        self.feature_names: tuple[str, ...] = tuple(sorted(self.catalogue))
        self.version = self.specs.version


def _merge(builtin: list[Feature], declared: list[Feature]) -> list[Feature]:
    """Built-ins and declared aggregates; a declared feature replaces a built-in's entry."""
    names = {feature.name for feature in declared}
    return [feature for feature in builtin if feature.name not in names] + declared

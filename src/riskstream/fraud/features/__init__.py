"""Features: declared aggregates per entity, and the state that computes them.

A fraud analyst declares an aggregate in one line of a features file (:mod:`.grammar`,
checked by :mod:`.spec`)::

    feature device.distinct_accounts_24h = distinct user of login, checkout, promo
                                             per device over 24h
    feature user.failed_logins_10m       = count of login per user over 10m where not success
    feature merchant.chargeback_rate_90d = ratio of chargeback to checkout per merchant over 90d

Every event becomes a :class:`Touch` for each entity it touches; the aggregates of an
entity kind are compiled once (:class:`EntityAggregates`) and keep a small, serialisable
:class:`AggregateState` per entity, read point-in-time (only earlier touches count)::

    specs = default_features()                     # or FeatureSpecs.from_text(...)
    device = EntityAggregates.compile(specs.for_entity("device"))
    state = device.new_state()
    device.update(state, Touch("login", 1_700_000_000_000, user="u1", device="d1"))
    device.read(state, at=1_700_000_060_000)      # {"device.distinct_accounts_24h": 1, ...}

The layer rule holds: no I/O here beyond reading a features file on request
(:meth:`FeatureSpecs.from_file`) and the default file, package data read with
:mod:`importlib.resources`.
"""

from riskstream.fraud.features.aggregates import (
    DISTINCT_LIMIT,
    AggregateState,
    EntityAggregates,
    bucket_width,
    retention_ms,
)
from riskstream.fraud.features.errors import ERROR_CODES, FeatureError, FeatureSpecError
from riskstream.fraud.features.spec import (
    DEFAULT_FEATURES_NAME,
    MAX_HORIZON_MS,
    AggregateSpec,
    Condition,
    FeatureSpecs,
    Measure,
    catalogue_entries,
    default_features,
)
from riskstream.fraud.features.touch import ENTITIES, TOUCH_FIELDS, TOUCH_KINDS, Touch

__all__ = [
    "DEFAULT_FEATURES_NAME",
    "DISTINCT_LIMIT",
    "ENTITIES",
    "ERROR_CODES",
    "MAX_HORIZON_MS",
    "TOUCH_FIELDS",
    "TOUCH_KINDS",
    "AggregateSpec",
    "AggregateState",
    "Condition",
    "EntityAggregates",
    "FeatureError",
    "FeatureSpecError",
    "FeatureSpecs",
    "Measure",
    "Touch",
    "bucket_width",
    "catalogue_entries",
    "default_features",
    "retention_ms",
]

"""Event schemas and their codecs: what flows on the log."""

from riskstream.events.codec import EventCodec, codec_for
from riskstream.events.schemas import (
    SCHEMA_VERSION,
    AddressChanged,
    Chargeback,
    Checkout,
    Click,
    Event,
    FraudReported,
    Login,
    MouseMovement,
    ProfileUpdated,
    PromoApplied,
)
from riskstream.events.topics import (
    ACTIVITY_TOPICS,
    DEFAULT_PARTITIONS,
    EVENT_TYPES,
    TOPIC_EVENTS,
    topic_of,
)

__all__ = [
    "ACTIVITY_TOPICS",
    "DEFAULT_PARTITIONS",
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "TOPIC_EVENTS",
    "AddressChanged",
    "Chargeback",
    "Checkout",
    "Click",
    "Event",
    "EventCodec",
    "FraudReported",
    "Login",
    "MouseMovement",
    "ProfileUpdated",
    "PromoApplied",
    "codec_for",
    "topic_of",
]

"""What the fraud topology's stages send each other through their repartition topics.

The user stage sends :class:`EntityMessage` records to the entity stage, keyed by
``"<entity>:<id>"``. A checkout's user-side features ride along with its first entity query
and come back with that entity's answer (one record fewer through each hop); a checkout that
names no entity sends them alone, keyed ``"user:<id>"``, and the entity stage passes them
through. The entity stage answers every checkout query with a :class:`CheckoutPart` keyed by
the user, and the decision stage gathers a checkout's parts. Everything is msgpack with
array-like structs: these records are on the hot path.
"""

from __future__ import annotations

from typing import Any

import msgspec

from riskstream.fraud.features.touch import Touch

__all__ = [
    "CheckoutFacts",
    "CheckoutPart",
    "EntityMessage",
    "decode_entity_message",
    "decode_part",
    "encode_message",
]

FeatureValues = dict[str, Any]


class CheckoutFacts(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """The checkout a part belongs to, as the decision needs it."""

    transaction_id: str
    user_id: str
    time: int
    amount: float
    currency: str
    merchant_id: str
    seen_at: int  # processing time the user stage saw it: the start of the decision latency
    expected: tuple[str, ...]  # the parts to wait for, "user" included


class EntityMessage(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """A touch for one entity's profile; ``facts`` set means "answer this checkout"."""

    route: str  # "<entity>:<id>", the repartition key
    touch: Touch
    facts: CheckoutFacts | None = None
    features: FeatureValues | None = None  # the user-side features, carried to the decision


class CheckoutPart(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One entity's features as of a checkout, on their way to the decision."""

    part: str  # "user", "device", "instrument", "ip", "merchant"
    facts: CheckoutFacts
    features: FeatureValues
    error: str | None = None  # the profile could not answer: why (its features are absent)
    user: FeatureValues | None = None  # the user-side part, when this part carries it too


_encoder = msgspec.msgpack.Encoder()
_entity_decoder = msgspec.msgpack.Decoder(EntityMessage)
_part_decoder = msgspec.msgpack.Decoder(CheckoutPart)


def encode_message(message: EntityMessage | CheckoutPart) -> bytes:
    return _encoder.encode(message)


def decode_entity_message(raw: bytes | None) -> EntityMessage:
    if raw is None:
        raise ValueError("entity message without a value")
    return _entity_decoder.decode(raw)


def decode_part(raw: bytes | None) -> CheckoutPart:
    if raw is None:
        raise ValueError("checkout part without a value")
    return _part_decoder.decode(raw)

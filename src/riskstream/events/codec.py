"""One reusable encoder/decoder per topic.

JSON on the wire (readable by every tool that touches Kafka); msgspec does the work in C,
validating types and tags while it parses. A failed decode raises
:class:`~riskstream.errors.EventDecodeError` naming the field path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final, Generic, TypeVar, Union

import msgspec

from riskstream.errors import EventDecodeError, EventEncodeError
from riskstream.events.schemas import Event
from riskstream.events.topics import EVENT_TYPES, TOPIC_EVENTS

__all__ = ["EventCodec", "codec_for", "decode_error"]

E = TypeVar("E", bound=Event)

# msgspec reports the failing field as "... - at `$.path`" at the end of its message.
_PATH_SUFFIX: Final = re.compile(r" - at `(?P<path>\$[^`]*)`$")


def decode_error(exc: msgspec.DecodeError, raw: bytes) -> EventDecodeError:
    """Turn a msgspec error into ours, with the field path split out."""
    message = str(exc)
    match = _PATH_SUFFIX.search(message)
    if match is None:
        return EventDecodeError(message, path="$", raw=raw)
    return EventDecodeError(message[: match.start()], path=match["path"], raw=raw)


class EventCodec(Generic[E]):
    """Encodes and decodes the events of one topic (a tagged union of event kinds)."""

    __slots__ = ("_decoder", "_encoder", "topic", "types")

    def __init__(self, topic: str, types: tuple[type[E], ...]) -> None:
        if not types:
            raise ValueError(f"topic {topic!r} needs at least one event type")
        self.topic = topic
        self.types = types
        union: Any = types[0] if len(types) == 1 else Union[types]  # noqa: UP007 - runtime union of a tuple
        self._decoder: msgspec.json.Decoder[E] = msgspec.json.Decoder(union)
        self._encoder = msgspec.json.Encoder()

    def encode(self, event: E) -> bytes:
        """Serialise one event."""
        try:
            return self._encoder.encode(event)
        except (TypeError, ValueError, OverflowError) as exc:
            raise EventEncodeError(f"cannot encode {type(event).__name__}: {exc}") from exc

    def decode(self, raw: bytes | None) -> E:
        """Parse and validate one event; raises :class:`EventDecodeError`."""
        if raw is None:
            raise EventDecodeError("record has no value", raw=raw)
        try:
            return self._decoder.decode(raw)
        except msgspec.DecodeError as exc:
            raise decode_error(exc, raw) from None

    def encode_many(self, events: Iterable[E]) -> list[bytes]:
        """Serialise a batch of events."""
        encode = self._encoder.encode
        try:
            return [encode(event) for event in events]
        except (TypeError, ValueError, OverflowError) as exc:
            raise EventEncodeError(f"cannot encode batch for {self.topic}: {exc}") from exc


_ANY_EVENT: Final = EventCodec("*", EVENT_TYPES)
_CODECS: Final[dict[str, EventCodec[Event]]] = {
    topic: EventCodec(topic, types) for topic, types in TOPIC_EVENTS.items()
}


def codec_for(topic: str) -> EventCodec[Event]:
    """The shared codec of a topic; unknown topics get one that accepts any event kind."""
    return _CODECS.get(topic, _ANY_EVENT)

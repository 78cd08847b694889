"""Bulk decoding of consumed records into events, separating the ones that fail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from riskstream.errors import EventDecodeError
from riskstream.events.codec import EventCodec
from riskstream.events.schemas import Event
from riskstream.log.records import Record

__all__ = ["DecodedBatch", "decode_records"]

E = TypeVar("E", bound=Event)

DecodedBatch = tuple[list[tuple[Record, E]], list[tuple[Record, EventDecodeError]]]


def decode_records(records: Sequence[Record], codec: EventCodec[E]) -> DecodedBatch[E]:
    """Decode a batch; failures come back located (topic/partition/offset) for the DLQ."""
    decoded: list[tuple[Record, E]] = []
    failed: list[tuple[Record, EventDecodeError]] = []
    decode = codec.decode
    for record in records:
        try:
            decoded.append((record, decode(record.value)))
        except EventDecodeError as exc:
            failed.append((record, exc.located(record.topic, record.partition, record.offset)))
    return decoded, failed

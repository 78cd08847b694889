"""Log records as the projections see them: decoded once, with the id they deduplicate by.

A decision's id is its transaction (``decision:<tx>``; ``alert:<tx>`` on the alerts topic):
one checkout has one decision, however often a retried or restarted worker writes it. An
event's id is its ``event_id`` (producers derive it deterministically, so a retried send
repeats it), prefixed by its topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgspec

from riskstream.errors import EventDecodeError
from riskstream.events import TRANSACTIONS_TOPIC, Event, codec_for
from riskstream.events.codec import decode_error
from riskstream.fraud.decision import Decision, decode_decision
from riskstream.fraud.topology import ALERTS_TOPIC, DECISIONS_TOPIC
from riskstream.log.records import Record

__all__ = [
    "ALERTS_TOPIC",
    "DECISIONS_TOPIC",
    "LABEL_TOPIC",
    "TRANSACTIONS_TOPIC",
    "Fact",
    "decode_fact",
]

LABEL_TOPIC: Final = "events.label"

_DECISION_TOPICS: Final = {DECISIONS_TOPIC: "decision", ALERTS_TOPIC: "alert"}


@dataclass(frozen=True, slots=True)
class Fact:
    """One decoded record: a :class:`Decision` or an :class:`Event`, and where it was read
    (``topic`` is the standard name of its topic)."""

    id: str
    value: Decision | Event
    topic: str
    partition: int
    offset: int


def decode_fact(record: Record, standard: str | None = None) -> Fact:
    """The fact in ``record``, read as a record of the standard topic ``standard`` (default:
    its own topic); raises :class:`EventDecodeError` (with the place) if there is none."""
    standard = record.topic if standard is None else standard
    kind = _DECISION_TOPICS.get(standard)
    if kind is not None:
        try:
            decision = decode_decision(record.value)
        except msgspec.DecodeError as exc:
            error = decode_error(exc, record.value or b"")
            raise error.located(record.topic, record.partition, record.offset) from None
        except ValueError as exc:  # no value at all
            raise EventDecodeError(str(exc), raw=record.value).located(
                record.topic, record.partition, record.offset
            ) from None
        return Fact(
            f"{kind}:{decision.transaction_id}",
            decision,
            standard,
            record.partition,
            record.offset,
        )
    try:
        event = codec_for(standard).decode(record.value)
    except EventDecodeError as exc:
        raise exc.located(record.topic, record.partition, record.offset) from None
    return Fact(f"{standard}:{event.event_id}", event, standard, record.partition, record.offset)

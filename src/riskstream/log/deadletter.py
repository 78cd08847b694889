"""Dead-letter routing: a record that cannot be handled goes to ``dlq.<topic>`` with the reason.

The dead letter keeps the original key, value and headers, and adds ``dlq.*`` headers naming
the error, the step and where the record was read, so it can be inspected and re-driven after
a fix. Nothing is dropped: the caller commits the source offset only after the dead letter
is acknowledged.
"""

from __future__ import annotations

import time
from typing import Final

from riskstream.errors import EventDecodeError
from riskstream.log.port import DeliveryCallback, Producer
from riskstream.log.records import Headers, Record

__all__ = ["DLQ_PREFIX", "dead_letter_headers", "dlq_topic", "send_to_dlq"]

DLQ_PREFIX: Final = "dlq."


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return DLQ_PREFIX + topic


def dead_letter_headers(
    record: Record, error: BaseException, *, step: str = "decode", now_ms: int | None = None
) -> Headers:
    """The record's own headers plus the ``dlq.*`` context of the failure."""
    context: list[tuple[str, bytes]] = [
        ("dlq.error", type(error).__name__.encode()),
        ("dlq.reason", str(error).encode()),
        ("dlq.step", step.encode()),
        ("dlq.topic", record.topic.encode()),
        ("dlq.partition", str(record.partition).encode()),
        ("dlq.offset", str(record.offset).encode()),
        ("dlq.timestamp", str(record.timestamp).encode()),
        ("dlq.time", str(now_ms if now_ms is not None else int(time.time() * 1000)).encode()),
    ]
    if isinstance(error, EventDecodeError):
        context.append(("dlq.path", error.path.encode()))
    return (*record.headers, *context)


def send_to_dlq(
    producer: Producer,
    record: Record,
    error: BaseException,
    *,
    step: str = "decode",
    on_delivery: DeliveryCallback | None = None,
) -> None:
    """Produce ``record`` to its dead-letter topic, same key, with the reason in headers."""
    producer.produce(
        dlq_topic(record.topic),
        record.value,
        record.key,
        timestamp=record.timestamp,
        headers=dead_letter_headers(record, error, step=step),
        on_delivery=on_delivery,
    )

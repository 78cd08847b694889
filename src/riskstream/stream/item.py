"""What flows between the steps of a topology: a value with its key, event time and origin."""

from __future__ import annotations

from typing import Any

import msgspec

from riskstream.log.records import Headers

__all__ = ["Item"]


class Item(msgspec.Struct, eq=False):
    """One value inside a running topology.

    ``origin`` is ``(topic, partition, offset)`` of the input record it derives from, and
    ``seq`` numbers the items one input produced at one step, so outputs get deterministic
    ids (the same input replayed after a crash yields the same ids).

    A struct (one is made per value a custom processor receives: built in C, it costs a
    third of a class with ``__init__``); ``eq=False`` keeps identity equality and hashing.
    """

    key: bytes | None
    value: Any
    event_time: int
    topic: str
    partition: int
    offset: int
    headers: Headers = ()

    def derive(self, value: Any, key: bytes | None = None, event_time: int | None = None) -> Item:
        """A new item from this one (same origin), with a new value and optionally key/time."""
        return Item(
            self.key if key is None else key,
            value,
            self.event_time if event_time is None else event_time,
            self.topic,
            self.partition,
            self.offset,
            self.headers,
        )

    def __repr__(self) -> str:
        return (
            f"Item(key={self.key!r}, value={self.value!r}, event_time={self.event_time}, "
            f"origin={self.topic}[{self.partition}]@{self.offset})"
        )

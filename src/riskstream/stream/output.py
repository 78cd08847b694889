"""Records a task wants written: outputs, side outputs, repartitioned items, dead letters."""

from __future__ import annotations

import msgspec

from riskstream.log.records import Headers

__all__ = ["OUTPUT_ID_HEADER", "Output"]

OUTPUT_ID_HEADER = "rs.id"
"""Header carrying an output's deterministic id: the same input replayed yields the same id,
so consumers deduplicate by it (effectively-once without waiting for a commit)."""


class Output(msgspec.Struct, frozen=True, gc=False):
    """One record to produce; ``partition=None`` lets the log's partitioner choose by key."""

    topic: str
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: Headers = ()
    partition: int | None = None

    @property
    def id(self) -> str | None:
        for name, value in self.headers:
            if name == OUTPUT_ID_HEADER:
                return value.decode()
        return None

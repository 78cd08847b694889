"""Reading a changelog partition back into a store, one whole commit at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from riskstream.log.port import Consumer
from riskstream.log.records import Record, TopicPartition
from riskstream.state.changelog import MARKER_KEY, decode_marker
from riskstream.state.errors import StateError
from riskstream.state.protocol import CommitPoint, ProgressCallback

__all__ = ["Replay", "ReplaySink", "replay"]

BATCH_RECORDS = 50_000
_POLL_TIMEOUT_S = 0.1


class ReplaySink(Protocol):
    """Where a replay puts records: applied tentatively, kept at each commit marker."""

    def apply(self, records: Sequence[Record]) -> None:
        """Apply change records (no markers among them), in offset order."""
        ...

    def mark(self, point: CommitPoint) -> None:
        """Everything applied so far is the committed state at ``point``."""
        ...

    def finish(self) -> None:
        """Roll back what was applied after the last mark."""
        ...

    def abort(self) -> None:
        """Give up after an error: keep only what earlier marks made durable."""
        ...


class Replay:
    """Progress of one replay: records read, the last marker, and the keys after it."""

    __slots__ = ("point", "read", "tail_keys")

    def __init__(self) -> None:
        self.read = 0
        self.point: CommitPoint | None = None
        self.tail_keys: list[bytes | None] = []  # repeats included; cheaper than a set

    @property
    def since_mark(self) -> int:
        """Records after the last marker: an unfinished flush, rolled back."""
        return len(self.tail_keys)

    def feed(self, records: list[Record], sink: ReplaySink) -> None:
        """Hand ``records`` to ``sink``, split at the commit markers among them."""
        self.read += len(records)
        keys = [record.key for record in records]
        start = 0
        while True:
            try:
                found = keys.index(MARKER_KEY, start)  # a C-speed scan; markers are rare
            except ValueError:
                if start < len(records):
                    sink.apply(records if start == 0 else records[start:])
                    self.tail_keys.extend(keys[start:])
                return
            if found > start:
                sink.apply(records[start:found])
            self.point = _commit_point(records[found])
            sink.mark(self.point)
            self.tail_keys.clear()
            start = found + 1


def replay(
    consumer: Consumer,
    tp: TopicPartition,
    start: int,
    end: int,
    sink: ReplaySink,
    *,
    on_progress: ProgressCallback | None = None,
    batch_records: int = BATCH_RECORDS,
) -> Replay:
    """Read ``tp`` from ``start`` until the consumer reports its end (or ``end``, the high
    watermark seen before, so a writer that never stops cannot keep the replay going)."""
    counters = Replay()
    if start >= end:
        return counters
    consumer.seek(tp, start)
    total = end - start
    while True:
        records = consumer.poll(max_records=batch_records, timeout=_POLL_TIMEOUT_S)
        if records:
            counters.feed(records, sink)
            position = records[-1].offset + 1
        else:
            position = consumer.position(tp)
        if on_progress is not None:
            on_progress(min(position, end) - start, total)
        if position >= end or tp in consumer.at_end():
            return counters


def _commit_point(record: Record) -> CommitPoint:
    if record.value is None:
        raise StateError(f"commit marker without a value at {record.topic}[{record.partition}]")
    try:
        marker = decode_marker(record.value)
    except msgspec.DecodeError as exc:
        raise StateError(
            f"corrupt commit marker at {record.topic}[{record.partition}]@{record.offset}: {exc}"
        ) from exc
    return CommitPoint(
        seq=marker.seq,
        offset=record.offset + 1,
        timestamp=record.timestamp,
        metadata=marker.metadata,
    )

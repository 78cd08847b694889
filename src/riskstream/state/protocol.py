"""The byte-level store interface every implementation provides, and its plain values.

A store holds the keyed state of one stream task (one input partition). Reads and writes
hit memory; changes reach the store's changelog partition in batches, at ``flush``, and its
local files (if it has any) at ``commit``. The executor's cycle is::

    store.flush(producer, metadata)   # changes since the last flush + a commit marker
    producer.flush()                  # wait for the delivery reports
    store.commit()                    # local state, changelog offset, metadata: one transaction

``metadata`` (e.g. the task's input offsets) travels in the changelog's commit marker and is
written atomically with the state, so after any crash ``restore`` yields a state and the
metadata of the same commit point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import BinaryIO, Protocol, runtime_checkable

import msgspec

from riskstream.log.port import EventLog, Producer

__all__ = ["CommitPoint", "KeyValueStore", "ProgressCallback", "RestoreStats"]

ProgressCallback = Callable[[int, int], None]
"""``(done, total)`` in changelog offsets from the restore's start; called after each batch."""


class CommitPoint(msgspec.Struct, frozen=True, kw_only=True):
    """A state the changelog can reproduce: the commit marker it ends with.

    ``seq`` counts the store's commits (0: nothing committed yet); ``offset`` is the
    changelog offset just past the marker (where a restore continues); ``timestamp`` is the
    marker's log timestamp (epoch ms), which bounds how stale a local checkpoint may be
    before compaction can have dropped tombstones after it; ``metadata`` is what the
    executor committed with the state.
    """

    seq: int = 0
    offset: int = 0
    timestamp: int = 0
    metadata: dict[str, bytes] = msgspec.field(default_factory=dict)


class RestoreStats(msgspec.Struct, frozen=True, kw_only=True):
    """What a restore did.

    ``records`` were read from the changelog between ``start_offset`` and ``end_offset``;
    ``full`` says the replay started from the beginning (no usable local checkpoint);
    ``discarded`` records followed the last commit marker (a flush that never committed)
    and were rolled back, and ``repaired`` keys were re-written to the changelog so that it
    agrees with the restored state again.
    """

    records: int
    seconds: float
    start_offset: int
    end_offset: int
    full: bool
    discarded: int
    repaired: int
    commit: CommitPoint


@runtime_checkable
class KeyValueStore(Protocol):
    """Keyed state of one task partition, backed by a compacted changelog partition.

    Keys and values are ``bytes``; ``get``/``put``/``delete`` are the hot path and never do
    I/O for keys already in memory. ``items`` yields in key order. A key put with
    ``expires_at`` (epoch ms) is removed by the first ``expire(now_ms)`` with
    ``now_ms >= expires_at``; the store has no clock of its own, so until then it stays
    readable. One thread uses a store at a time.
    """

    @property
    def name(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def changelog(self) -> str:
        """The changelog topic; the store writes its own ``partition`` of it."""
        ...

    @property
    def durable(self) -> bool:
        """Whether committed state survives a restart locally (else only in the changelog)."""
        ...

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes, *, expires_at: int | None = None) -> None:
        """Set ``key``; ``expires_at`` replaces (or, when ``None``, clears) any expiry."""
        ...

    def delete(self, key: bytes) -> None: ...

    def items(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """Entries whose key starts with ``prefix``, sorted by key; do not commit meanwhile."""
        ...

    def approximate_size(self) -> int:
        """The number of keys (exact for in-memory stores, committed keys for others)."""
        ...

    def expire(self, now_ms: int) -> int:
        """Delete the keys with ``expires_at <= now_ms`` (as tombstones); returns how many."""
        ...

    def flush(
        self,
        producer: Producer,
        metadata: Mapping[str, bytes] | None = None,
        *,
        at_once: bool = False,
    ) -> int:
        """Produce the changes since the last flush (latest value per key) and a commit
        marker carrying ``metadata`` (default: the last one) to the changelog partition.

        Returns the number of records produced (0 when nothing changed). Call
        ``producer.flush()`` and then :meth:`commit`. With ``at_once``, a producer that
        writes batches (:class:`~riskstream.log.port.BatchProducer`) writes them now, in
        one batch: they are acknowledged when ``flush`` returns.
        """
        ...

    def commit(self) -> CommitPoint:
        """Make everything flushed so far the committed state, once acknowledged.

        Raises ``StateError`` if a delivery report is still missing (flush the producer
        first) and ``ChangelogError`` if one failed; the latter is final for this instance.
        """
        ...

    @property
    def committed(self) -> CommitPoint:
        """The commit point the store's committed state reflects."""
        ...

    def metadata(self) -> Mapping[str, bytes]:
        """The metadata committed with the current committed state."""
        ...

    def restore(
        self,
        log: EventLog,
        *,
        on_progress: ProgressCallback | None = None,
        now_ms: int | None = None,
        repair: bool = True,
    ) -> RestoreStats:
        """Catch up with the changelog: replay it from the committed offset to its end.

        Only whole commits are applied: records after the last commit marker are rolled
        back and the changelog repaired, unless ``repair`` is false (a reader that does not
        own the partition, such as a standby: its writer may be mid-flush). ``now_ms``
        (default: the wall clock) decides whether a local checkpoint is too old to trust after
        compaction.
        """
        ...

    def snapshot(self, out: BinaryIO) -> CommitPoint:
        """Write the committed state to ``out`` in the portable snapshot format."""
        ...

    def restore_snapshot(self, src: BinaryIO) -> CommitPoint:
        """Replace the state with a snapshot of the same changelog partition."""
        ...

    def close(self) -> None:
        """Release local resources; changes not committed are lost."""
        ...

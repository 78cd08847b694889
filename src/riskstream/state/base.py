"""The commit, restore and snapshot protocol shared by every store implementation.

Subclasses own the data (the hot path) and implement a few hooks: hand over the changes
since the last flush, persist a commit, replay into their state, reset, and read or load
their committed entries. This class turns those into the protocol of ``KeyValueStore``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import BinaryIO, ClassVar

from riskstream.log.port import EventLog, Producer
from riskstream.log.records import TopicPartition
from riskstream.state.changelog import tombstone_retention_ms
from riskstream.state.errors import ChangelogError, SnapshotError, StateError
from riskstream.state.protocol import CommitPoint, ProgressCallback, RestoreStats
from riskstream.state.replay import ReplaySink, replay
from riskstream.state.snapshot import Entry, SnapshotHeader, read_snapshot, write_snapshot
from riskstream.state.staging import Change, StagedCommit

__all__ = ["ChangelogStore"]


class ChangelogStore(ABC):
    """A store whose durability comes from its changelog partition (see ``protocol``)."""

    durable: ClassVar[bool]

    def __init__(self, name: str, partition: int, *, changelog: str) -> None:
        self.name = name
        self.partition = partition
        self.changelog = changelog
        self._committed = CommitPoint()
        self._seq = 0  # of the last flush, committed or not
        self._last_metadata: dict[str, bytes] = {}  # of the last flush, committed or not
        self._staged: StagedCommit | None = None
        self._failed: str | None = None

    # -- hooks ---------------------------------------------------------------------------

    @abstractmethod
    def _has_changes(self) -> bool:
        """Whether anything changed since the last flush."""

    @abstractmethod
    def _take_changes(self) -> dict[bytes, Change]:
        """The changes since the last flush (latest per key); forgets them."""

    @abstractmethod
    def _persist(self, changes: Mapping[bytes, Change], point: CommitPoint) -> None:
        """Make ``changes`` and ``point`` the committed state, atomically."""

    @abstractmethod
    def _replay_sink(self) -> ReplaySink:
        """A sink that applies changelog records to the committed state."""

    @abstractmethod
    def _reset(self) -> None:
        """Forget all state, committed or not."""

    @abstractmethod
    def _current(self, keys: Iterable[bytes]) -> dict[bytes, Change]:
        """The committed value and expiry of ``keys`` (``(None, None)`` when absent)."""

    @abstractmethod
    def _entries(self) -> Iterator[Entry]:
        """Every committed entry, in key order."""

    @abstractmethod
    def _load(self, chunks: Iterator[list[Entry]], point: CommitPoint) -> None:
        """Replace all state with ``chunks``; leave the state untouched if they fail."""

    # -- commit protocol -----------------------------------------------------------------

    @property
    def committed(self) -> CommitPoint:
        return self._committed

    def _adopt(self, point: CommitPoint) -> None:
        """Take ``point`` as the committed state (after opening, restoring or loading)."""
        self._committed = point
        self._seq = point.seq
        self._last_metadata = dict(point.metadata)

    def metadata(self) -> Mapping[str, bytes]:
        return dict(self._committed.metadata)

    def flush(
        self,
        producer: Producer,
        metadata: Mapping[str, bytes] | None = None,
        *,
        at_once: bool = False,
    ) -> int:
        self._check_usable()
        wanted = self._last_metadata if metadata is None else dict(metadata)
        if not self._has_changes() and wanted == self._last_metadata:
            return 0
        staged = self._staged
        if staged is None:
            staged = self._staged = StagedCommit()
        changes = self._take_changes()
        try:
            sent = staged.send(
                producer,
                self.changelog,
                self.partition,
                changes,
                seq=self._seq + 1,
                metadata=wanted,
                keep=self.durable,
                at_once=at_once,
            )
        except BaseException as exc:
            # The changes left the dirty set but not for the changelog: nothing is certain.
            self._failed = f"flush failed: {exc!r}"
            raise
        self._seq += 1
        self._last_metadata = wanted
        return sent

    @property
    def commit_ready(self) -> bool:
        """Whether ``commit`` can go ahead without a ``producer.flush()`` first: every
        flushed record was acknowledged (or one failed, which ``commit`` reports)."""
        return self._staged is None or self._staged.settled

    def commit(self) -> CommitPoint:
        self._check_usable()
        staged = self._staged
        if staged is None:
            return self._committed
        try:
            point = staged.result()
        except ChangelogError as exc:
            self._failed = str(exc)
            raise
        try:
            self._persist(staged.changes, point)
        except BaseException as exc:
            self._failed = f"commit failed: {exc!r}"
            raise
        self._staged = None
        self._committed = point
        return point

    # -- restore -------------------------------------------------------------------------

    def restore(
        self,
        log: EventLog,
        *,
        on_progress: ProgressCallback | None = None,
        now_ms: int | None = None,
        repair: bool = True,
    ) -> RestoreStats:
        self._require_clean("restore")
        began = time.perf_counter()
        tp = TopicPartition(self.changelog, self.partition)
        retention = tombstone_retention_ms(log.admin, self.changelog)
        now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        consumer = log.consumer()
        try:
            consumer.assign([tp])
            low, high = consumer.watermarks(tp)
            point = self._committed
            if point.offset and not (
                low <= point.offset <= high and now - point.timestamp <= retention
            ):
                # The changelog was recreated, truncated, or compacted past our deletes.
                self._reset()
                self._adopt(CommitPoint())
            full = self._committed.offset == 0
            start = max(self._committed.offset, low)
            sink = self._replay_sink()
            try:
                counters = replay(consumer, tp, start, high, sink, on_progress=on_progress)
                sink.finish()
            except BaseException as exc:
                sink.abort()
                # Some commits may be applied already: only a fresh instance knows where.
                self._failed = f"restore failed: {exc!r}"
                raise
        finally:
            consumer.close()
        if counters.point is not None:
            self._adopt(counters.point)
        try:
            tail = [key for key in dict.fromkeys(counters.tail_keys) if key is not None]
            repaired = self._repair(log, tail) if tail and repair else 0
        except BaseException as exc:
            # Unrepaired, the rolled-back records would pass for committed ones at the
            # next marker: this instance must not write on.
            self._failed = f"changelog repair failed: {exc!r}"
            raise
        return RestoreStats(
            records=counters.read,
            seconds=time.perf_counter() - began,
            start_offset=start,
            end_offset=high,
            full=full,
            discarded=counters.since_mark,
            repaired=repaired,
            commit=self._committed,
        )

    def _repair(self, log: EventLog, keys: list[bytes]) -> int:
        """Overwrite an uncommitted changelog tail with the committed values of its keys.

        Done at once, not at the next flush, so a compaction cannot keep a rolled-back value
        as a key's latest record for long.
        """
        changes = self._current(keys)
        staged = StagedCommit()
        producer = log.producer(linger_ms=0)
        try:
            staged.send(
                producer,
                self.changelog,
                self.partition,
                changes,
                seq=self._seq + 1,
                metadata=self._last_metadata,
                keep=False,
            )
            producer.flush()
        finally:
            producer.close()
        point = staged.result()
        self._persist({}, point)
        self._adopt(point)
        return len(changes)

    # -- snapshots -----------------------------------------------------------------------

    def snapshot(self, out: BinaryIO) -> CommitPoint:
        self._require_clean("snapshot")
        header = SnapshotHeader(self.name, self.changelog, self.partition, self._committed)
        write_snapshot(out, header, self._entries())
        return self._committed

    def restore_snapshot(self, src: BinaryIO) -> CommitPoint:
        self._require_clean("restore_snapshot")
        header, chunks = read_snapshot(src)
        if (header.changelog, header.partition) != (self.changelog, self.partition):
            raise SnapshotError(
                f"snapshot of {header.changelog}[{header.partition}] cannot restore "
                f"{self.changelog}[{self.partition}]"
            )
        self._load(chunks, header.commit)
        self._adopt(header.commit)
        return header.commit

    # -- guards --------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise ChangelogError(
                f"store {self.name}[{self.partition}] cannot continue ({self._failed}); "
                "open it again and restore"
            )

    def _require_clean(self, what: str) -> None:
        self._check_usable()
        if self._staged is not None or self._has_changes():
            raise StateError(f"{what} needs a store without uncommitted changes")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, partition={self.partition})"

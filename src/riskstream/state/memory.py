"""``MemoryStore``: all state in a dict; durable only through its changelog."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from heapq import heapify, heappop, heappush
from typing import ClassVar

from riskstream.log.records import Record
from riskstream.state.base import ChangelogStore
from riskstream.state.changelog import expires_at_of
from riskstream.state.protocol import CommitPoint
from riskstream.state.replay import ReplaySink
from riskstream.state.snapshot import Entry
from riskstream.state.staging import Change

__all__ = ["MemoryStore"]


class MemoryStore(ChangelogStore):
    """Keyed state in process memory (``durable = False``).

    Nothing survives the process: a new instance gets its state back by replaying the whole
    changelog (or a snapshot plus the changelog after it). ``get`` is one dict lookup,
    ``put`` a dict store and a list append. ``items`` keeps a sorted key index, rebuilt
    (O(n log n)) on the first call after keys were added or removed: prefix scans are cheap
    on a stable key set, not between inserts.
    """

    durable: ClassVar[bool] = False

    def __init__(self, name: str, partition: int, *, changelog: str) -> None:
        super().__init__(name, partition, changelog=changelog)
        self._data: dict[bytes, bytes] = {}
        # Keys changed since the last flush, repeats included: a list append costs less
        # than a second hash-table store (expiries live in ``_expiry``).
        self._dirty: list[bytes] = []
        self._expiry: dict[bytes, int] = {}
        self._deadlines: list[tuple[int, bytes]] = []  # heap; stale entries skipped lazily
        self._index: list[bytes] | None = None

    # -- the hot path --------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def put(self, key: bytes, value: bytes, *, expires_at: int | None = None) -> None:
        data = self._data
        if self._index is not None and key not in data:
            self._index = None
        data[key] = value
        self._dirty.append(key)
        if expires_at is not None:
            self._expiry[key] = expires_at
            heappush(self._deadlines, (expires_at, key))
        elif self._expiry:
            self._expiry.pop(key, None)

    def delete(self, key: bytes) -> None:
        if key in self._data:
            del self._data[key]
            self._dirty.append(key)
            self._index = None
            if self._expiry:
                self._expiry.pop(key, None)

    def items(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        index = self._index
        if index is None:
            index = self._index = sorted(self._data)
        data = self._data
        for position in range(bisect_left(index, prefix), len(index)):
            key = index[position]
            if not key.startswith(prefix):
                return
            value = data.get(key)
            if value is not None:  # deleted while the caller iterates
                yield key, value

    def __len__(self) -> int:
        return len(self._data)

    def approximate_size(self) -> int:
        return len(self._data)

    def expire(self, now_ms: int) -> int:
        deadlines, expiry = self._deadlines, self._expiry
        expired = 0
        while deadlines and deadlines[0][0] <= now_ms:
            expires_at, key = heappop(deadlines)
            if expiry.get(key) == expires_at:  # else re-put or deleted since
                del expiry[key]
                del self._data[key]
                self._dirty.append(key)
                expired += 1
        if expired:
            self._index = None
        if len(deadlines) > 2 * len(expiry) + 1024:
            # Keys re-put with new expiries leave stale heap entries behind; drop them.
            self._deadlines = [(at, key) for key, at in expiry.items()]
            heapify(self._deadlines)
        return expired

    def close(self) -> None:
        """Nothing to release; the state stays readable."""

    # -- hooks of ChangelogStore ---------------------------------------------------------

    def _has_changes(self) -> bool:
        return bool(self._dirty)

    def _take_changes(self) -> dict[bytes, Change]:
        dirty, self._dirty = self._dirty, []
        data, expiry = self._data, self._expiry
        return {key: (data.get(key), expiry.get(key)) for key in dict.fromkeys(dirty)}

    def _persist(self, changes: Mapping[bytes, Change], point: CommitPoint) -> None:
        """Nothing local to persist: the acknowledged changelog is the durable copy."""

    def _replay_sink(self) -> ReplaySink:
        return _MemorySink(self)

    def _reset(self) -> None:
        self._data.clear()
        self._dirty.clear()
        self._expiry.clear()
        self._deadlines.clear()
        self._index = None

    def _current(self, keys: Iterable[bytes]) -> dict[bytes, Change]:
        data, expiry = self._data, self._expiry
        return {key: (data.get(key), expiry.get(key)) for key in keys}

    def _entries(self) -> Iterator[Entry]:
        data, expiry = self._data, self._expiry
        for key in sorted(data):
            yield key, data[key], expiry.get(key)

    def _load(self, chunks: Iterator[list[Entry]], point: CommitPoint) -> None:
        data: dict[bytes, bytes] = {}
        expiry: dict[bytes, int] = {}
        for chunk in chunks:
            for key, value, expires_at in chunk:
                data[key] = value
                if expires_at is not None:
                    expiry[key] = expires_at
        self._reset()
        self._data, self._expiry = data, expiry
        self._deadlines = [(at, key) for key, at in expiry.items()]
        heapify(self._deadlines)

    def _fold(self, records: Iterable[Record]) -> None:
        """Apply committed change records to the state."""
        data, expiry, deadlines = self._data, self._expiry, self._deadlines
        for record in records:
            key, value = record.key, record.value
            if key is None:
                continue
            if value is None:
                data.pop(key, None)
                expiry.pop(key, None)
                continue
            data[key] = value
            expires_at = expires_at_of(record.headers) if record.headers else None
            if expires_at is not None:
                expiry[key] = expires_at
                heappush(deadlines, (expires_at, key))
            elif expiry:
                expiry.pop(key, None)
        self._index = None


class _MemorySink:
    """Buffers a commit's records and folds them in at its marker."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._segment: dict[bytes | None, Record] = {}

    def apply(self, records: Sequence[Record]) -> None:
        self._segment.update({record.key: record for record in records})

    def mark(self, point: CommitPoint) -> None:
        self._store._fold(self._segment.values())
        self._segment.clear()

    def finish(self) -> None:
        self._segment.clear()

    def abort(self) -> None:
        self._segment.clear()

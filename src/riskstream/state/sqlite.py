"""``SqliteStore``: state in a local SQLite file, with a write-back cache in front of it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import ClassVar, Final

from riskstream.state.base import ChangelogStore
from riskstream.state.protocol import CommitPoint
from riskstream.state.replay import ReplaySink
from riskstream.state.snapshot import Entry
from riskstream.state.sqlite_db import (
    ANY_ROW,
    EXPIRED,
    GET,
    GET_WITH_EXPIRY,
    open_db,
    prefix_end,
    read_commit,
    write_changes,
    write_commit,
    write_rows,
)
from riskstream.state.sqlite_replay import SqliteReplaySink
from riskstream.state.staging import Change

__all__ = ["SqliteStore"]

_CACHE_KIB = 16_384
# Clean values kept per store. A task's steps already keep their hot values live (decoded),
# so these bytes only spare a SQLite read after those are dropped; a worker opens one store
# per task, and 100,000 each held ~150 MiB of duplicates at 100k users.
CACHE_ENTRIES: Final = 20_000
_MISSING: Final = b"\x00missing"  # never returned: compared by identity


class SqliteStore(ChangelogStore):
    """Keyed state in ``directory/<name>/<partition>.sqlite3`` (``durable = True``).

    The file holds the committed state and the changelog commit point it reflects, so a
    restarted task replays only the changelog after that point. In front of it, a dict
    caches values (``None`` for known-absent keys): writes stay in the cache until
    ``commit`` writes them and the commit point in one SQLite transaction, and up to
    ``cache_entries`` clean entries are kept for reads (the oldest go first). ``get`` of a
    cached key is a dict lookup; a miss is one indexed SQLite read - unless every row of the
    file is known to be cached (a new or empty file whose rows all came through this cache,
    the common case of a fresh task), when a miss is an absent key without asking.

    ``write_every`` commits make one write of the file: random updates rewrite whole pages,
    so a file write costs little more for several commits' keys than for one's. The commits
    in between are complete all the same (their changelog records are acknowledged, and the
    commit point in memory moves on); their changes stay cached until written, and a
    restart after a crash replays them from the changelog, from the file's commit point.
    The first write comes ``partition % write_every`` commits early: the stores of one
    worker commit together, and would otherwise all write their files in the same commit.
    """

    durable: ClassVar[bool] = True

    def __init__(
        self,
        name: str,
        partition: int,
        *,
        changelog: str,
        directory: Path | str,
        cache_entries: int = CACHE_ENTRIES,
        fsync: bool = False,
        lock_timeout_s: float = 5.0,
        write_every: int = 1,
    ) -> None:
        super().__init__(name, partition, changelog=changelog)
        if write_every < 1:
            raise ValueError(f"write_every must be at least 1, not {write_every}")
        self.path = Path(directory) / name / f"{partition}.sqlite3"
        self._conn = open_db(
            self.path,
            changelog=changelog,
            partition=partition,
            fsync=fsync,
            lock_timeout_s=lock_timeout_s,
            cache_kib=_CACHE_KIB,
        )
        self._cache: dict[bytes, bytes | None] = {}
        # Keys changed since the last flush, repeats included (a list append is cheaper than
        # a second hash-table store), and the expiries put with them since then.
        self._dirty: list[bytes] = []
        self._dirty_expiry: dict[bytes, int] = {}
        self._cache_entries = cache_entries
        self._size: int | None = None
        # Whether every row of the file is in the cache (None: not known yet, see _covers).
        self._cached_all: bool | None = None
        # Committed changes not in the file yet (latest per key), and the point they reach.
        self._write_every = write_every
        self._unwritten: dict[bytes, Change] = {}
        self._unwritten_point: CommitPoint | None = None
        self._unwritten_commits = partition % write_every  # see the class docstring
        self._adopt(read_commit(self._conn))

    # -- the hot path --------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        # A sentinel, not KeyError: misses are common (new keys) and raising costs more.
        value = self._cache.get(key, _MISSING)
        if value is not _MISSING:
            return value
        if self._cached_all or (self._cached_all is None and self._covers()):
            return None  # not cached, so not in the file either
        row = self._conn.execute(GET, (bytearray(key),)).fetchone()
        found: bytes | None = None if row is None else row[0]
        self._cache[key] = found
        return found

    def _covers(self) -> bool:
        """Find out whether the cache holds every row of the file: true when the file has
        none (rows written from then on all come from the cache, and stay cached unless
        :meth:`_evict` drops them)."""
        self._cached_all = self._conn.execute(ANY_ROW).fetchone() is None
        return self._cached_all

    def put(self, key: bytes, value: bytes, *, expires_at: int | None = None) -> None:
        self._cache[key] = value
        self._dirty.append(key)
        if expires_at is not None:
            self._dirty_expiry[key] = expires_at
        elif self._dirty_expiry:
            self._dirty_expiry.pop(key, None)

    def delete(self, key: bytes) -> None:
        # Blind: a tombstone for an absent key is cheaper than a read to find out.
        self._cache[key] = None
        self._dirty.append(key)
        if self._dirty_expiry:
            self._dirty_expiry.pop(key, None)

    def items(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """Committed rows merged with the changes not committed yet, in key order."""
        pending = self._pending_keys()
        overrides = sorted(key for key in pending if key.startswith(prefix))
        cache = self._cache
        upper = prefix_end(prefix)
        if upper is None:
            rows = self._conn.execute(
                "SELECT key, value FROM kv WHERE key >= ? ORDER BY key", (bytearray(prefix),)
            )
        else:
            rows = self._conn.execute(
                "SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key",
                (bytearray(prefix), bytearray(upper)),
            )
        position = 0
        for key, value in rows:
            while position < len(overrides) and overrides[position] < key:
                override = overrides[position]
                position += 1
                current = cache[override]
                if current is not None:
                    yield override, current
            if key not in pending:
                yield key, value
        for override in overrides[position:]:
            current = cache[override]
            if current is not None:
                yield override, current

    def approximate_size(self) -> int:
        """Committed keys (changes not committed yet are not counted). Writes the commits
        kept in memory to the file first: it counts the file's rows."""
        self._write_unwritten()
        if self._size is None:
            self._size = int(self._conn.execute("SELECT count(*) FROM kv").fetchone()[0])
        return self._size

    def expire(self, now_ms: int) -> int:
        """Cost: the changes since the last commit plus one index range read; call it
        around commits (e.g. before ``flush``), not per record."""
        cache = self._cache
        dirty = dict.fromkeys(self._dirty)
        staged = self._unwritten
        if self._staged is not None:
            staged = {**staged, **self._staged.changes}
        victims = [
            key
            for key, expires_at in self._dirty_expiry.items()
            if expires_at <= now_ms and cache.get(key) is not None
        ]
        victims.extend(
            key
            for key, (value, expires_at) in staged.items()
            if key not in dirty
            and value is not None
            and expires_at is not None
            and expires_at <= now_ms
        )
        victims.extend(
            key
            for (key,) in self._conn.execute(EXPIRED, (now_ms,))
            if key not in dirty and key not in staged
        )
        for key in victims:
            self.delete(key)
        return len(victims)

    def close(self) -> None:
        """Write committed changes still in memory to the file (unless the store failed:
        then its changelog has them), and release the file."""
        try:
            if self._failed is None:
                self._write_unwritten()
        finally:
            self._conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- hooks of ChangelogStore ---------------------------------------------------------

    def _has_changes(self) -> bool:
        return bool(self._dirty)

    def _take_changes(self) -> dict[bytes, Change]:
        dirty, self._dirty = self._dirty, []
        expiry, self._dirty_expiry = self._dirty_expiry, {}
        cache = self._cache
        return {key: (cache[key], expiry.get(key)) for key in dict.fromkeys(dirty)}

    def _persist(self, changes: Mapping[bytes, Change], point: CommitPoint) -> None:
        if self._write_every > 1:
            self._unwritten.update(changes)
            self._unwritten_point = point
            self._unwritten_commits += 1
            if self._unwritten_commits >= self._write_every:
                self._write_unwritten()
            return
        self._write(changes, point)

    def _write_unwritten(self) -> None:
        """Write the committed changes kept in memory, if any."""
        if self._unwritten_point is not None:
            self._write(self._unwritten, self._unwritten_point)
            self._unwritten, self._unwritten_point, self._unwritten_commits = {}, None, 0

    def _write(self, changes: Mapping[bytes, Change], point: CommitPoint) -> None:
        """Make ``changes`` and ``point`` the file's state, in one transaction."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            write_changes(conn, changes)
            write_commit(conn, point)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._size = None

    def commit(self) -> CommitPoint:
        point = super().commit()
        self._evict()  # now that the committed keys are clean
        return point

    def _evict(self) -> None:
        """Drop the oldest clean cache entries above ``cache_entries``."""
        cache = self._cache
        excess = len(cache) - self._cache_entries
        if excess <= 0:
            return
        pending = self._pending_keys()
        victims: list[bytes] = []
        for key in cache:
            if key not in pending:
                victims.append(key)
                if len(victims) >= excess:
                    break
        for key in victims:
            if cache.pop(key) is not None:
                self._cached_all = False  # a row of the file is no longer cached

    def _pending_keys(self) -> set[bytes]:
        """Keys whose latest value is only in the cache (not in the file yet)."""
        pending = set(self._dirty)
        pending.update(self._unwritten)
        if self._staged is not None:
            pending.update(self._staged.changes)
        return pending

    def _replay_sink(self) -> ReplaySink:
        self._write_unwritten()  # the replay goes on from the committed point
        self._cache.clear()
        self._cached_all = None
        self._size = None
        return SqliteReplaySink(self._conn, cache_kib=_CACHE_KIB)

    def _reset(self) -> None:
        self._unwritten, self._unwritten_point, self._unwritten_commits = {}, None, 0
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM kv")
        write_commit(conn, CommitPoint())
        conn.execute("COMMIT")
        self._cache.clear()
        self._cached_all = None
        self._dirty.clear()
        self._dirty_expiry.clear()
        self._size = None

    def _current(self, keys: Iterable[bytes]) -> dict[bytes, Change]:
        self._write_unwritten()
        current: dict[bytes, Change] = {}
        for key in keys:
            row = self._conn.execute(GET_WITH_EXPIRY, (bytearray(key),)).fetchone()
            current[key] = (None, None) if row is None else (row[0], row[1])
        return current

    def _entries(self) -> Iterator[Entry]:
        self._write_unwritten()
        cursor = self._conn.execute("SELECT key, value, expires_at FROM kv ORDER BY key")
        try:
            yield from cursor
        finally:
            cursor.close()

    def _load(self, chunks: Iterator[list[Entry]], point: CommitPoint) -> None:
        self._write_unwritten()  # a load that fails leaves the committed state as it was
        conn = self._conn
        self._cache.clear()
        self._cached_all = None
        self._size = None
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM kv")
            for chunk in chunks:
                rows = [(bytearray(k), bytearray(v), e) for k, v, e in chunk]
                write_rows(conn, rows, ())
            write_commit(conn, point)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

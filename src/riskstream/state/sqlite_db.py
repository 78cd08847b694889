"""The SQLite file of one ``SqliteStore``: connection, schema, and the statements it runs.

Layout: ``kv(key, value, expires_at)`` clustered on ``key`` (``WITHOUT ROWID``: a point
read is one B-tree descent and a prefix scan reads neighbouring pages), a partial index on
``expires_at`` for the keys that expire, and ``meta`` rows: the file format, the changelog
partition the file belongs to, and the commit point (``CommitPoint`` as msgpack) that the
rows reflect. A commit writes rows and commit point in one transaction.

Keys and values are bound as ``bytearray``: CPython's sqlite3 binds ``bytes`` through its
adapter lookup (its fast path lists ``bytearray`` but not ``bytes``), which costs about a
microsecond per value, far more than the copy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

import msgspec

from riskstream.state.errors import StateError, StoreLockedError
from riskstream.state.protocol import CommitPoint
from riskstream.state.staging import Change

__all__ = [
    "ANY_ROW",
    "DELETE",
    "EXPIRED",
    "GET",
    "GET_WITH_EXPIRY",
    "UPSERT",
    "open_db",
    "prefix_end",
    "read_commit",
    "write_changes",
    "write_commit",
    "write_rows",
]

FORMAT_VERSION = 1
_PAGE_SIZE = 16_384
_MMAP_BYTES = 1 << 30

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kv("
    "key BLOB PRIMARY KEY, value BLOB NOT NULL, expires_at INTEGER) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS kv_expiry ON kv(expires_at) WHERE expires_at IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID",
)

UPSERT = "INSERT OR REPLACE INTO kv(key, value, expires_at) VALUES (?, ?, ?)"
DELETE = "DELETE FROM kv WHERE key = ?"
GET = "SELECT value FROM kv WHERE key = ?"
GET_WITH_EXPIRY = "SELECT value, expires_at FROM kv WHERE key = ?"
EXPIRED = "SELECT key FROM kv WHERE expires_at <= ?"
ANY_ROW = "SELECT 1 FROM kv LIMIT 1"
_SET_META = "INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)"

_encode_commit = msgspec.msgpack.Encoder().encode
_decode_commit = msgspec.msgpack.Decoder(CommitPoint).decode


def open_db(
    path: Path,
    *,
    changelog: str,
    partition: int,
    fsync: bool,
    lock_timeout_s: float,
    cache_kib: int,
) -> sqlite3.Connection:
    """Open (creating if needed) and lock the file of ``changelog`` partition ``partition``.

    ``locking_mode=EXCLUSIVE`` holds the write lock until ``close``: a second process that
    opens the same store waits ``lock_timeout_s`` and gets ``StoreLockedError``; the lock
    dies with its process, so a killed worker never blocks its successor. WAL with
    ``synchronous=NORMAL`` survives a killed process; ``fsync`` (``FULL``) also power loss.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, isolation_level=None, timeout=lock_timeout_s, check_same_thread=False
    )
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute(f"PRAGMA page_size={_PAGE_SIZE}")  # only takes effect on a new file
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        conn.execute(f"PRAGMA cache_size=-{cache_kib}")
        # Reads of pages outside SQLite's cache come from the OS page cache without a
        # syscall each: a cache miss in ``get`` costs about half as much.
        conn.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
        conn.execute("BEGIN IMMEDIATE")  # takes the lock now, not at the first commit
        for statement in _SCHEMA:
            conn.execute(statement)
        _claim(conn, path, changelog, partition)
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        conn.close()
        if "locked" in str(exc):
            raise StoreLockedError(f"{path} is in use by another store") from exc
        raise
    except BaseException:
        conn.close()
        raise
    return conn


def _claim(conn: sqlite3.Connection, path: Path, changelog: str, partition: int) -> None:
    """Stamp a new file with its owner; refuse a file that belongs to another partition."""
    found = dict(conn.execute("SELECT name, value FROM meta WHERE name != 'commit'"))
    wanted = {"format": FORMAT_VERSION, "changelog": changelog, "partition": partition}
    if not found:
        conn.executemany(_SET_META, list(wanted.items()))
    elif found != wanted:
        raise StateError(f"{path} holds {found}, not {wanted}")


def read_commit(conn: sqlite3.Connection) -> CommitPoint:
    row = conn.execute("SELECT value FROM meta WHERE name = 'commit'").fetchone()
    return CommitPoint() if row is None else _decode_commit(row[0])


def write_commit(conn: sqlite3.Connection, point: CommitPoint) -> None:
    conn.execute(_SET_META, ("commit", _encode_commit(point)))


def write_changes(conn: sqlite3.Connection, changes: Mapping[bytes, Change]) -> None:
    """Upsert and delete ``changes`` (inside the caller's transaction), in key order so
    the B-tree is written page after page."""
    upserts: list[tuple[bytearray, bytearray, int | None]] = []
    deletes: list[tuple[bytearray]] = []
    for key in sorted(changes):
        value, expires_at = changes[key]
        if value is None:
            deletes.append((bytearray(key),))
        else:
            upserts.append((bytearray(key), bytearray(value), expires_at))
    write_rows(conn, upserts, deletes)


def write_rows(
    conn: sqlite3.Connection,
    upserts: Iterable[tuple[bytearray, bytearray, int | None]],
    deletes: Iterable[tuple[bytearray]],
) -> None:
    conn.executemany(UPSERT, upserts)
    conn.executemany(DELETE, deletes)


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key above every key starting with ``prefix`` (``None``: no bound)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])

"""Replaying a changelog into a ``SqliteStore`` file, one savepoint per commit."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from riskstream.log.records import Record
from riskstream.state.changelog import expires_at_of
from riskstream.state.protocol import CommitPoint
from riskstream.state.sqlite_db import write_commit, write_rows

__all__ = ["SqliteReplaySink"]

_RESTORE_CACHE_KIB = 524_288  # a restore touches the whole B-tree: keep it in memory
_RESTORE_COMMIT_RECORDS = 500_000  # commit a long restore at markers, so a crash keeps most


class SqliteReplaySink:
    """Writes replayed records inside a savepoint per commit: a marker releases it, the
    end of the changelog rolls back the unfinished one."""

    def __init__(self, conn: sqlite3.Connection, *, cache_kib: int) -> None:
        self._conn = conn
        self._cache_kib = cache_kib
        self._uncommitted = 0
        conn.execute(f"PRAGMA cache_size=-{_RESTORE_CACHE_KIB}")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("SAVEPOINT segment")

    def apply(self, records: Sequence[Record]) -> None:
        latest = {record.key: record for record in records if record.key is not None}
        deletes = sorted(key for key, record in latest.items() if record.value is None)
        # Key order: the B-tree is then written page after page (sorting the keys alone is
        # much cheaper than sorting (key, record) pairs).
        upserts = [
            (
                bytearray(key),
                bytearray(value),
                expires_at_of(record.headers) if record.headers else None,
            )
            for key in sorted(latest)
            if (value := (record := latest[key]).value) is not None
        ]
        write_rows(self._conn, upserts, [(bytearray(key),) for key in deletes])
        self._uncommitted += len(records)

    def mark(self, point: CommitPoint) -> None:
        conn = self._conn
        write_commit(conn, point)
        conn.execute("RELEASE segment")
        if self._uncommitted >= _RESTORE_COMMIT_RECORDS:
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
            self._uncommitted = 0
        conn.execute("SAVEPOINT segment")

    def finish(self) -> None:
        conn = self._conn
        conn.execute("ROLLBACK TO segment")
        conn.execute("RELEASE segment")
        conn.execute("COMMIT")
        conn.execute(f"PRAGMA cache_size=-{self._cache_kib}")

    def abort(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")
        self._conn.execute(f"PRAGMA cache_size=-{self._cache_kib}")

"""The embedded query store: one SQLite file, shared by the projector and the query API.

WAL mode lets readers (the API) see the last committed snapshot while a projector writes;
``BEGIN IMMEDIATE`` makes writers queue instead of failing half-way. Each thread gets its own
connection (sqlite3 connections are not for concurrent use), all closed by :meth:`close`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Final

from riskstream.services.projections.errors import QueryStoreError
from riskstream.services.projections.store import Dialect

__all__ = ["SqliteStore"]

_BUSY_TIMEOUT_MS: Final = 60_000


class _SqliteTx:
    __slots__ = ("_conn",)

    dialect: Dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise QueryStoreError(f"{exc} in: {sql.strip()[:200]}") from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise QueryStoreError(f"{exc} in: {sql.strip()[:200]}") from exc


class SqliteStore:
    """A :class:`~riskstream.services.projections.store.QueryStore` in one SQLite file."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._closed = False

    @property
    def url(self) -> str:
        return f"sqlite:{self.path}"

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            if self._closed:
                raise QueryStoreError(f"query store {self.url} is closed")
            # Autocommit mode: transactions are begun explicitly, with the right lock.
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._all.append(conn)
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        self._local.conn = conn
        return conn

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[_SqliteTx]:
        conn = self._conn()
        try:
            conn.execute(begin)
        except sqlite3.Error as exc:
            raise QueryStoreError(f"cannot begin a transaction on {self.url}: {exc}") from exc
        try:
            yield _SqliteTx(conn)
        except BaseException:
            conn.rollback()
            raise
        try:
            conn.commit()
        except sqlite3.Error as exc:
            conn.rollback()
            raise QueryStoreError(f"commit failed on {self.url}: {exc}") from exc

    def write(self) -> AbstractContextManager[_SqliteTx]:
        return self._transaction("BEGIN IMMEDIATE")

    def read(self) -> AbstractContextManager[_SqliteTx]:
        return self._transaction("BEGIN")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

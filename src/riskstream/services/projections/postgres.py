"""The production query store: PostgreSQL through psycopg 3.

Writers serialise on a transaction-scoped advisory lock (one key per schema), which is what
lets a rebuild compare its offsets with the live projector's and swap tables atomically;
readers get a ``REPEATABLE READ`` snapshot. ``schema`` keeps several stores (tests, tenants)
apart in one database. Each thread gets its own connection, all closed by :meth:`close`.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg import sql as pgsql

from riskstream.services.projections.errors import QueryStoreError
from riskstream.services.projections.store import Dialect, redact

__all__ = ["PostgresStore"]


def _placeholders(statement: str) -> str:
    """``?`` placeholders (the views' portable SQL) to psycopg's ``%s``."""
    return statement.replace("%", "%%").replace("?", "%s")


class _PostgresTx:
    __slots__ = ("_conn", "_sql")

    dialect: Dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection[Any], cache: dict[str, str]) -> None:
        self._conn = conn
        self._sql = cache

    def _convert(self, statement: str) -> str:
        converted = self._sql.get(statement)
        if converted is None:
            converted = self._sql[statement] = _placeholders(statement)
        return converted

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            cursor = self._conn.execute(self._convert(sql), params)
            return cursor.fetchall() if cursor.description is not None else []
        except psycopg.Error as exc:
            raise QueryStoreError(f"{exc} in: {sql.strip()[:200]}") from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = list(rows)
        if not batch:
            return
        try:
            with self._conn.cursor() as cursor:
                cursor.executemany(self._convert(sql), batch)
        except psycopg.Error as exc:
            raise QueryStoreError(f"{exc} in: {sql.strip()[:200]}") from exc


class PostgresStore:
    """A :class:`~riskstream.services.projections.store.QueryStore` in PostgreSQL."""

    dialect: Dialect = "postgresql"

    def __init__(self, dsn: str, *, schema: str | None = None) -> None:
        self.dsn = dsn
        self.schema = schema
        # Advisory lock keys are per database: one per schema keeps stores independent.
        self._lock_key = zlib.crc32(f"riskstream-projections:{schema or ''}".encode())
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[psycopg.Connection[Any]] = []
        self._closed = False
        self._sql: dict[str, str] = {}
        if schema is not None:
            with self._connect() as conn:
                conn.execute(
                    pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(schema))
                )

    @property
    def url(self) -> str:
        return redact(self.dsn) + (f"?schema={self.schema}" if self.schema else "")

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.dsn, autocommit=True)
        except psycopg.Error as exc:
            raise QueryStoreError(f"cannot connect to {redact(self.dsn)}: {exc}") from exc

    def _conn(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed:
            return conn
        with self._lock:
            if self._closed:
                raise QueryStoreError(f"query store {self.url} is closed")
        conn = self._connect()
        if self.schema is not None:
            conn.execute(pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(self.schema)))
        with self._lock:
            self._all.append(conn)
        self._local.conn = conn
        return conn

    @contextmanager
    def _transaction(self, first: str, params: Sequence[Any] = ()) -> Iterator[_PostgresTx]:
        conn = self._conn()
        try:
            with conn.transaction():
                conn.execute(first, params)
                yield _PostgresTx(conn, self._sql)
        except psycopg.Error as exc:
            raise QueryStoreError(f"transaction failed on {self.url}: {exc}") from exc

    def write(self) -> AbstractContextManager[_PostgresTx]:
        return self._transaction("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))

    def read(self) -> AbstractContextManager[_PostgresTx]:
        return self._transaction("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

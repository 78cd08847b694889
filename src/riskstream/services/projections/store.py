"""The query store port: where read models live, behind one small SQL interface.

Views are written once, in the SQL both backends speak (``?`` placeholders, ``INSERT … ON
CONFLICT``, ``RETURNING``); the few spellings that differ come from :func:`greatest` and
:func:`least`. A backend provides two kinds of transaction:

* ``write()`` — serialised: at most one writer at a time per store (SQLite ``BEGIN
  IMMEDIATE``; PostgreSQL a transaction-scoped advisory lock). Projectors and rebuilds apply a
  batch and store its offsets in one such transaction, so a batch is in the views exactly
  once or not at all, and a rebuild can hand a view over without racing the live projector.
* ``read()`` — one consistent snapshot for the queries of one answer.

``open_store(url)``: ``sqlite:PATH`` (the embedded default; ``sqlite:///abs/path``) or
``postgresql://user@host:port/db[?schema=NAME]`` (psycopg 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Final, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from riskstream.errors import ConfigError

__all__ = [
    "DEFAULT_STORE_URL",
    "Dialect",
    "QueryStore",
    "Tx",
    "greatest",
    "least",
    "open_store",
    "redact",
]

Dialect = Literal["sqlite", "postgresql"]

DEFAULT_STORE_URL: Final = "sqlite:.riskstream/query.db"


class Tx(Protocol):
    """One open transaction of a query store."""

    @property
    def dialect(self) -> Dialect: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (empty for statements without results)."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement per parameter row (batched by the backend)."""
        ...


class QueryStore(Protocol):
    """A SQL database holding the read models."""

    @property
    def url(self) -> str:
        """Where the store is (passwords redacted)."""
        ...

    @property
    def dialect(self) -> Dialect: ...

    def write(self) -> AbstractContextManager[Tx]:
        """A serialised read-write transaction: committed on exit, rolled back on error."""
        ...

    def read(self) -> AbstractContextManager[Tx]:
        """A read-only transaction over one consistent snapshot."""
        ...

    def close(self) -> None: ...


def greatest(dialect: Dialect, a: str, b: str) -> str:
    """SQL for the larger of two expressions, ignoring a NULL one (as PostgreSQL does)."""
    if dialect == "postgresql":
        return f"GREATEST({a}, {b})"
    return f"max(coalesce({a}, {b}), coalesce({b}, {a}))"


def least(dialect: Dialect, a: str, b: str) -> str:
    """SQL for the smaller of two expressions, ignoring a NULL one."""
    if dialect == "postgresql":
        return f"LEAST({a}, {b})"
    return f"min(coalesce({a}, {b}), coalesce({b}, {a}))"


def redact(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def open_store(url: str = DEFAULT_STORE_URL) -> QueryStore:
    """The query store a URL names."""
    if url.startswith("sqlite:"):
        from riskstream.services.projections.sqlite import SqliteStore  # noqa: PLC0415

        rest = url.removeprefix("sqlite:")
        if rest.startswith("//"):
            rest = rest[2:]
        if not rest:
            raise ConfigError(f"sqlite store URL needs a file: {url!r}")
        return SqliteStore(Path(rest))
    if url.startswith(("postgresql://", "postgres://")):
        from riskstream.services.projections.postgres import (  # noqa: PLC0415 - psycopg on demand
            PostgresStore,
        )

        parts = urlsplit(url)
        query = parse_qsl(parts.query)
        schema = next((value for name, value in query if name == "schema"), None)
        kept = urlencode([(name, value) for name, value in query if name != "schema"])
        return PostgresStore(urlunsplit(parts._replace(query=kept)), schema=schema)
    raise ConfigError(
        f"unknown query store URL (expected sqlite:PATH or postgresql://…): {redact(url)!r}"
    )

"""SQLite connections as every embedded-log file uses them: WAL, explicit transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from riskstream.errors import LogCorruptionError
from riskstream.log.embedded.options import EmbeddedOptions

__all__ = ["connect", "read_tx", "write_tx"]

_WAL_LIMIT_BYTES = 64 << 20


def connect(
    path: Path, options: EmbeddedOptions, *, create: bool = False, page_size: int | None = None
) -> sqlite3.Connection:
    """Open ``path`` in WAL mode; without ``create`` a missing file is a corruption error.

    ``page_size`` (default: the ``page_size`` option) applies only when the file is new.

    Autocommit mode (``isolation_level=None``) so that transactions are exactly the
    ``BEGIN``/``COMMIT`` pairs written here; the busy timeout makes concurrent processes
    wait for each other's locks instead of failing.
    """
    uri = f"file:{quote(str(path))}?mode={'rwc' if create else 'rw'}"
    try:
        conn = sqlite3.connect(
            uri,
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=options.busy_timeout_ms / 1000,
        )
    except sqlite3.OperationalError as exc:
        raise LogCorruptionError(f"cannot open {path}: {exc}") from exc
    try:
        if create:
            # Only takes effect on a new, empty file; must precede WAL mode.
            conn.execute(f"PRAGMA page_size={page_size or options.page_size}")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise LogCorruptionError(f"{path}: journal mode is {mode!r}, expected 'wal'")
        # NORMAL in WAL mode: a commit is in the OS before COMMIT returns, which survives
        # a killed process; FULL also fsyncs the WAL, which survives power loss.
        conn.execute(f"PRAGMA synchronous={'FULL' if options.fsync else 'NORMAL'}")
        conn.execute(f"PRAGMA cache_size=-{options.cache_size_kib}")
        conn.execute(f"PRAGMA mmap_size={options.mmap_size}")
        conn.execute(f"PRAGMA journal_size_limit={_WAL_LIMIT_BYTES}")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise LogCorruptionError(f"cannot open {path}: {exc}") from exc
    except LogCorruptionError:
        conn.close()
        raise
    return conn


@contextmanager
def write_tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the file's write lock up front (no upgrade deadlocks)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextmanager
def read_tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One consistent snapshot for several reads (and one WAL read lock instead of many)."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")

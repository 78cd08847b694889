"""The log directory and its ``meta.db``: schema, opening with repair, the topic catalogue.

Layout::

    <dir>/meta.db              topics, consumer groups, members, ownership, commits
    <dir>/topics/<name>.<id>.db one file per topic, so producers of different topics never
                               wait for each other; the random id keeps a re-created topic
                               from ever sharing a file (or its -wal/-shm) with the old one
    <dir>/lock                 held while a process opens (and repairs) the directory
"""

from __future__ import annotations

import fcntl
import sqlite3
from pathlib import Path
from typing import NamedTuple

import msgspec

from riskstream.errors import LogCorruptionError, UnknownTopicError
from riskstream.log.embedded.db import connect, write_tx
from riskstream.log.embedded.options import EmbeddedOptions
from riskstream.log.embedded.store import TopicStore
from riskstream.log.records import TopicSpec

__all__ = ["META_VERSION", "Catalog", "TopicInfo", "bootstrap"]

META_VERSION = 1
META_FILE = "meta.db"
TOPICS_DIR = "topics"
# Small pages: meta.db sees many tiny commits (heartbeats, offsets), each rewriting whole pages.
META_PAGE_SIZE = 4_096

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS topics(
        name TEXT PRIMARY KEY,
        file TEXT NOT NULL UNIQUE,
        partitions INTEGER NOT NULL,
        spec BLOB NOT NULL) WITHOUT ROWID""",
    # ``generation`` moves whenever the group's target assignment may have changed.
    """CREATE TABLE IF NOT EXISTS groups(
        group_id TEXT PRIMARY KEY,
        generation INTEGER NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS members(
        group_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        topics BLOB NOT NULL,
        heartbeat_ms INTEGER NOT NULL,
        session_timeout_ms INTEGER NOT NULL,
        PRIMARY KEY(group_id, member_id)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS owners(
        group_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        part INTEGER NOT NULL,
        member_id TEXT NOT NULL,
        PRIMARY KEY(group_id, topic, part)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS commits(
        group_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        part INTEGER NOT NULL,
        off INTEGER NOT NULL,
        committed_ms INTEGER NOT NULL,
        PRIMARY KEY(group_id, topic, part)) WITHOUT ROWID""",
)

_spec_encode = msgspec.json.Encoder().encode
_spec_decode = msgspec.json.Decoder(TopicSpec).decode


class TopicInfo(NamedTuple):
    """A catalogued topic: its spec and the file holding its records."""

    name: str
    file: str
    partitions: int
    spec: TopicSpec


def encode_spec(spec: TopicSpec) -> bytes:
    return _spec_encode(spec)


def bootstrap(root: Path, options: EmbeddedOptions) -> None:
    """Create or check the directory, then repair what an interrupted process left behind.

    Runs under an exclusive lock on ``<dir>/lock`` so processes opening the same directory
    at once do not race on creating ``meta.db``. SQLite itself rolls back any transaction
    a killed process left half-written (WAL recovery); what remains are topic files that a
    ``create_topics`` or ``delete_topics`` cut short left uncatalogued, which are removed.
    """
    (root / TOPICS_DIR).mkdir(parents=True, exist_ok=True)
    with open(root / "lock", "a+b") as lock_file:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        conn = connect(root / META_FILE, options, create=True, page_size=META_PAGE_SIZE)
        try:
            _ensure_schema(conn, root)
            _remove_orphans(conn, root / TOPICS_DIR)
        finally:
            conn.close()


def _ensure_schema(conn: sqlite3.Connection, root: Path) -> None:
    try:
        integrity = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise LogCorruptionError(f"{root / META_FILE}: {exc}") from exc
    if integrity != "ok":
        raise LogCorruptionError(f"{root / META_FILE} failed its integrity check: {integrity}")
    with write_tx(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > META_VERSION:
            raise LogCorruptionError(
                f"{root} was written by a newer riskstream (format {version} > {META_VERSION})"
            )
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={META_VERSION}")


def _remove_orphans(conn: sqlite3.Connection, topics_dir: Path) -> None:
    # Under the meta write lock: create/delete hold it too, so none is half done right now.
    with write_tx(conn):
        catalogued = {file for (file,) in conn.execute("SELECT file FROM topics")}
        for entry in topics_dir.iterdir():
            base = entry.name
            for suffix in ("-wal", "-shm", "-journal"):
                base = base.removesuffix(suffix)
            if base not in catalogued:
                entry.unlink(missing_ok=True)


class Catalog:
    """Reads the topic catalogue through one connection to ``meta.db`` (one thread)."""

    def __init__(self, root: Path, options: EmbeddedOptions) -> None:
        self.root = root
        self.options = options
        self.conn = connect(root / META_FILE, options)
        self._data_version = -1

    def close(self) -> None:
        self.conn.close()

    def changed(self) -> bool:
        """Whether another connection committed to ``meta.db`` since the last call."""
        version: int = self.conn.execute("PRAGMA data_version").fetchone()[0]
        changed = version != self._data_version
        self._data_version = version
        return changed

    def get(self, name: str) -> TopicInfo | None:
        row = self.conn.execute(
            "SELECT name, file, partitions, spec FROM topics WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else _info(row)

    def require(self, name: str) -> TopicInfo:
        info = self.get(name)
        if info is None:
            raise UnknownTopicError(f"unknown topic: {name!r}")
        return info

    def all(self) -> dict[str, TopicInfo]:
        rows = self.conn.execute("SELECT name, file, partitions, spec FROM topics ORDER BY name")
        return {row[0]: _info(row) for row in rows}

    def path(self, info: TopicInfo) -> Path:
        return self.root / TOPICS_DIR / info.file

    def open_store(self, info: TopicInfo) -> TopicStore:
        return TopicStore.open(self.path(info), self.options, partitions=info.partitions)


def _info(row: tuple[str, str, int, bytes]) -> TopicInfo:
    return TopicInfo(row[0], row[1], row[2], _spec_decode(row[3]))

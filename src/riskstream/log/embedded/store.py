"""One topic's SQLite file: record batches per partition, offsets, the sparse time index.

Records are stored the way Kafka stores them: in *batches*. One producer write puts one row
per touched partition into ``batches``: the records as a msgpack array of
``(offset, timestamp, key, value, headers)`` plus the batch's offset range, maximum
timestamp, record count and byte size. SQLite then costs a few statements per batch
instead of a B-tree insert per record, and a consumer decodes a whole batch in C.

``partitions`` keeps each partition's next offset (the high watermark, kept even when
retention empties the partition), its first kept offset (``low``) and the compaction
checkpoint (``cleaned``). The index on ``(part, last_off, max_ts)`` finds the batch holding
an offset and, without reading any blob, the first batch that can hold a timestamp.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import msgspec

from riskstream.errors import LogCorruptionError
from riskstream.log.embedded.db import connect, write_tx
from riskstream.log.embedded.options import EmbeddedOptions
from riskstream.log.records import Headers

__all__ = [
    "FORMAT_VERSION",
    "BatchRow",
    "StoredRecord",
    "TopicStore",
    "decode_batch",
    "encode_batch",
]

FORMAT_VERSION = 1

StoredRecord = tuple[int, int, bytes | None, bytes | None, Headers]
"""``(offset, timestamp, key, value, headers)``: ready for ``Record(topic, partition, *r)``."""

BatchRow = tuple[int, int, int, int, int, int, bytes]
"""``(part, base_off, last_off, max_ts, count, size, data)``: one row of ``batches``."""

encode_batch = msgspec.msgpack.Encoder().encode
decode_batch = msgspec.msgpack.Decoder(list[StoredRecord]).decode

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS partitions(
        part INTEGER PRIMARY KEY,
        next_off INTEGER NOT NULL,
        low INTEGER NOT NULL,
        cleaned INTEGER NOT NULL)""",
    # ``data`` last: SQLite reads columns in order, and the blob spills to overflow pages.
    """CREATE TABLE IF NOT EXISTS batches(
        id INTEGER PRIMARY KEY,
        part INTEGER NOT NULL,
        base_off INTEGER NOT NULL,
        last_off INTEGER NOT NULL,
        max_ts INTEGER NOT NULL,
        count INTEGER NOT NULL,
        size INTEGER NOT NULL,
        data BLOB NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS batches_by_offset ON batches(part, last_off, max_ts)",
    "CREATE TABLE IF NOT EXISTS info(key TEXT PRIMARY KEY, value) WITHOUT ROWID",
)

_INSERT_BATCH = (
    "INSERT INTO batches(part, base_off, last_off, max_ts, count, size, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class TopicStore:
    """An open connection to one topic file; not shared between threads."""

    def __init__(self, conn: sqlite3.Connection, path: Path, partitions: int) -> None:
        self.conn = conn
        self.path = path
        self.partitions = partitions
        self._data_version = -1

    @staticmethod
    def create(path: Path, partitions: int, options: EmbeddedOptions, *, topic: str) -> None:
        """Create a new, fully initialised topic file (before the catalogue names it)."""
        conn = connect(path, options, create=True)
        try:
            with write_tx(conn):
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.executemany(
                    "INSERT INTO partitions(part, next_off, low, cleaned) VALUES (?, 0, 0, 0)",
                    [(p,) for p in range(partitions)],
                )
                conn.executemany(
                    "INSERT INTO info(key, value) VALUES (?, ?)",
                    [("topic", topic), ("format", FORMAT_VERSION), ("maintained_ms", 0)],
                )
        finally:
            conn.close()

    @classmethod
    def open(cls, path: Path, options: EmbeddedOptions, *, partitions: int) -> TopicStore:
        """Open an existing topic file; a missing or foreign file is a corruption error."""
        conn = connect(path, options)
        try:
            row = conn.execute("SELECT value FROM info WHERE key = 'format'").fetchone()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LogCorruptionError(f"{path}: not a topic file ({exc})") from exc
        if row is None or row[0] != FORMAT_VERSION:
            conn.close()
            raise LogCorruptionError(f"{path}: unsupported topic file format {row}")
        return cls(conn, path, partitions)

    def close(self) -> None:
        self.conn.close()

    # -- writing (inside ``write_tx``) ---------------------------------------------------

    def next_offsets(self) -> list[int]:
        """Each partition's next offset; empty once the topic was deleted under us."""
        rows = self.conn.execute("SELECT part, next_off FROM partitions ORDER BY part").fetchall()
        return [next_off for _, next_off in rows]

    def append(self, batches: list[BatchRow], next_offsets: list[tuple[int, int]]) -> None:
        """Insert ``batches`` and move the partitions' next offsets ``(next_off, part)``."""
        self.conn.executemany(_INSERT_BATCH, batches)
        self.conn.executemany("UPDATE partitions SET next_off = ? WHERE part = ?", next_offsets)

    def mark_deleted(self) -> None:
        """Leave no partitions, so writers holding this file open notice the deletion."""
        with write_tx(self.conn):
            self.conn.execute("DELETE FROM partitions")

    # -- reading ---------------------------------------------------------------------------

    def changed(self) -> bool:
        """Whether another connection committed since the last call (cheap; no read lock)."""
        version: int = self.conn.execute("PRAGMA data_version").fetchone()[0]
        changed = version != self._data_version
        self._data_version = version
        return changed

    def high_watermarks(self) -> list[int]:
        return self.next_offsets()

    def watermarks(self, part: int) -> tuple[int, int]:
        row = self.conn.execute(
            "SELECT low, next_off FROM partitions WHERE part = ?", (part,)
        ).fetchone()
        if row is None:
            return 0, 0
        return int(row[0]), int(row[1])

    def batches_from(self, part: int, offset: int) -> sqlite3.Cursor:
        """A lazy cursor over ``(base_off, data)`` of the batches holding offsets >= ``offset``."""
        return self.conn.execute(
            "SELECT base_off, data FROM batches WHERE part = ? AND last_off >= ? ORDER BY last_off",
            (part, offset),
        )

    def offset_for_timestamp(self, part: int, timestamp: int) -> int:
        """The first offset whose timestamp is >= ``timestamp``, else the high watermark.

        Every batch before the first one with ``max_ts >= timestamp`` holds only older
        records, and that batch holds at least one match, so one blob is decoded.
        """
        for (data,) in self._batches_reaching(part, timestamp):
            for offset, record_ts, _key, _value, _headers in decode_batch(data):
                if record_ts >= timestamp:
                    return offset
        return self.watermarks(part)[1]

    def _batches_reaching(self, part: int, timestamp: int) -> Iterator[tuple[bytes]]:
        cursor = self.conn.execute(
            "SELECT data FROM batches WHERE part = ? AND max_ts >= ? ORDER BY last_off",
            (part, timestamp),
        )
        try:
            yield from cursor
        finally:
            cursor.close()

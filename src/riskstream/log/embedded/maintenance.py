"""Retention and compaction of one topic file, in short write transactions.

Retention drops a *prefix* of each partition, record by record (Kafka drops whole
segments, so it keeps a little more): every record before the first one stamped within
``retention_ms`` of now (out-of-order timestamps never make it drop a young record), and
every record before the newest ones whose stored size adds up to ``retention_bytes``
(per partition, counting each record's msgpack encoding). The partition's ``low`` moves to
the first kept offset; its next offset never moves back.

Compaction keeps the latest record per key. It reads the *dirty* records (offsets from the
``cleaned`` checkpoint up to the end, or up to the first batch younger than the topic's
``min.compaction.lag.ms``), maps each key to its latest offset, then rewrites every batch
below that end without the records a later one supersedes. Offsets stay sparse, as in Kafka.
A tombstone (``None`` value) that is a key's latest record is dropped too once older than
``delete.retention.ms`` (default 0 here, so the key disappears at the first compaction;
Kafka's default is a day). The latest record of a live key is never dropped.

A pass is a sequence of steps (:func:`maintenance_steps`), each at most one short
transaction: retention of one partition, reading a slice of the dirty records, or
rewriting a slice of the batches. Producers run a pass in passing, a few steps per write,
so a compaction of a large topic never holds up their writes (or other processes' writes
to the topic) for long; :func:`maintain_topic` runs one to the end. A pass cut short
(by a crash, or a topic deleted meanwhile) leaves every batch either as it was or without
superseded records, and ``cleaned`` where it was: the next pass does the rest. Readers may
see a partition half compacted, which is still a correct view: every key's latest record
is kept throughout.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Iterator
from operator import itemgetter

from riskstream.log.embedded.db import write_tx
from riskstream.log.embedded.store import StoredRecord, TopicStore, decode_batch, encode_batch
from riskstream.log.records import TopicSpec

__all__ = ["maintain_topic", "maintenance_steps"]

_timestamp_of = itemgetter(1)
_STEP_RECORDS = 1_024
"""Records a compaction step reads or rewrites: about a millisecond's work per transaction."""


def maintain_topic(
    store: TopicStore, spec: TopicSpec, now_ms: int, *, min_interval_ms: int = 0
) -> int:
    """Apply ``spec``'s retention and compaction once; returns how many records were removed.

    With ``min_interval_ms``, skips the topic when any process maintained it more recently
    (the periodic pass producers run); ``EmbeddedLog.maintain`` always runs.
    """
    return sum(maintenance_steps(store, spec, now_ms, min_interval_ms=min_interval_ms))


def maintenance_steps(
    store: TopicStore, spec: TopicSpec, now_ms: int, *, min_interval_ms: int = 0
) -> Generator[int]:
    """:func:`maintain_topic` one step at a time: each ``next`` runs at most one short
    transaction and yields the records it removed (it never yields inside a transaction)."""
    if spec.retention_ms is None and spec.retention_bytes is None and not spec.compacted:
        return
    conn = store.conn
    with write_tx(conn):
        row = conn.execute("SELECT value FROM info WHERE key = 'maintained_ms'").fetchone()
        if min_interval_ms and row is not None and now_ms - int(row[0]) < min_interval_ms:
            return
        conn.execute("UPDATE info SET value = ? WHERE key = 'maintained_ms'", (now_ms,))
    yield 0
    for part in range(store.partitions):
        with write_tx(conn):
            removed = _retain(conn, part, spec, now_ms)
        yield removed
        if spec.compacted:
            yield from _compact(conn, part, spec, now_ms)


def _retain(conn: sqlite3.Connection, part: int, spec: TopicSpec, now_ms: int) -> int:
    row = conn.execute("SELECT next_off FROM partitions WHERE part = ?", (part,)).fetchone()
    if row is None:
        return 0
    next_off = int(row[0])
    removed = 0
    if spec.retention_ms is not None:
        removed += _drop_older(conn, part, now_ms - spec.retention_ms, next_off)
    if spec.retention_bytes is not None:
        removed += _drop_beyond(conn, part, spec.retention_bytes, next_off)
    return removed


def _drop_older(conn: sqlite3.Connection, part: int, cutoff: int, next_off: int) -> int:
    """Drop the prefix of records before the first one stamped at or after ``cutoff``."""
    young = conn.execute(
        "SELECT id, data FROM batches WHERE part = ? AND max_ts >= ? ORDER BY last_off LIMIT 1",
        (part, cutoff),
    ).fetchone()
    if young is None:
        return _drop_before(conn, part, next_off)
    records = decode_batch(young[1])
    # The batch's maximum is >= cutoff, so a young record exists.
    first = next(i for i, record in enumerate(records) if record[1] >= cutoff)
    if first:
        _rewrite(conn, young[0], records[first:])
    return first + _drop_before(conn, part, records[first][0])


def _drop_beyond(conn: sqlite3.Connection, part: int, limit: int, next_off: int) -> int:
    """Keep the newest records whose stored (msgpack) size adds up to at most ``limit``."""
    total = 0
    cut = next_off
    rows = conn.execute(
        "SELECT id, base_off, size FROM batches WHERE part = ? ORDER BY last_off DESC", (part,)
    )
    try:
        boundary = None
        for batch_id, base_off, size in rows:
            if total + size > limit:
                boundary = batch_id
                break
            total += size
            cut = base_off
    finally:
        rows.close()
    if boundary is None:
        return 0
    (data,) = conn.execute("SELECT data FROM batches WHERE id = ?", (boundary,)).fetchone()
    records = decode_batch(data)
    keep = len(records)  # records[keep:] is the newest part of the batch that still fits
    while keep:
        size = len(encode_batch(records[keep - 1]))
        if total + size > limit:
            break
        total += size
        keep -= 1
    if keep == len(records):  # not one record fits: the batch goes with the older ones
        return _drop_before(conn, part, cut)
    _rewrite(conn, boundary, records[keep:])
    return keep + _drop_before(conn, part, records[keep][0])


def _drop_before(conn: sqlite3.Connection, part: int, cut: int) -> int:
    """Delete the batches entirely below offset ``cut`` and move ``low`` up to it."""
    removed = conn.execute(
        "SELECT COALESCE(SUM(count), 0) FROM batches WHERE part = ? AND last_off < ?", (part, cut)
    ).fetchone()[0]
    conn.execute("DELETE FROM batches WHERE part = ? AND last_off < ?", (part, cut))
    conn.execute(
        "UPDATE partitions SET low = MAX(low, ?), cleaned = MAX(cleaned, ?) WHERE part = ?",
        (cut, cut, part),
    )
    return int(removed)


def _compact(conn: sqlite3.Connection, part: int, spec: TopicSpec, now_ms: int) -> Iterator[int]:
    row = conn.execute(
        "SELECT next_off, cleaned FROM partitions WHERE part = ?", (part,)
    ).fetchone()
    if row is None:
        return
    end, cleaned = row
    lag_ms = int(spec.config.get("min.compaction.lag.ms", "0"))
    if lag_ms:
        young = conn.execute(
            "SELECT base_off FROM batches WHERE part = ? AND max_ts > ? ORDER BY last_off LIMIT 1",
            (part, now_ms - lag_ms),
        ).fetchone()
        if young is not None:
            end = young[0]
    if end <= cleaned:
        return
    # Offsets never change, so a map built over several reads stays right: a record that a
    # concurrent pass drops meanwhile has a later one of its key, which is kept.
    latest: dict[bytes | None, int] = {}
    yield from _latest_offsets(conn, part, cleaned, end, latest)
    tombstone_before = now_ms - int(spec.config.get("delete.retention.ms", "0"))
    after = -1  # last_off of the last batch looked at
    while True:
        with write_tx(conn):
            removed, after = _compact_slice(conn, part, end, after, latest, tombstone_before)
        if after < 0:
            break
        yield removed
    with write_tx(conn):
        conn.execute("UPDATE partitions SET cleaned = MAX(cleaned, ?) WHERE part = ?", (end, part))
    yield 0


def _compact_slice(
    conn: sqlite3.Connection,
    part: int,
    end: int,
    after: int,
    latest: dict[bytes | None, int],
    tombstone_before: int,
) -> tuple[int, int]:
    """Rewrite the batches below ``end`` that follow ``after``, about ``_STEP_RECORDS``
    records' worth; returns the records removed and the last batch's ``last_off`` (``-1``:
    none was left). A rewrite only lowers a batch's ``last_off``, never below ``after``."""
    slice_ = conn.execute(
        "SELECT id, last_off, count FROM batches WHERE part = ? AND last_off > ? "
        "AND last_off < ? ORDER BY last_off LIMIT ?",
        (part, after, end, _STEP_RECORDS),
    ).fetchall()
    removed, last, seen = 0, -1, 0
    for batch_id, last_off, count in slice_:
        last = last_off
        (data,) = conn.execute("SELECT data FROM batches WHERE id = ?", (batch_id,)).fetchone()
        records = decode_batch(data)
        kept = [r for r in records if _keep(r, latest, tombstone_before)]
        if len(kept) != len(records):
            removed += len(records) - len(kept)
            if kept:
                _rewrite(conn, batch_id, kept)
            else:
                conn.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
        seen += count
        if seen >= _STEP_RECORDS:
            break
    return removed, last


def _latest_offsets(
    conn: sqlite3.Connection,
    part: int,
    start: int,
    end: int,
    latest: dict[bytes | None, int],
) -> Iterator[int]:
    """Map each key of offsets ``start..end`` to its latest offset, a slice per step."""
    after = -1
    while True:
        rows = conn.execute(
            "SELECT last_off, data, count FROM batches WHERE part = ? AND last_off >= ? "
            "AND last_off > ? AND base_off < ? ORDER BY last_off",
            (part, start, after, end),
        )
        seen = 0
        try:
            for last_off, data, count in rows:
                after = last_off
                for offset, _ts, key, _value, _headers in decode_batch(data):
                    if start <= offset < end:
                        latest[key] = offset
                seen += count
                if seen >= _STEP_RECORDS:
                    break
        finally:
            rows.close()
        if seen < _STEP_RECORDS:
            return
        yield 0


def _keep(record: StoredRecord, latest: dict[bytes | None, int], tombstone_before: int) -> bool:
    offset, timestamp, key, value, _headers = record
    if key is None:
        return True
    if latest.get(key, offset) > offset:
        return False
    return value is not None or timestamp >= tombstone_before


def _rewrite(conn: sqlite3.Connection, batch_id: int, kept: list[StoredRecord]) -> None:
    data = encode_batch(kept)
    conn.execute(
        "UPDATE batches SET base_off = ?, last_off = ?, max_ts = ?, count = ?, size = ?, data = ? "
        "WHERE id = ?",
        (
            kept[0][0],
            kept[-1][0],
            max(map(_timestamp_of, kept)),
            len(kept),
            len(data),
            data,
            batch_id,
        ),
    )

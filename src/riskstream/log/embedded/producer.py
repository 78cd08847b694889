"""The embedded producer: buffer in memory, write one transaction per topic per batch.

``produce`` only validates and appends to a list (the hot path). A batch is written when
``linger_ms`` has passed since its first record (noticed by the next ``produce`` or
``poll``), when it reaches ``batch_records``, or on ``flush``. There is no background
thread, so a record sits in memory until one of those calls. Writing a topic's batch is one
``BEGIN IMMEDIATE`` transaction: read each partition's next offset, number the records,
insert one row per touched partition, move the offsets, commit. Delivery reports are made
only after the commit, so an acknowledged record is in the WAL and survives a crash.

Errors never raise from ``produce`` for a record the log cannot take: an unknown topic, a
partition out of range, a keyless record for a compacted topic, or a failed write each
come back as a delivery report whose ``error`` says why (partition and offset ``-1`` when
unassigned), as with Kafka. A value, key, timestamp or header of the wrong type is a
programming error and raises ``TypeError`` at once.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import deque
from collections.abc import Generator, Sequence
from functools import partial
from itertools import repeat
from operator import add, itemgetter

from riskstream.errors import LogClosedError, LogError, UnknownTopicError
from riskstream.log.embedded.catalog import Catalog, TopicInfo
from riskstream.log.embedded.checkpoint import BACKSTOP_WAL_BYTES, Checkpointer
from riskstream.log.embedded.db import write_tx
from riskstream.log.embedded.maintenance import maintenance_steps
from riskstream.log.embedded.options import EmbeddedOptions
from riskstream.log.embedded.store import BatchRow, StoredRecord, TopicStore, encode_batch
from riskstream.log.partitioner import KeyPartitioner
from riskstream.log.port import BatchRecord, DeliveryCallback
from riskstream.log.records import DeliveryReport, Headers

__all__ = ["EmbeddedProducer"]

_log = logging.getLogger(__name__)
_time_ns = time.time_ns

# (partition, key, value, timestamp, headers, on_delivery) as ``produce`` queued it.
_Pending = tuple[int | None, bytes | None, bytes | None, int, Headers, DeliveryCallback | None]
# One written batch's reports with the producer's callback, or with one callback per record
# (``None``: the producer's) when ``produce`` was given any.
_ReportBatch = tuple[list[DeliveryReport], DeliveryCallback | list[DeliveryCallback | None]]
_timestamp_of = itemgetter(1)
_NO_CALLBACK: tuple[None] = (None,)
# Maintenance in passing: a pass over a large compacted topic takes seconds of work, so it
# runs as short slices of steps over the writes that follow, and takes at most a tenth of
# the producer's time while under way (a write never waits more than about a slice for it).
_MAINTENANCE_SLICE_NS = 2_000_000
_MAINTENANCE_SHARE = 10


class _TopicGoneError(Exception):
    """The topic file lost its partitions: deleted (and maybe re-created) since we opened it."""


class _TopicWriter:
    """Appends batches to one topic through this producer's own connection."""

    def __init__(self, info: TopicInfo, store: TopicStore) -> None:
        self.info = info
        self.store = store
        self.partitions = info.partitions
        self.compacted = info.spec.compacted
        self._next_keyless = 0
        self._key_partition = KeyPartitioner(info.partitions)

    def write(self, pending: list[_Pending], reports: list[DeliveryReport] | None) -> None:
        """Number and store ``pending`` in one transaction.

        With ``reports``, appends one report per record in queue order (rejects included);
        the caller publishes them only if this returns, i.e. after the commit.
        """
        topic = self.info.name
        n = self.partitions
        compacted = self.compacted
        key_partition = self._key_partition
        parts: list[list[StoredRecord]] = [[] for _ in range(n)]
        keyless = self._next_keyless
        # The batch's new keys, hashed at once before the write lock is taken.
        key_partition.learn(record[1] for record in pending if record[0] is None)
        with write_tx(self.store.conn):
            offsets = self.store.next_offsets()
            if len(offsets) != n:
                raise _TopicGoneError(topic)
            for chosen, key, value, timestamp, headers, _callback in pending:
                part = chosen
                if part is None:
                    if key is not None:
                        part = key_partition[key]
                    elif compacted:
                        if reports is not None:
                            reports.append(self._reject(None, key, timestamp))
                        continue
                    else:
                        part = keyless
                        keyless = (keyless + 1) % n
                elif not 0 <= part < n or (compacted and key is None):
                    if reports is not None:
                        reports.append(self._reject(part, key, timestamp))
                    continue
                offset = offsets[part]
                offsets[part] = offset + 1
                parts[part].append((offset, timestamp, key, value, headers))
                if reports is not None:
                    reports.append(DeliveryReport(topic, part, offset, timestamp, key))
            rows: list[BatchRow] = []
            for part, records in enumerate(parts):
                if records:
                    data = encode_batch(records)
                    first, last = records[0][0], records[-1][0]
                    max_ts = max(map(_timestamp_of, records))
                    rows.append((part, first, last, max_ts, len(records), len(data), data))
            if rows:
                self.store.append(rows, [(offsets[row[0]], row[0]) for row in rows])
        self._next_keyless = keyless

    def _reject(self, part: int | None, key: bytes | None, timestamp: int) -> DeliveryReport:
        topic = self.info.name
        if part is not None and not 0 <= part < self.partitions:
            error = f"topic {topic!r} has no partition {part} (it has {self.partitions})"
        else:
            error = f"compacted topic {topic!r} needs a key"
        return DeliveryReport(topic, -1 if part is None else part, -1, timestamp, key, error)


class EmbeddedProducer:
    """A producer of one embedded log; use from one thread at a time."""

    def __init__(
        self,
        catalog: Catalog,
        options: EmbeddedOptions,
        checkpointer: Checkpointer,
        *,
        on_delivery: DeliveryCallback | None,
        linger_ms: int,
    ) -> None:
        self._catalog = catalog
        self._options = options
        self._checkpointer = checkpointer
        self._on_delivery = on_delivery
        self._linger_ns = max(linger_ms, 0) * 1_000_000
        self._batch_records = options.batch_records
        # Records queued per topic; the linger deadline runs from the first of them.
        self._buffers: dict[str, list[_Pending]] = {}
        self._deadline = 0
        self._with_callbacks: set[str] = set()
        # Reports waiting for ``poll``, one entry per written batch, with the batch's
        # per-record callbacks alongside when any was given (reports are GC-untracked, so a
        # million of them waiting for ``flush`` cost no garbage-collector time).
        self._reports: list[_ReportBatch] = []
        self._unreported = 0
        self._writers: dict[str, _TopicWriter] = {}
        interval = options.maintenance_interval_ms
        self._maintenance_ns = interval * 1_000_000 if interval else None
        self._next_maintenance = time.monotonic_ns() + (self._maintenance_ns or 0)
        self._maintenance: Generator[None] | None = None  # the pass under way
        self._resume_maintenance = 0  # when its next slice may run
        self._closed = False

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        *,
        partition: int | None = None,
        timestamp: int | None = None,
        headers: Headers | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        """Queue one record (see the module docstring for when it is written)."""
        now = _time_ns()
        if timestamp is None:
            timestamp = now // 1_000_000
        elif type(timestamp) is not int:
            raise TypeError(f"timestamp must be int epoch ms, not {type(timestamp).__name__}")
        if type(value) is not bytes and value is not None:
            raise TypeError(f"value must be bytes or None, not {type(value).__name__}")
        if type(key) is not bytes and key is not None:
            raise TypeError(f"key must be bytes or None, not {type(key).__name__}")
        if partition is not None and type(partition) is not int:
            raise TypeError(f"partition must be int, not {type(partition).__name__}")
        buffer = self._buffers.get(topic)
        if buffer is None:
            buffer = self._open_buffer(topic, now)
        buffer.append(
            (partition, key, value, timestamp, _headers(headers) if headers else (), on_delivery)
        )
        if on_delivery is not None:
            self._with_callbacks.add(topic)
        if now >= self._deadline or len(buffer) >= self._batch_records:
            self._write()

    def produce_batch(self, topic: str, records: Sequence[BatchRecord]) -> list[DeliveryReport]:
        """Write ``records`` now, in one transaction with the records of ``topic`` queued
        before them (their reports wait for ``poll`` as usual); returns their reports."""
        self._check_open()
        if not records:
            return []
        _check_batch(records)
        queued = self._buffers.pop(topic, [])
        with_callbacks = topic in self._with_callbacks
        self._with_callbacks.discard(topic)
        # Queue entries carry a callback: none for these (tuples joined in C).
        pending: list[_Pending] = [*queued, *map(add, records, repeat(_NO_CALLBACK))]
        reports = self._write_reports(topic, pending)
        if queued:  # their reports are served by poll, as for any write
            earlier = reports[: len(queued)]
            if with_callbacks:
                self._reports.append((earlier, [record[5] for record in queued]))
            elif self._on_delivery is not None:
                self._reports.append((earlier, self._on_delivery))
            else:
                self._unreported += len(queued)
        self._maintain_when_due()
        return reports[len(queued) :]

    def poll(self, timeout: float = 0.0) -> int:
        """Write the batch once its linger is up (waiting up to ``timeout``); serve reports."""
        self._check_open()
        if self._buffers:
            wait = (self._deadline - _time_ns()) / 1e9
            if 0 < wait <= timeout:
                time.sleep(wait)
                wait = 0
            if wait <= 0:
                self._write()
        return self._serve()

    def flush(self, timeout: float | None = None) -> int:
        """Write everything queued and serve all reports; writes are synchronous, so returns 0."""
        self._check_open()
        self._write()
        self._serve()
        return 0

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            if self._maintenance is not None:
                self._maintenance.close()
                self._maintenance = None
            for writer in self._writers.values():
                writer.store.close()
            self._writers.clear()
            self._catalog.close()

    # -- internals ---------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosedError("producer is closed")

    def _open_buffer(self, topic: str, now: int) -> list[_Pending]:
        # Off the hot path: runs once per topic per batch, so the closed check lives here.
        self._check_open()
        if not self._buffers:
            self._deadline = now + self._linger_ns
        buffer: list[_Pending] = []
        self._buffers[topic] = buffer
        return buffer

    def _write(self) -> None:
        buffers, self._buffers = self._buffers, {}
        with_callbacks, self._with_callbacks = self._with_callbacks, set()
        for topic, pending in buffers.items():
            self._write_topic(topic, pending, with_callbacks=topic in with_callbacks)
        self._maintain_when_due()

    def _maintain_when_due(self) -> None:
        if self._maintenance_ns is None:
            return
        start = time.monotonic_ns()
        if self._maintenance is None:
            if start < self._next_maintenance:
                return
            self._next_maintenance = start + self._maintenance_ns
            self._maintenance = self._maintain()
        elif start < self._resume_maintenance:
            return
        for _ in self._maintenance:
            now = time.monotonic_ns()
            if now - start >= _MAINTENANCE_SLICE_NS:
                self._resume_maintenance = now + (now - start) * (_MAINTENANCE_SHARE - 1)
                return
        self._maintenance = None

    def _write_reports(self, topic: str, pending: list[_Pending]) -> list[DeliveryReport]:
        """Write ``pending`` and return a report for each (refusals included)."""
        for attempt in (1, 2):
            reports: list[DeliveryReport] = []
            try:
                self._writer(topic).write(pending, reports)
            except _TopicGoneError:
                self._drop_writer(topic)
                if attempt == 1:
                    continue
                return _failed(pending, f"unknown topic: {topic!r}", topic)
            except (LogError, sqlite3.Error) as exc:
                if not isinstance(exc, UnknownTopicError):
                    self._drop_writer(topic)
                return _failed(pending, f"{type(exc).__name__}: {exc}", topic)
            return reports
        raise AssertionError("unreachable")  # pragma: no cover

    def _write_topic(self, topic: str, pending: list[_Pending], *, with_callbacks: bool) -> None:
        wanted = with_callbacks or self._on_delivery is not None
        for attempt in (1, 2):
            reports: list[DeliveryReport] | None = [] if wanted else None
            try:
                self._writer(topic).write(pending, reports)
            except _TopicGoneError:
                self._drop_writer(topic)
                if attempt == 1:
                    continue
                self._fail(pending, f"unknown topic: {topic!r}", topic)
            except (LogError, sqlite3.Error) as exc:
                if not isinstance(exc, UnknownTopicError):
                    self._drop_writer(topic)
                self._fail(pending, f"{type(exc).__name__}: {exc}", topic)
            else:
                if reports is None:
                    # Nobody listens: count the acknowledgements instead of building reports.
                    self._unreported += len(pending)
                    return
                if with_callbacks:
                    self._reports.append((reports, [record[5] for record in pending]))
                elif self._on_delivery is not None:
                    self._reports.append((reports, self._on_delivery))
            return

    def _writer(self, topic: str) -> _TopicWriter:
        writer = self._writers.get(topic)
        if writer is None:
            info = self._catalog.require(topic)
            store = self._catalog.open_store(info)
            if self._checkpointer.enabled:
                page_size = store.conn.execute("PRAGMA page_size").fetchone()[0]
                pages = BACKSTOP_WAL_BYTES // page_size
                store.conn.execute(f"PRAGMA wal_autocheckpoint={pages}")
                self._checkpointer.watch(store.path)
            writer = self._writers[topic] = _TopicWriter(info, store)
        return writer

    def _drop_writer(self, topic: str) -> None:
        writer = self._writers.pop(topic, None)
        if writer is not None:
            writer.store.close()

    def _fail(self, pending: list[_Pending], error: str, topic: str) -> None:
        self._reports.append((_failed(pending, error, topic), [record[5] for record in pending]))

    def _serve(self) -> int:
        served = self._unreported
        self._unreported = 0
        batches, self._reports = self._reports, []
        default = self._on_delivery
        for index, (reports, callbacks) in enumerate(batches):
            served += len(reports)
            if isinstance(callbacks, list):
                pairs = zip(reports, callbacks, strict=True)
                try:
                    deque(map(partial(_call, default), pairs), maxlen=0)
                except BaseException:
                    rest = list(pairs)
                    left: _ReportBatch = ([r for r, _ in rest], [c for _, c in rest])
                    self._requeue([left, *batches[index + 1 :]])
                    raise
            else:
                unserved = iter(reports)
                try:
                    deque(map(callbacks, unserved), maxlen=0)  # the callbacks at C-loop speed
                except BaseException:
                    self._requeue([(list(unserved), callbacks), *batches[index + 1 :]])
                    raise
        return served

    def _requeue(self, batches: list[_ReportBatch]) -> None:
        """Put reports not served because a callback raised back in front, for the next poll."""
        self._reports[:0] = [batch for batch in batches if batch[0]]

    def _maintain(self) -> Generator[None]:
        """One periodic pass over the topics this producer writes, a step per ``next``."""
        now_ms = _time_ns() // 1_000_000
        interval_ms = self._options.maintenance_interval_ms
        for topic, writer in list(self._writers.items()):
            steps = maintenance_steps(
                writer.store, writer.info.spec, now_ms, min_interval_ms=interval_ms
            )
            try:
                for _ in steps:
                    yield
                    if self._writers.get(topic) is not writer:  # dropped meanwhile
                        break
            except (LogError, sqlite3.Error) as exc:
                _log.warning("maintenance of topic %r failed: %s", writer.info.name, exc)
            finally:
                steps.close()


def _call(
    default: DeliveryCallback | None, item: tuple[DeliveryReport, DeliveryCallback | None]
) -> None:
    report, callback = item
    target = callback or default
    if target is not None:
        target(report)


def _failed(pending: list[_Pending], error: str, topic: str) -> list[DeliveryReport]:
    return [
        DeliveryReport(topic, -1 if part is None else part, -1, timestamp, key, error)
        for part, key, _value, timestamp, _headers, _callback in pending
    ]


_BYTES_OR_NONE = frozenset({bytes, type(None)})
_INT_OR_NONE = frozenset({int, type(None)})


def _check_batch(records: Sequence[BatchRecord]) -> None:
    """The checks of ``produce``: the type combinations of the batch (a handful, however
    long it is), then those of its header pairs; no Python frame per record."""
    try:
        kinds = {
            (type(part), type(key), type(value), type(stamp), type(headers))
            for part, key, value, stamp, headers in records
        }
        pairs = {(type(name), type(data)) for record in records for name, data in record[4]}
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"batch records must be (partition, key, value, timestamp, headers) "
            f"with (str, bytes) header pairs: {exc}"
        ) from exc
    for part, key, value, stamp, headers in kinds:
        if part not in _INT_OR_NONE or key not in _BYTES_OR_NONE or value not in _BYTES_OR_NONE:
            raise TypeError(
                f"partition, key and value must be int/bytes/bytes or None: "
                f"{part.__name__}, {key.__name__}, {value.__name__}"
            )
        if stamp is not int or headers is not tuple:
            raise TypeError(
                f"timestamp must be int and headers a tuple: {stamp.__name__}, {headers.__name__}"
            )
    if pairs - {(str, bytes)}:
        raise TypeError("headers must be (str, bytes) pairs")


def _headers(headers: Headers) -> Headers:
    """Headers as ``(str, bytes)`` pairs, checked now so a bad one cannot poison a batch."""
    checked: list[tuple[str, bytes]] = []
    for pair in headers:
        try:
            name, value = pair
        except (TypeError, ValueError) as exc:
            raise TypeError(f"headers must be (str, bytes) pairs, got {pair!r}") from exc
        if not isinstance(name, str) or not isinstance(value, bytes):
            raise TypeError(f"headers must be (str, bytes) pairs, got {pair!r}")
        checked.append((name, value))
    return tuple(checked)

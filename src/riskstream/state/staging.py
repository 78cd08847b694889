"""Changes on their way to the changelog: produced by ``flush``, acknowledged, then committed."""

from __future__ import annotations

import time
from collections.abc import Mapping

from riskstream.log.port import BatchProducer, BatchRecord, Producer
from riskstream.log.records import DeliveryReport
from riskstream.state.changelog import EXPIRES_HEADER, MARKER_KEY, Marker, encode_marker
from riskstream.state.errors import ChangelogError, StateError
from riskstream.state.protocol import CommitPoint

__all__ = ["Change", "StagedCommit"]

Change = tuple[bytes | None, int | None]
"""``(value, expires_at)`` of a changed key; ``value is None`` deletes it."""


class StagedCommit:
    """One or more flushes since the last commit, with their delivery reports.

    Every record carries a delivery callback: a commit is allowed only once each one was
    acknowledged, because the changelog must hold a change before local files or the
    executor's offsets say it happened.
    """

    __slots__ = (
        "acked",
        "changes",
        "error",
        "marker_offset",
        "marker_timestamp",
        "metadata",
        "produced",
        "seq",
    )

    def __init__(self) -> None:
        self.changes: dict[bytes, Change] = {}
        self.produced = 0
        self.acked = 0
        self.error: str | None = None
        self.seq = 0
        self.metadata: dict[str, bytes] = {}
        self.marker_offset = -1
        self.marker_timestamp = 0

    def send(
        self,
        producer: Producer,
        topic: str,
        partition: int,
        changes: Mapping[bytes, Change],
        *,
        seq: int,
        metadata: dict[str, bytes],
        keep: bool,
        at_once: bool = False,
    ) -> int:
        """Produce ``changes`` and the marker of commit ``seq``; ``keep`` them for ``commit``.
        ``at_once``: as one batch, acknowledged on return, where the producer can."""
        if MARKER_KEY in changes:
            raise StateError(f"key {MARKER_KEY!r} is reserved for changelog commit markers")
        marker = encode_marker(Marker(seq, metadata))
        if at_once and isinstance(producer, BatchProducer):
            self._write(producer, topic, partition, changes, marker)
        else:
            self._produce(producer, topic, partition, changes, marker)
        if keep:
            self.changes.update(changes)
        self.seq = seq
        self.metadata = metadata
        return len(changes) + 1

    def _produce(
        self,
        producer: Producer,
        topic: str,
        partition: int,
        changes: Mapping[bytes, Change],
        marker: bytes,
    ) -> None:
        """One record at a time; their reports come through ``poll``/``flush``."""
        produce = producer.produce
        on_change = self._on_change
        for key, (value, expires_at) in changes.items():
            headers = None if expires_at is None else ((EXPIRES_HEADER, b"%d" % expires_at),)
            produce(topic, value, key, partition=partition, headers=headers, on_delivery=on_change)
        produce(topic, marker, MARKER_KEY, partition=partition, on_delivery=self._on_marker)
        self.produced += len(changes) + 1

    def _write(
        self,
        producer: BatchProducer,
        topic: str,
        partition: int,
        changes: Mapping[bytes, Change],
        marker: bytes,
    ) -> None:
        """All at once, marker last: the reports are in hand when this returns."""
        now = time.time_ns() // 1_000_000
        records: list[BatchRecord] = [
            (
                partition,
                key,
                value,
                now,
                () if expires_at is None else ((EXPIRES_HEADER, b"%d" % expires_at),),
            )
            for key, (value, expires_at) in changes.items()
        ]
        records.append((partition, MARKER_KEY, marker, now, ()))
        reports = producer.produce_batch(topic, records)
        refused = [report.error for report in reports if report.error is not None]
        if refused and self.error is None:
            self.error = refused[0]
        self.produced += len(reports)
        self.acked += len(reports) - len(refused)
        self._on_marker_place(reports[-1])

    @property
    def settled(self) -> bool:
        """Every record was acknowledged, or one failed: ``result`` will not wait."""
        return self.error is not None or self.acked >= self.produced

    def _on_change(self, report: DeliveryReport) -> None:
        if report.error is None:
            self.acked += 1
        elif self.error is None:
            self.error = report.error

    def _on_marker(self, report: DeliveryReport) -> None:
        self._on_change(report)
        self._on_marker_place(report)

    def _on_marker_place(self, report: DeliveryReport) -> None:
        if report.error is None and report.offset > self.marker_offset:
            # Reports of one partition arrive in produce order: the last marker is the newest.
            self.marker_offset = report.offset
            self.marker_timestamp = report.timestamp

    def result(self) -> CommitPoint:
        """The commit point reached, once every record was acknowledged."""
        if self.error is not None:
            raise ChangelogError(f"a changelog record was not written: {self.error}")
        if self.acked < self.produced:
            raise StateError(
                f"{self.produced - self.acked} changelog records are not acknowledged yet: "
                "call producer.flush() before commit()"
            )
        return CommitPoint(
            seq=self.seq,
            offset=self.marker_offset + 1,
            timestamp=self.marker_timestamp,
            metadata=self.metadata,
        )

"""The event-log port: what every backend (embedded, kafka, memory) provides.

Semantics every backend honours (the contract tests in ``tests/contract`` hold them to it):

* A record's partition is ``partition_for(key, partitions)`` unless the producer names one;
  records without a key are spread over the partitions.
* Within a partition, offsets are dense and increasing, and order is the produce order.
* ``produce`` buffers; a record is *acknowledged* once its delivery report arrives with no
  error (from ``poll``/``flush``). Acknowledged records survive a crash of the producer.
  Reports for one partition arrive in produce order; across partitions the order is unspecified.
  A record the log cannot take (unknown topic, partition out of range, keyless record on a
  compacted topic) comes back as a report with ``error`` set; ``produce`` itself raises only
  ``TypeError`` (wrong types) and ``LogClosedError``.
* ``watermarks()[0]`` is the log start offset: no record lies below it; compaction may leave
  gaps above it (as in Kafka).
* Consumers in a group split the partitions of their subscribed topics; each partition has
  at most one owner. ``on_assign``/``on_revoke`` are *incremental*: they name only the
  partitions gained or lost, and run inside ``poll``. A revoked partition's offsets should
  be committed in ``on_revoke``; after that, commits for it raise ``CommitFailedError``.
* Committed offsets are the *next* offset to read. A consumer starts from the committed
  offset, or from ``auto_offset_reset`` (``earliest``/``latest``) when there is none.
* ``at_end()`` names the assigned partitions whose position reached the end of the log
  during the last ``poll`` (end-of-partition detection, for replays and catch-up).
* Flow control: a ``pause``d partition returns no records from ``poll`` but stays assigned,
  keeps its position (``seek``, ``position`` and ``commit`` work as before) and its
  ``at_end`` flag; keep calling ``poll``, which keeps group membership alive. Records the
  consumer fetched ahead are neither returned nor lost: after ``resume``, ``poll`` goes on
  from the position. A partition leaving the assignment (revoked, lost, dropped by
  ``assign``) loses its pause: assigned again, it starts unpaused. Pausing a partition not
  assigned raises ``NotAssignedError``; resuming one that is not paused does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal, Protocol, runtime_checkable

from riskstream.log.records import DeliveryReport, Headers, Record, TopicPartition, TopicSpec

__all__ = [
    "Admin",
    "AssignmentCallback",
    "BatchProducer",
    "BatchRecord",
    "Consumer",
    "DeliveryCallback",
    "EventLog",
    "OffsetReset",
    "OutgoingRecord",
    "Producer",
    "StreamingProducer",
]

DeliveryCallback = Callable[[DeliveryReport], None]
AssignmentCallback = Callable[[list[TopicPartition]], None]
OffsetReset = Literal["earliest", "latest"]
BatchRecord = tuple[int | None, bytes | None, bytes | None, int, Headers]
"""One record for :meth:`BatchProducer.produce_batch`: ``(partition, key, value, timestamp,
headers)``; ``partition=None`` lets the partitioner choose."""


@runtime_checkable
class Producer(Protocol):
    """Appends records, in batches, with a delivery report per record."""

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
        """Queue one record; its delivery report goes to ``on_delivery`` (or the producer's)."""
        ...

    def poll(self, timeout: float = 0.0) -> int:
        """Serve pending delivery reports; returns how many were served."""
        ...

    def flush(self, timeout: float | None = None) -> int:
        """Send everything queued and wait for the reports; returns how many are still pending."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...


@runtime_checkable
class BatchProducer(Producer, Protocol):
    """A producer of a log that stores records itself (embedded, memory): it can write a
    batch of one topic at once and tell each record's place without a round trip."""

    def produce_batch(self, topic: str, records: Sequence[BatchRecord]) -> list[DeliveryReport]:
        """Write ``records`` to ``topic`` now, after the records of ``topic`` queued before
        them (whose reports go to their callbacks as usual), and return their reports in
        order: written, or refused with the reason, as ``produce`` would report them.
        Wrong types raise ``TypeError`` before anything is written."""
        ...


class OutgoingRecord(Protocol):
    """One record for :meth:`StreamingProducer.produce_many`, read by attribute (e.g. the
    stream runtime's outputs); ``partition=None`` lets the partitioner choose."""

    @property
    def topic(self) -> str: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def timestamp(self) -> int: ...

    @property
    def headers(self) -> Headers: ...

    @property
    def partition(self) -> int | None: ...


@runtime_checkable
class StreamingProducer(Producer, Protocol):
    """A producer of a remote log (Kafka) that queues many records in one call: what
    ``produce`` of each would do, without a call per record on the caller's side."""

    def produce_many(
        self, records: Sequence[OutgoingRecord], on_delivery: DeliveryCallback
    ) -> None:
        """Queue ``records`` in order, each with ``on_delivery`` for its report, exactly as
        ``produce`` of each one would (same reports, same errors). If it raises, the records
        before the one that failed are queued and the rest are not."""
        ...


@runtime_checkable
class Consumer(Protocol):
    """Reads records from assigned partitions, alone or as a member of a consumer group."""

    def subscribe(
        self,
        topics: Sequence[str],
        *,
        on_assign: AssignmentCallback | None = None,
        on_revoke: AssignmentCallback | None = None,
    ) -> None:
        """Join the consumer group for ``topics``; partitions arrive through ``poll``."""
        ...

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        """Read exactly these partitions, without group membership."""
        ...

    def assignment(self) -> list[TopicPartition]:
        """The partitions this consumer currently holds."""
        ...

    def poll(self, max_records: int = 1000, timeout: float = 1.0) -> list[Record]:
        """Up to ``max_records`` records; waits at most ``timeout`` seconds for the first."""
        ...

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Commit ``offsets`` (next offset to read) or, by default, the current positions."""
        ...

    def committed(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int | None]:
        """The group's committed offsets for ``partitions``."""
        ...

    def position(self, partition: TopicPartition) -> int:
        """The offset of the next record ``poll`` returns for an assigned partition."""
        ...

    def seek(self, partition: TopicPartition, offset: int) -> None:
        """Continue an assigned partition from ``offset``."""
        ...

    def seek_to_timestamp(
        self, timestamp: int, partitions: Sequence[TopicPartition] | None = None
    ) -> None:
        """Continue from the first record with timestamp >= ``timestamp`` (or the end)."""
        ...

    def watermarks(self, partition: TopicPartition) -> tuple[int, int]:
        """``(low, high)``: the first kept offset and the offset the next record will get."""
        ...

    def at_end(self) -> frozenset[TopicPartition]:
        """Assigned partitions whose position reached the end of the log at the last poll."""
        ...

    def pause(self, partitions: Sequence[TopicPartition]) -> None:
        """Stop returning records of these assigned partitions (all or none are paused)."""
        ...

    def resume(self, partitions: Sequence[TopicPartition]) -> None:
        """Return records of these partitions again, from their positions."""
        ...

    def paused(self) -> frozenset[TopicPartition]:
        """The assigned partitions that are paused."""
        ...

    def close(self) -> None:
        """Leave the group (revoking partitions) and release resources."""
        ...


@runtime_checkable
class Admin(Protocol):
    """Creates, describes and deletes topics."""

    def create_topics(self, specs: Sequence[TopicSpec], *, exist_ok: bool = False) -> None: ...

    def delete_topics(self, names: Sequence[str]) -> None: ...

    def describe_topics(self, names: Sequence[str] | None = None) -> dict[str, TopicSpec]: ...

    def list_topics(self) -> list[str]: ...


@runtime_checkable
class EventLog(Protocol):
    """A partitioned, durable, replayable log: one backend behind one small port."""

    @property
    def url(self) -> str: ...

    @property
    def admin(self) -> Admin: ...

    def producer(
        self, *, on_delivery: DeliveryCallback | None = None, linger_ms: int = 5
    ) -> Producer:
        """A new producer; ``linger_ms`` trades latency for batch size."""
        ...

    def consumer(
        self,
        group_id: str | None = None,
        *,
        auto_offset_reset: OffsetReset = "earliest",
        session_timeout_ms: int = 10_000,
    ) -> Consumer:
        """A new consumer; ``group_id=None`` is for manual ``assign`` only."""
        ...

    def close(self) -> None: ...

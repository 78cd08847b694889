"""Dead letters after the fact: inspect ``dlq.<topic>`` topics and re-drive them after a fix.

What ``riskstream dlq list|redrive`` runs; the routing itself is :mod:`riskstream.log.deadletter`.

* **Reading never disturbs anything.** :func:`dlq_topics` only reads watermarks;
  :func:`read_dead_letters` reads with a group-less consumer that assigns partitions by hand
  and never commits, so no consumer group sees it.
* **Re-drive** (:func:`redrive`) re-produces each dead letter to its source topic (the
  ``dlq.topic`` header, else the DLQ topic's name without ``dlq.``; or ``to``) with the
  original key, value, timestamp and headers (``dlq.*`` stripped) plus
  ``dlq.redriven_from = "<dlq topic>/<partition>/<offset>"``, so every re-driven record is
  traceable to its dead letter (and a consumer can deduplicate by it).
* **Progress** lives in the consumer group ``riskstream-dlq-redrive.<dlq topic>``. A batch's
  offsets are committed only after every record re-produced from it is acknowledged, so a
  second run never re-drives a dead letter again, and a crash re-drives at most the batch
  that was in flight. A run stops at the end offsets it saw when it started: a re-driven
  record that fails again lands in the DLQ behind that end and waits for the next run
  instead of looping. Dead letters a filter skips are passed over for good by this group
  (they stay in the topic, for :func:`read_dead_letters`); the result counts them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Final

import msgspec

from riskstream.errors import ConsumerError, ProduceError, UnknownTopicError
from riskstream.log.deadletter import DLQ_PREFIX, dlq_topic
from riskstream.log.port import Consumer, EventLog, Producer
from riskstream.log.records import DeliveryReport, Headers, Record, TopicPartition

__all__ = [
    "REDRIVEN_FROM_HEADER",
    "REDRIVE_GROUP_PREFIX",
    "DeadLetter",
    "DeadLetterFilter",
    "DlqTopic",
    "RedriveError",
    "RedriveResult",
    "dlq_topics",
    "preview",
    "read_dead_letters",
    "redrive",
    "redrive_group",
    "redrive_headers",
    "resolve_dlq_topic",
]

REDRIVE_GROUP_PREFIX: Final = "riskstream-dlq-redrive."
REDRIVEN_FROM_HEADER: Final = "dlq.redriven_from"
_HEADER_PREFIX: Final = "dlq."
_POLL_S: Final = 0.2
_FLUSH_TIMEOUT_S: Final = 60.0

ProgressCallback = Callable[[int, int], None]
"""``(handled, total)``: dead letters handled so far out of those the run set out to handle."""


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """One dead letter: the original record and why and where it failed.

    ``dlq_topic``/``dlq_partition``/``dlq_offset`` say where the dead letter lies; ``topic``,
    ``partition``, ``offset`` where the original was read, ``time`` when it was dead-lettered
    (epoch ms). Context headers that are missing or malformed are ``None``. ``headers`` are
    the original record's, without ``dlq.*``; ``redriven_from`` is set when the original was
    itself a re-drive (of the dead letter it names) that failed again.
    """

    dlq_topic: str
    dlq_partition: int
    dlq_offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: Headers = ()
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    time: int | None = None
    step: str | None = None
    error: str | None = None
    reason: str | None = None
    path: str | None = None
    redriven_from: str | None = None

    @classmethod
    def from_record(cls, record: Record) -> DeadLetter:
        """Parse a record of a ``dlq.*`` topic; tolerant of missing or garbled headers."""
        return cls(
            dlq_topic=record.topic,
            dlq_partition=record.partition,
            dlq_offset=record.offset,
            key=record.key,
            value=record.value,
            timestamp=_first(_int(record, "dlq.timestamp"), record.timestamp),
            headers=tuple(h for h in record.headers if not h[0].startswith(_HEADER_PREFIX)),
            topic=_text(record, "dlq.topic"),
            partition=_int(record, "dlq.partition"),
            offset=_int(record, "dlq.offset"),
            time=_int(record, "dlq.time"),
            step=_text(record, "dlq.step"),
            error=_text(record, "dlq.error"),
            reason=_text(record, "dlq.reason"),
            path=_text(record, "dlq.path"),
            redriven_from=_text(record, REDRIVEN_FROM_HEADER),
        )

    @property
    def position(self) -> str:
        """Where the dead letter lies: ``"<dlq topic>/<partition>/<offset>"``."""
        return f"{self.dlq_topic}/{self.dlq_partition}/{self.dlq_offset}"

    @property
    def source(self) -> str | None:
        """Where the original was read (``"<topic>/<partition>/<offset>"``), when known."""
        if self.topic is None:
            return None
        return f"{self.topic}/{_or_dash(self.partition)}/{_or_dash(self.offset)}"


class DeadLetterFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Matches dead letters by error class name and by step; an empty set matches all."""

    errors: frozenset[str] = frozenset()
    steps: frozenset[str] = frozenset()

    def __call__(self, letter: DeadLetter) -> bool:
        return (not self.errors or letter.error in self.errors) and (
            not self.steps or letter.step in self.steps
        )


class DlqTopic(msgspec.Struct, frozen=True, kw_only=True):
    """A dead-letter topic and how many records it holds (high - low watermark, summed)."""

    name: str
    source: str
    partitions: int
    count: int


class RedriveResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a re-drive did (or, with ``dry_run``, would do).

    ``redriven`` counts dead letters re-produced and acknowledged, ``skipped`` those the
    filter passed over; ``targets`` splits ``redriven`` by the topic they went to.
    """

    topic: str
    group: str
    dry_run: bool
    redriven: int = 0
    skipped: int = 0
    targets: dict[str, int] = msgspec.field(default_factory=dict)


class RedriveError(ProduceError):
    """Re-produced records were not acknowledged; ``result`` is what was committed before."""

    def __init__(self, message: str, result: RedriveResult) -> None:
        super().__init__(message)
        self.result = result


# -- names -------------------------------------------------------------------------------------


def redrive_group(topic: str) -> str:
    """The consumer group that keeps the re-drive progress of dead-letter topic ``topic``."""
    return REDRIVE_GROUP_PREFIX + topic


def resolve_dlq_topic(log: EventLog, name: str) -> str:
    """The dead-letter topic ``name`` means: itself (``dlq.x``) or that of source topic ``x``."""
    existing = set(log.admin.list_topics())
    if name.startswith(DLQ_PREFIX) and name in existing:
        return name
    if dlq_topic(name) in existing:
        return dlq_topic(name)
    raise UnknownTopicError(f"no dead-letter topic {name!r} or {dlq_topic(name)!r}")


def redrive_headers(letter: DeadLetter) -> Headers:
    """The original headers plus ``dlq.redriven_from`` naming the dead letter."""
    return (*letter.headers, (REDRIVEN_FROM_HEADER, letter.position.encode()))


def preview(data: bytes, limit: int = 80) -> str:
    """At most ``limit`` printable characters of ``data``; other bytes and controls escaped."""
    text = data[: limit * 4].decode("utf-8", errors="backslashreplace")
    shown = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )
    if len(shown) > limit or len(data) > limit * 4:
        return shown[: max(limit - 1, 0)] + "…"
    return shown


# -- inspection --------------------------------------------------------------------------------


def dlq_topics(log: EventLog, names: Sequence[str] | None = None) -> list[DlqTopic]:
    """Every ``dlq.*`` topic (or those of ``names``) with its record count, from watermarks."""
    described = log.admin.describe_topics(None if names is None else list(names))
    specs = {n: s for n, s in described.items() if n.startswith(DLQ_PREFIX)}
    consumer = log.consumer()
    try:
        return [
            DlqTopic(
                name=name,
                source=name.removeprefix(DLQ_PREFIX),
                partitions=spec.partitions,
                count=sum(_size(consumer, tp) for tp in _partitions(name, spec.partitions)),
            )
            for name, spec in sorted(specs.items())
        ]
    finally:
        consumer.close()


def read_dead_letters(
    log: EventLog, topic: str, *, limit: int | None = 100, timeout: float = 30.0
) -> list[DeadLetter]:
    """Up to ``limit`` dead letters of ``topic`` (a DLQ or source name), partition by partition.

    Reads with a group-less consumer and manual ``assign``: no group, no commits.
    """
    name = resolve_dlq_topic(log, topic)
    found: list[DeadLetter] = []
    consumer = log.consumer(auto_offset_reset="earliest")
    try:
        for tp in _partitions(name, _partition_count(log, name)):
            if limit is not None and len(found) >= limit:
                break
            low, high = consumer.watermarks(tp)
            if low >= high:
                continue
            consumer.assign([tp])
            consumer.seek(tp, low)
            for batch in _batches(consumer, {tp: high}, timeout=timeout):
                found.extend(DeadLetter.from_record(r) for r in batch)
                if limit is not None and len(found) >= limit:
                    break
    finally:
        consumer.close()
    return found if limit is None else found[:limit]


# -- re-drive ----------------------------------------------------------------------------------


class _Acks:
    """Producer-level delivery callback: counts acknowledgements and keeps failures."""

    def __init__(self) -> None:
        self.acknowledged = 0
        self.failures: list[DeliveryReport] = []

    def __call__(self, report: DeliveryReport) -> None:
        if report.error is None:
            self.acknowledged += 1
        else:
            self.failures.append(report)


class _Run:
    """The mutable side of one re-drive: clients, counts and the committed progress."""

    def __init__(self, log: EventLog, topic: str, to: str | None, *, dry_run: bool) -> None:
        self.topic = topic
        self.group = redrive_group(topic)
        self.default_target = to or topic.removeprefix(DLQ_PREFIX)
        self.override = to is not None
        self.dry_run = dry_run
        self.acks = _Acks()
        self.log = log
        self.known = set(log.admin.list_topics())
        self.consumer = log.consumer(self.group, auto_offset_reset="earliest")
        try:
            self.producer: Producer | None = (
                None if dry_run else log.producer(on_delivery=self.acks)
            )
        except BaseException:
            self.consumer.close()
            raise
        self.redriven = 0
        self.skipped = 0
        self.targets: dict[str, int] = {}

    def result(self) -> RedriveResult:
        return RedriveResult(
            topic=self.topic,
            group=self.group,
            dry_run=self.dry_run,
            redriven=self.redriven,
            skipped=self.skipped,
            targets=dict(sorted(self.targets.items())),
        )

    def target(self, letter: DeadLetter) -> str:
        if self.override or letter.topic is None:
            return self.default_target
        return letter.topic

    def handle(self, batch: Sequence[Record], where: Callable[[DeadLetter], bool] | None) -> None:
        """Re-produce the matching dead letters of ``batch``; commit once all are acknowledged."""
        letters = [DeadLetter.from_record(r) for r in batch]
        chosen = [letter for letter in letters if where is None or where(letter)]
        sent = [(letter, self.target(letter)) for letter in chosen]
        self._check_targets({target for _, target in sent})
        if self.producer is not None:
            self._produce(self.producer, sent)
            self.consumer.commit(_next_offsets(batch))
        self.skipped += len(letters) - len(chosen)
        self.redriven += len(sent)
        for _, target in sent:
            self.targets[target] = self.targets.get(target, 0) + 1

    def _check_targets(self, targets: set[str]) -> None:
        """Fail before producing to a topic that does not exist (Kafka would wait for it)."""
        if targets <= self.known:
            return
        self.known = set(self.log.admin.list_topics())
        missing = sorted(targets - self.known)
        if missing:
            raise RedriveError(
                f"cannot re-drive from {self.topic}: no target topic {', '.join(missing)} "
                "(create it, or re-drive to another topic)",
                self.result(),
            )

    def _produce(self, producer: Producer, sent: list[tuple[DeadLetter, str]]) -> None:
        self.acks.acknowledged, self.acks.failures = 0, []
        for letter, target in sent:
            producer.produce(
                target,
                letter.value,
                letter.key,
                timestamp=letter.timestamp,
                headers=redrive_headers(letter),
            )
        pending = producer.flush(_FLUSH_TIMEOUT_S)
        if pending or self.acks.failures or self.acks.acknowledged != len(sent):
            first = self.acks.failures[0].error if self.acks.failures else "no delivery report"
            raise RedriveError(
                f"{len(sent) - self.acks.acknowledged} of {len(sent)} re-driven records from "
                f"{self.topic} were not acknowledged ({first}); their batch stays uncommitted "
                "and is re-driven by the next run",
                self.result(),
            )

    def close(self) -> None:
        try:
            if self.producer is not None:
                self.producer.close()
        finally:
            self.consumer.close()


def redrive(
    log: EventLog,
    topic: str,
    *,
    to: str | None = None,
    where: Callable[[DeadLetter], bool] | None = None,
    dry_run: bool = False,
    batch_size: int = 500,
    timeout: float = 30.0,
    progress: ProgressCallback | None = None,
) -> RedriveResult:
    """Re-produce the dead letters of ``topic`` not re-driven yet; see the module docstring.

    ``topic`` is a DLQ topic or its source topic's name; ``to`` overrides the target topic;
    ``where`` selects dead letters (e.g. a :class:`DeadLetterFilter`), the rest are skipped;
    ``dry_run`` only counts, producing and committing nothing. Raises :class:`RedriveError`
    when re-produced records are not acknowledged (earlier batches stay committed).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, not {batch_size}")
    name = resolve_dlq_topic(log, topic)
    if to == name:
        raise ValueError(f"cannot re-drive {name} into itself")
    if to is not None and to not in log.admin.list_topics():
        raise UnknownTopicError(f"cannot re-drive {name} to {to!r}: no such topic")
    run = _Run(log, name, to, dry_run=dry_run)
    try:
        spans = _pending(run.consumer, _partitions(name, _partition_count(log, name)))
        total = sum(end - start for start, end in spans.values())
        if progress is not None:
            progress(0, total)
        if not spans:
            return run.result()
        run.consumer.assign(list(spans))
        for tp, (start, _) in spans.items():
            run.consumer.seek(tp, start)
        ends = {tp: end for tp, (_, end) in spans.items()}
        for batch in _batches(run.consumer, ends, batch_size=batch_size, timeout=timeout):
            run.handle(batch, where)
            if progress is not None:
                progress(run.redriven + run.skipped, total)
        return run.result()
    finally:
        run.close()


# -- reading helpers ---------------------------------------------------------------------------


def _pending(
    consumer: Consumer, partitions: list[TopicPartition]
) -> dict[TopicPartition, tuple[int, int]]:
    """``(start, end)`` per partition with dead letters past the group's committed offset.

    A committed offset outside the watermarks (retention passed it, or the topic was
    re-created) restarts from the low watermark, as the consumer's offset reset would.
    """
    committed = consumer.committed(partitions)
    spans: dict[TopicPartition, tuple[int, int]] = {}
    for tp in partitions:
        low, high = consumer.watermarks(tp)
        start = committed.get(tp)
        if start is None or not low <= start <= high:
            start = low
        if start < high:
            spans[tp] = (start, high)
    return spans


def _batches(
    consumer: Consumer,
    ends: dict[TopicPartition, int],
    *,
    batch_size: int = 500,
    timeout: float,
) -> Iterator[list[Record]]:
    """Batches of the assigned partitions' records below their ``ends``, until all reach them.

    A partition is done once a record at or past ``end - 1`` arrived, or its position reached
    the end of the log (gaps from compaction or transaction markers). Raises
    :class:`ConsumerError` when nothing arrives for ``timeout`` seconds.
    """
    open_ = set(ends)
    deadline = time.monotonic() + timeout
    while open_:
        records = consumer.poll(max_records=batch_size, timeout=_POLL_S)
        batch = [r for r in records if r.offset < ends.get(r.topic_partition, -1)]
        open_.difference_update(
            r.topic_partition for r in records if r.offset + 1 >= ends.get(r.topic_partition, 0)
        )
        open_.difference_update(consumer.at_end())
        if batch:
            deadline = time.monotonic() + timeout
            yield batch
        elif open_ and time.monotonic() > deadline:
            raise ConsumerError(f"no records from {sorted(open_)} within {timeout}s")


def _next_offsets(batch: Sequence[Record]) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for record in batch:
        tp = record.topic_partition
        offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
    return offsets


def _partition_count(log: EventLog, topic: str) -> int:
    spec = log.admin.describe_topics([topic]).get(topic)
    if spec is None:
        raise UnknownTopicError(f"unknown topic {topic!r}")
    return spec.partitions


def _partitions(topic: str, count: int) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in range(count)]


def _size(consumer: Consumer, tp: TopicPartition) -> int:
    low, high = consumer.watermarks(tp)
    return max(high - low, 0)


def _text(record: Record, name: str) -> str | None:
    raw = record.header(name)
    return None if raw is None else raw.decode("utf-8", errors="replace")


def _int(record: Record, name: str) -> int | None:
    raw = record.header(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _first(value: int | None, default: int) -> int:
    return default if value is None else value


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)

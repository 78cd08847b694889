"""The Kafka consumer: group membership, manual assignment, batches of ``Record``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, NoReturn

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    KafkaError,
    KafkaException,
    Message,
)
from confluent_kafka import Consumer as _CkConsumer
from confluent_kafka import TopicPartition as _CkPartition

from riskstream.errors import (
    CommitFailedError,
    ConsumerError,
    LogClosedError,
    NotAssignedError,
)
from riskstream.log.kafka.errors import (
    commit_error,
    creation_error,
    error_code,
    kafka_error,
    translate,
)
from riskstream.log.port import AssignmentCallback, OffsetReset
from riskstream.log.records import Record, TopicPartition

__all__ = ["KafkaConsumer"]

_log = logging.getLogger(__name__)

_EOF: Final = KafkaError._PARTITION_EOF
# Reported through the consumer queue but not failures of this consumer: librdkafka retries
# or has already recovered. An offset reset means retention passed the position; an exceeded
# poll interval has already surfaced as lost partitions (on_revoke), and the next poll rejoins.
_INFORMATIONAL: Final = frozenset(
    {KafkaError._AUTO_OFFSET_RESET, KafkaError._TRANSPORT, KafkaError._MAX_POLL_EXCEEDED}
)
# seek() on a partition whose fetcher has not started yet (just assigned).
_NOT_STARTED: Final = frozenset({KafkaError._STATE, KafkaError._UNKNOWN_PARTITION})
_WAIT_SLICE_S: Final = 0.2
# Bound for the blocking metadata/offset requests (committed, offsets_for_times, watermarks).
_REQUEST_TIMEOUT_S: Final = 30.0
_RETRY_BACKOFF_S: Final = 0.1
# A topic created a moment ago: its leader or metadata may not serve yet. librdkafka does not
# mark these retriable for offset queries, but they pass within seconds.
_NEW_TOPIC: Final = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_PARTITION,
    }
)


def _closed(*_args: object, **_kwargs: object) -> NoReturn:
    raise LogClosedError("consumer is closed")


def _ck(partitions: Iterable[TopicPartition], offset: int = OFFSET_INVALID) -> list[_CkPartition]:
    return [_CkPartition(topic, partition, offset) for topic, partition in partitions]


def _ours(partitions: Iterable[_CkPartition]) -> list[TopicPartition]:
    return sorted(TopicPartition(p.topic, p.partition) for p in partitions)


class KafkaConsumer:
    """A librdkafka consumer behind the port.

    Rebalances: librdkafka (cooperative-sticky) hands our trampolines only the delta; they
    call the user's incremental callbacks and then ``incremental_assign``/``unassign``
    themselves. The user's ``on_assign`` runs *before* the partitions are handed to the
    fetcher, so a ``seek`` inside it just sets the starting offset instead of racing the
    fetch start. Lost partitions leave our ownership before the user's ``on_revoke`` runs,
    so committing them fails as the port says.

    Pausing is librdkafka's: it stops the partition's fetcher and drops what was fetched
    ahead; on resume the fetcher restarts from the application's position (the offset after
    the last record ``poll`` returned, or the pending seek/start offset), so nothing is
    lost. librdkafka keeps the pause across ``assign``/``unassign`` though, so a partition
    leaving the assignment is resumed here, and one paused inside ``on_assign`` is paused
    once it is handed to the fetcher.
    """

    def __init__(
        self, config: dict[str, str], *, group_id: str | None, auto_offset_reset: OffsetReset
    ) -> None:
        try:
            self._consumer = _CkConsumer(config)
        except KafkaException as exc:
            raise creation_error(exc, "consumer", ConsumerError) from exc
        # Messages are read as Any: the stubs make every field optional (error events carry
        # none), and casting each field of each message would cost calls on the hot path.
        self._consume: Callable[[int, float], list[Any]] = self._consumer.consume
        self._group = group_id
        self._reset = auto_offset_reset
        self._subscribed = False
        self._owned: set[TopicPartition] = set()
        self._disowned = 0  # partitions given up so far: poll() checks whether any went in it
        self._at_end: set[TopicPartition] = set()
        # Offsets chosen by seek(). librdkafka reports no position after a seek until a
        # record arrives, so position() and commit() answer from here meanwhile.
        self._sought: dict[TopicPartition, int] = {}
        # The partitions being handed over while on_assign runs.
        self._gaining: frozenset[TopicPartition] = frozenset()
        self._paused: set[TopicPartition] = set()
        self._on_assign: AssignmentCallback | None = None
        self._on_revoke: AssignmentCallback | None = None
        # Co-partitioned subscriptions (see subscribe): topics that follow the lead topic's
        # assignment partition by partition. The KIP-848 protocol's range assignor keeps
        # co-partitioned topics together by itself.
        self._followers: tuple[str, ...] = ()
        self._classic = config.get("group.protocol", "classic").lower() == "classic"

    # -- membership -------------------------------------------------------------------

    def subscribe(
        self,
        topics: Sequence[str],
        *,
        on_assign: AssignmentCallback | None = None,
        on_revoke: AssignmentCallback | None = None,
    ) -> None:
        self._check_open()
        if self._group is None:
            raise ValueError("subscribe needs a consumer created with a group_id")
        if self._owned and not self._subscribed:
            self._consumer.unassign()
            self._unpause(self._disown(list(self._owned)))
        self._on_assign, self._on_revoke = on_assign, on_revoke
        wanted = list(dict.fromkeys(topics))
        self._followers = ()
        if self._classic and len(wanted) > 1 and self._co_partitioned(wanted):
            # The classic protocol's assignors balance topic-partitions, not partition numbers:
            # a member could get checkouts[3] without logins[3], and a task would no longer
            # see all of its key's streams. So the group assigns the lead topic only, and each
            # member takes the same partition numbers of the other topics with it (as Kafka
            # Streams' own assignor keeps co-partitioned topics together).
            wanted, self._followers = wanted[:1], tuple(wanted[1:])
        try:
            self._consumer.subscribe(
                wanted,
                on_assign=self._assigned,
                on_revoke=self._revoked,
                on_lost=self._lost,
            )
        except KafkaException as exc:
            raise translate(exc, f"cannot subscribe to {list(topics)}", ConsumerError) from exc
        self._subscribed = True

    def _co_partitioned(self, topics: list[str]) -> bool:
        """Whether every topic exists with one and the same partition count."""
        try:
            metadata = self._consumer.list_topics(timeout=_REQUEST_TIMEOUT_S)
        except KafkaException:
            return False
        counts = set()
        for topic in topics:
            described = metadata.topics.get(topic)
            if described is None or described.error is not None:
                return False
            counts.add(len(described.partitions))
        return len(counts) == 1

    def _with_followers(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        if not self._followers:
            return partitions
        numbers = [tp.partition for tp in partitions]
        return partitions + [TopicPartition(t, p) for t in self._followers for p in numbers]

    def _assigned(self, _consumer: _CkConsumer, partitions: list[_CkPartition]) -> None:
        gained = self._with_followers(_ours(partitions))
        self._owned.update(gained)
        self._gaining = frozenset(gained)
        try:
            if gained and self._on_assign is not None:
                self._on_assign(gained)
        finally:
            self._gaining = frozenset()
            sought = self._sought
            # OFFSET_INVALID: the committed offset, else auto.offset.reset.
            self._consumer.incremental_assign(
                [
                    _CkPartition(tp.topic, tp.partition, sought.get(tp, OFFSET_INVALID))
                    for tp in gained
                ]
            )
            if self._paused:  # paused inside on_assign
                held = [tp for tp in gained if tp in self._paused]
                if held:
                    self._consumer.pause(_ck(held))

    def _revoked(self, _consumer: _CkConsumer, partitions: list[_CkPartition]) -> None:
        lost = self._with_followers(_ours(partitions))
        try:
            # Still owned here: the callback may commit what it processed.
            if lost and self._on_revoke is not None:
                self._on_revoke(lost)
        finally:
            paused = self._disown(lost)
            self._consumer.incremental_unassign(_ck(lost))
            self._unpause(paused)

    def _lost(self, _consumer: _CkConsumer, partitions: list[_CkPartition]) -> None:
        lost = self._with_followers(_ours(partitions))
        # Another member may already own them: disown first so commits fail.
        paused = self._disown(lost)
        try:
            if lost and self._on_revoke is not None:
                self._on_revoke(lost)
        finally:
            self._consumer.incremental_unassign(_ck(lost))
            self._unpause(paused)

    def _disown(self, partitions: Iterable[TopicPartition]) -> list[TopicPartition]:
        """Forget ``partitions``; returns those that were paused, for :meth:`_unpause`."""
        paused: list[TopicPartition] = []
        for tp in partitions:
            self._disowned += tp in self._owned
            self._owned.discard(tp)
            self._at_end.discard(tp)
            self._sought.pop(tp, None)
            if tp in self._paused:
                self._paused.discard(tp)
                paused.append(tp)
        return paused

    def _unpause(self, partitions: list[TopicPartition]) -> None:
        """Clear librdkafka's pause of partitions that left the assignment."""
        if partitions:
            # Unassigned already, so no fetcher starts; a later assignment starts unpaused.
            self._consumer.resume(_ck(partitions))

    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        self._check_open()
        if self._subscribed:
            raise ValueError("assign() on a subscribed consumer: partitions come from the group")
        wanted = [
            TopicPartition(topic, partition) for topic, partition in dict.fromkeys(partitions)
        ]
        if self._group is None:
            # No committed offsets to look up: start straight from auto.offset.reset.
            start = OFFSET_BEGINNING if self._reset == "earliest" else OFFSET_END
        else:
            start = OFFSET_INVALID
        try:
            self._consumer.assign(_ck(wanted, start))
        except KafkaException as exc:
            raise translate(exc, "cannot assign partitions", ConsumerError) from exc
        # Partitions kept stay paused (librdkafka keeps the pause); dropped ones lose it.
        dropped = self._disown(self._owned.difference(wanted))
        self._owned = set(wanted)
        self._at_end.clear()
        self._sought.clear()
        self._unpause(dropped)

    def assignment(self) -> list[TopicPartition]:
        return sorted(self._owned)

    # -- reading ----------------------------------------------------------------------

    def poll(self, max_records: int = 1000, timeout: float = 1.0) -> list[Record]:
        consume = self._consume
        disowned = self._disowned
        try:
            # consume() waits for a *full* batch until its timeout, so take what is ready;
            # only when nothing is, wait for the first message, then sweep up the rest.
            messages = consume(max_records, 0)
            if not messages and timeout > 0:
                messages = self._wait_first(timeout)
                if messages and max_records > 1:
                    messages += consume(max_records - 1, 0)
        except KafkaException as exc:
            raise translate(exc, "poll failed", ConsumerError) from exc
        if self._disowned != disowned:
            # A rebalance inside the second consume() took partitions away after the first
            # had fetched from them: those records are the new owner's now (uncommitted here).
            owned = self._owned
            messages = [
                m for m in messages if m.error() is not None or (m.topic(), m.partition()) in owned
            ]
        records: list[Record] = []
        append = records.append
        at_end = self._at_end
        # Records come in runs per partition: at_end needs a look only when the run changes.
        run_topic: str | None = None
        run_partition = -1
        for msg in messages:
            if msg.error() is None:
                topic = msg.topic()
                partition = msg.partition()
                if at_end and (partition != run_partition or topic != run_topic):
                    at_end.discard((topic, partition))  # equal to its TopicPartition
                    run_topic, run_partition = topic, partition
                headers = msg.headers()
                append(
                    Record(
                        topic,
                        partition,
                        msg.offset(),
                        msg.timestamp()[1],
                        msg.key(),
                        msg.value(),
                        tuple(headers) if headers else (),
                    )
                )
            else:
                self._event(msg)
                run_partition = -1
        return records

    def _wait_first(self, timeout: float) -> list[Any]:
        # In slices: consume() blocks without checking signals, and Ctrl+C should not wait
        # for a long poll timeout to run out.
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            messages = self._consume(1, min(remaining, _WAIT_SLICE_S) if remaining > 0 else 0)
            if messages or remaining <= _WAIT_SLICE_S:
                return messages

    def _event(self, msg: Message) -> None:
        err = msg.error()
        assert err is not None  # noqa: S101 - only called for error events
        code = err.code()
        topic, partition = msg.topic(), msg.partition()
        if code == _EOF:
            if topic is not None and partition is not None:
                tp = TopicPartition(topic, partition)
                if tp in self._owned:
                    self._at_end.add(tp)
            return
        if not err.fatal() and (code in _INFORMATIONAL or err.retriable()):
            _log.warning("kafka consumer: %s [%s] %s", topic, partition, err.str())
            return
        where = f"{topic}[{partition}]" if topic else "consumer"
        raise translate(err, f"kafka error on {where}", ConsumerError)

    def at_end(self) -> frozenset[TopicPartition]:
        return frozenset(self._at_end)

    # -- flow control -----------------------------------------------------------------

    def pause(self, partitions: Sequence[TopicPartition]) -> None:
        wanted = [self._owned_partition(tp) for tp in partitions]
        fresh = [tp for tp in dict.fromkeys(wanted) if tp not in self._paused]
        if not fresh:
            return
        # While on_assign runs, the trampoline pauses them once they are assigned.
        handed = [tp for tp in fresh if tp not in self._gaining]
        if handed:
            try:
                self._consumer.pause(_ck(handed))
            except KafkaException as exc:
                raise translate(exc, f"cannot pause {handed}", ConsumerError) from exc
        self._paused.update(fresh)

    def resume(self, partitions: Sequence[TopicPartition]) -> None:
        self._check_open()
        paused = self._paused
        wanted = [TopicPartition(topic, partition) for topic, partition in partitions]
        back = [tp for tp in dict.fromkeys(wanted) if tp in paused]
        if not back:
            return
        handed = [tp for tp in back if tp not in self._gaining]
        if handed:
            try:
                self._consumer.resume(_ck(handed))
            except KafkaException as exc:
                raise translate(exc, f"cannot resume {handed}", ConsumerError) from exc
        paused.difference_update(back)

    def paused(self) -> frozenset[TopicPartition]:
        return frozenset(self._paused)

    def group_metadata(self) -> object:
        """The group's identity and generation, for a transactional producer to commit
        offsets with (and be fenced by, once the group has moved on)."""
        self._check_open()
        if self._group is None:
            raise ValueError("group metadata needs a consumer created with a group_id")
        return self._consumer.consumer_group_metadata()

    # -- offsets ----------------------------------------------------------------------

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        self._check_open()
        if self._group is None:
            raise ValueError("commit needs a consumer created with a group_id")
        if offsets is None:
            # Partitions neither read from nor sought have no position: nothing to commit.
            parts = [
                _CkPartition(tp.topic, tp.partition, offset)
                for tp, offset in self._positions(self._owned).items()
                if offset is not None
            ]
        else:
            foreign = [tp for tp in offsets if TopicPartition(*tp) not in self._owned]
            if foreign:
                raise CommitFailedError(
                    f"commit for partitions this consumer does not own: {foreign}"
                )
            parts = [
                _CkPartition(topic, partition, offset)
                for (topic, partition), offset in offsets.items()
            ]
        if not parts:
            return
        try:
            result = self._consumer.commit(offsets=parts, asynchronous=False)
        except KafkaException as exc:
            if error_code(exc) == KafkaError._NO_OFFSET:
                return
            raise commit_error(exc, "commit failed") from exc
        for part in result or ():
            if part.error is not None:
                raise commit_error(part.error, f"commit failed for {part.topic}[{part.partition}]")

    def committed(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int | None]:
        self._check_open()
        wanted = [TopicPartition(topic, partition) for topic, partition in partitions]
        if self._group is None:
            return dict.fromkeys(wanted)
        try:
            found = self._consumer.committed(_ck(wanted), timeout=_REQUEST_TIMEOUT_S)
        except KafkaException as exc:
            raise translate(exc, "cannot read committed offsets", ConsumerError) from exc
        result: dict[TopicPartition, int | None] = {}
        for part in found:
            if part.error is not None:
                raise translate(
                    part.error,
                    f"cannot read committed offset of {part.topic}[{part.partition}]",
                    ConsumerError,
                )
            result[TopicPartition(part.topic, part.partition)] = (
                part.offset if part.offset >= 0 else None
            )
        return result

    def _positions(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        """Next offset to read per partition, ``None`` where neither read nor sought yet."""
        wanted = list(partitions)
        if not wanted:
            return {}
        try:
            found = self._consumer.position(_ck(wanted))
        except KafkaException as exc:
            raise translate(exc, "cannot read positions", ConsumerError) from exc
        sought = self._sought
        return {
            tp: part.offset if part.offset >= 0 else sought.get(tp)
            for tp, part in zip(wanted, found, strict=True)
        }

    def position(self, partition: TopicPartition) -> int:
        tp = self._owned_partition(partition)
        offset = self._positions([tp])[tp]
        if offset is not None:
            return offset
        # Nothing fetched yet: where the fetcher will start.
        if self._group is not None:
            committed = self.committed([tp])[tp]
            if committed is not None:
                return committed
        low, high = self.watermarks(tp)
        return low if self._reset == "earliest" else high

    def seek(self, partition: TopicPartition, offset: int) -> None:
        tp = self._owned_partition(partition)
        self._at_end.discard(tp)
        self._sought[tp] = offset
        if tp in self._gaining:
            return  # the trampoline assigns it from here
        try:
            self._consumer.seek(_CkPartition(tp.topic, tp.partition, offset))
        except KafkaException as exc:
            if error_code(exc) not in _NOT_STARTED:
                raise translate(exc, f"cannot seek {tp} to {offset}", ConsumerError) from exc
            # Assigned moments ago and not fetching yet: hand it over again from ``offset``.
            self._consumer.incremental_unassign([_CkPartition(tp.topic, tp.partition)])
            self._consumer.incremental_assign([_CkPartition(tp.topic, tp.partition, offset)])

    def seek_to_timestamp(
        self, timestamp: int, partitions: Sequence[TopicPartition] | None = None
    ) -> None:
        targets = (
            [self._owned_partition(tp) for tp in partitions]
            if partitions is not None
            else sorted(self._owned)
        )
        if not targets:
            return
        deadline = time.monotonic() + _REQUEST_TIMEOUT_S
        while True:
            try:
                found = self._consumer.offsets_for_times(
                    _ck(targets, timestamp), timeout=_REQUEST_TIMEOUT_S
                )
                break
            except KafkaException as exc:
                if not _transient(exc) or time.monotonic() >= deadline:
                    raise translate(exc, "cannot look up offsets by time", ConsumerError) from exc
                time.sleep(_RETRY_BACKOFF_S)
        for part in found:
            tp = TopicPartition(part.topic, part.partition)
            if part.error is not None:
                raise translate(part.error, f"cannot look up {tp} by time", ConsumerError)
            # -1: no record at or after the timestamp, so continue from the end.
            self.seek(tp, part.offset if part.offset >= 0 else self.watermarks(tp)[1])

    def watermarks(self, partition: TopicPartition) -> tuple[int, int]:
        self._check_open()
        deadline = time.monotonic() + _REQUEST_TIMEOUT_S
        while True:
            try:
                low, high = self._consumer.get_watermark_offsets(
                    _CkPartition(partition[0], partition[1]), timeout=_REQUEST_TIMEOUT_S
                )
                return int(low), int(high)
            except KafkaException as exc:
                # A new topic's leader may not serve yet (NOT_LEADER_FOR_PARTITION): retry.
                if not _transient(exc) or time.monotonic() >= deadline:
                    context = f"cannot read watermarks of {partition}"
                    raise translate(exc, context, ConsumerError) from exc
                time.sleep(_RETRY_BACKOFF_S)

    def _owned_partition(self, partition: TopicPartition) -> TopicPartition:
        self._check_open()
        tp = TopicPartition(*partition)
        if tp not in self._owned:
            raise NotAssignedError(f"{tp.topic}[{tp.partition}] is not assigned to this consumer")
        return tp

    # -- lifecycle --------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._consume is _closed:
            raise LogClosedError("consumer is closed")

    def close(self) -> None:
        if self._consume is _closed:
            return
        try:
            # Leaves the group; the revoke trampoline runs here, so on_revoke can commit.
            self._consumer.close()
        except KafkaException as exc:
            raise translate(exc, "error while closing the consumer", ConsumerError) from exc
        finally:
            self._consume = _closed
            self._owned.clear()
            self._at_end.clear()
            self._paused.clear()


def _transient(exc: KafkaException) -> bool:
    """An offset query that may succeed if asked again shortly."""
    err = kafka_error(exc)
    return err is not None and (err.retriable() or err.code() in _NEW_TOPIC)

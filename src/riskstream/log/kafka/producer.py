"""The Kafka producer: a thin, allocation-light layer over confluent-kafka's Producer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Producer as _CkProducer
from confluent_kafka import TopicPartition as _CkPartition

from riskstream.errors import LogClosedError, ProduceError, TransactionAbortedError
from riskstream.log.kafka.consumer import KafkaConsumer
from riskstream.log.kafka.errors import creation_error, describe, kafka_error, translate
from riskstream.log.port import Consumer, DeliveryCallback, OutgoingRecord
from riskstream.log.records import DeliveryReport, Headers, TopicPartition

__all__ = ["KafkaProducer"]

# Reports are read as Any: the stubs make every Message field optional (error events carry
# none), and casting each field of each report would cost calls on the hot path.
_RawCallback = Callable[[KafkaError | None, Any], None]

# Bounded so per-call lambdas cannot grow it without limit; real code reuses a few callbacks.
_MAX_ROUTES = 256
# Bound for blocking coordinator requests (transactions).
_REQUEST_TIMEOUT_S = 60.0
# Calls of a transaction step in all, when librdkafka says the error is retriable.
_TRANSACTION_ATTEMPTS = 3
# How long produce() lets librdkafka drain a full queue before retrying.
_QUEUE_FULL_POLL_S = 0.05
# librdkafka's "unassigned" partition: its partitioner chooses (by key, as ours does).
_ANY_PARTITION = -1


def _failed(err: KafkaError, msg: Any) -> DeliveryReport:
    # A record that never reached a partition has none (None) and no offset.
    partition = msg.partition()
    return DeliveryReport(
        msg.topic(),
        -1 if partition is None else partition,
        -1,
        msg.timestamp()[1],
        msg.key(),
        describe(err),
    )


def _route(callback: DeliveryCallback) -> _RawCallback:
    # One Python frame per report: the success path builds the report inline.
    def deliver(err: KafkaError | None, msg: Any) -> None:
        if err is None:
            callback(
                DeliveryReport(
                    msg.topic(), msg.partition(), msg.offset(), msg.timestamp()[1], msg.key(), None
                )
            )
        else:
            callback(_failed(err, msg))

    return deliver


def _closed(*_args: object, **_kwargs: object) -> NoReturn:
    raise LogClosedError("producer is closed")


class KafkaProducer:
    """Queues records in librdkafka; delivery reports are served by ``poll``/``flush``.

    Without any delivery callback, librdkafka's reports never reach Python at all, which is
    the cheapest path. With one, each report costs one C-to-Python call: the producer-level
    callback is bound once in the config, and each distinct per-call callback gets one
    cached trampoline instead of a closure per record.
    """

    __slots__ = ("__weakref__", "_flush", "_poll", "_produce", "_producer", "_routes")

    def __init__(self, config: dict[str, str], on_delivery: DeliveryCallback | None) -> None:
        conf: dict[str, Any] = dict(config)
        if on_delivery is not None:
            conf["on_delivery"] = _route(on_delivery)
        try:
            self._producer = _CkProducer(conf)
        except KafkaException as exc:
            raise creation_error(exc, "producer", ProduceError) from exc
        self._produce: Callable[..., None] = self._producer.produce
        self._poll: Callable[[float], int] = self._producer.poll
        self._flush: Callable[..., int] = self._producer.flush
        self._routes: dict[DeliveryCallback, _RawCallback] = {}
        if "transactional.id" in conf:
            try:
                self._producer.init_transactions(_REQUEST_TIMEOUT_S)
            except KafkaException as exc:
                raise translate(exc, "cannot initialise transactions", ProduceError) from exc

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
        if partition is None and timestamp is None and not headers and on_delivery is None:
            try:
                self._produce(topic, value, key)
                return
            except BufferError:
                pass
            except KafkaException as exc:
                raise translate(exc, f"cannot produce to {topic!r}", ProduceError) from exc
        kwargs: dict[str, Any] = {}
        if partition is not None:
            kwargs["partition"] = partition
        if timestamp is not None:
            kwargs["timestamp"] = timestamp
        if headers:
            kwargs["headers"] = list(headers)
        if on_delivery is not None:
            kwargs["on_delivery"] = self._route(on_delivery)
        while True:
            try:
                self._produce(topic, value, key, **kwargs)
                return
            except BufferError:
                # The local queue is full: serve reports so librdkafka can free space.
                self._poll(_QUEUE_FULL_POLL_S)
            except KafkaException as exc:
                raise translate(exc, f"cannot produce to {topic!r}", ProduceError) from exc

    def produce_many(
        self, records: Sequence[OutgoingRecord], on_delivery: DeliveryCallback
    ) -> None:
        """Queue ``records`` as ``produce`` of each would, in one loop: no Python frame, no
        keyword dict and no callback look-up per record."""
        produce = self._produce
        route = self._route(on_delivery)
        for record in records:
            part = record.partition
            try:
                produce(
                    record.topic,
                    record.value,
                    record.key,
                    partition=_ANY_PARTITION if part is None else part,
                    timestamp=record.timestamp,
                    headers=list(record.headers),
                    on_delivery=route,
                )
            except BufferError:  # a full local queue: produce() waits for room
                self.produce(
                    record.topic,
                    record.value,
                    record.key,
                    partition=part,
                    timestamp=record.timestamp,
                    headers=record.headers,
                    on_delivery=on_delivery,
                )
            except KafkaException as exc:
                raise translate(exc, f"cannot produce to {record.topic!r}", ProduceError) from exc

    def _route(self, callback: DeliveryCallback) -> _RawCallback:
        route = self._routes.get(callback)
        if route is None:
            if len(self._routes) >= _MAX_ROUTES:
                self._routes.clear()
            route = self._routes[callback] = _route(callback)
        return route

    def poll(self, timeout: float = 0.0) -> int:
        return self._poll(timeout)

    def flush(self, timeout: float | None = None) -> int:
        return self._flush() if timeout is None else self._flush(timeout)

    def __len__(self) -> int:
        """Records queued or in flight."""
        return len(self._producer)

    # Kafka-specific: transactions, for a producer made with ``producer.transactional.id``.

    def begin_transaction(self) -> None:
        self._transaction(self._producer.begin_transaction)

    def commit_transaction(self, timeout: float = _REQUEST_TIMEOUT_S) -> None:
        self._transaction(self._producer.commit_transaction, timeout)

    def abort_transaction(self, timeout: float = _REQUEST_TIMEOUT_S) -> None:
        self._transaction(self._producer.abort_transaction, timeout)

    def send_offsets(self, offsets: Mapping[TopicPartition, int], consumer: Consumer) -> None:
        if not isinstance(consumer, KafkaConsumer):
            raise TypeError(
                f"offsets of a {type(consumer).__name__} cannot join a Kafka transaction"
            )
        parts = [
            _CkPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()
        ]
        try:
            group = consumer.group_metadata()
        except RuntimeError as exc:  # not a group member (any more): e.g. while leaving
            raise TransactionAbortedError(f"no group membership to commit with: {exc}") from exc
        self._transaction(
            self._producer.send_offsets_to_transaction, parts, group, _REQUEST_TIMEOUT_S
        )

    @staticmethod
    def _transaction(operation: Callable[..., None], *args: object) -> None:
        for attempt in range(_TRANSACTION_ATTEMPTS):
            try:
                operation(*args)
                return
            except KafkaException as exc:
                err = kafka_error(exc)
                if err is not None and err.retriable() and attempt + 1 < _TRANSACTION_ATTEMPTS:
                    continue  # librdkafka allows the same call again (e.g. a timeout)
                if err is not None and err.txn_requires_abort():
                    raise TransactionAbortedError(
                        f"transaction must be aborted: {describe(exc)}"
                    ) from exc
                raise translate(exc, "transaction failed", ProduceError) from exc

    def close(self) -> None:
        if self._produce is _closed:
            return
        self._flush()
        self._produce = self._poll = self._flush = _closed
        self._routes.clear()
        self._producer.close()

"""Transactions: the optional capability of a log that commits records and offsets atomically.

A :class:`TransactionalProducer` writes records to many partitions and a consumer group's
offsets in one transaction: ``read_committed`` consumers see all of it or none of it. That is
what Kafka Streams calls exactly-once v2: a worker's outputs, its state changelog writes and
its input offsets commit together, and a zombie worker (one the group has moved on from) is
fenced by the group generation carried with the offsets.

Only backends that can give this guarantee implement :class:`TransactionalLog` (Kafka); the
others are refused by :func:`transactional` with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from riskstream.errors import ConfigError
from riskstream.log.port import Consumer, DeliveryCallback, EventLog, Producer
from riskstream.log.records import TopicPartition

__all__ = ["TransactionalLog", "TransactionalProducer", "transactional"]


@runtime_checkable
class TransactionalProducer(Producer, Protocol):
    """A producer whose records become visible only when their transaction commits."""

    def begin_transaction(self) -> None: ...

    def send_offsets(self, offsets: Mapping[TopicPartition, int], consumer: Consumer) -> None:
        """Commit ``consumer``'s group offsets (next offset to read) with the transaction.
        Fails with :class:`~riskstream.errors.ProduceError` if the group has fenced it."""
        ...

    def commit_transaction(self) -> None:
        """Flush, then commit; raises :class:`~riskstream.errors.ProduceError` on failure
        (the transaction must then be aborted)."""
        ...

    def abort_transaction(self) -> None: ...


@runtime_checkable
class TransactionalLog(Protocol):
    """A log that can make transactional producers."""

    def transactional_producer(
        self,
        transactional_id: str,
        *,
        on_delivery: DeliveryCallback | None = None,
        linger_ms: int = 5,
        transaction_timeout_ms: int = 10_000,
    ) -> TransactionalProducer:
        """A producer with its transactions initialised. A new producer with the same
        ``transactional_id`` fences the old one and aborts its open transaction, so a
        restarted worker should reuse its id. ``transaction_timeout_ms`` bounds how long a
        crashed producer's open transaction holds back ``read_committed`` readers."""
        ...


def transactional(log: EventLog) -> TransactionalLog:
    """``log`` as a :class:`TransactionalLog`, or a :class:`ConfigError` saying why not."""
    if not isinstance(log, TransactionalLog):
        raise ConfigError(
            f"exactly_once delivery needs a log with transactions (kafka://…); {log.url} has "
            "none. Use low_latency delivery: its outputs carry deterministic ids and a restarted "
            "task skips the ones it already wrote."
        )
    return log

"""``KafkaLog``: the event-log port over an Apache Kafka cluster."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from urllib.parse import urlencode

from riskstream.errors import LogClosedError
from riskstream.log.kafka.admin import KafkaAdmin
from riskstream.log.kafka.config import (
    admin_config,
    consumer_config,
    producer_config,
    redact,
    split_options,
)
from riskstream.log.kafka.consumer import KafkaConsumer
from riskstream.log.kafka.producer import KafkaProducer
from riskstream.log.port import DeliveryCallback, OffsetReset

__all__ = ["KafkaLog"]


class KafkaLog:
    """A Kafka cluster as an ``EventLog``.

    ``options`` are raw librdkafka properties (security protocol, SASL, tuning) passed
    through untouched; ``producer.``/``consumer.``/``admin.``-prefixed keys reach only that
    kind of client. Closing the log closes the producers and consumers it made.
    """

    def __init__(self, bootstrap_servers: str, options: Mapping[str, str] | None = None) -> None:
        self._bootstrap = bootstrap_servers
        self._raw_options = dict(options or {})
        self._options = split_options(self._raw_options)
        self._admin: KafkaAdmin | None = None
        self._clients: weakref.WeakSet[KafkaProducer | KafkaConsumer] = weakref.WeakSet()
        self._closed = False

    @property
    def url(self) -> str:
        """``kafka://servers?options``, with credentials masked."""
        query = urlencode(redact(self._raw_options))
        return f"kafka://{self._bootstrap}" + (f"?{query}" if query else "")

    @property
    def admin(self) -> KafkaAdmin:
        self._check_open()
        if self._admin is None:
            self._admin = KafkaAdmin(admin_config(self._bootstrap, self._options))
        return self._admin

    def producer(
        self, *, on_delivery: DeliveryCallback | None = None, linger_ms: int = 5
    ) -> KafkaProducer:
        self._check_open()
        config = producer_config(self._bootstrap, self._options, linger_ms=linger_ms)
        producer = KafkaProducer(config, on_delivery)
        self._clients.add(producer)
        return producer

    def transactional_producer(
        self,
        transactional_id: str,
        *,
        on_delivery: DeliveryCallback | None = None,
        linger_ms: int = 5,
        transaction_timeout_ms: int = 10_000,
    ) -> KafkaProducer:
        self._check_open()
        config = producer_config(self._bootstrap, self._options, linger_ms=linger_ms)
        config["transactional.id"] = transactional_id
        config.setdefault("transaction.timeout.ms", str(transaction_timeout_ms))
        producer = KafkaProducer(config, on_delivery)
        self._clients.add(producer)
        return producer

    def consumer(
        self,
        group_id: str | None = None,
        *,
        auto_offset_reset: OffsetReset = "earliest",
        session_timeout_ms: int = 10_000,
    ) -> KafkaConsumer:
        self._check_open()
        config = consumer_config(
            self._bootstrap,
            self._options,
            group_id=group_id,
            auto_offset_reset=auto_offset_reset,
            session_timeout_ms=session_timeout_ms,
        )
        consumer = KafkaConsumer(config, group_id=group_id, auto_offset_reset=auto_offset_reset)
        self._clients.add(consumer)
        return consumer

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for client in list(self._clients):
            client.close()
        self._clients.clear()
        self._admin = None

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosedError("kafka log is closed")

    def __repr__(self) -> str:
        return f"KafkaLog({self.url!r})"

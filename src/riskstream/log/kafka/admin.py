"""Topic administration through Kafka's AdminClient."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic, ResourceType

from riskstream.errors import LogError, TopicError, UnknownTopicError
from riskstream.log.kafka.errors import creation_error, error_code, translate
from riskstream.log.records import TopicSpec

__all__ = ["KafkaAdmin", "spec_config"]

_REQUEST_TIMEOUT_S: Final = 30.0
# How long to wait for a created topic to show up with a leader for every partition (or a
# deleted one to disappear) in the metadata brokers hand to clients.
_METADATA_WAIT_S: Final = 30.0
_METADATA_POLL_S: Final = 0.05
# Topic settings TopicSpec models as fields, so describe_topics keeps them out of ``config``.
_MODELLED: Final = frozenset({"cleanup.policy", "retention.ms", "retention.bytes"})


def spec_config(spec: TopicSpec) -> dict[str, str]:
    """The topic configuration that realises ``spec`` on a broker.

    ``None`` retention means unbounded, so it is written as ``-1`` explicitly instead of
    inheriting the broker's default (seven days): the log is the source of truth.
    """
    config = dict(spec.config)
    bounded = spec.retention_ms is not None or spec.retention_bytes is not None
    if spec.compacted:
        config["cleanup.policy"] = "compact,delete" if bounded else "compact"
    if spec.retention_ms is not None:
        config["retention.ms"] = str(spec.retention_ms)
    else:
        config.setdefault("retention.ms", "-1")
    if spec.retention_bytes is not None:
        config["retention.bytes"] = str(spec.retention_bytes)
    else:
        config.setdefault("retention.bytes", "-1")
    return config


def _bound(value: str | None) -> int | None:
    if value is None:
        return None
    number = int(value)
    return None if number < 0 else number


class KafkaAdmin:
    """Creates, describes and deletes topics; waits until brokers agree on the result."""

    def __init__(self, config: dict[str, str]) -> None:
        try:
            self._admin = AdminClient(dict[str, str | int | float | bool](config))
        except KafkaException as exc:
            raise creation_error(exc, "admin client") from exc

    def create_topics(self, specs: Sequence[TopicSpec], *, exist_ok: bool = False) -> None:
        if not specs:
            return
        new_topics = [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                # -1: the broker's default.replication.factor.
                replication_factor=spec.replication_factor or -1,
                config=spec_config(spec),
            )
            for spec in specs
        ]
        futures = self._admin.create_topics(
            new_topics, operation_timeout=_REQUEST_TIMEOUT_S, request_timeout=_REQUEST_TIMEOUT_S
        )
        expected: dict[str, int | None] = {}
        failure: LogError | None = None
        for spec in specs:
            try:
                futures[spec.name].result()
                expected[spec.name] = spec.partitions
            except KafkaException as exc:
                if exist_ok and error_code(exc) == KafkaError.TOPIC_ALREADY_EXISTS:
                    expected[spec.name] = None
                elif failure is None:
                    failure = translate(exc, f"cannot create topic {spec.name!r}", TopicError)
        # Brokers learn about new topics asynchronously; callers produce right away.
        self._await_metadata(
            lambda topics: all(_ready(topics.get(name), count) for name, count in expected.items())
        )
        if failure is not None:
            raise failure

    def delete_topics(self, names: Sequence[str]) -> None:
        if not names:
            return
        futures = self._admin.delete_topics(
            list(names), operation_timeout=_REQUEST_TIMEOUT_S, request_timeout=_REQUEST_TIMEOUT_S
        )
        failure: LogError | None = None
        deleted: list[str] = []
        for name in names:
            try:
                futures[name].result()
                deleted.append(name)
            except KafkaException as exc:
                if failure is None:
                    failure = translate(exc, f"cannot delete topic {name!r}", TopicError)
        self._await_metadata(lambda topics: not any(name in topics for name in deleted))
        if failure is not None:
            raise failure

    def describe_topics(self, names: Sequence[str] | None = None) -> dict[str, TopicSpec]:
        topics = self._metadata()
        if names is None:
            wanted = sorted(name for name in topics if not name.startswith("__"))
        else:
            wanted = list(names)
            missing = [name for name in wanted if name not in topics]
            if missing:
                raise UnknownTopicError(f"unknown topics: {missing}")
        if not wanted:
            return {}
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in wanted]
        futures = self._admin.describe_configs(resources, request_timeout=_REQUEST_TIMEOUT_S)
        result: dict[str, TopicSpec] = {}
        for resource in resources:
            name = resource.name
            try:
                entries: Mapping[str, Any] = futures[resource].result()
            except KafkaException as exc:
                raise translate(exc, f"cannot describe topic {name!r}", TopicError) from exc
            result[name] = _spec(name, topics[name], entries)
        return result

    def list_topics(self) -> list[str]:
        return sorted(name for name in self._metadata() if not name.startswith("__"))

    def _metadata(self) -> dict[str, Any]:
        """Topic name → TopicMetadata, for the topics that exist without error."""
        try:
            cluster = self._admin.list_topics(timeout=_REQUEST_TIMEOUT_S)
        except KafkaException as exc:
            raise translate(exc, "cannot read cluster metadata") from exc
        return {name: meta for name, meta in cluster.topics.items() if meta.error is None}

    def _await_metadata(self, done: Callable[[dict[str, Any]], bool]) -> None:
        deadline = time.monotonic() + _METADATA_WAIT_S
        while not done(self._metadata()):
            if time.monotonic() > deadline:
                raise LogError(f"topic metadata did not settle within {_METADATA_WAIT_S}s")
            time.sleep(_METADATA_POLL_S)


def _ready(meta: Any, partitions: int | None) -> bool:
    if meta is None:
        return False
    if partitions is not None and len(meta.partitions) != partitions:
        return False
    return all(p.leader >= 0 for p in meta.partitions.values())


def _spec(name: str, meta: Any, entries: Mapping[str, Any]) -> TopicSpec:
    def value(key: str) -> str | None:
        entry = entries.get(key)
        return None if entry is None else entry.value

    first = meta.partitions.get(0)
    return TopicSpec(
        name=name,
        partitions=len(meta.partitions),
        replication_factor=len(first.replicas) if first is not None else None,
        compacted="compact" in (value("cleanup.policy") or ""),
        retention_ms=_bound(value("retention.ms")),
        retention_bytes=_bound(value("retention.bytes")),
        config={
            key: entry.value
            for key, entry in entries.items()
            if entry.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
            and key not in _MODELLED
            and entry.value is not None
        },
    )

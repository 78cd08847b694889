"""Topic administration: create, delete, describe and list topics of an embedded log."""

from __future__ import annotations

import contextlib
import re
import secrets
import sqlite3
import threading
from collections.abc import Sequence

from riskstream.errors import ConfigError, LogError, TopicExistsError, UnknownTopicError
from riskstream.log.embedded.catalog import Catalog, TopicInfo, encode_spec
from riskstream.log.embedded.db import write_tx
from riskstream.log.embedded.store import TopicStore
from riskstream.log.records import TopicSpec

__all__ = ["EmbeddedAdmin"]

_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_CONFIG_INTS = ("min.compaction.lag.ms", "delete.retention.ms")


def validate_spec(spec: TopicSpec) -> None:
    """Reject what Kafka would reject, so a topology that runs here also runs on Kafka."""
    if not _TOPIC_NAME.fullmatch(spec.name) or spec.name in (".", ".."):
        raise ConfigError(f"invalid topic name {spec.name!r} (allowed: [A-Za-z0-9._-]{{1,249}})")
    if spec.partitions < 1:
        raise ConfigError(f"topic {spec.name!r}: partitions must be >= 1, not {spec.partitions}")
    for field in ("retention_ms", "retention_bytes"):
        value = getattr(spec, field)
        if value is not None and value <= 0:
            raise ConfigError(f"topic {spec.name!r}: {field} must be positive or None")
    for key in _CONFIG_INTS:
        if key in spec.config and not spec.config[key].isdigit():
            raise ConfigError(f"topic {spec.name!r}: {key} must be a non-negative integer")


class EmbeddedAdmin:
    """The log's ``Admin``; thread-safe (one lock around the log's own catalogue connection)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._lock = threading.Lock()

    def create_topics(self, specs: Sequence[TopicSpec], *, exist_ok: bool = False) -> None:
        """Create all of ``specs`` or, if one exists and ``exist_ok`` is false, none of them.

        Each topic file is complete before the catalogue row naming it commits; a crash in
        between leaves an uncatalogued file, which the next open removes.
        """
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ConfigError(f"a topic is named twice in {names}")
        for spec in specs:
            validate_spec(spec)
        catalog = self._catalog
        with self._lock, write_tx(catalog.conn) as conn:
            existing = set(catalog.all())
            clashes = sorted(existing.intersection(names))
            if clashes and not exist_ok:
                raise TopicExistsError(f"topics already exist: {clashes}")
            created: list[TopicInfo] = []
            try:
                for spec in specs:
                    if spec.name in existing:
                        continue
                    info = TopicInfo(spec.name, _file_name(spec.name), spec.partitions, spec)
                    created.append(info)
                    path = catalog.path(info)
                    TopicStore.create(path, spec.partitions, catalog.options, topic=spec.name)
                    conn.execute(
                        "INSERT INTO topics(name, file, partitions, spec) VALUES (?, ?, ?, ?)",
                        (info.name, info.file, info.partitions, encode_spec(spec)),
                    )
                if created:
                    # Subscribed groups may now get partitions: make every member look.
                    conn.execute("UPDATE groups SET generation = generation + 1")
            except BaseException:
                for info in created:
                    _unlink(catalog, info)
                raise

    def delete_topics(self, names: Sequence[str]) -> None:
        """Delete topics with their records, group ownership and committed offsets."""
        catalog = self._catalog
        with self._lock:
            with write_tx(catalog.conn) as conn:
                infos = [catalog.require(name) for name in dict.fromkeys(names)]
                for info in infos:
                    for table in ("topics", "owners", "commits"):
                        column = "name" if table == "topics" else "topic"
                        conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (info.name,))
                if infos:
                    conn.execute("UPDATE groups SET generation = generation + 1")
            for info in infos:
                _mark_deleted(catalog, info)
                _unlink(catalog, info)

    def describe_topics(self, names: Sequence[str] | None = None) -> dict[str, TopicSpec]:
        with self._lock:
            topics = self._catalog.all()
        if names is None:
            return {name: info.spec for name, info in topics.items()}
        missing = [name for name in names if name not in topics]
        if missing:
            raise UnknownTopicError(f"unknown topics: {missing}")
        return {name: topics[name].spec for name in names}

    def list_topics(self) -> list[str]:
        with self._lock:
            return sorted(self._catalog.all())

    def catalogued(self) -> list[TopicInfo]:
        """Every topic with its file, for maintenance."""
        with self._lock:
            return list(self._catalog.all().values())


def _file_name(topic: str) -> str:
    # Truncated so that "<file>-wal" stays within the 255-byte file-name limit.
    return f"{topic[:200]}.{secrets.token_hex(4)}.db"


def _mark_deleted(catalog: Catalog, info: TopicInfo) -> None:
    """Tell processes still holding the file open; best effort, the catalogue already forgot it."""
    try:
        store = catalog.open_store(info)
    except LogError:
        return
    try:
        with contextlib.suppress(sqlite3.Error):
            store.mark_deleted()
    finally:
        store.close()


def _unlink(catalog: Catalog, info: TopicInfo) -> None:
    path = catalog.path(info)
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)

"""Changelog topics: their names and specs, and the format of the records stores write.

A store's changelog is a compacted topic ``<application>-<store>-changelog`` with the same
partition count as the task's input; task partition *p* writes partition *p*. Each record
is one state change: key = state key, value = state value (``None``: a tombstone), and,
when the key expires, an ``rs.expires`` header with the epoch-ms expiry in ASCII digits.

A flush ends with a *commit marker*: a record keyed :data:`MARKER_KEY` whose value holds the
commit's sequence number and the executor's metadata. Records after the last marker belong
to a flush that never committed; a restore rolls them back and re-writes the committed
values of their keys. Compaction keeps the latest marker like any other key, and every
record before it is committed state, provided compaction did not let a rolled-back record
supersede a committed one first: hence the topic's ``min.compaction.lag.ms``.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from riskstream.log.port import Admin
from riskstream.log.records import Headers, TopicSpec
from riskstream.state.errors import StateError

__all__ = [
    "DEFAULT_DELETE_RETENTION_MS",
    "DEFAULT_MIN_COMPACTION_LAG_MS",
    "EXPIRES_HEADER",
    "MARKER_KEY",
    "Marker",
    "changelog_spec",
    "changelog_topic",
    "decode_marker",
    "encode_marker",
    "ensure_changelog",
    "expires_at_of",
    "expiry_headers",
    "tombstone_retention_ms",
]

MARKER_KEY = b"\xff\xffriskstream.commit"
"""Reserved key of commit markers: never valid UTF-8 and longer than an 8-byte int key, so
no ``TypedStore`` key can collide with it; raw byte keys must avoid it."""

EXPIRES_HEADER = "rs.expires"

DEFAULT_DELETE_RETENTION_MS = 86_400_000
"""How long compaction keeps tombstones (Kafka's default, one day): a local checkpoint
older than this may miss deletes, so a restore from it starts over from the beginning."""

DEFAULT_MIN_COMPACTION_LAG_MS = 60_000
"""How long records stay out of compaction. A crash mid-flush leaves change records after
the last commit marker; compaction would let them supersede (and drop) committed values
before the next restore rolls them back and repairs the changelog. The lag gives that
restore a minute; a *full* restore more than a minute after a crash may miss committed
values of the keys that flush touched (a local checkpoint still has them)."""


class Marker(msgspec.Struct, frozen=True, array_like=True):
    """The value of a commit marker."""

    seq: int
    metadata: dict[str, bytes]


encode_marker = msgspec.msgpack.Encoder().encode
decode_marker = msgspec.msgpack.Decoder(Marker).decode


def expiry_headers(expires_at: int | None) -> Headers | None:
    """The headers of a change record (``None`` when the key does not expire)."""
    if expires_at is None:
        return None
    return ((EXPIRES_HEADER, b"%d" % expires_at),)


def expires_at_of(headers: Headers) -> int | None:
    """The expiry a change record carries, if any."""
    for name, value in headers:
        if name == EXPIRES_HEADER:
            return int(value)
    return None


def changelog_topic(application: str, store: str) -> str:
    """The changelog topic of ``store`` in ``application``."""
    return f"{application}-{store}-changelog"


def changelog_spec(
    application: str,
    store: str,
    partitions: int,
    *,
    delete_retention_ms: int = DEFAULT_DELETE_RETENTION_MS,
    min_compaction_lag_ms: int = DEFAULT_MIN_COMPACTION_LAG_MS,
) -> TopicSpec:
    """The compacted topic a store's changes go to.

    ``delete_retention_ms`` is set explicitly because backends differ in its default (the
    embedded log drops tombstones at once, Kafka keeps them a day) and restores rely on it.
    ``min_compaction_lag_ms``: see :data:`DEFAULT_MIN_COMPACTION_LAG_MS`; it also bounds how
    much of the changelog a restore reads uncompacted.
    """
    config = {
        "delete.retention.ms": str(delete_retention_ms),
        "min.compaction.lag.ms": str(min_compaction_lag_ms),
    }
    return TopicSpec(
        name=changelog_topic(application, store),
        partitions=partitions,
        compacted=True,
        config=config,
    )


def ensure_changelog(
    admin: Admin,
    application: str,
    store: str,
    partitions: int,
    *,
    delete_retention_ms: int = DEFAULT_DELETE_RETENTION_MS,
    min_compaction_lag_ms: int = DEFAULT_MIN_COMPACTION_LAG_MS,
) -> TopicSpec:
    """Create the changelog if missing and check an existing one; returns its spec.

    Raises ``StateError`` when an existing topic is not compacted or has another partition
    count than the input (its partitions would no longer line up with the tasks).
    """
    spec = changelog_spec(
        application,
        store,
        partitions,
        delete_retention_ms=delete_retention_ms,
        min_compaction_lag_ms=min_compaction_lag_ms,
    )
    admin.create_topics([spec], exist_ok=True)
    found = admin.describe_topics([spec.name])[spec.name]
    if not found.compacted:
        raise StateError(f"changelog {spec.name!r} exists but is not compacted")
    if found.partitions != partitions:
        raise StateError(
            f"changelog {spec.name!r} has {found.partitions} partitions, the input has {partitions}"
        )
    return found


def tombstone_retention_ms(admin: Admin, topic: str) -> int:
    """How long ``topic`` keeps tombstones; 0 (trust no checkpoint) when not configured.

    Missing means the backend default, which the port does not expose: assume the worst.
    """
    spec: Mapping[str, TopicSpec] = admin.describe_topics([topic])
    text = spec[topic].config.get("delete.retention.ms")
    return int(text) if text is not None and text.isdigit() else 0

"""Keyed state stores for stream tasks, durable through compacted changelog topics.

One store instance holds the state of one task (one input partition):

* :class:`MemoryStore`: a dict; rebuilt from the changelog after a restart.
* :class:`SqliteStore`: a local SQLite file with the state and the changelog commit point it
  reflects; a restart replays only the changelog after that point.
* :class:`TypedStore`: Python keys and msgspec-typed values over either.

Both implement :class:`KeyValueStore`; see :mod:`riskstream.state.protocol` for the
flush → ``producer.flush()`` → commit cycle and :mod:`riskstream.state.changelog` for the
changelog format.
"""

from riskstream.state.changelog import (
    DEFAULT_DELETE_RETENTION_MS,
    DEFAULT_MIN_COMPACTION_LAG_MS,
    MARKER_KEY,
    changelog_spec,
    changelog_topic,
    ensure_changelog,
)
from riskstream.state.errors import (
    ChangelogError,
    SnapshotError,
    StateDecodeError,
    StateError,
    StoreLockedError,
)
from riskstream.state.memory import MemoryStore
from riskstream.state.protocol import CommitPoint, KeyValueStore, ProgressCallback, RestoreStats
from riskstream.state.sqlite import SqliteStore
from riskstream.state.typed import BYTES_KEYS, INT_KEYS, STR_KEYS, KeyCodec, TypedStore

__all__ = [
    "BYTES_KEYS",
    "DEFAULT_DELETE_RETENTION_MS",
    "DEFAULT_MIN_COMPACTION_LAG_MS",
    "INT_KEYS",
    "MARKER_KEY",
    "STR_KEYS",
    "ChangelogError",
    "CommitPoint",
    "KeyCodec",
    "KeyValueStore",
    "MemoryStore",
    "ProgressCallback",
    "RestoreStats",
    "SnapshotError",
    "SqliteStore",
    "StateDecodeError",
    "StateError",
    "StoreLockedError",
    "TypedStore",
    "changelog_spec",
    "changelog_topic",
    "ensure_changelog",
]

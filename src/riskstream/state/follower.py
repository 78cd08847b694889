"""A read-only follower of a store's changelog: the warm copy a standby replica keeps."""

from __future__ import annotations

from collections.abc import Sequence

from riskstream.log.port import EventLog
from riskstream.log.records import Record
from riskstream.state.protocol import RestoreStats
from riskstream.state.replay import Replay
from riskstream.state.sqlite import SqliteStore

__all__ = ["ChangelogFollower"]


class ChangelogFollower:
    """Keeps ``store`` at the latest commit of its changelog partition, never writing to it.

    The partition's owner may be in the middle of a flush at any moment, so records after the
    last commit marker stay tentative (in an open local transaction) until their marker
    arrives; :meth:`close` rolls them back and leaves the store's file at the last whole
    commit, for the next owner to open and replay only the tail from.
    """

    __slots__ = ("_replay", "_sink", "position", "restored", "store")

    def __init__(self, store: SqliteStore, log: EventLog) -> None:
        self.store = store
        self.restored: RestoreStats = store.restore(log, repair=False)
        self.position = store.committed.offset  # the next changelog offset to read
        self._sink = store._replay_sink()  # the follower is the store's own reader
        self._replay = Replay()

    def feed(self, records: Sequence[Record]) -> None:
        """Apply the next records of the partition, in offset order from :attr:`position`."""
        if records:
            self._replay.feed(list(records), self._sink)
            self.position = records[-1].offset + 1

    @property
    def lag_records(self) -> int:
        """Records read since the last whole commit (rolled back if the follower closed now)."""
        return self._replay.since_mark

    def close(self) -> None:
        """Keep what whole commits brought, roll back the rest, and release the store."""
        try:
            self._sink.finish()
            if self._replay.point is not None:
                self.store._adopt(self._replay.point)
        except BaseException:
            self._sink.abort()
            raise
        finally:
            self.store.close()

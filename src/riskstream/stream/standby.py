"""Standby replicas: warm local copies of other workers' task state, for fast failover.

A worker with ``standbys=N`` keeps the local state stores of up to N tasks it does not own
following their changelogs, in a background thread. When a rebalance hands it one of those
tasks, the store's file is already at (nearly) the latest commit, and the task replays only
the last moments of the changelog instead of all of it.

The group does not place standbys (Kafka's group protocol tells a member only its own
partitions), so each worker picks them itself: the partitions that follow its own ones in
ring order (with one worker owning 0-2 of 8, standbys=2 keeps 3 and 4 warm), and ``N`` at
least the partition count keeps every task warm everywhere. Partitions it gives up in a
rebalance come first: their files are current already.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable

from riskstream.log.port import Consumer, EventLog
from riskstream.log.records import Record, TopicPartition
from riskstream.state.follower import ChangelogFollower
from riskstream.state.sqlite import SqliteStore

__all__ = ["StandbyReplicas", "standby_targets"]

logger = logging.getLogger(__name__)

_POLL_TIMEOUT_S = 0.2
_BATCH_RECORDS = 20_000


def standby_targets(
    owned: set[int], partitions: int, count: int, recent: tuple[int, ...] = ()
) -> set[int]:
    """Up to ``count`` partitions not in ``owned``: ``recent`` ones first, then those that
    follow the owned ones in ring order."""
    if not owned or count <= 0:
        return set()
    chosen: list[int] = [p for p in dict.fromkeys(recent) if p not in owned][:count]
    for distance in range(1, partitions):
        for mine in sorted(owned):
            candidate = (mine + distance) % partitions
            if len(chosen) >= count:
                return set(chosen)
            if candidate not in owned and candidate not in chosen:
                chosen.append(candidate)
    return set(chosen)


class StandbyReplicas:
    """The standby thread of one runner.

    ``open_store(partition)`` opens the same local store file the runner's task would, so a
    task that moves here starts from the standby's copy. The runner calls :meth:`own` at
    every rebalance *before* opening its tasks' stores: it waits until the standby has let go
    of those files.
    """

    def __init__(
        self,
        log: EventLog,
        *,
        changelog: str,
        partitions: int,
        count: int,
        open_store: Callable[[int], SqliteStore],
    ) -> None:
        self.log = log
        self.changelog = changelog
        self.partitions = partitions
        self.count = count
        self._open_store = open_store
        self._lock = threading.Lock()
        self._followers: dict[int, ChangelogFollower] = {}
        self._owned: set[int] = set()
        self._recent: tuple[int, ...] = ()
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="standby-replicas", daemon=True)
        self.error: BaseException | None = None

    @property
    def following(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._followers)

    def positions(self) -> dict[int, int]:
        """The next changelog offset each standby reads."""
        with self._lock:
            return {p: f.position for p, f in self._followers.items()}

    def start(self) -> None:
        self._thread.start()

    def own(self, owned: set[int]) -> None:
        """The runner now owns ``owned``: release their stores and pick the standbys anew."""
        with self._lock:
            given_up = tuple(sorted(self._owned - owned))
            self._recent = given_up + tuple(p for p in self._recent if p not in given_up)
            self._owned = set(owned)
            for partition in owned & self._followers.keys():
                self._followers.pop(partition).close()
        self._changed.set()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
        with self._lock:
            for follower in self._followers.values():
                follower.close()
            self._followers.clear()

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        consumer = self.log.consumer()  # made here: some backends' handles stay in a thread
        try:
            while not self._stopping.is_set():
                if self._changed.is_set():
                    self._changed.clear()
                    self._follow(consumer)
                if not self._followers:
                    self._changed.wait(_POLL_TIMEOUT_S)
                    continue
                self._apply(consumer.poll(max_records=_BATCH_RECORDS, timeout=_POLL_TIMEOUT_S))
        except BaseException as exc:
            # A standby is an optimisation: its failure costs restore time, not correctness.
            self.error = exc
            logger.exception("standby replicas stopped")
        finally:
            consumer.close()

    def _follow(self, consumer: Consumer) -> None:
        """Open followers for the new targets, close the others, and read from each one's
        position."""
        with self._lock:
            targets = standby_targets(self._owned, self.partitions, self.count, self._recent)
            for partition in set(self._followers) - targets:
                self._followers.pop(partition).close()
            for partition in sorted(targets - set(self._followers)):
                follower = ChangelogFollower(self._open_store(partition), self.log)
                self._followers[partition] = follower
                logger.info(
                    "standby of task %d: %d changelog records in %.3fs",
                    partition,
                    follower.restored.records,
                    follower.restored.seconds,
                )
            tps = [TopicPartition(self.changelog, p) for p in sorted(self._followers)]
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, self._followers[tp.partition].position)

    def _apply(self, records: list[Record]) -> None:
        if not records:
            return
        by_partition: dict[int, list[Record]] = defaultdict(list)
        for record in records:
            by_partition[record.partition].append(record)
        with self._lock:
            for partition, batch in by_partition.items():
                follower = self._followers.get(partition)
                # Released meanwhile, or read before a re-seek: only contiguous records count.
                if follower is not None and batch[0].offset >= follower.position:
                    follower.feed(batch)

"""The live projector: one consumer group keeping every view up to date.

One group reads the union of the views' topics and folds each batch into all views in one
write transaction, with the offsets. Why one group for all views rather than one per view:

* each record is read and decoded once, whatever the number of views;
* one transaction per batch covers every view, so the views agree with each other at every
  commit (a transaction's status and its user's summary never disagree);
* rebuilding one view does not need a group of its own: it reads the log without a group and
  hands over through the per-view offsets (:mod:`~riskstream.services.projections.rebuild`).

Offsets live in the query store (``projection_offsets``), committed with the views: that,
not the group's committed offsets, is where the projector resumes, so a crash between the
two commits folds nothing twice. The group offsets are committed too (every few seconds),
only so that lag shows in the usual tools.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Final

from riskstream.errors import CommitFailedError
from riskstream.log.port import Consumer, EventLog
from riskstream.log.records import TopicPartition
from riskstream.services.projections.ledger import (
    ApplyStats,
    Target,
    apply_batch,
    create_view_tables,
    ensure_ledger,
    load_offsets,
    projector_owner,
    save_offsets,
    view_states,
)
from riskstream.services.projections.rebuild import rebuild
from riskstream.services.projections.store import QueryStore
from riskstream.services.projections.topics import (
    DEFAULT_TOPICS,
    TopicMap,
    decode_batch,
    ensure_topics,
    log_ends,
    topics_of,
)
from riskstream.services.projections.view import LIVE, Tables, View
from riskstream.services.projections.views import views_named

__all__ = ["DEFAULT_GROUP", "Projector"]

logger = logging.getLogger(__name__)

DEFAULT_GROUP: Final = "riskstream-projections"
_GROUP_COMMIT_S: Final = 5.0


class Projector:
    """Keeps ``views`` (default: all) up to date from the log, as a member of ``group_id``.

    ::

        projector = Projector(store, log)   # topics=TopicMap({...}) for renamed topics
        projector.start()          # creates or rebuilds views that are missing or outdated
        projector.run(stop.is_set)
        projector.close()
    """

    def __init__(
        self,
        store: QueryStore,
        log: EventLog,
        *,
        views: Sequence[str] | None = None,
        group_id: str = DEFAULT_GROUP,
        topics: TopicMap = DEFAULT_TOPICS,
        max_batch: int = 2_000,
        session_timeout_ms: int = 10_000,
    ) -> None:
        self.store = store
        self.log = log
        self.views: list[View] = views_named(views)
        self.topic_map = topics
        self.topics = topics_of(self.views, topics)
        self.group_id = group_id
        self.owner = projector_owner(group_id)
        self.max_batch = max_batch
        self.session_timeout_ms = session_timeout_ms
        self.stats = ApplyStats()
        self.records = 0
        self.undecodable = 0
        self._targets = [Target(view, Tables.of(view, LIVE, ""), view.name) for view in self.views]
        self._consumer: Consumer | None = None
        # Never assigned, so never fetching: it answers offset queries at once (on Kafka, a
        # fetching consumer's queries wait behind its long-poll fetch).
        self._probe = log.consumer()
        self._pending: dict[TopicPartition, int] = {}
        self._last_group_commit = 0.0

    def start(self) -> None:
        """Prepare the views (creating new ones, rebuilding outdated ones) and join the group."""
        ensure_topics(self.log, self.topics)
        stale = self._prepare()
        if stale:
            logger.info("rebuilding views before projecting: %s", ", ".join(stale))
            rebuild(self.store, self.log, stale, topics=self.topic_map)
        consumer = self.log.consumer(self.group_id, session_timeout_ms=self.session_timeout_ms)
        self._consumer = consumer
        consumer.subscribe(self.topics, on_assign=self._assigned, on_revoke=self._revoked)

    def _prepare(self) -> list[str]:
        """Create the views a fresh store lacks; name those that need a rebuild: outdated
        definitions, and views added to a store that was already being projected."""
        stale: list[str] = []
        with self.store.write() as tx:
            ensure_ledger(tx)
            states = view_states(tx)
            fresh = not states and not load_offsets(tx, self.owner)
            for view in self.views:
                state = states.get(view.name)
                if state is None and fresh:
                    create_view_tables(tx, view, Tables.of(view, LIVE, "g0"))
                    tx.execute(
                        "INSERT INTO projection_views (view, version, generation, rebuilding) "
                        "VALUES (?, ?, ?, NULL)",
                        [view.name, view.version, "g0"],
                    )
                elif state is None or state.version != view.version:
                    stale.append(view.name)
        return stale

    def _assigned(self, partitions: list[TopicPartition]) -> None:
        consumer = self._require()
        with self.store.read() as tx:
            stored = load_offsets(tx, self.owner)
        for tp in partitions:
            low, _ = self._probe.watermarks(tp)
            # The store, not the group, says where to resume: from the log start if it has
            # never seen the partition (what the group committed may not be in the store).
            consumer.seek(tp, max(stored.get(tp, low), low))

    def _revoked(self, partitions: list[TopicPartition]) -> None:
        self._commit_group(force=True, only=set(partitions))
        for tp in partitions:
            self._pending.pop(tp, None)

    def _require(self) -> Consumer:
        if self._consumer is None:
            raise RuntimeError("call start() first")
        return self._consumer

    def poll_once(self, timeout: float = 0.5) -> int:
        """Read one batch and fold it into the views; returns the records read."""
        consumer = self._require()
        records = consumer.poll(self.max_batch, timeout=timeout)
        if records:
            facts, bad = decode_batch(records, self.topic_map)
            positions: dict[TopicPartition, int] = {}
            for record in records:
                tp = TopicPartition(record.topic, record.partition)
                positions[tp] = max(positions.get(tp, 0), record.offset + 1)
            with self.store.write() as tx:
                stats = apply_batch(tx, self._targets, records, facts, self.topic_map)
                save_offsets(tx, self.owner, positions)
            self.stats.add(stats)
            self.records += len(records)
            self.undecodable += bad
            self._pending.update(positions)
        self._commit_group()
        return len(records)

    def _commit_group(
        self, *, force: bool = False, only: set[TopicPartition] | None = None
    ) -> None:
        now = time.monotonic()
        if not self._pending or (not force and now - self._last_group_commit < _GROUP_COMMIT_S):
            return
        offsets = {tp: offset for tp, offset in self._pending.items() if only is None or tp in only}
        try:
            if offsets:
                self._require().commit(offsets)
        except CommitFailedError as exc:  # the store has them: only the lag display lags
            logger.debug("group offsets not committed: %s", exc)
        self._last_group_commit = now

    def run(self, should_stop: Callable[[], bool], *, timeout: float = 0.5) -> None:
        """Project until ``should_stop()``."""
        while not should_stop():
            self.poll_once(timeout)

    def catch_up(self, *, timeout_s: float = 120.0, poll_timeout: float = 0.2) -> int:
        """Project until everything logged when called is in the views (one-shot runs,
        tests); returns the records read. Raises :class:`TimeoutError` after ``timeout_s``."""
        ends = log_ends(self.log, self.topics)
        with self.store.read() as tx:
            done = load_offsets(tx, self.owner)
        deadline = time.monotonic() + timeout_s
        total = 0
        while any(done.get(tp, 0) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                behind = {tp: (done.get(tp, 0), end) for tp, end in ends.items()}
                raise TimeoutError(f"projector not caught up after {timeout_s}s: {behind}")
            total += self.poll_once(poll_timeout)
            done.update(self._pending)
        return total

    def close(self) -> None:
        if self._consumer is not None:
            self._commit_group(force=True)
            self._consumer.close()
            self._consumer = None
        self._probe.close()

"""Rebuilding views from the log, beside the live ones, without stopping anything.

``rebuild(store, log, ["users"])``:

1. creates shadow tables (``rm_users_summary__r<token>`` …) and marks the view as being
   rebuilt by ``<token>`` (a later rebuild of the same view supersedes this one);
2. reads every partition of the view's topics from the log start with a consumer that is
   only *assigned* — no consumer group, so no committed offset of any projector moves — and
   folds it into the shadow tables through the same code as the live projector, with
   offsets of its own (``users@<token>``);
3. once it has read to the end, and in one write transaction with the live projector
   excluded: if its offsets have reached the live view's on every partition, it drops the
   live tables, renames the shadow ones into their place and takes over the offsets.
   Otherwise (the live projector moved on meanwhile) it reads on and tries again.

Queries keep being answered from the old tables until the swap; afterwards the live
projector skips what the rebuild already folded (its offsets say so) and goes on.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from riskstream.log.port import Consumer, EventLog
from riskstream.log.records import TopicPartition
from riskstream.services.projections.errors import RebuildError
from riskstream.services.projections.ledger import (
    ApplyStats,
    Target,
    apply_batch,
    create_view_tables,
    drop_view_tables,
    ensure_ledger,
    load_offsets,
    save_offsets,
    view_states,
)
from riskstream.services.projections.store import QueryStore, Tx
from riskstream.services.projections.topics import (
    DEFAULT_TOPICS,
    TopicMap,
    decode_batch,
    partitions_of,
    topics_of,
)
from riskstream.services.projections.view import LIVE, Tables, View
from riskstream.services.projections.views import views_named

__all__ = ["RebuildReport", "rebuild"]

logger = logging.getLogger(__name__)


@dataclass
class RebuildReport:
    views: list[str]
    records: int = 0
    undecodable: int = 0
    handover_attempts: int = 0
    seconds: float = 0.0
    stats: ApplyStats = field(default_factory=ApplyStats)


def _shadow_owner(view: View, token: str) -> str:
    return f"{view.name}@{token}"


def _shadow(view: View, token: str) -> Tables:
    return Tables.of(view, f"__r{token}", token)


def rebuild(
    store: QueryStore,
    log: EventLog,
    views: Sequence[str] | None = None,
    *,
    topics: TopicMap = DEFAULT_TOPICS,
    max_batch: int = 5_000,
    poll_timeout: float = 0.2,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RebuildReport:
    """Rebuild ``views`` (default: all) from the log and swap them in; see the module doc."""
    chosen = views_named(views)
    token = uuid.uuid4().hex[:10]
    report = RebuildReport([view.name for view in chosen])
    began = time.monotonic()
    _begin(store, chosen, token)
    consumer = log.consumer()  # assigned only: no group, no commits
    # Never assigned, so never fetching: on Kafka a fetching consumer's offset queries wait
    # behind its long-poll fetch, this one's answer at once.
    probe = log.consumer()
    try:
        partitions = partitions_of(log, topics_of(chosen, topics))
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, probe.watermarks(tp)[0])
        targets = [
            Target(view, _shadow(view, token), _shadow_owner(view, token)) for view in chosen
        ]
        while True:
            if should_stop is not None and should_stop():
                raise RebuildError(f"rebuild of {', '.join(report.views)} stopped")
            records = consumer.poll(max_batch, timeout=poll_timeout)
            if records:
                facts, bad = decode_batch(records, topics)
                with store.write() as tx:
                    _check_token(tx, chosen, token)
                    report.stats.add(apply_batch(tx, targets, records, facts, topics))
                report.records += len(records)
                report.undecodable += bad
                if progress is not None:
                    progress(len(records))
            if len(records) < max_batch and _read_to_end(consumer, probe, partitions):
                report.handover_attempts += 1
                if _hand_over(store, chosen, token, consumer, partitions, topics):
                    break
    except BaseException:
        _abandon(store, chosen, token)
        raise
    finally:
        consumer.close()
        probe.close()
    report.seconds = time.monotonic() - began
    logger.info(
        "rebuilt %s from %d records in %.2fs",
        ", ".join(report.views),
        report.records,
        report.seconds,
    )
    return report


def _begin(store: QueryStore, views: list[View], token: str) -> None:
    """Create the shadow tables and claim the views for this rebuild."""
    with store.write() as tx:
        ensure_ledger(tx)
        states = view_states(tx)
        for view in views:
            state = states.get(view.name)
            if state is not None and state.rebuilding is not None:
                _drop_shadow(tx, view, state.rebuilding)  # superseded: that rebuild will stop
            create_view_tables(tx, view, _shadow(view, token))
            if state is None:
                # Never projected: empty live tables, so queries answer until the swap.
                generation = f"g{token}"
                create_view_tables(tx, view, Tables.of(view, LIVE, generation))
                tx.execute(
                    "INSERT INTO projection_views (view, version, generation, rebuilding) "
                    "VALUES (?, ?, ?, ?)",
                    [view.name, view.version, generation, token],
                )
            else:
                tx.execute(
                    "UPDATE projection_views SET rebuilding = ? WHERE view = ?", [token, view.name]
                )


def _check_token(tx: Tx, views: list[View], token: str) -> None:
    states = view_states(tx)
    for view in views:
        state = states.get(view.name)
        if state is None or state.rebuilding != token:
            raise RebuildError(f"the rebuild of {view.name!r} was superseded by another one")


def _read_to_end(consumer: Consumer, probe: Consumer, partitions: list[TopicPartition]) -> bool:
    return all(consumer.position(tp) >= probe.watermarks(tp)[1] for tp in partitions)


def _hand_over(
    store: QueryStore,
    views: list[View],
    token: str,
    consumer: Consumer,
    partitions: list[TopicPartition],
    topics: TopicMap,
) -> bool:
    """Swap the shadow tables in if they are at least as far as the live ones everywhere."""
    positions = {tp: consumer.position(tp) for tp in partitions}
    with store.write() as tx:
        _check_token(tx, views, token)
        for view in views:
            owner = _shadow_owner(view, token)
            feeding = {topics.actual(topic) for topic in view.topics}
            save_offsets(tx, owner, {tp: at for tp, at in positions.items() if tp.topic in feeding})
            shadow = load_offsets(tx, owner)
            live = load_offsets(tx, view.name)
            if any(shadow.get(tp, 0) < at for tp, at in live.items()):
                return (
                    False  # the live view is ahead: read on (the transaction commits the offsets)
                )
        for view in views:
            _swap(tx, view, token)
    return True


def _swap(tx: Tx, view: View, token: str) -> None:
    live = Tables.of(view, LIVE, "")
    shadow = _shadow(view, token)
    drop_view_tables(tx, live)
    for table, name in shadow.names.items():
        tx.execute(f"ALTER TABLE {name} RENAME TO {live[table]}")
    tx.execute("DELETE FROM projection_offsets WHERE owner = ?", [view.name])
    tx.execute(
        "UPDATE projection_offsets SET owner = ? WHERE owner = ?",
        [view.name, _shadow_owner(view, token)],
    )
    tx.execute(
        "UPDATE projection_views SET version = ?, generation = ?, rebuilding = NULL WHERE view = ?",
        [view.version, token, view.name],
    )


def _drop_shadow(tx: Tx, view: View, token: str) -> None:
    drop_view_tables(tx, _shadow(view, token))
    tx.execute("DELETE FROM projection_offsets WHERE owner = ?", [_shadow_owner(view, token)])


def _abandon(store: QueryStore, views: list[View], token: str) -> None:
    """Undo a failed rebuild's shadow tables (the live views never changed)."""
    try:
        with store.write() as tx:
            states = view_states(tx)
            for view in views:
                state = states.get(view.name)
                if state is not None and state.rebuilding == token:
                    _drop_shadow(tx, view, token)
                    tx.execute(
                        "UPDATE projection_views SET rebuilding = NULL WHERE view = ?", [view.name]
                    )
    except Exception:  # the original error matters more; the next rebuild cleans up
        logger.exception("could not clean up after the failed rebuild %s", token)

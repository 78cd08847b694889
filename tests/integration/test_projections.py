"""Read models on a real query store (SQLite file, PostgreSQL server) from a real log.

The story (tests/integration/projection_scenario.py) is hand-written, so every expected
value below is worked out by hand, not by the code under test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from riskstream.log import EventLog, TopicPartition, open_log
from riskstream.services.projections import (
    DEFAULT_GROUP,
    QueryStore,
    ReadModels,
    RebuildError,
    RebuildReport,
    TopicMap,
    open_store,
    rebuild,
    view_status,
)
from tests.integration.projection_scenario import (
    FRAUD,
    LEGIT,
    T0,
    create_topics,
    dump,
    namespace,
    produce,
    project,
    story,
)

S = 1_000


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh query store: a SQLite file, or a schema of its own on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:{tmp_path / 'query.db'}"
        return
    dsn: str = request.getfixturevalue("postgres_dsn")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{dsn}?schema={schema}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def store(store_url: str) -> Iterator[QueryStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def log(tmp_path: Path) -> Iterator[EventLog]:
    opened = open_log(f"embedded:{tmp_path / 'log'}")
    yield opened
    opened.close()


@pytest.fixture
def topics(log: EventLog) -> TopicMap:
    names = namespace()
    create_topics(log, names)
    return names


@pytest.fixture
def models(store: QueryStore, log: EventLog, topics: TopicMap) -> ReadModels:
    """The read models of the whole story."""
    produce(log, topics, story())
    project(store, log, topics).close()
    return ReadModels(store)


def test_user_summaries(models: ReadModels) -> None:
    legit = models.user_summary(LEGIT)
    assert legit is not None
    assert legit.decisions == 2
    assert legit.by_action == {"allow": 1, "review": 0, "challenge": 1, "block": 0}
    assert legit.last_decision is not None
    assert (legit.last_decision.transaction_id, legit.last_decision.action) == ("tx4", "challenge")
    assert legit.fraud_labels == 1  # the chargeback of tx1
    assert [(d.id, d.first_seen, d.last_seen) for d in legit.devices] == [("d1", T0, T0 + 300 * S)]
    assert legit.open_holds == [] and legit.open_challenges == 0  # tx4 was released

    fraud = models.user_summary(FRAUD)
    assert fraud is not None
    assert fraud.by_action == {"allow": 0, "review": 0, "challenge": 1, "block": 1}
    assert fraud.last_decision is not None and fraud.last_decision.transaction_id == "tx3"
    assert fraud.fraud_labels == 2  # failed MFA on tx2, reported fraud on tx3
    assert [d.id for d in fraud.devices] == ["d10", "d9"]  # most recently seen first
    assert [(c.id, c.first_seen, c.last_seen) for c in fraud.countries] == [
        ("BR", T0 + 60 * S, T0 + 200 * S),
        ("DE", T0, T0),
    ]
    assert fraud.open_challenges == 1
    [hold] = fraud.open_holds
    assert (hold.transaction_id, hold.challenge_id, hold.paused_at) == ("tx3", "ch3", T0 + 201 * S)
    assert hold.expires_at == T0 + 501 * S
    assert models.user_summary("nobody") is None


def test_transaction_statuses(models: ReadModels) -> None:
    tx1, tx2, tx3, tx4 = (models.transaction(t) for t in ("tx1", "tx2", "tx3", "tx4"))
    assert tx1 is not None and tx2 is not None and tx3 is not None and tx4 is not None
    assert (tx1.status, tx1.action, tx1.fraud, tx1.chargeback_at) == (
        "decided",
        "allow",
        True,
        T0 + 1_000 * S,
    )
    assert (tx2.status, tx2.mfa_passed, tx2.cancel_reason, tx2.fraud) == (
        "cancelled",
        False,
        "mfa_failed",
        True,
    )
    assert tx2.rules == ["new_device", "promo_rush"]
    assert (tx2.paused_at, tx2.challenge_id, tx2.cancelled_at) == (
        T0 + 71 * S,
        "ch2",
        T0 + 100 * S,
    )
    assert (tx3.status, tx3.action, tx3.fraud_reported_at, tx3.fraud_at) == (
        "challenged",
        "block",
        T0 + 2_000 * S,
        T0 + 2_000 * S,
    )
    assert (tx4.status, tx4.mfa_passed, tx4.released_at, tx4.fraud) == (
        "released",
        True,
        T0 + 320 * S,
        False,
    )
    assert (tx4.checkout_time, tx4.amount, tx4.merchant_id) == (T0 + 300 * S, 80.0, "m-1")
    assert [t.transaction_id for t in models.user_transactions(FRAUD)] == ["tx3", "tx2"]
    assert models.transaction("tx-unknown") is None


def test_recent_decisions_and_alerts(models: ReadModels) -> None:
    recent = models.recent_decisions(limit=10)
    assert [d.transaction_id for d in recent] == ["tx4", "tx3", "tx2", "tx1"]
    assert recent[0].decided_at == T0 + 300 * S + 7 and recent[0].rules == ["promo_rush"]
    assert [d.transaction_id for d in models.recent_decisions(limit=1)] == ["tx4"]
    assert [d.transaction_id for d in models.recent_decisions(limit=9, action="block")] == ["tx3"]
    assert [d.transaction_id for d in models.recent_decisions(limit=9, user_id=LEGIT)] == [
        "tx4",
        "tx1",
    ]
    assert [d.transaction_id for d in models.recent_decisions(limit=9, before=T0 + 200 * S)] == [
        "tx2",
        "tx1",
    ]
    assert [a.transaction_id for a in models.recent_alerts(limit=10)] == ["tx3", "tx2"]


def test_rule_hits_and_precision(models: ReadModels) -> None:
    stats = {(r.rule, r.version, r.mode): r for r in models.rule_stats()}
    assert set(stats) == {
        ("new_device", 1, "live"),
        ("promo_rush", 2, "live"),
        ("velocity", 1, "shadow"),
    }
    new_device = stats[("new_device", 1, "live")]
    assert (new_device.hits, new_device.fraud_hits, new_device.legit_hits) == (2, 2, 0)
    assert new_device.precision == 1.0 and new_device.labelled_precision == 1.0
    promo = stats[("promo_rush", 2, "live")]
    assert (promo.hits, promo.fraud_hits, promo.legit_hits) == (2, 1, 1)
    assert promo.precision == 0.5 and promo.labelled_precision == 0.5
    velocity = stats[("velocity", 1, "shadow")]
    assert (velocity.hits, velocity.fraud_hits) == (1, 1)
    assert [r.rule for r in models.rule_stats(mode="shadow")] == ["velocity"]


def test_labels_before_their_decisions_count_the_same(
    store: QueryStore, log: EventLog, topics: TopicMap, tmp_path: Path
) -> None:
    # Labels and lifecycle first, decisions and checkouts last: the other order of topics.
    records = story()
    late = {"risk.decisions", "risk.alerts", "events.checkout"}
    produce(log, topics, [r for r in records if r.topic not in late])
    project(store, log, topics).close()
    produce(log, topics, [r for r in records if r.topic in late])
    project(store, log, topics).close()
    assert dump(store) == _story_dump(log, topics, tmp_path)
    promo = {(r.rule, r.mode): r for r in ReadModels(store).rule_stats()}[("promo_rush", "live")]
    assert (promo.hits, promo.fraud_hits, promo.legit_hits) == (2, 1, 1)


def test_the_same_records_twice_give_the_same_views(
    store_url: str, log: EventLog, topics: TopicMap, tmp_path: Path
) -> None:
    produce(log, topics, story())
    once = open_store(store_url)
    project(once, log, topics).close()
    expected = dump(once)
    once.close()

    # Every record logged a second time (a producer retrying everything): new offsets, the
    # same event and decision ids. A second store projects the doubled log.
    produce(log, topics, story())
    twice = open_store(f"sqlite:{tmp_path / 'twice.db'}")
    projector = project(twice, log, topics)
    assert sum(projector.stats.duplicates.values()) > 0
    projector.close()
    assert dump(twice) == expected
    twice.close()

    # And the first store, reading on from where it stopped, folds the copies to nothing.
    again = open_store(store_url)
    projector = project(again, log, topics)
    assert projector.records == len(story())
    projector.close()
    assert dump(again) == expected
    again.close()


def test_a_projector_resumes_from_the_offsets_in_the_store(
    store: QueryStore, log: EventLog, topics: TopicMap, tmp_path: Path
) -> None:
    records = story()
    produce(log, topics, records[:12])
    project(store, log, topics).close()
    produce(log, topics, records[12:])
    # Another group reads everything from the log start: the views' own offsets say what
    # they hold, so the first records are not folded twice.
    stranger = project(store, log, topics, group_id=f"other-{uuid.uuid4().hex[:6]}")
    assert stranger.records == len(records)
    assert sum(stranger.stats.replayed.values()) > 0
    stranger.close()
    # The first group resumes where the store says it stopped; the stranger folded the rest.
    resumed = project(store, log, topics)
    assert resumed.records == len(records) - 12
    assert sum(resumed.stats.applied.values()) == 0
    resumed.close()
    assert dump(store) == _story_dump(log, topics, tmp_path)


def _story_dump(
    log: EventLog, topics: TopicMap, directory: Path
) -> dict[str, list[tuple[object, ...]]]:
    """The views of the log's records, projected once into a fresh SQLite store."""
    fresh = open_store(f"sqlite:{directory / f'fresh-{uuid.uuid4().hex[:6]}.db'}")
    try:
        project(fresh, log, topics, group_id=f"fresh-{uuid.uuid4().hex[:6]}").close()
        return dump(fresh)
    finally:
        fresh.close()


def test_rebuilt_views_equal_live_ones_and_no_group_offset_moves(
    store: QueryStore, log: EventLog, topics: TopicMap, tmp_path: Path
) -> None:
    records = story()
    produce(log, topics, records[:15])
    live = project(store, log, topics)
    live.close()  # commits the group's offsets
    committed = _committed(log, topics)
    produce(log, topics, records[15:])  # the live projector has not read these yet

    report = rebuild(store, log, topics=topics)
    assert report.views == ["users", "transactions", "decisions", "alerts", "rules"]
    assert report.records == len(records)
    assert _committed(log, topics) == committed  # the rebuild read without the group

    rebuilt = dump(store)
    assert rebuilt == _story_dump(log, topics, tmp_path)  # rebuilt from the whole log...
    resumed = project(store, log, topics)  # ...and the live projector skips what it holds
    assert resumed.records == len(records) - 15
    assert sum(resumed.stats.applied.values()) == 0
    resumed.close()
    assert dump(store) == rebuilt

    # Rebuilding once more, everything projected, changes nothing.
    rebuild(store, log, ["rules"], topics=topics)
    assert dump(store) == rebuilt
    views, lag = view_status(store, log, topics=topics)
    assert lag == 0
    assert all(v.current and not v.rebuilding and v.lag == 0 for v in views)


def test_a_rebuild_behind_a_running_projector_catches_up_before_swapping(
    store: QueryStore, log: EventLog, topics: TopicMap, tmp_path: Path
) -> None:
    records = story()
    produce(log, topics, records[:10])
    live = project(store, log, topics)
    batches = iter([records[10:20], records[20:]])

    def more_arrive(_: int) -> None:
        # While the rebuild reads, records arrive and the live projector folds them first.
        batch = next(batches, None)
        if batch is not None:
            produce(log, topics, batch)
            live.catch_up()

    report = rebuild(
        store, log, ["users", "rules"], topics=topics, max_batch=4, progress=more_arrive
    )
    assert report.records == sum(1 for r in records if r.topic != "risk.alerts")  # not theirs
    assert report.handover_attempts >= 1
    live.catch_up()
    live.close()
    assert dump(store) == _story_dump(log, topics, tmp_path)


def test_a_stopped_or_superseded_rebuild_leaves_the_live_views_alone(
    store: QueryStore, log: EventLog, topics: TopicMap
) -> None:
    produce(log, topics, story())
    project(store, log, topics).close()
    live = dump(store)
    with pytest.raises(RebuildError, match="stopped"):
        rebuild(store, log, ["users"], topics=topics, should_stop=lambda: True)
    assert dump(store) == live

    # A second rebuild of the same view, started while the first one reads, takes over.
    second: list[RebuildReport] = []

    def start_another(_: int) -> None:
        if not second:
            second.append(rebuild(store, log, ["users"], topics=topics))

    with pytest.raises(RebuildError, match="superseded"):
        rebuild(store, log, ["users"], topics=topics, max_batch=3, progress=start_another)
    assert second and second[0].records > 0
    assert dump(store) == live
    with store.read() as tx:  # no shadow table is left behind
        names = {row[0] for row in tx.execute(_TABLES[store.dialect])}
    assert not [name for name in names if "__r" in name]
    views, _ = view_status(store, log, topics=topics)
    assert not any(v.rebuilding for v in views)


_TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
}


def test_undecodable_records_are_skipped_and_counted(
    store: QueryStore, log: EventLog, topics: TopicMap, tmp_path: Path
) -> None:
    producer = log.producer()
    producer.produce(topics.actual("risk.decisions"), b"{not json", FRAUD.encode())
    producer.produce(topics.actual("events.label"), b'{"type": "chargeback"}', FRAUD.encode())
    producer.flush(10)
    producer.close()
    produce(log, topics, story())
    projector = project(store, log, topics)
    assert projector.undecodable == 2
    projector.close()
    assert dump(store) == _story_dump(log, topics, tmp_path)


def _committed(log: EventLog, topics: TopicMap) -> dict[TopicPartition, int | None]:
    consumer = log.consumer(DEFAULT_GROUP)
    try:
        described = log.admin.describe_topics(
            [topics.actual(t) for t in ("risk.decisions", "events.label")]
        )
        tps = [TopicPartition(n, p) for n, s in described.items() for p in range(s.partitions)]
        return consumer.committed(tps)
    finally:
        consumer.close()


@pytest.mark.kafka
def test_projector_on_kafka(kafka_bootstrap: str, tmp_path: Path) -> None:
    kafka = open_log(f"kafka://{kafka_bootstrap}")
    names = namespace()
    created = create_topics(kafka, names)
    store = open_store(f"sqlite:{tmp_path / 'query.db'}")
    try:
        produce(kafka, names, story())
        group = f"projections-{uuid.uuid4().hex[:8]}"
        projector = project(store, kafka, names, group_id=group)
        projector.close()
        models = ReadModels(store)
        summary = models.user_summary(FRAUD)
        assert summary is not None and summary.by_action["block"] == 1
        assert [a.transaction_id for a in models.recent_alerts(limit=5)] == ["tx3", "tx2"]
        live = dump(store)
        rebuild(store, kafka, topics=names)
        assert dump(store) == live
        # The group's committed offsets are where the store says (for lag tools).
        consumer = kafka.consumer(group)
        try:
            described = kafka.admin.describe_topics([names.actual("risk.decisions")])
            for name, spec in described.items():
                for number in range(spec.partitions):
                    tp = TopicPartition(name, number)
                    low, high = consumer.watermarks(tp)
                    expected = None if high == low else high
                    assert consumer.committed([tp])[tp] == expected
        finally:
            consumer.close()
    finally:
        store.close()
        kafka.admin.delete_topics(created)
        kafka.close()

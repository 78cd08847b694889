"""What only the Kafka backend has to prove, against the real broker from scripts/kafka.sh.

The broker comes from ``RISKSTREAM_KAFKA_BOOTSTRAP`` (the ``kafka_bootstrap`` fixture fails
the run when it is unset). Every test works on its own uuid-named topics.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import msgspec
import pytest

from riskstream.errors import (
    CommitFailedError,
    ConfigError,
    NotAssignedError,
    ProduceError,
    TopicExistsError,
    UnknownTopicError,
)
from riskstream.log import (
    DeliveryReport,
    Record,
    TopicPartition,
    TopicSpec,
    open_log,
    partition_for,
)
from riskstream.log.kafka import KafkaConsumer, KafkaLog
from riskstream.log.kafka.config import consumer_config, producer_config, split_options

pytestmark = pytest.mark.kafka


class _Topics:
    """Creates uniquely named topics on a log and drops them afterwards."""

    def __init__(self, log: KafkaLog) -> None:
        self.log = log
        self.names: list[str] = []

    def create(self, partitions: int = 1, **spec: object) -> str:
        name = f"it-{uuid.uuid4().hex[:12]}"
        self.create_specs([TopicSpec(name=name, partitions=partitions, **spec)])  # type: ignore[arg-type]
        return name

    def create_specs(self, specs: list[TopicSpec]) -> None:
        self.log.admin.create_topics(specs)
        self.names.extend(spec.name for spec in specs)

    def drop(self) -> None:
        existing = set(self.log.admin.list_topics())
        self.log.admin.delete_topics([name for name in self.names if name in existing])


@pytest.fixture
def log(kafka_bootstrap: str) -> Iterator[KafkaLog]:
    kafka = KafkaLog(kafka_bootstrap)
    yield kafka
    kafka.close()


@pytest.fixture
def topics(log: KafkaLog) -> Iterator[_Topics]:
    made = _Topics(log)
    yield made
    made.drop()


def _fill(log: KafkaLog, topic: str, values: list[bytes]) -> None:
    producer = log.producer()
    for i, value in enumerate(values):
        producer.produce(topic, value, f"user-{i % 97}".encode())
    assert producer.flush(30) == 0
    producer.close()


def _poll_until(
    consumers: list[KafkaConsumer], done: Callable[[], bool], timeout: float = 60.0
) -> Iterator[tuple[KafkaConsumer, Record]]:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "condition not reached in time"
        for consumer in consumers:
            for record in consumer.poll(max_records=500, timeout=0.05):
                yield consumer, record


# -- options ----------------------------------------------------------------------------


def test_options_pass_through_and_prefixed_keys_reach_one_client_kind() -> None:
    options = split_options(
        {
            "security.protocol": "PLAINTEXT",
            "client.id": "riskstream-it",
            "producer.compression.type": "zstd",
            "producer.linger.ms": "50",
            "consumer.fetch.wait.max.ms": "20",
            "admin.request.timeout.ms": "5000",
        }
    )
    producer = producer_config("h:1", options, linger_ms=7)
    consumer = consumer_config(
        "h:1", options, group_id="g", auto_offset_reset="latest", session_timeout_ms=9_000
    )
    assert producer["security.protocol"] == consumer["security.protocol"] == "PLAINTEXT"
    assert producer["client.id"] == consumer["client.id"] == "riskstream-it"
    assert producer["compression.type"] == "zstd"
    assert "compression.type" not in consumer
    assert "fetch.wait.max.ms" not in producer
    assert consumer["fetch.wait.max.ms"] == "20"
    assert "request.timeout.ms" not in producer and "request.timeout.ms" not in consumer
    # The port's arguments name their value explicitly and win over options.
    assert producer["linger.ms"] == "7"
    assert producer["partitioner"] == "murmur2_random"
    assert (producer["enable.idempotence"], producer["acks"]) == ("true", "all")
    assert consumer["group.id"] == "g"
    assert consumer["auto.offset.reset"] == "latest"
    assert (consumer["session.timeout.ms"], consumer["heartbeat.interval.ms"]) == ("9000", "3000")
    assert consumer["enable.auto.commit"] == "false"
    assert consumer["enable.partition.eof"] == "true"
    assert consumer["isolation.level"] == "read_committed"
    assert consumer["partition.assignment.strategy"] == "cooperative-sticky"
    # KIP-848 groups: the broker owns assignment and session timing.
    kip848 = consumer_config(
        "h:1",
        split_options({"consumer.group.protocol": "consumer"}),
        group_id="g",
        auto_offset_reset="earliest",
        session_timeout_ms=9_000,
    )
    assert kip848["group.protocol"] == "consumer"
    assert not {"partition.assignment.strategy", "session.timeout.ms"} & set(kip848)


def test_options_that_break_the_port_are_refused(kafka_bootstrap: str) -> None:
    with pytest.raises(ConfigError):
        KafkaLog(kafka_bootstrap, {"consumer.enable.auto.commit": "true"}).consumer("g")
    with pytest.raises(ConfigError):
        KafkaLog(kafka_bootstrap, {"partition.assignment.strategy": "range"}).consumer("g")
    with pytest.raises(ConfigError):
        KafkaLog(kafka_bootstrap, {"producer.no.such.property": "1"}).producer()


def test_url_options_reach_working_clients(kafka_bootstrap: str) -> None:
    url = (
        f"kafka://{kafka_bootstrap}?security.protocol=PLAINTEXT"
        "&producer.compression.type=zstd&consumer.fetch.wait.max.ms=20"
    )
    log = open_log(url, options={"client.id": "riskstream-url"})
    assert isinstance(log, KafkaLog)
    assert log.url.startswith(f"kafka://{kafka_bootstrap}?")
    assert "producer.compression.type=zstd" in log.url
    name = f"it-{uuid.uuid4().hex[:12]}"
    log.admin.create_topics([TopicSpec(name=name)])
    try:
        producer = log.producer()
        for i in range(100):
            producer.produce(name, b"z" * 200, f"k{i}".encode())
        assert producer.flush(30) == 0
        consumer = log.consumer()
        consumer.assign([TopicPartition(name, 0)])
        got: list[Record] = []
        deadline = time.monotonic() + 30
        while len(got) < 100:
            assert time.monotonic() < deadline
            got.extend(consumer.poll(max_records=100, timeout=0.2))
        assert [r.value for r in got] == [b"z" * 200] * 100
    finally:
        log.admin.delete_topics([name])
        log.close()


def test_url_masks_credentials(kafka_bootstrap: str) -> None:
    log = KafkaLog(kafka_bootstrap, {"sasl.username": "svc", "sasl.password": "hunter2"})
    assert "hunter2" not in log.url
    assert "sasl.username=svc" in log.url
    log.close()


# -- partitioning -----------------------------------------------------------------------


def test_delivery_reports_land_keys_where_partition_for_says(
    log: KafkaLog, topics: _Topics
) -> None:
    partitions = 7
    topic = topics.create(partitions)
    keys = [f"user-{i}".encode() for i in range(990)]
    keys += [b"", b"a", b"ab", b"abc", b"\x00\xff\x10", "ключ".encode(), b"x" * 257]
    keys += [uuid.uuid4().bytes for _ in range(3)]
    assert len(keys) == 1000
    reports: list[DeliveryReport] = []
    producer = log.producer(on_delivery=reports.append)
    for key in keys:
        producer.produce(topic, b"v", key)
    assert producer.flush(30) == 0
    assert len(reports) == len(keys) and all(r.ok for r in reports)
    placed = {r.key: r.partition for r in reports}
    assert placed == {key: partition_for(key, partitions) for key in keys}
    assert set(placed.values()) == set(range(partitions))


def test_failed_delivery_reports_carry_the_error(kafka_bootstrap: str) -> None:
    log = KafkaLog(kafka_bootstrap, {"producer.message.timeout.ms": "1000"})
    reports: list[DeliveryReport] = []
    producer = log.producer(on_delivery=reports.append)
    producer.produce(f"missing-{uuid.uuid4().hex}", b"v", b"k")  # no such topic
    assert producer.flush(30) == 0
    [report] = reports
    assert not report.ok
    assert report.error is not None and "timed out" in report.error.lower()
    assert (report.key, report.partition, report.offset) == (b"k", -1, -1)
    with pytest.raises(ProduceError):
        producer.produce(f"missing-{uuid.uuid4().hex}", b"v" * 2_000_000)  # over the size limit
    log.close()


# -- consumer groups --------------------------------------------------------------------


class _Group:
    """Members of one consumer group that commit in on_revoke and log every rebalance."""

    def __init__(self, log: KafkaLog, topic: str) -> None:
        self.log, self.topic, self.group = log, topic, f"g-{topic}"
        self.events: list[tuple[str, str, frozenset[TopicPartition]]] = []
        self.seen: set[tuple[int, int]] = set()
        self.duplicates: list[tuple[int, int]] = []

    def join(self, name: str) -> KafkaConsumer:
        consumer = self.log.consumer(self.group, session_timeout_ms=6_000)

        def assigned(tps: list[TopicPartition]) -> None:
            self.events.append((name, "assign", frozenset(tps)))

        def revoked(tps: list[TopicPartition]) -> None:
            consumer.commit()  # the port's rule: commit what was processed before letting go
            self.events.append((name, "revoke", frozenset(tps)))

        consumer.subscribe([self.topic], on_assign=assigned, on_revoke=revoked)
        return consumer

    def changes(self, name: str, kind: str) -> list[frozenset[TopicPartition]]:
        return [tps for who, what, tps in self.events if (who, what) == (name, kind)]

    def read(self, members: list[KafkaConsumer], done: Callable[[], bool]) -> list[Record]:
        records: list[Record] = []
        for _, record in _poll_until(members, done):
            where = (record.partition, record.offset)
            if where in self.seen:
                self.duplicates.append(where)
            self.seen.add(where)
            records.append(record)
        return records


def test_cooperative_rebalance_splits_and_hands_over_without_loss_or_rereads(
    log: KafkaLog, topics: _Topics
) -> None:
    topic = topics.create(6)
    everything = {TopicPartition(topic, p) for p in range(6)}
    _fill(log, topic, [f"v{i}".encode() for i in range(1200)])
    group = _Group(log, topic)

    # a alone: all six partitions; it reads part of the log and commits.
    a = group.join("a")
    group.read([a], lambda: len(group.seen) >= 300 and set(a.assignment()) == everything)
    a.commit()
    assert group.events == [("a", "assign", frozenset(everything))]

    # b joins. Cooperative: a gives up exactly the three partitions b gains, keeps the rest.
    b = group.join("b")
    group.read([a, b], lambda: len(a.assignment()) == 3 and len(b.assignment()) == 3)
    assert (
        group.changes("a", "revoke") == group.changes("b", "assign") == [frozenset(b.assignment())]
    )
    assert set(a.assignment()) | set(b.assignment()) == everything
    with pytest.raises(CommitFailedError):
        a.commit({min(b.assignment()): 0})

    group.read([a, b], lambda: len(group.seen) >= 1200)
    assert group.duplicates == []  # b started exactly where a committed in on_revoke
    a.commit()
    b.commit()

    # b leaves: its on_revoke commits, a takes over from b's committed offsets.
    b_had = frozenset(b.assignment())
    b.close()
    assert group.events[-1] == ("b", "revoke", b_had)
    group.read([a], lambda: set(a.assignment()) == everything)
    assert group.events[-1] == ("a", "assign", b_had)

    _fill(log, topic, [f"new{i}".encode() for i in range(120)])
    fresh = group.read([a], lambda: len(group.seen) >= 1320)
    assert sorted(r.value or b"" for r in fresh) == sorted(f"new{i}".encode() for i in range(120))
    assert group.duplicates == []
    a.commit()
    assert a.committed(sorted(everything)) == {tp: a.watermarks(tp)[1] for tp in everything}
    a.close()


def test_lost_partitions_reach_on_revoke_already_disowned(
    kafka_bootstrap: str, topics: _Topics
) -> None:
    topic = topics.create(2)
    # Exceeding the poll interval makes librdkafka drop out of the group: an assignment lost.
    log = KafkaLog(kafka_bootstrap, {"consumer.max.poll.interval.ms": "6000"})
    consumer = log.consumer(f"g-{topic}", session_timeout_ms=6_000)
    revoked: list[tuple[list[TopicPartition], list[TopicPartition], str]] = []

    def on_revoke(tps: list[TopicPartition]) -> None:
        consumer.commit()  # commits only what is still owned
        try:
            consumer.commit({tps[0]: 0})
            outcome = "committed"
        except CommitFailedError:
            outcome = "refused"
        revoked.append((tps, consumer.assignment(), outcome))

    consumer.subscribe([topic], on_revoke=on_revoke)
    list(_poll_until([consumer], lambda: len(consumer.assignment()) == 2, timeout=30))
    time.sleep(7.5)
    list(_poll_until([consumer], lambda: bool(revoked) and len(consumer.assignment()) == 2))
    both = sorted(TopicPartition(topic, p) for p in range(2))
    assert revoked == [(both, [], "refused")]
    consumer.close()
    log.close()


def test_seek_inside_on_assign_sets_the_starting_offset(log: KafkaLog, topics: _Topics) -> None:
    topic = topics.create(2)
    _fill(log, topic, [f"v{i}".encode() for i in range(200)])
    consumer = log.consumer(f"g-{topic}")
    starts: dict[TopicPartition, int] = {}

    def assigned(tps: list[TopicPartition]) -> None:
        for tp in tps:
            assert consumer.position(tp) == 0  # no commit yet: auto.offset.reset=earliest
            target = consumer.watermarks(tp)[1] - 5
            consumer.seek(tp, target)
            assert consumer.position(tp) == target
            starts[tp] = target

    consumer.subscribe([topic], on_assign=assigned)
    first: dict[TopicPartition, int] = {}
    for _, record in _poll_until([consumer], lambda: len(first) == 2, timeout=30):
        first.setdefault(record.topic_partition, record.offset)
    assert first == starts
    consumer.close()


def test_seek_right_after_assign_and_at_end(log: KafkaLog, topics: _Topics) -> None:
    topic = topics.create()
    _fill(log, topic, [f"v{i}".encode() for i in range(50)])
    tp = TopicPartition(topic, 0)
    consumer = log.consumer()
    consumer.assign([tp])
    consumer.seek(tp, 40)  # the fetcher has not started yet
    assert consumer.position(tp) == 40
    got = [r for _, r in _poll_until([consumer], lambda: tp in consumer.at_end(), timeout=30)]
    assert [r.offset for r in got] == list(range(40, 50))
    assert consumer.position(tp) == 50
    consumer.seek(tp, 50)
    list(_poll_until([consumer], lambda: tp in consumer.at_end(), timeout=30))
    with pytest.raises(NotAssignedError):
        consumer.seek(TopicPartition(topic, 1), 0)
    with pytest.raises(ValueError, match="group_id"):
        consumer.commit()
    consumer.close()


def test_poll_returns_as_soon_as_records_arrive(log: KafkaLog, topics: _Topics) -> None:
    topic = topics.create()
    tp = TopicPartition(topic, 0)
    consumer = log.consumer(auto_offset_reset="latest")
    consumer.assign([tp])
    list(_poll_until([consumer], lambda: tp in consumer.at_end(), timeout=30))
    producer = log.producer(linger_ms=0)
    producer.produce(topic, b"one", b"k")
    assert producer.flush(10) == 0
    started = time.monotonic()
    records = consumer.poll(max_records=1000, timeout=10.0)
    assert [r.value for r in records] == [b"one"]
    assert time.monotonic() - started < 3.0  # not the full timeout waiting for a full batch
    consumer.close()


# -- admin ------------------------------------------------------------------------------


def test_describe_topics_round_trips_specs(log: KafkaLog, topics: _Topics) -> None:
    specs = [
        TopicSpec(
            name=f"it-{uuid.uuid4().hex[:12]}",
            partitions=3,
            compacted=True,
            retention_ms=3_600_000,
            retention_bytes=10_485_760,
            config={"segment.bytes": "1048576", "max.message.bytes": "2000000"},
        ),
        TopicSpec(name=f"it-{uuid.uuid4().hex[:12]}", partitions=2, compacted=True),
        TopicSpec(name=f"it-{uuid.uuid4().hex[:12]}"),
    ]
    topics.create_specs(specs)
    described = log.admin.describe_topics([spec.name for spec in specs])
    for spec in specs:
        found = described[spec.name]
        assert found.replication_factor is not None and found.replication_factor >= 1
        assert found == msgspec.structs.replace(spec, replication_factor=found.replication_factor)
    listed = log.admin.list_topics()
    assert {spec.name for spec in specs} <= set(listed)
    assert not any(name.startswith("__") for name in listed)
    assert {spec.name for spec in specs} <= set(log.admin.describe_topics())

    with pytest.raises(TopicExistsError):
        log.admin.create_topics([specs[2]])
    with pytest.raises(UnknownTopicError):
        log.admin.describe_topics([f"missing-{uuid.uuid4().hex}"])
    with pytest.raises(UnknownTopicError):
        log.admin.delete_topics([f"missing-{uuid.uuid4().hex}"])


# -- transactions -----------------------------------------------------------------------


def test_transactional_producer_and_read_committed_consumer(kafka_bootstrap: str) -> None:
    log = KafkaLog(kafka_bootstrap, {"producer.transactional.id": f"tx-{uuid.uuid4().hex}"})
    topic = f"it-{uuid.uuid4().hex[:12]}"
    log.admin.create_topics([TopicSpec(name=topic)])
    try:
        producer = log.producer()
        producer.begin_transaction()
        for i in range(5):
            producer.produce(topic, f"aborted{i}".encode(), b"k")
        producer.abort_transaction()
        producer.begin_transaction()
        for i in range(3):
            producer.produce(topic, f"committed{i}".encode(), b"k")
        producer.commit_transaction()

        tp = TopicPartition(topic, 0)
        consumer = log.consumer()  # isolation.level=read_committed by default
        consumer.assign([tp])
        got = [r for _, r in _poll_until([consumer], lambda: tp in consumer.at_end(), timeout=30)]
        assert [r.value for r in got] == [f"committed{i}".encode() for i in range(3)]
        consumer.close()
        producer.close()
    finally:
        log.admin.delete_topics([topic])
        log.close()

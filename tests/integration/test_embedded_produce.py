"""Embedded log: producing, delivery reports, batching and topic administration."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from riskstream.errors import (
    ConfigError,
    LogClosedError,
    TopicExistsError,
    UnknownTopicError,
)
from riskstream.log import (
    Admin,
    Consumer,
    DeliveryReport,
    EventLog,
    Producer,
    Record,
    TopicPartition,
    TopicSpec,
    open_log,
)
from riskstream.log.embedded import EmbeddedLog


@pytest.fixture
def log(tmp_path: Path) -> Iterator[EmbeddedLog]:
    embedded = EmbeddedLog(tmp_path / "log")
    yield embedded
    embedded.close()


def read_partition(log: EmbeddedLog, topic: str, partition: int = 0) -> list[Record]:
    """Everything in one partition, read until the end."""
    consumer = log.consumer()
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    out: list[Record] = []
    while tp not in consumer.at_end():
        out.extend(consumer.poll(1000, 0.0))
    consumer.close()
    return out


def test_open_log_routes_to_the_embedded_backend_and_url_round_trips(tmp_path: Path) -> None:
    log = open_log(f"embedded:{tmp_path / 'a'}")
    assert isinstance(log, EmbeddedLog)
    assert isinstance(log, EventLog)
    assert isinstance(log.admin, Admin)
    assert isinstance(log.producer(), Producer)
    assert isinstance(log.consumer(), Consumer)
    again = open_log(log.url)
    assert isinstance(again, EmbeddedLog)
    assert again.path == log.path == (tmp_path / "a").resolve()
    log.close()
    again.close()


def test_records_survive_reopening(tmp_path: Path) -> None:
    with EmbeddedLog(tmp_path / "log") as log:
        log.admin.create_topics([TopicSpec(name="t", partitions=2)])
        producer = log.producer()
        for i in range(10):
            producer.produce("t", f"v{i}".encode(), f"k{i}".encode())
        producer.close()
    with EmbeddedLog(tmp_path / "log") as log:
        assert log.admin.describe_topics(["t"])["t"].partitions == 2
        total = read_partition(log, "t", 0) + read_partition(log, "t", 1)
        assert sorted(r.value for r in total if r.value) == sorted(
            f"v{i}".encode() for i in range(10)
        )


def test_reports_wait_for_linger_or_flush_and_come_in_produce_order(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t", partitions=4)])
    reports: list[DeliveryReport] = []
    producer = log.producer(on_delivery=reports.append, linger_ms=60_000)
    keys = [f"user-{i}".encode() for i in range(50)]
    for key in keys:
        producer.produce("t", b"x", key)
    assert producer.poll(0) == 0  # linger not over: nothing written, nothing reported
    assert read_partition(log, "t", 0) == []
    assert producer.flush() == 0
    assert [r.key for r in reports] == keys
    per_partition: dict[int, list[int]] = {}
    for report in reports:
        per_partition.setdefault(report.partition, []).append(report.offset)
    assert all(offsets == list(range(len(offsets))) for offsets in per_partition.values())


def test_linger_expiry_writes_on_the_next_produce_or_poll(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t")])
    reports: list[DeliveryReport] = []
    producer = log.producer(on_delivery=reports.append, linger_ms=20)
    producer.produce("t", b"a")
    assert producer.poll(0) == 0
    assert producer.poll(1.0) == 1  # waits out the linger, writes, serves
    assert reports[0].offset == 0
    producer.produce("t", b"b")
    time.sleep(0.03)
    producer.produce("t", b"c")  # notices the expired linger and writes both
    assert [r.value for r in read_partition(log, "t")] == [b"a", b"b", b"c"]
    assert producer.poll(0) == 2


def test_a_full_batch_is_written_without_waiting(tmp_path: Path) -> None:
    with EmbeddedLog(tmp_path / "log", {"batch_records": "10"}) as log:
        log.admin.create_topics([TopicSpec(name="t")])
        producer = log.producer(linger_ms=60_000)
        for i in range(25):
            producer.produce("t", str(i).encode())
        assert len(read_partition(log, "t")) == 20
        assert producer.poll(0) == 20
        producer.close()
        assert len(read_partition(log, "t")) == 25


def test_timestamps_default_to_produce_time(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t")])
    producer = log.producer(linger_ms=60_000)
    before = time.time_ns() // 1_000_000
    producer.produce("t", b"now")
    after = time.time_ns() // 1_000_000
    time.sleep(0.02)
    producer.flush()
    (record,) = read_partition(log, "t")
    assert before <= record.timestamp <= after


def test_unwritable_records_come_back_as_error_reports(log: EmbeddedLog) -> None:
    log.admin.create_topics(
        [TopicSpec(name="t", partitions=2), TopicSpec(name="c", compacted=True)]
    )
    reports: list[DeliveryReport] = []
    producer = log.producer(on_delivery=reports.append)
    producer.produce("missing", b"x", b"k")
    producer.produce("t", b"x", b"k", partition=5)
    producer.produce("t", b"ok", b"k", partition=1)
    producer.produce("c", b"no key")
    assert producer.flush() == 0
    errors = {r.topic: r.error for r in reports if r.error}
    assert set(errors) == {"missing", "t", "c"}
    assert "unknown topic" in (errors["missing"] or "")
    assert "no partition 5" in (errors["t"] or "")
    assert "needs a key" in (errors["c"] or "")
    ok = [r for r in reports if r.ok]
    assert [(r.topic, r.partition, r.offset) for r in ok] == [("t", 1, 0)]


def test_wrong_types_raise_at_once(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t")])
    producer = log.producer()
    with pytest.raises(TypeError):
        producer.produce("t", "text")  # type: ignore[arg-type]  # the point of the test
    with pytest.raises(TypeError):
        producer.produce("t", b"v", "key")  # type: ignore[arg-type]  # the point of the test
    with pytest.raises(TypeError):
        producer.produce("t", b"v", timestamp=1.5)  # type: ignore[arg-type]  # the point
    with pytest.raises(TypeError):
        producer.produce("t", b"v", headers=(("h", "text"),))  # type: ignore[arg-type]  # ditto
    producer.produce("t", b"v", headers=[("h", b"1")])  # type: ignore[arg-type]  # lists are fine
    assert producer.flush() == 0
    assert read_partition(log, "t")[0].headers == (("h", b"1"),)


def test_closed_producer_and_log_refuse_work(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t")])
    producer = log.producer()
    producer.produce("t", b"last")
    producer.close()
    producer.close()  # idempotent
    with pytest.raises(LogClosedError):
        producer.produce("t", b"x")
    with pytest.raises(LogClosedError):
        producer.flush()
    assert [r.value for r in read_partition(log, "t")] == [b"last"]  # close flushed it
    log.close()
    with pytest.raises(LogClosedError):
        log.producer()


def test_log_close_flushes_its_producers(tmp_path: Path) -> None:
    log = EmbeddedLog(tmp_path / "log")
    log.admin.create_topics([TopicSpec(name="t")])
    producer = log.producer(linger_ms=60_000)
    producer.produce("t", b"pending")
    log.close()
    with EmbeddedLog(tmp_path / "log") as again:
        assert [r.value for r in read_partition(again, "t")] == [b"pending"]


def test_admin_create_describe_delete(log: EmbeddedLog) -> None:
    spec = TopicSpec(
        name="profiles",
        partitions=3,
        compacted=True,
        retention_ms=1000,
        retention_bytes=2000,
        config={"min.compaction.lag.ms": "5", "custom": "kept"},
    )
    log.admin.create_topics([spec, TopicSpec(name="other")])
    assert log.admin.describe_topics(["profiles"]) == {"profiles": spec}
    assert log.admin.list_topics() == ["other", "profiles"]
    with pytest.raises(TopicExistsError):
        log.admin.create_topics([TopicSpec(name="new"), TopicSpec(name="other")])
    assert "new" not in log.admin.list_topics()  # all or nothing
    log.admin.create_topics([TopicSpec(name="new"), TopicSpec(name="other")], exist_ok=True)
    log.admin.delete_topics(["other", "new"])
    assert log.admin.list_topics() == ["profiles"]
    with pytest.raises(UnknownTopicError):
        log.admin.delete_topics(["other"])
    with pytest.raises(UnknownTopicError):
        log.admin.describe_topics(["other"])
    (only,) = (log.path / "topics").iterdir()
    assert only.name.startswith("profiles.")


@pytest.mark.parametrize(
    "spec",
    [
        TopicSpec(name="bad name"),
        TopicSpec(name=".."),
        TopicSpec(name="x" * 250),
        TopicSpec(name="t", partitions=0),
        TopicSpec(name="t", retention_ms=0),
        TopicSpec(name="t", config={"delete.retention.ms": "soon"}),
    ],
)
def test_invalid_topic_specs_are_refused(log: EmbeddedLog, spec: TopicSpec) -> None:
    with pytest.raises(ConfigError):
        log.admin.create_topics([spec])


def test_long_topic_names_fit_the_file_system(log: EmbeddedLog) -> None:
    name = "n" * 249
    log.admin.create_topics([TopicSpec(name=name)])
    producer = log.producer()
    producer.produce(name, b"v")
    assert producer.flush() == 0
    assert len(read_partition(log, name)) == 1


def test_deleted_and_recreated_topic_is_found_by_a_running_producer(log: EmbeddedLog) -> None:
    log.admin.create_topics([TopicSpec(name="t", partitions=2)])
    reports: list[DeliveryReport] = []
    producer = log.producer(on_delivery=reports.append)
    producer.produce("t", b"old", partition=1)
    producer.flush()
    log.admin.delete_topics(["t"])
    producer.produce("t", b"lost")
    producer.flush()
    assert "unknown topic" in (reports.pop().error or "")
    log.admin.create_topics([TopicSpec(name="t", partitions=1)])
    producer.produce("t", b"new")
    producer.flush()
    assert (reports[-1].error, reports[-1].partition, reports[-1].offset) == (None, 0, 0)
    assert [r.value for r in read_partition(log, "t")] == [b"new"]
    assert len(list((log.path / "topics").glob("t.*.db"))) == 1


@pytest.mark.parametrize(
    "options",
    [{"fsync": "sometimes"}, {"nope": "1"}, {"page_size": "1000"}, {"batch_records": "0"}],
)
def test_bad_options_are_config_errors(tmp_path: Path, options: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        EmbeddedLog(tmp_path / "log", options)


def test_fsync_always_uses_full_synchronous_mode(tmp_path: Path) -> None:
    with EmbeddedLog(tmp_path / "log", {"fsync": "always"}) as log:
        log.admin.create_topics([TopicSpec(name="t")])
        producer = log.producer()
        producer.produce("t", b"v")
        assert producer.flush() == 0
        writer = producer._writers["t"]  # the connection the producer commits through
        assert writer.store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        producer.close()


@pytest.mark.parametrize("per_call", [False, True])
def test_a_raising_callback_leaves_the_other_reports_for_the_next_poll(
    log: EmbeddedLog, per_call: bool
) -> None:
    log.admin.create_topics([TopicSpec(name="t")])
    seen: list[int] = []

    def flaky(report: DeliveryReport) -> None:
        seen.append(report.offset)
        if report.offset == 2:
            raise RuntimeError("callback failed")

    producer = log.producer(on_delivery=None if per_call else flaky, linger_ms=60_000)
    for _ in range(5):
        producer.produce("t", b"x", on_delivery=flaky if per_call else None)
    with pytest.raises(RuntimeError):
        producer.flush()
    assert seen == [0, 1, 2]
    assert producer.poll(0) == 2
    assert seen == [0, 1, 2, 3, 4]
    producer.close()

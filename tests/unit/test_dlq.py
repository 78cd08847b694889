"""Dead-letter inspection and re-drive (library and CLI) on the memory and embedded logs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.errors import EventDecodeError, UnknownTopicError
from riskstream.log import Consumer, EventLog, Producer, Record, TopicPartition, TopicSpec, open_log
from riskstream.log.deadletter import send_to_dlq
from riskstream.log.dlq import (
    REDRIVEN_FROM_HEADER,
    DeadLetter,
    DeadLetterFilter,
    RedriveError,
    dlq_topics,
    preview,
    read_dead_letters,
    redrive,
    redrive_group,
    resolve_dlq_topic,
)

SOURCE = "events.login"
DLQ = "dlq.events.login"


@pytest.fixture(params=["memory", "embedded"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    opened = open_log("memory:" if request.param == "memory" else f"embedded:{tmp_path / 'log'}")
    opened.admin.create_topics(
        [TopicSpec(name=SOURCE, partitions=3), TopicSpec(name=DLQ, partitions=2)]
    )
    yield opened
    opened.close()


def _original(i: int, topic: str = SOURCE) -> Record:
    return Record(
        topic,
        i % 3,
        100 + i,
        1_700_000_000_000 + i,
        f"user-{i}".encode(),
        b'{"n": %d}' % i,
        (("trace", f"t{i}".encode()),),
    )


def _error(i: int) -> tuple[BaseException, str]:
    """Even records failed in step "score" with ValueError, odd ones failed to decode."""
    if i % 2:
        return EventDecodeError("expected int", path="$.n"), "decode"
    return ValueError(f"bad {i}"), "score"


def _dead_letter(log: EventLog, indices: range, topic: str = SOURCE) -> list[Record]:
    producer = log.producer()
    originals = [_original(i, topic) for i in indices]
    for i, record in zip(indices, originals, strict=True):
        error, step = _error(i)
        send_to_dlq(producer, record, error, step=step)
    assert producer.flush(10) == 0
    producer.close()
    return originals


def _read_all(log: EventLog, topic: str) -> list[Record]:
    consumer = log.consumer()
    partitions = log.admin.describe_topics([topic])[topic].partitions
    ends = {
        TopicPartition(topic, p): consumer.watermarks(TopicPartition(topic, p))[1]
        for p in range(partitions)
    }
    consumer.assign(list(ends))
    out: list[Record] = []
    expected = sum(ends.values())
    for _ in range(200):
        if len(out) >= expected:
            break
        out.extend(consumer.poll(max_records=1000, timeout=0.05))
    consumer.close()
    return sorted(out, key=lambda r: (r.partition, r.offset))


def _redriven_from(records: list[Record]) -> list[str]:
    return sorted(r.header(REDRIVEN_FROM_HEADER).decode() for r in records)  # type: ignore[union-attr]


# -- parsing and previews --------------------------------------------------------------------------


def test_dead_letter_parses_every_context_header() -> None:
    original = _original(1)
    record = Record(DLQ, 0, 7, original.timestamp, original.key, original.value, ())
    from riskstream.log.deadletter import dead_letter_headers  # noqa: PLC0415

    headers = dead_letter_headers(original, EventDecodeError("nope", path="$.n"), now_ms=42)
    letter = DeadLetter.from_record(Record(DLQ, 0, 7, 5, record.key, record.value, headers))
    assert letter.position == f"{DLQ}/0/7"
    assert (letter.topic, letter.partition, letter.offset) == (SOURCE, 1, 101)
    assert letter.source == f"{SOURCE}/1/101"
    assert (letter.step, letter.error, letter.path, letter.time) == (
        "decode",
        "EventDecodeError",
        "$.n",
        42,
    )
    assert letter.reason == "invalid event at $.n: nope"
    assert letter.timestamp == original.timestamp  # dlq.timestamp wins over the record's
    assert letter.headers == (("trace", b"t1"),)  # dlq.* stripped
    assert letter.redriven_from is None


def test_dead_letter_tolerates_missing_and_garbled_headers() -> None:
    bare = DeadLetter.from_record(Record(DLQ, 1, 3, 99, None, None, ()))
    assert (bare.topic, bare.partition, bare.offset, bare.error, bare.step) == (None,) * 5
    assert bare.timestamp == 99 and bare.source is None
    garbled = DeadLetter.from_record(
        Record(
            DLQ,
            0,
            0,
            1,
            b"k",
            b"v",
            (("dlq.topic", b"t\xff"), ("dlq.partition", b"x"), ("dlq.time", b"")),
        )
    )
    assert garbled.topic == "t\ufffd"
    assert garbled.partition is None and garbled.time is None
    assert garbled.source == "t\ufffd/-/-"


def test_preview_shows_bytes_safely_and_truncates() -> None:
    assert preview(b"hello") == "hello"
    assert preview(b"\x00\xff\n[bold]") == "\\x00\\xff\\n[bold]"
    assert preview("héllo".encode()) == "héllo"
    long = preview(b"x" * 500, 10)
    assert long == "x" * 9 + "…"
    assert preview(b"", 10) == ""


def test_filter_matches_error_class_and_step() -> None:
    letter = DeadLetter(
        dlq_topic=DLQ, dlq_partition=0, dlq_offset=0, key=None, value=None, timestamp=0,
        error="ValueError", step="score",
    )  # fmt: skip
    assert DeadLetterFilter()(letter)
    assert DeadLetterFilter(errors=frozenset({"ValueError", "KeyError"}))(letter)
    assert not DeadLetterFilter(errors=frozenset({"KeyError"}))(letter)
    assert DeadLetterFilter(steps=frozenset({"score"}), errors=frozenset({"ValueError"}))(letter)
    assert not DeadLetterFilter(steps=frozenset({"decode"}))(letter)


# -- inspection ------------------------------------------------------------------------------------


def test_dlq_topics_counts_every_dlq_topic(log: EventLog) -> None:
    log.admin.create_topics([TopicSpec(name="dlq.events.click"), TopicSpec(name="events.click")])
    _dead_letter(log, range(5))
    found = {t.name: t for t in dlq_topics(log)}
    assert set(found) == {DLQ, "dlq.events.click"}
    assert (found[DLQ].source, found[DLQ].partitions, found[DLQ].count) == (SOURCE, 2, 5)
    assert found["dlq.events.click"].count == 0
    assert [t.name for t in dlq_topics(log, [DLQ])] == [DLQ]


def test_read_dead_letters_by_dlq_or_source_name(log: EventLog) -> None:
    originals = _dead_letter(log, range(6))
    letters = read_dead_letters(log, SOURCE, limit=None)
    assert read_dead_letters(log, DLQ, limit=None) == letters
    assert [(d.dlq_partition, d.dlq_offset) for d in letters] == sorted(
        (d.dlq_partition, d.dlq_offset) for d in letters
    )
    by_offset = {d.offset: d for d in letters}
    assert set(by_offset) == {r.offset for r in originals}
    for record in originals:
        letter = by_offset[record.offset]
        error, step = _error(record.offset - 100)
        assert (letter.key, letter.value, letter.partition) == (
            record.key,
            record.value,
            record.partition,
        )
        assert (letter.error, letter.step) == (type(error).__name__, step)
        assert letter.path == ("$.n" if step == "decode" else None)
        assert letter.headers == record.headers
    assert len(read_dead_letters(log, DLQ, limit=4)) == 4
    assert read_dead_letters(log, DLQ, limit=4) == letters[:4]


def test_reading_disturbs_nothing(log: EventLog) -> None:
    _dead_letter(log, range(4))
    first = read_dead_letters(log, DLQ)
    assert read_dead_letters(log, DLQ) == first
    consumer = log.consumer(redrive_group(DLQ))
    assert set(consumer.committed([TopicPartition(DLQ, 0), TopicPartition(DLQ, 1)]).values()) == {
        None
    }
    consumer.close()
    assert redrive(log, DLQ).redriven == 4


def test_unknown_topic_is_an_error(log: EventLog) -> None:
    with pytest.raises(UnknownTopicError):
        resolve_dlq_topic(log, "events.nothing")
    with pytest.raises(UnknownTopicError):
        read_dead_letters(log, "dlq.events.nothing")
    assert resolve_dlq_topic(log, DLQ) == resolve_dlq_topic(log, SOURCE) == DLQ


# -- re-drive --------------------------------------------------------------------------------------


def test_redrive_reproduces_originals_with_traceable_headers(log: EventLog) -> None:
    originals = _dead_letter(log, range(6))
    progress: list[tuple[int, int]] = []
    result = redrive(log, SOURCE, progress=lambda done, total: progress.append((done, total)))
    assert (result.topic, result.group, result.dry_run) == (DLQ, redrive_group(DLQ), False)
    assert (result.redriven, result.skipped, result.targets) == (6, 0, {SOURCE: 6})
    assert progress[0] == (0, 6) and progress[-1] == (6, 6)
    back = _read_all(log, SOURCE)
    letters = {d.position: d for d in read_dead_letters(log, DLQ, limit=None)}
    assert _redriven_from(back) == sorted(letters)
    by_key = {r.key: r for r in back}
    for original in originals:
        again = by_key[original.key]
        letter = letters[again.header(REDRIVEN_FROM_HEADER).decode()]  # type: ignore[union-attr]
        assert (again.value, again.timestamp) == (original.value, original.timestamp)
        assert again.headers == (
            *original.headers,
            (REDRIVEN_FROM_HEADER, letter.position.encode()),
        )
        assert not any(
            name.startswith("dlq.") and name != REDRIVEN_FROM_HEADER for name, _ in again.headers
        )


def test_second_redrive_redrives_nothing_then_only_new_dead_letters(log: EventLog) -> None:
    _dead_letter(log, range(5))
    assert redrive(log, DLQ).redriven == 5
    assert redrive(log, DLQ).redriven == 0
    assert redrive(log, DLQ, dry_run=True).redriven == 0
    _dead_letter(log, range(5, 8))
    again = redrive(log, DLQ, batch_size=2)
    assert (again.redriven, again.skipped) == (3, 0)
    back = _read_all(log, SOURCE)
    assert len(back) == 8
    assert len(set(_redriven_from(back))) == 8  # every dead letter exactly once


def test_filters_and_dry_run(log: EventLog) -> None:
    _dead_letter(log, range(10))  # 5 ValueError/score, 5 EventDecodeError/decode
    dry = redrive(log, DLQ, where=DeadLetterFilter(errors=frozenset({"ValueError"})), dry_run=True)
    assert (dry.redriven, dry.skipped, dry.dry_run) == (5, 5, True)
    assert _read_all(log, SOURCE) == []  # a dry run produces nothing ...
    assert redrive(log, DLQ, dry_run=True).redriven == 10  # ... and commits nothing
    by_step = redrive(log, DLQ, where=DeadLetterFilter(steps=frozenset({"decode"})))
    assert (by_step.redriven, by_step.skipped, by_step.targets) == (5, 5, {SOURCE: 5})
    back = _read_all(log, SOURCE)
    assert {r.key for r in back} == {f"user-{i}".encode() for i in range(1, 10, 2)}
    # Skipped dead letters were passed over by the group: stay listed, are not re-driven.
    assert redrive(log, DLQ).redriven == 0
    assert len(read_dead_letters(log, DLQ, limit=None)) == 10


def test_redrive_to_another_topic(log: EventLog) -> None:
    log.admin.create_topics([TopicSpec(name="events.login.fixed", partitions=1)])
    _dead_letter(log, range(3))
    with pytest.raises(UnknownTopicError):
        redrive(log, DLQ, to="events.nowhere")
    with pytest.raises(ValueError, match="into itself"):
        redrive(log, DLQ, to=DLQ)
    result = redrive(log, DLQ, to="events.login.fixed")
    assert result.targets == {"events.login.fixed": 3}
    assert len(_read_all(log, "events.login.fixed")) == 3
    assert _read_all(log, SOURCE) == []


def test_missing_topic_header_falls_back_to_the_dlq_name(log: EventLog) -> None:
    producer = log.producer()
    producer.produce(DLQ, b"raw", b"k", headers=(("dlq.error", b"ValueError"),))
    producer.flush()
    producer.close()
    assert redrive(log, DLQ).targets == {SOURCE: 1}
    (back,) = _read_all(log, SOURCE)
    assert (back.key, back.value) == (b"k", b"raw")


def test_a_missing_source_topic_fails_before_producing(log: EventLog) -> None:
    log.admin.create_topics([TopicSpec(name="dlq.events.gone")])
    _dead_letter(log, range(2), topic="events.gone")
    with pytest.raises(RedriveError, match=r"events\.gone") as caught:
        redrive(log, "dlq.events.gone")
    assert caught.value.result.redriven == 0
    assert redrive(log, "dlq.events.gone", to=SOURCE).redriven == 2  # nothing was committed


def test_redrive_stops_at_the_end_it_started_from(log: EventLog) -> None:
    """Re-driven records that fail again land behind the end: the next run takes them."""
    _dead_letter(log, range(4))
    worker = log.producer()

    def fails_again(letter: DeadLetter) -> bool:
        assert letter.key is not None
        send_to_dlq(worker, _original(int(letter.key[5:]) + 50), ValueError("still broken"))
        worker.flush()
        return True

    assert redrive(log, DLQ, where=fails_again, batch_size=1).redriven == 4
    assert redrive(log, DLQ).redriven == 4
    worker.close()


class _FailingProducer:
    """Redirects the ``fail_at``-th record (1-based) to a missing topic: a failed delivery."""

    def __init__(self, inner: Producer, fail_at: int) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.count = 0

    def produce(
        self, topic: str, value: bytes | None, key: bytes | None = None, **kw: object
    ) -> None:
        self.count += 1
        target = "no.such.topic" if self.count == self.fail_at else topic
        self.inner.produce(target, value, key, **kw)  # type: ignore[arg-type]

    def poll(self, timeout: float = 0.0) -> int:
        return self.inner.poll(timeout)

    def flush(self, timeout: float | None = None) -> int:
        return self.inner.flush(timeout)

    def close(self) -> None:
        self.inner.close()


class _CrashingConsumer:
    """Raises on the ``crash_at``-th commit (1-based): a crash after acks, before the commit."""

    def __init__(self, inner: Consumer, crash_at: int) -> None:
        self.inner = inner
        self.crash_at = crash_at
        self.commits = 0

    def commit(self, offsets: object = None) -> None:
        self.commits += 1
        if self.commits == self.crash_at:
            raise RuntimeError("killed")
        self.inner.commit(offsets)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


class _FaultyLog:
    """A log whose producers fail one delivery, or whose consumers crash at one commit."""

    def __init__(self, inner: EventLog, *, fail_at: int = 0, crash_at: int = 0) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.crash_at = crash_at

    def producer(self, **kw: object) -> Producer:
        return _FailingProducer(self.inner.producer(**kw), self.fail_at)  # type: ignore[arg-type]

    def consumer(self, group_id: str | None = None, **kw: object) -> Consumer:
        inner = self.inner.consumer(group_id, **kw)  # type: ignore[arg-type]
        return _CrashingConsumer(inner, self.crash_at)  # type: ignore[return-value]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_unacknowledged_batch_is_not_committed(log: EventLog) -> None:
    _dead_letter(log, range(6))
    faulty = _FaultyLog(log, fail_at=5)  # batches of 2: the third batch fails
    with pytest.raises(RedriveError, match="1 of 2") as caught:
        redrive(faulty, DLQ, batch_size=2)  # type: ignore[arg-type]
    assert caught.value.result.redriven == 4
    rerun = redrive(log, DLQ, batch_size=2)
    assert rerun.redriven == 2  # only the failed batch again
    back = _redriven_from(_read_all(log, SOURCE))
    letters = sorted(d.position for d in read_dead_letters(log, DLQ, limit=None))
    assert sorted(set(back)) == letters  # none lost
    assert len(back) == 7  # the acknowledged half of the failed batch came twice


def test_crash_before_commit_redrives_at_most_that_batch(log: EventLog) -> None:
    _dead_letter(log, range(6))
    with pytest.raises(RuntimeError, match="killed"):
        redrive(_FaultyLog(log, crash_at=2), DLQ, batch_size=2)  # type: ignore[arg-type]
    assert redrive(log, DLQ, batch_size=2).redriven == 4
    back = _redriven_from(_read_all(log, SOURCE))
    assert len(back) == 8 and len(set(back)) == 6  # one batch of 2 re-driven twice


# -- the command line ------------------------------------------------------------------------------


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[str]:
    url = f"embedded:{tmp_path / 'cli-log'}"
    log = open_log(url)
    log.admin.create_topics(
        [TopicSpec(name=SOURCE, partitions=3), TopicSpec(name=DLQ, partitions=2)]
    )
    _dead_letter(log, range(6))
    log.close()
    yield url


def _cli(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["dlq", *args, "--json"])
    assert result.exit_code == 0, result.output
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def test_cli_list_topics_and_dead_letters(embedded: str) -> None:
    listed = _cli("list", "--log", embedded)
    assert listed["topics"] == {DLQ: {"source": SOURCE, "partitions": 2, "count": 6}}
    assert listed["total"] == 6
    shown = _cli("list", SOURCE, "--log", embedded, "--limit", "4")
    assert (shown["topic"], shown["count"], shown["shown"]) == (DLQ, 6, 4)
    letters = shown["dead_letters"]
    assert isinstance(letters, list) and len(letters) == 4
    first = letters[0]
    assert set(first) >= {
        *("topic", "partition", "offset", "time", "step", "error", "reason", "path"),
        *("key", "value", "value_size", "headers", "redriven_from"),
    }
    assert first["topic"] == SOURCE
    assert first["key"].startswith("user-")
    assert first["value"].startswith('{"n": ') and first["value_size"] == len(first["value"])
    assert first["headers"] == [["trace", "t" + first["key"].removeprefix("user-")]]
    assert {d["error"] for d in letters} <= {"ValueError", "EventDecodeError"}


def test_cli_redrive_dry_run_filter_and_second_run(embedded: str) -> None:
    dry = _cli("redrive", DLQ, "--log", embedded, "--dry-run")
    assert (dry["ok"], dry["dry_run"], dry["redriven"], dry["skipped"]) == (True, True, 6, 0)
    some = _cli("redrive", SOURCE, "--log", embedded, "--error", "ValueError", "--step", "score")
    assert (some["redriven"], some["skipped"], some["targets"]) == (3, 3, {SOURCE: 3})
    assert some["group"] == f"riskstream-dlq-redrive.{DLQ}"
    again = _cli("redrive", SOURCE, "--log", embedded)
    assert (again["redriven"], again["skipped"]) == (0, 0)
    log = open_log(embedded)
    assert len(_read_all(log, SOURCE)) == 3
    log.close()


def test_cli_human_output_and_errors(embedded: str) -> None:
    runner = CliRunner()
    table = runner.invoke(app, ["dlq", "list", DLQ, "--log", embedded])
    assert table.exit_code == 0 and "EventDecodeError" in table.stdout
    summary = runner.invoke(app, ["dlq", "redrive", DLQ, "--log", embedded, "--error", "Nope"])
    assert summary.exit_code == 0 and "6 skipped by filter" in summary.stderr
    missing = runner.invoke(app, ["dlq", "list", "events.nothing", "--log", embedded])
    assert missing.exit_code == 1 and "no dead-letter topic" in missing.stderr
    to_nowhere = runner.invoke(app, ["dlq", "redrive", DLQ, "--log", embedded, "--to", "x.y"])
    assert to_nowhere.exit_code == 1 and "no such topic" in to_nowhere.stderr

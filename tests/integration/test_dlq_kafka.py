"""Dead-letter inspection and re-drive against the real broker from scripts/kafka.sh.

The broker comes from ``RISKSTREAM_KAFKA_BOOTSTRAP`` (the ``kafka_bootstrap`` fixture fails
the run when it is unset). Every test works on its own uuid-named topics; dead letters are
made with ``send_to_dlq`` from records really read from the source topic.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.errors import EventDecodeError
from riskstream.log import EventLog, Record, TopicPartition, TopicSpec, open_log
from riskstream.log.deadletter import dlq_topic, send_to_dlq
from riskstream.log.dlq import (
    REDRIVEN_FROM_HEADER,
    DeadLetterFilter,
    dlq_topics,
    read_dead_letters,
    redrive,
    redrive_group,
)

pytestmark = pytest.mark.kafka


@pytest.fixture
def log(kafka_bootstrap: str) -> Iterator[EventLog]:
    kafka = open_log(f"kafka://{kafka_bootstrap}")
    yield kafka
    kafka.close()


@pytest.fixture
def source(log: EventLog) -> Iterator[str]:
    """A fresh source topic (3 partitions) and its dead-letter topic (2 partitions)."""
    name = f"it-dlq-{uuid.uuid4().hex[:12]}"
    log.admin.create_topics(
        [TopicSpec(name=name, partitions=3), TopicSpec(name=dlq_topic(name), partitions=2)]
    )
    yield name
    log.admin.delete_topics([name, dlq_topic(name)])


def _read(log: EventLog, topic: str, count: int, timeout: float = 30.0) -> list[Record]:
    """Exactly ``count`` records of ``topic`` (fails on timeout or on more), group-less."""
    consumer = log.consumer()
    partitions = log.admin.describe_topics([topic])[topic].partitions
    consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
    out: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        assert time.monotonic() < deadline, f"got {len(out)} of {count} from {topic}"
        out.extend(consumer.poll(max_records=1000, timeout=0.2))
    out.extend(consumer.poll(max_records=1000, timeout=1.0))  # nothing more may come
    consumer.close()
    assert len(out) == count
    return out


def _fill_and_dead_letter(
    log: EventLog, topic: str, indices: range, *, already: int = 0
) -> list[Record]:
    """Produce records ``indices`` to ``topic`` (holding ``already``), read back, dead-letter."""
    producer = log.producer()
    for i in indices:
        producer.produce(
            topic, b'{"n": %d}' % i, f"user-{i}".encode(), headers=(("trace", b"t%d" % i),)
        )
    assert producer.flush(30) == 0
    keys = {f"user-{i}".encode() for i in indices}
    originals = [r for r in _read(log, topic, already + len(indices)) if r.key in keys]
    assert len(originals) == len(indices)
    for record in originals:
        i = int(record.key[5:])  # type: ignore[index]
        if i % 2:
            send_to_dlq(producer, record, EventDecodeError("expected int", path="$.n"))
        else:
            send_to_dlq(producer, record, ValueError(f"bad {i}"), step="score")
    assert producer.flush(30) == 0
    producer.close()
    return originals


def test_list_read_and_redrive_on_kafka(log: EventLog, source: str) -> None:
    dlq = dlq_topic(source)
    originals = _fill_and_dead_letter(log, source, range(8))

    (found,) = [t for t in dlq_topics(log) if t.name == dlq]
    assert (found.source, found.partitions, found.count) == (source, 2, 8)

    letters = read_dead_letters(log, source, limit=None)
    assert len(letters) == 8 and read_dead_letters(log, dlq, limit=3) == letters[:3]
    by_source = {(d.partition, d.offset): d for d in letters}
    for record in originals:
        letter = by_source[(record.partition, record.offset)]
        assert (letter.topic, letter.key, letter.value) == (source, record.key, record.value)
        assert letter.headers == record.headers
        decode = int(record.key[5:]) % 2 == 1  # type: ignore[index]
        assert letter.error == ("EventDecodeError" if decode else "ValueError")
        assert letter.step == ("decode" if decode else "score")
        assert letter.path == ("$.n" if decode else None)

    # Reading committed nothing for the re-drive group.
    consumer = log.consumer(redrive_group(dlq))
    committed = consumer.committed([TopicPartition(dlq, 0), TopicPartition(dlq, 1)])
    consumer.close()
    assert set(committed.values()) == {None}

    dry = redrive(log, dlq, where=DeadLetterFilter(steps=frozenset({"score"})), dry_run=True)
    assert (dry.redriven, dry.skipped) == (4, 4)

    result = redrive(log, source, batch_size=3)
    assert (result.redriven, result.skipped, result.targets) == (8, 0, {source: 8})
    back = _read(log, source, 16)
    redriven = [r for r in back if r.header(REDRIVEN_FROM_HEADER) is not None]
    assert sorted(r.header(REDRIVEN_FROM_HEADER) for r in redriven) == sorted(  # type: ignore[type-var]
        d.position.encode() for d in letters
    )
    by_key = {r.key: r for r in originals}
    for again in redriven:
        original = by_key[again.key]
        assert (again.value, again.timestamp) == (original.value, original.timestamp)
        assert again.headers[:-1] == original.headers
        assert again.partition == original.partition  # same key, same partition

    # A second run re-drives nothing; new dead letters are re-driven, once.
    assert redrive(log, dlq).redriven == 0
    _fill_and_dead_letter(log, source, range(100, 102), already=16)
    assert redrive(log, dlq).redriven == 2
    assert redrive(log, dlq).redriven == 0
    assert len(_read(log, source, 16 + 2 + 2)) == 20


def test_cli_on_kafka(log: EventLog, source: str, kafka_bootstrap: str) -> None:
    dlq = dlq_topic(source)
    _fill_and_dead_letter(log, source, range(6))
    url = f"kafka://{kafka_bootstrap}"
    runner = CliRunner()

    def cli(*args: str) -> dict[str, object]:
        result = runner.invoke(app, ["dlq", *args, "--log", url, "--json"])
        assert result.exit_code == 0, result.output
        parsed: dict[str, object] = json.loads(result.stdout)
        return parsed

    listed = cli("list")
    assert listed["topics"][dlq] == {"source": source, "partitions": 2, "count": 6}  # type: ignore[index]
    shown = cli("list", dlq, "--limit", "5")
    assert (shown["count"], shown["shown"]) == (6, 5)
    assert {d["topic"] for d in shown["dead_letters"]} == {source}  # type: ignore[attr-defined]

    some = cli("redrive", source, "--error", "ValueError")
    assert (some["redriven"], some["skipped"], some["dry_run"]) == (3, 3, False)
    again = cli("redrive", source)
    assert (again["redriven"], again["skipped"]) == (0, 0)

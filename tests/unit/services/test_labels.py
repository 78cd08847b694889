"""Labels from label records: first time per transaction, unconfirmed reports ignored,
records that do not decode counted and skipped, sources merged by earliest time; and read
from a label topic of another name."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from riskstream.events import Chargeback, Event, FraudReported, Login, MfaCompleted, codec_for
from riskstream.log import TopicSpec, open_log
from riskstream.log.records import Record
from riskstream.services.labels import (
    DEFAULT_SOURCES,
    LABEL_TOPIC,
    REPORTED_FRAUD,
    Labels,
    collect_labels,
    label_sources,
    read_labels,
)

DAY = 86_400_000


def _records(events: Iterable[Event | bytes]) -> list[Record]:
    records = []
    for offset, event in enumerate(events):
        if isinstance(event, bytes):
            records.append(Record(LABEL_TOPIC, 0, offset, 0, b"u", event))
            continue
        value = codec_for(event.topic).encode(event)
        records.append(Record(event.topic, 0, offset, event.event_time, event.key, value))
    return records


def _chargeback(txid: str, at: int) -> Chargeback:
    return Chargeback(
        event_id=f"cb-{txid}-{at}", user_id="u", event_time=at, transaction_id=txid, amount=9.0
    )


def _report(txid: str, at: int, *, confirmed: bool = True) -> FraudReported:
    return FraudReported(
        event_id=f"fr-{txid}-{at}",
        user_id="u",
        event_time=at,
        transaction_id=txid,
        confirmed=confirmed,
    )


def test_first_label_time_per_transaction() -> None:
    records = _records(
        [
            _chargeback("t1", 5 * DAY),
            _report("t1", 2 * DAY),  # the earlier label counts
            _report("t2", 3 * DAY, confirmed=False),  # a claim, not a label
            _chargeback("t3", 4 * DAY),
            b"{not json",
            Login(
                event_id="l1",
                user_id="u",
                event_time=DAY,
                device_id="d",
                ip="1.2.3.4",
                country="FR",
            ),
        ]
    )
    labels = collect_labels(records)
    assert dict(labels.times) == {"t1": 2 * DAY, "t3": 4 * DAY}
    assert (len(labels), labels.events, labels.undecodable) == (2, 4, 1)


class _Denied:
    """Another kind of evidence (as MFA outcomes will be): a fixed finding."""

    topics: tuple[str, ...] = ("mfa.outcomes",)

    def collect(self, records: Iterable[Record]) -> Labels:
        return Labels({"t1": 1 * DAY, "t9": 7 * DAY}, events=2)


def test_sources_merge_by_earliest_time() -> None:
    records = _records([_chargeback("t1", 5 * DAY), _chargeback("t3", 4 * DAY)])
    labels = collect_labels(records, (REPORTED_FRAUD, _Denied()))
    assert dict(labels.times) == {"t1": DAY, "t3": 4 * DAY, "t9": 7 * DAY}
    assert labels.events == 4


def test_labels_on_a_label_topic_of_another_name() -> None:
    log = open_log("memory:")
    prefixed = "run-1." + LABEL_TOPIC
    log.admin.create_topics(
        [TopicSpec(name=LABEL_TOPIC, partitions=1), TopicSpec(name=prefixed, partitions=2)]
    )
    failed = MfaCompleted(
        event_id="m1",
        user_id="u",
        event_time=3 * DAY,
        transaction_id="t2",
        challenge_id="c2",
        passed=False,
    )
    encode = codec_for(LABEL_TOPIC).encode
    producer = log.producer()
    producer.produce(LABEL_TOPIC, encode(_chargeback("t0", DAY)), b"u")
    for event in (_chargeback("t1", 2 * DAY), failed):
        producer.produce(prefixed, encode(event), b"u")
    producer.flush()
    producer.close()

    theirs = read_labels(log, topic=prefixed)
    assert dict(theirs.times) == {"t1": 2 * DAY, "t2": 3 * DAY}  # both kinds of evidence
    assert dict(read_labels(log).times) == {"t0": DAY}  # the standard topic, as before
    assert label_sources() == DEFAULT_SOURCES
    assert {s.topics for s in label_sources(prefixed)} == {(prefixed,)}
    with pytest.raises(ValueError, match="not both"):
        read_labels(log, DEFAULT_SOURCES, topic=prefixed)
    log.close()

"""MFA outcomes as labels: a failed challenge labels its transaction fraud at the answer's
time, a passed one clears it (not a label); the first answer counts."""

from __future__ import annotations

from riskstream.events import Chargeback, Event, codec_for
from riskstream.log.records import Record
from riskstream.services.labels import (
    DEFAULT_SOURCES,
    LABEL_TOPIC,
    MFA_OUTCOMES,
    Labels,
    collect_labels,
)
from tests.unit.services.fraud_service.kit import answer

DAY = 86_400_000


def _records(events: list[Event | bytes]) -> list[Record]:
    out = []
    for offset, event in enumerate(events):
        if isinstance(event, bytes):
            out.append(Record(LABEL_TOPIC, 0, offset, 0, b"u", event))
        else:
            value = codec_for(LABEL_TOPIC).encode(event)
            out.append(Record(LABEL_TOPIC, 0, offset, event.event_time, event.key, value))
    return out


def test_failed_mfa_is_a_fraud_label_and_passed_mfa_clears() -> None:
    records = _records(
        [
            answer("t1", "u", passed=False, at=2 * DAY),
            answer("t2", "u", passed=True, at=3 * DAY),
            answer("t2", "u", passed=False, at=3 * DAY + 1),  # a second answer: ignored
            answer("t3", "u", passed=True, at=4 * DAY),
            b'{"type":"mfa_completed","user_id":7}',  # an MFA record that does not decode
            b"{not json",  # not tagged as MFA: REPORTED_FRAUD counts it
        ]
    )
    labels = MFA_OUTCOMES.collect(records)
    assert dict(labels.times) == {"t1": 2 * DAY}
    assert dict(labels.cleared) == {"t2": 3 * DAY, "t3": 4 * DAY}
    assert (labels.events, labels.undecodable) == (4, 1)


def test_mfa_outcomes_are_a_default_source_and_chargebacks_still_win() -> None:
    assert MFA_OUTCOMES in DEFAULT_SOURCES
    chargeback = Chargeback(
        event_id="cb", user_id="u", event_time=9 * DAY, transaction_id="t3", amount=5.0
    )
    records = _records(
        [
            answer("t1", "u", passed=False, at=2 * DAY),
            answer("t3", "u", passed=True, at=4 * DAY),
            chargeback,  # the customer passed MFA, and the payment was still fraud
            b"{not json",
        ]
    )
    labels = collect_labels(records)
    assert dict(labels.times) == {"t1": 2 * DAY, "t3": 9 * DAY}
    assert dict(labels.cleared) == {"t3": 4 * DAY}
    assert (labels.events, labels.undecodable) == (3, 1)


def test_merging_keeps_the_earliest_clearance() -> None:
    a = Labels({"t1": 5}, 1, 0, {"t2": 7})
    b = Labels({}, 1, 0, {"t2": 3, "t4": 9})
    assert dict(a.merged(b).cleared) == {"t2": 3, "t4": 9}

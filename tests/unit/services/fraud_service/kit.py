"""Inputs of the Fraud Service as the engine and the MFA API write them."""

from __future__ import annotations

import time
from collections.abc import Callable

from riskstream.events import MfaCompleted, codec_for
from riskstream.fraud.decision import Decision, RuleReason, encode_decision
from riskstream.log.port import EventLog
from riskstream.services.fraud_service import (
    FraudServiceConfig,
    Transaction,
    challenge_id_for,
    replay,
)
from riskstream.services.fraud_service.topology import transactions_codec
from riskstream.services.history import read_topic


def decision(txid: str, user: str, action: str, *, decided_at: int, score: float = 0.0) -> Decision:
    """A decision record of ``risk.decisions`` (every field the engine writes)."""
    reasons = (
        []
        if action == "allow"
        else [
            RuleReason(
                rule="new_device_high_value", version=3, score=70.0, action=action, features={}
            )
        ]
    )
    return Decision(
        transaction_id=txid,
        user_id=user,
        checkout_time=decided_at - 5,
        amount=420.0,
        currency="EUR",
        merchant_id="m-1",
        action=action,
        score=score,
        rule_score=score,
        rule_action=action,
        reasons=reasons,
        shadow=[],
        faults=[],
        model=None,
        challenger=None,
        rules_version="rules-1",
        lists_version="lists-1",
        features_version="features-1",
        features={"user.checkouts_1h": 1, "device.is_new": True},
        missing=[],
        decided_at=decided_at,
        latency_ms=5,
    )


def decision_bytes(txid: str, user: str, action: str, *, decided_at: int) -> bytes:
    return encode_decision(decision(txid, user, action, decided_at=decided_at))


def answer(
    txid: str, user: str, *, passed: bool, at: int, challenge: str | None = None
) -> MfaCompleted:
    """An MFA answer as :func:`submit_mfa` writes it."""
    challenge_id = challenge or challenge_id_for(txid)
    return MfaCompleted(
        event_id=f"mfa/{challenge_id}",
        user_id=user,
        event_time=at,
        source="mfa",
        transaction_id=txid,
        challenge_id=challenge_id,
        passed=passed,
    )


# -- for tests on a real log ----------------------------------------------------------------


def produce(log: EventLog, topic: str, records: list[tuple[bytes, bytes, int]]) -> None:
    """Write ``(key, value, timestamp)`` records and wait until the log has them all."""
    producer = log.producer(linger_ms=0)
    for key, value, timestamp in records:
        producer.produce(topic, value, key, timestamp=timestamp)
    assert producer.flush(30) == 0
    producer.close()


def decision_record(
    txid: str, user: str, action: str, *, decided_at: int
) -> tuple[bytes, bytes, int]:
    return user.encode(), decision_bytes(txid, user, action, decided_at=decided_at), decided_at - 5


def answer_record(event: MfaCompleted) -> tuple[bytes, bytes, int]:
    return event.key, codec_for(MfaCompleted.topic).encode(event), event.event_time


def lifecycle(log: EventLog, config: FraudServiceConfig | None = None) -> list[tuple[str, bytes]]:
    """``(event id, value)`` of every lifecycle event on the log, in each partition's order."""
    config = config or FraudServiceConfig()
    decode = transactions_codec(config.transactions_topic).decode
    return [
        (decode(record.value).event_id, record.value or b"")
        for record in read_topic(log, [config.transactions_topic])
    ]


def distinct(events: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """The events by id; a repeated id (at-least-once delivery) must repeat the same bytes."""
    found: dict[str, bytes] = {}
    for ident, value in events:
        assert found.setdefault(ident, value) == value, f"{ident} written with other content"
    return found


def states(
    events: dict[str, bytes], config: FraudServiceConfig | None = None
) -> dict[str, Transaction]:
    """Each transaction's state, folded from the events."""
    config = config or FraudServiceConfig()
    decode = transactions_codec(config.transactions_topic).decode
    return replay(decode(value) for value in events.values())  # type: ignore[misc]


def wait_until(condition: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    """Poll ``condition`` until it holds; fail (the service made no progress) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)

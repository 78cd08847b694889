"""MFA answers on the in-memory log: accepted only for an issued, open, unanswered and
unexpired challenge, written as ``MfaCompleted`` keyed by the challenge's user; the
service's topics are created co-partitioned."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from riskstream.errors import ConfigError
from riskstream.events import Event, MfaCompleted, codec_for
from riskstream.log import TopicSpec, open_log
from riskstream.log.port import EventLog
from riskstream.services.fraud_service import (
    ChallengeBook,
    ChallengeClosedError,
    FraudServiceConfig,
    MfaSubmitter,
    UnknownChallengeError,
    challenge_id_for,
    ensure_topics,
)
from riskstream.services.fraud_service.lifecycle import (
    DecisionFacts,
    Ledger,
    LifecycleEvent,
    apply,
    on_decision,
    on_expiry,
)
from riskstream.services.fraud_service.topology import transactions_codec
from riskstream.services.history import read_topic
from riskstream.testing import VirtualClock

T0 = 1_700_000_000_000
CONFIG = FraudServiceConfig(mfa_timeout_ms=60_000)


@pytest.fixture
def log() -> Iterator[EventLog]:
    log = open_log("memory:")
    ensure_topics(log, partitions=3)
    yield log
    log.close()


def _issue(log: EventLog, txid: str, user: str, *, action: str = "challenge") -> Ledger:
    facts = DecisionFacts(
        transaction_id=txid, user_id=user, action=action, score=80.0, decided_at=T0
    )
    events = on_decision(Ledger(), facts, CONFIG)
    _write(log, events)
    ledger = Ledger()
    for event in events:
        ledger = apply(ledger, event)
    return ledger


def _write(log: EventLog, events: list[LifecycleEvent]) -> None:
    encode = transactions_codec(CONFIG.transactions_topic).encode
    producer = log.producer()
    for event in events:
        producer.produce(CONFIG.transactions_topic, encode(event), event.key)
    assert producer.flush(5) == 0


def _answers(log: EventLog) -> list[tuple[bytes | None, Event]]:
    decode = codec_for(CONFIG.labels_topic).decode
    return [(r.key, decode(r.value)) for r in read_topic(log, [CONFIG.labels_topic])]


def test_an_answer_to_an_issued_challenge_is_written_once(log: EventLog) -> None:
    _issue(log, "tx-1", "alice")
    clock = VirtualClock(T0 + 1_000)
    with MfaSubmitter(log, CONFIG, clock=clock.now) as mfa:
        receipt = mfa.submit(challenge_id_for("tx-1"), False, method="push")
        assert (receipt.transaction_id, receipt.user_id, receipt.submitted_at) == (
            "tx-1",
            "alice",
            T0 + 1_000,
        )
        with pytest.raises(ChallengeClosedError, match="answered already") as closed:
            mfa.submit(challenge_id_for("tx-1"), True)
        assert closed.value.transaction_id == "tx-1"
        with pytest.raises(UnknownChallengeError):
            mfa.submit(challenge_id_for("tx-404"), True)
    ((key, event),) = _answers(log)
    assert key == b"alice"
    assert isinstance(event, MfaCompleted)
    assert (event.event_id, event.challenge_id, event.passed, event.method) == (
        f"mfa/{challenge_id_for('tx-1')}",
        challenge_id_for("tx-1"),
        False,
        "push",
    )
    assert event.event_time == T0 + 1_000


def test_expired_and_closed_challenges_refuse_answers(log: EventLog) -> None:
    _issue(log, "tx-late", "bob")
    ledger = _issue(log, "tx-gone", "carol")
    _write(log, on_expiry(ledger, T0 + 60_000, CONFIG))  # the service expired it
    clock = VirtualClock(T0 + 60_001)
    with ChallengeBook(log, CONFIG, clock=clock.now) as book:
        assert book.sync(5)
        with pytest.raises(ChallengeClosedError, match="expired"):
            book.claim(challenge_id_for("tx-late"), clock.now())
        with pytest.raises(ChallengeClosedError, match=r"cancelled \(mfa expired\)"):
            book.claim(challenge_id_for("tx-gone"), T0)
        entry = book.claim(challenge_id_for("tx-late"), T0 + 60_000)  # just in time
        assert (entry.user_id, entry.expires_at) == ("bob", T0 + 60_000)
        book.unclaim(challenge_id_for("tx-late"))  # the write failed: it may be answered again
        assert book.claim(challenge_id_for("tx-late"), T0).transaction_id == "tx-late"
    assert _answers(log) == []


def test_blocked_transactions_have_no_challenge(log: EventLog) -> None:
    _issue(log, "tx-b", "dave", action="block")
    with ChallengeBook(log, CONFIG) as book:
        assert book.sync(5)
        assert book.get(challenge_id_for("tx-b")) is None
        assert len(book) == 0


def test_topics_are_created_co_partitioned_with_the_inputs() -> None:
    log = open_log("memory:")
    log.admin.create_topics([TopicSpec(name="events.label", partitions=5)])
    assert ensure_topics(log, partitions=8) == 5
    described = log.admin.describe_topics(["risk.decisions", "risk.transactions"])
    assert {spec.partitions for spec in described.values()} == {5}
    other = FraudServiceConfig.isolated("odd")
    log.admin.create_topics(
        [
            TopicSpec(name=other.decisions_topic, partitions=2),
            TopicSpec(name=other.labels_topic, partitions=3),
        ]
    )
    with pytest.raises(ConfigError, match="co-partitioned"):
        ensure_topics(log, other, partitions=8)
    log.close()


def test_a_prefix_namespaces_every_topic_and_the_group() -> None:
    config = FraudServiceConfig(mfa_timeout_ms=1_000).prefixed("e2e.")
    assert (config.application, config.decisions_topic, config.labels_topic) == (
        "e2e.riskstream-fraud-service",
        "e2e.risk.decisions",
        "e2e.events.label",
    )
    assert (config.transactions_topic, config.mfa_timeout_ms) == ("e2e.risk.transactions", 1_000)
    assert FraudServiceConfig().prefixed("") == FraudServiceConfig()

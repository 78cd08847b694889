"""The Fraud Service's topology on the test driver: decisions and answers in, lifecycle events
out on ``risk.transactions``, expiry by processing time, state and timers across a restart."""

from __future__ import annotations

from riskstream.events import TRANSACTIONS_TOPIC, Chargeback, Event, codec_for
from riskstream.services.fraud_service import (
    CollectingNotifier,
    FraudServiceConfig,
    Status,
    challenge_id_for,
    fraud_service_topology,
)
from riskstream.services.fraud_service.lifecycle import Ledger
from riskstream.services.fraud_service.topology import transactions_codec
from riskstream.testing import TestDriver
from tests.unit.services.fraud_service.kit import answer, decision_bytes

T0 = 1_700_000_000_000
TIMEOUT = 60_000
CONFIG = FraudServiceConfig(mfa_timeout_ms=TIMEOUT)
LABELS = codec_for("events.label")
DECODE = transactions_codec(TRANSACTIONS_TOPIC).decode


class Service:
    """A driver around the topology, speaking in events rather than records."""

    def __init__(self) -> None:
        self.notifier = CollectingNotifier()
        self.driver = TestDriver(
            fraud_service_topology(CONFIG, notifier=self.notifier), partitions=2, start_time=T0
        )

    def decide(self, txid: str, action: str, user: str = "u1", at: int | None = None) -> None:
        at = self.driver.clock.now() if at is None else at
        value = decision_bytes(txid, user, action, decided_at=at)
        self.driver.pipe(CONFIG.decisions_topic, value, key=user.encode(), timestamp=at - 5)

    def label(self, event: Event) -> None:
        self.driver.pipe(
            CONFIG.labels_topic, LABELS.encode(event), key=event.key, timestamp=event.event_time
        )

    def answer(self, txid: str, passed: bool, user: str = "u1", at: int | None = None) -> None:
        at = self.driver.clock.now() if at is None else at
        self.label(answer(txid, user, passed=passed, at=at))

    def written(self) -> list[tuple[str, str, str]]:
        """(event type, transaction, detail) of each event written since the last call."""
        out = []
        for output in self.driver.read(TRANSACTIONS_TOPIC):
            event = DECODE(output.value)
            assert output.timestamp == event.event_time
            assert output.key == event.key
            detail = getattr(event, "reason", getattr(event, "challenge_id", ""))
            out.append((type(event).__name__, event.transaction_id, detail))
        return out

    def status(self, txid: str, user: str = "u1") -> Status | None:
        ledger: Ledger | None = self.driver.state("lifecycle", user.encode())
        tx = None if ledger is None else ledger.get(txid)
        return None if tx is None else tx.status


def test_challenge_then_passed_mfa_releases() -> None:
    service = Service()
    service.decide("tx-1", "challenge")
    assert service.written() == [
        ("TransactionPaused", "tx-1", ""),
        ("MfaChallengeIssued", "tx-1", challenge_id_for("tx-1")),
    ]
    assert [c.challenge_id for c in service.notifier.challenges] == [challenge_id_for("tx-1")]
    assert service.status("tx-1") is Status.CHALLENGED
    service.driver.advance_time(20_000)
    service.answer("tx-1", passed=True)
    assert service.written() == [("TransactionReleased", "tx-1", "mfa passed")]
    assert service.status("tx-1") is Status.RELEASED
    service.driver.advance_time(10 * TIMEOUT)
    assert service.written() == []  # released: nothing expires


def test_challenge_then_failed_mfa_cancels() -> None:
    service = Service()
    service.decide("tx-1", "challenge")
    service.written()
    service.answer("tx-1", passed=False)
    assert service.written() == [("TransactionCancelled", "tx-1", "mfa failed")]


def test_unanswered_challenge_expires_at_its_deadline() -> None:
    service = Service()
    service.decide("tx-1", "challenge")
    service.written()
    service.driver.advance_time(TIMEOUT - 1)
    assert service.written() == []
    service.driver.advance_time(5_000)
    outputs = service.driver.peek(TRANSACTIONS_TOPIC)
    assert service.written() == [("TransactionCancelled", "tx-1", "mfa expired")]
    assert [o.timestamp for o in outputs] == [T0 + TIMEOUT]  # at the deadline, not later
    service.answer("tx-1", passed=True)  # too late: ignored
    assert service.written() == []
    assert service.status("tx-1") is Status.CANCELLED


def test_block_cancels_and_allow_or_review_pass_through() -> None:
    service = Service()
    service.decide("tx-1", "block")
    service.decide("tx-2", "allow")
    service.decide("tx-3", "review")
    assert service.written() == [
        ("TransactionPaused", "tx-1", ""),
        ("TransactionCancelled", "tx-1", "blocked"),
    ]
    assert service.notifier.challenges == []
    assert service.status("tx-2") is None


def test_duplicates_never_emit_twice() -> None:
    service = Service()
    service.decide("tx-1", "challenge")
    service.decide("tx-2", "block")
    first = service.written()
    service.decide("tx-1", "challenge")
    service.decide("tx-2", "block")
    assert service.written() == []
    service.answer("tx-1", passed=True)
    service.answer("tx-1", passed=True)
    service.answer("tx-1", passed=False)
    assert service.written() == [("TransactionReleased", "tx-1", "mfa passed")]
    assert len(first) == 4
    assert len(service.notifier.challenges) == 1


def test_other_labels_and_unknown_transactions_are_ignored_and_bad_records_dead_lettered() -> None:
    service = Service()
    service.label(
        Chargeback(event_id="cb-1", user_id="u1", event_time=T0, transaction_id="tx-1", amount=9)
    )
    service.answer("tx-unknown", passed=False)
    assert service.written() == []
    service.driver.pipe(CONFIG.decisions_topic, b'{"not": "a decision"}', key=b"u1")
    letters = service.driver.read(f"{CONFIG.application}.dlq.{CONFIG.decisions_topic}")
    assert [letter.value for letter in letters] == [b'{"not": "a decision"}']
    assert service.driver.read("dlq.risk.decisions") == []  # apart from the engine's


def test_outputs_have_deterministic_ids_and_users_keep_their_own_ledgers() -> None:
    runs = []
    for _ in range(2):
        service = Service()
        service.decide("tx-1", "challenge", user="u1")
        service.decide("tx-2", "challenge", user="u2")
        service.answer("tx-2", passed=True, user="u2")
        service.driver.advance_time(TIMEOUT + 5_000)
        outputs = service.driver.read(TRANSACTIONS_TOPIC)
        runs.append([(o.id, o.value) for o in outputs])
        assert service.status("tx-1", "u1") is Status.CANCELLED
        assert service.status("tx-2", "u2") is Status.RELEASED
    assert runs[0] == runs[1]
    assert len(runs[0]) == 6


def test_after_a_restart_an_answer_in_the_backlog_wins_over_an_overdue_expiry() -> None:
    service = Service()
    service.decide("tx-1", "challenge")
    service.written()
    # Down past the deadline; the answer, given in time, is still unread in the backlog.
    service.driver.clock.set(T0 + 3 * TIMEOUT)
    service.driver.restart()
    service.driver.advance_time(100)  # the restored timer is due at once
    assert service.written() == []
    service.answer("tx-1", passed=True, at=T0 + TIMEOUT - 1)
    assert service.written() == [("TransactionReleased", "tx-1", "mfa passed")]
    service.driver.advance_time(TIMEOUT)
    assert service.written() == []


def test_state_and_timers_survive_a_restart() -> None:
    service = Service()
    service.decide("tx-1", "challenge")
    service.decide("tx-2", "challenge", at=T0 + 1)
    service.written()
    service.driver.restart()
    service.answer("tx-2", passed=False)
    service.decide("tx-1", "challenge")  # replayed after the restart
    assert service.written() == [("TransactionCancelled", "tx-2", "mfa failed")]
    service.driver.advance_time(TIMEOUT + 5_000)
    assert service.written() == [("TransactionCancelled", "tx-1", "mfa expired")]

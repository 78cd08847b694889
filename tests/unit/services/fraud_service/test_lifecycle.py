"""The pure lifecycle: which events each command causes, and the state folded from them."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from riskstream.events import (
    MfaChallengeIssued,
    TransactionCancelled,
    TransactionPaused,
    TransactionReleased,
)
from riskstream.services.fraud_service import FraudServiceConfig, challenge_id_for
from riskstream.services.fraud_service.lifecycle import (
    KEEP_CLOSED,
    DecisionFacts,
    Ledger,
    LifecycleEvent,
    Status,
    apply,
    decode_decision_facts,
    fold,
    next_expiry,
    on_answer,
    on_decision,
    on_expiry,
    replay,
)
from tests.unit.services.fraud_service.kit import answer, decision_bytes

CONFIG = FraudServiceConfig(mfa_timeout_ms=60_000, channel="push")
T0 = 1_700_000_000_000


def _facts(txid: str, action: str, *, at: int = T0, user: str = "u1") -> DecisionFacts:
    return decode_decision_facts(decision_bytes(txid, user, action, decided_at=at))


def _run(ledger: Ledger, events: list[LifecycleEvent]) -> Ledger:
    for event in events:
        ledger = apply(ledger, event)
    return ledger


def test_challenge_id_is_the_shared_formula() -> None:
    digest = hashlib.sha256(b"tx-42").hexdigest()[:16]
    assert challenge_id_for("tx-42") == f"mfa-{digest}"
    assert challenge_id_for("tx-42") != challenge_id_for("tx-43")


def test_decision_facts_read_from_a_full_decision_record() -> None:
    facts = _facts("tx-1", "challenge")
    assert (facts.transaction_id, facts.user_id, facts.action, facts.decided_at) == (
        "tx-1",
        "u1",
        "challenge",
        T0,
    )
    assert [r.rule for r in facts.reasons] == ["new_device_high_value"]
    with pytest.raises(msgspec.DecodeError):
        decode_decision_facts(b'{"transaction_id": 3}')


def test_challenge_pauses_and_issues_a_challenge_derived_from_the_decision() -> None:
    events = on_decision(Ledger(), _facts("tx-1", "challenge"), CONFIG)
    paused, issued = events
    assert isinstance(paused, TransactionPaused)
    assert isinstance(issued, MfaChallengeIssued)
    assert (paused.event_id, paused.event_time, paused.action) == (
        "txn/tx-1/paused",
        T0,
        "challenge",
    )
    assert paused.reasons == ("new_device_high_value",)
    assert issued.challenge_id == challenge_id_for("tx-1")
    assert (issued.channel, issued.expires_at) == ("push", T0 + 60_000)
    assert {e.source for e in events} == {"fraud-service"}
    # The same decision again (a replay) gives the same events, byte for byte.
    assert on_decision(Ledger(), _facts("tx-1", "challenge"), CONFIG) == events

    tx = _run(Ledger(), events).get("tx-1")
    assert tx is not None
    assert (tx.status, tx.challenge_id, tx.expires_at) == (
        Status.CHALLENGED,
        issued.challenge_id,
        T0 + 60_000,
    )
    assert tx.is_open


def test_block_pauses_and_cancels_at_once() -> None:
    events = on_decision(Ledger(), _facts("tx-2", "block"), CONFIG)
    assert [type(e) for e in events] == [TransactionPaused, TransactionCancelled]
    assert isinstance(events[1], TransactionCancelled)
    assert events[1].reason == "blocked"
    tx = _run(Ledger(), events).get("tx-2")
    assert tx is not None
    assert (tx.status, tx.outcome, tx.closed_at) == (Status.CANCELLED, "blocked", T0)


@pytest.mark.parametrize("action", ["allow", "review"])
def test_allow_and_review_hold_nothing(action: str) -> None:
    assert on_decision(Ledger(), _facts("tx-3", action), CONFIG) == []


def test_duplicate_decisions_emit_nothing_more() -> None:
    ledger = _run(Ledger(), on_decision(Ledger(), _facts("tx-1", "challenge"), CONFIG))
    assert on_decision(ledger, _facts("tx-1", "challenge"), CONFIG) == []
    assert on_decision(ledger, _facts("tx-1", "block", at=T0 + 5), CONFIG) == []


@pytest.mark.parametrize(
    ("passed", "kind", "reason", "status"),
    [
        (True, TransactionReleased, "mfa passed", Status.RELEASED),
        (False, TransactionCancelled, "mfa failed", Status.CANCELLED),
    ],
)
def test_an_answer_in_time_releases_or_cancels(
    passed: bool, kind: type, reason: str, status: Status
) -> None:
    ledger = _run(Ledger(), on_decision(Ledger(), _facts("tx-1", "challenge"), CONFIG))
    reply = answer("tx-1", "u1", passed=passed, at=T0 + 30_000)
    (event,) = on_answer(ledger, reply, CONFIG)
    assert isinstance(event, kind)
    assert (event.reason, event.event_time) == (reason, T0 + 30_000)  # type: ignore[attr-defined]
    closed = _run(ledger, [event])
    tx = closed.get("tx-1")
    assert tx is not None
    assert (tx.status, tx.outcome) == (status, reason)
    # The same answer again, or the other answer, or an expiry: nothing more happens.
    assert on_answer(closed, reply, CONFIG) == []
    assert on_answer(closed, answer("tx-1", "u1", passed=not passed, at=T0 + 31_000), CONFIG) == []
    assert on_expiry(closed, T0 + 10**9, CONFIG) == []


def test_answers_that_do_not_fit_are_ignored() -> None:
    ledger = _run(Ledger(), on_decision(Ledger(), _facts("tx-1", "challenge"), CONFIG))
    blocked = _run(ledger, on_decision(ledger, _facts("tx-2", "block"), CONFIG))
    assert on_answer(blocked, answer("tx-9", "u1", passed=True, at=T0), CONFIG) == []  # unknown
    assert on_answer(blocked, answer("tx-2", "u1", passed=True, at=T0), CONFIG) == []  # closed
    wrong = answer("tx-1", "u1", passed=True, at=T0, challenge="mfa-0000000000000000")
    assert on_answer(blocked, wrong, CONFIG) == []
    late = answer("tx-1", "u1", passed=True, at=T0 + 60_001)  # given after the expiry
    assert on_answer(blocked, late, CONFIG) == []
    on_time = answer("tx-1", "u1", passed=True, at=T0 + 60_000)
    assert len(on_answer(blocked, on_time, CONFIG)) == 1


def test_expiry_cancels_each_due_challenge_at_its_own_time() -> None:
    ledger = Ledger()
    for i, at in enumerate((T0, T0 + 10_000, T0 + 20_000)):
        ledger = _run(ledger, on_decision(ledger, _facts(f"tx-{i}", "challenge", at=at), CONFIG))
    assert next_expiry(ledger) == T0 + 60_000
    assert on_expiry(ledger, T0 + 59_999, CONFIG) == []
    due = on_expiry(ledger, T0 + 70_000, CONFIG)
    assert [(e.transaction_id, e.event_time) for e in due] == [
        ("tx-0", T0 + 60_000),
        ("tx-1", T0 + 70_000),
    ]
    assert {e.reason for e in due if isinstance(e, TransactionCancelled)} == {"mfa expired"}
    ledger = _run(ledger, due)
    assert next_expiry(ledger) == T0 + 80_000
    assert [tx.status for tx in ledger.transactions.values()] == [
        Status.CANCELLED,
        Status.CANCELLED,
        Status.CHALLENGED,
    ]


def test_fold_is_idempotent_and_ignores_events_that_do_not_fit() -> None:
    paused, issued = on_decision(Ledger(), _facts("tx-1", "challenge"), CONFIG)
    state = fold(fold(None, paused), issued)
    assert state is not None
    assert fold(state, issued) is state
    assert fold(state, paused) is state
    ledger = Ledger(transactions={"tx-1": state})
    (released,) = on_answer(ledger, answer("tx-1", "u1", passed=True, at=T0 + 1), CONFIG)
    closed = fold(state, released)
    assert closed is not None
    assert closed.events == ("txn/tx-1/paused", "txn/tx-1/challenge", "txn/tx-1/released")
    (cancel,) = on_expiry(ledger, T0 + 10**9, CONFIG)
    assert fold(closed, cancel) is closed  # closed: the late cancellation changes nothing
    assert fold(None, issued) is None  # a challenge for a transaction never paused
    assert fold(None, released) is None


def test_replay_of_the_log_rebuilds_the_same_state_whatever_the_duplicates() -> None:
    ledger = Ledger()
    written: list[LifecycleEvent] = []
    for txid, action in (("a", "challenge"), ("b", "block"), ("c", "challenge")):
        events = on_decision(ledger, _facts(txid, action), CONFIG)
        ledger, written = _run(ledger, events), written + events
    events = on_answer(ledger, answer("a", "u1", passed=True, at=T0 + 5), CONFIG)
    ledger, written = _run(ledger, events), written + events
    events = on_expiry(ledger, T0 + 60_000, CONFIG)
    ledger, written = _run(ledger, events), written + events
    # A reader of the log sees some events twice (at-least-once delivery): same state.
    assert replay(written + written[2:5]) == ledger.transactions
    assert {tx.status for tx in ledger.transactions.values()} == {
        Status.RELEASED,
        Status.CANCELLED,
    }


def test_a_ledger_forgets_the_oldest_closed_transactions_only() -> None:
    ledger = _run(Ledger(), on_decision(Ledger(), _facts("open", "challenge"), CONFIG))
    for i in range(KEEP_CLOSED + 5):
        ledger = _run(ledger, on_decision(ledger, _facts(f"b{i:03}", "block", at=T0 + i), CONFIG))
    kept = ledger.transactions
    assert len(kept) == KEEP_CLOSED + 1
    assert "open" in kept
    assert "b000" not in kept
    assert f"b{KEEP_CLOSED + 4:03}" in kept

"""Helpers of the API's unit tests: an app on the memory log, checkouts, decision records."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
from fastapi.testclient import TestClient

from riskstream.events import Checkout, Event
from riskstream.events.codec import codec_for
from riskstream.fraud.decision import Decision, ModelVerdict, RuleReason, encode_decision
from riskstream.log import EventLog
from riskstream.log.memory import MemoryLog
from riskstream.services.api.app import create_app
from riskstream.services.api.settings import ApiSettings, TimeoutAction
from riskstream.services.api.topics import ApiTopics
from riskstream.services.history import read_topic
from riskstream.settings import Settings

__all__ = [
    "ALL",
    "CHECKOUT",
    "EVENTS",
    "READ",
    "body_of",
    "checkout",
    "decision_for",
    "records_of",
    "running_app",
    "write_decision",
]

CHECKOUT = {"Authorization": "Bearer checkout-key"}
EVENTS = {"X-API-Key": "events-key"}
READ = {"Authorization": "Bearer read-key"}
ALL = {"Authorization": "Bearer all-key"}
KEYS = {
    "checkout-key": ["checkout"],
    "events-key": ["events"],
    "read-key": ["read"],
    "all-key": ["*"],
}
NOW = 1_780_000_000_000


def checkout(txid: str = "tx-1", user: str = "u-1", **changes: Any) -> Checkout:
    fields: dict[str, Any] = {
        "event_id": f"{txid}-checkout",
        "user_id": user,
        "event_time": NOW - 60_000,
        "transaction_id": txid,
        "amount": 40.0,
        "currency": "EUR",
        "merchant_id": "m-1",
        "item_count": 1,
        "instrument_fingerprint": f"{user}-card",
        "bin_country": "DE",
        "device_id": "dev-home",
        "ip": "10.0.0.1",
        "country": "DE",
        "shipping_address_hash": f"{user}-home",
        "session_id": "s-1",
    }
    fields.update(changes)
    return Checkout(**fields)


def body_of(event: Event) -> bytes:
    return codec_for(event.topic).encode(event)


def decision_for(event: Checkout, action: str = "allow", score: float = 0.0) -> Decision:
    reasons = []
    if action != "allow":
        reasons = [
            RuleReason(
                rule="ato.new_device_promo_rush",
                version=1,
                score=score,
                action=action,
                features={"user.device_is_new": True},
            )
        ]
    return Decision(
        transaction_id=event.transaction_id,
        user_id=event.user_id,
        checkout_time=event.event_time,
        amount=event.amount,
        currency=event.currency,
        merchant_id=event.merchant_id,
        action=action,
        score=score,
        rule_score=score,
        rule_action=action,
        reasons=reasons,
        shadow=[],
        faults=[],
        model=ModelVerdict(version="m-1", probability=0.01, contributions=[]),
        challenger=None,
        rules_version="r-1",
        lists_version="l-1",
        features_version="f-1",
        features={"user.device_is_new": action != "allow"},
        missing=[],
        decided_at=event.event_time + 5,
        latency_ms=5,
    )


def write_decision(log: EventLog, decision: Decision, prefix: str = "") -> None:
    """What the engine would write for a checkout."""
    producer = log.producer()
    producer.produce(
        ApiTopics(prefix).decisions, encode_decision(decision), decision.user_id.encode()
    )
    assert producer.flush(10) == 0
    producer.close()


def records_of(log: EventLog, topic: str) -> list[bytes]:
    return [record.value or b"" for record in read_topic(log, [topic])]


@contextmanager
def running_app(
    log: EventLog | None = None,
    *,
    budget_ms: int = 200,
    timeout_action: TimeoutAction = TimeoutAction.REVIEW,
    prefix: str = "",
) -> Iterator[tuple[TestClient, EventLog]]:
    """The API on ``log`` (a fresh memory log by default), started and stopped."""
    log = log or MemoryLog()
    api = ApiSettings(
        decision_budget_ms=budget_ms, timeout_action=timeout_action, topic_prefix=prefix
    )
    app = create_app(
        log, Settings(api_keys=KEYS, partitions=2), api_settings=api, clock=lambda: NOW
    )
    with TestClient(app) as client:
        yield client, log


def eventually(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def json_of(raw: bytes) -> Any:
    return msgspec.json.decode(raw)

"""The API on the memory log: auth, validation, OpenAPI, decisions, timeouts, idempotency.

The engine's part is played by a thread that answers each checkout on the log with a
decision record, as the fraud topology would (the real engine runs in the integration tests).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import msgspec
import pytest

from riskstream.events import Checkout
from riskstream.events.codec import codec_for
from riskstream.log import EventLog, TopicPartition, TopicSpec
from riskstream.log.memory import MemoryLog
from riskstream.services.api.settings import TimeoutAction
from riskstream.services.api.timeouts import decode_timeout
from riskstream.services.api.topics import ApiTopics
from riskstream.services.fraud_service.challenge import challenge_id_for
from tests.unit.services.api.kit import (
    ALL,
    CHECKOUT,
    EVENTS,
    NOW,
    READ,
    body_of,
    checkout,
    decision_for,
    eventually,
    records_of,
    running_app,
    write_decision,
)

TOPICS = ApiTopics()


@contextmanager
def engine(log: EventLog, actions: dict[str, str], delay_s: float = 0.0) -> Iterator[list[str]]:
    """Answers every checkout with a decision (``actions`` by transaction id, else allow)."""
    stop = threading.Event()
    seen: list[str] = []
    consumer = log.consumer(None)
    tps = [TopicPartition(TOPICS.checkouts, p) for p in range(2)]
    consumer.assign(tps)
    decode = codec_for(Checkout.topic).decode

    def run() -> None:
        while not stop.is_set():
            for record in consumer.poll(100, 0.01):
                event = decode(record.value)
                assert isinstance(event, Checkout)
                seen.append(event.transaction_id)
                stop.wait(delay_s)
                action = actions.get(event.transaction_id, "allow")
                write_decision(log, decision_for(event, action, 70.0 if action != "allow" else 0))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(5)
        consumer.close()


def checkouts_on_log(log: EventLog, txid: str) -> int:
    decode = codec_for(Checkout.topic).decode
    return sum(
        1
        for raw in records_of(log, TOPICS.checkouts)
        if getattr(decode(raw), "transaction_id", None) == txid
    )


# -- security, validation, documents -------------------------------------------------------------


def test_keys_and_scopes_are_checked_on_every_endpoint_but_health_and_metrics() -> None:
    with running_app() as (client, _):
        for path, allowed in (("/v1/checkouts", CHECKOUT), ("/v1/events", EVENTS)):
            assert client.post(path, content=b"[]").status_code == 401
            unknown = client.post(path, content=b"[]", headers={"X-API-Key": "nope"})
            assert unknown.status_code == 401
            assert unknown.headers["www-authenticate"] == "Bearer"
            assert client.post(path, content=b"[]", headers=READ).status_code == 403
            assert client.post(path, content=b"[]", headers=allowed).status_code == 422
        assert client.get("/healthz").status_code == 200
        assert client.get("/healthz").json()["decision_waiter"] is True
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert "riskstream_api_checkouts_total" in metrics.text


def test_an_invalid_checkout_is_refused_naming_every_field() -> None:
    with running_app() as (client, log):
        fields = msgspec.json.decode(body_of(checkout()))
        del fields["amount"]
        missing = client.post("/v1/checkouts", json=fields, headers=CHECKOUT)
        assert missing.status_code == 422
        assert missing.json()["detail"][0]["loc"] == ["body", "amount"]
        wrong = client.post(
            "/v1/checkouts", content=body_of(checkout(ip="999.1.1.1")), headers=CHECKOUT
        )
        assert wrong.status_code == 422
        assert [p["field"] for p in wrong.json()["detail"]] == ["ip"]
        malformed = client.post("/v1/checkouts", content=b"{", headers=CHECKOUT)
        assert malformed.status_code == 422
        assert records_of(log, TOPICS.checkouts) == []


def test_bodies_beyond_the_limit_are_refused_before_they_are_read() -> None:
    with running_app() as (client, log):
        huge = b"[" + b" " * (16 * 1024 * 1024) + b"]"
        for path, headers in (("/v1/checkouts", CHECKOUT), ("/v1/events", EVENTS)):
            assert client.post(path, content=huge, headers=headers).status_code == 413
        assert records_of(log, TOPICS.checkouts) == []


def test_the_openapi_document_describes_paths_bodies_and_security() -> None:
    with running_app() as (client, _):
        document = client.get("/openapi.json").json()
    paths = document["paths"]
    assert {"/v1/checkouts", "/v1/events", "/healthz", "/metrics"} <= set(paths)
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["apiKeyHeader"]["in"] == "header"
    assert schemes["apiKeyHeader"]["name"] == "X-API-Key"
    post = paths["/v1/checkouts"]["post"]
    assert post["security"] == [{"bearerAuth": []}, {"apiKeyHeader": []}]
    assert {"401", "403", "422"} <= set(post["responses"])
    assert paths["/healthz"]["get"]["security"] == []
    schemas = document["components"]["schemas"]
    assert set(schemas["CheckoutRequest"]["required"]) >= {"transaction_id", "amount", "user_id"}
    assert "decided_by" in schemas["CheckoutAnswer"]["properties"]
    assert paths["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "items"
    ] == {"$ref": "#/components/schemas/IngestedEvent"}


# -- decisions ----------------------------------------------------------------------------------


def test_a_decision_in_time_is_answered_as_the_engine_gave_it() -> None:
    with running_app(budget_ms=5_000) as (client, log), engine(log, {"tx-bad": "challenge"}):
        ok = client.post("/v1/checkouts", content=body_of(checkout("tx-ok")), headers=CHECKOUT)
        bad = client.post("/v1/checkouts", content=body_of(checkout("tx-bad", "u-2")), headers=ALL)
    assert ok.status_code == 200
    answer = ok.json()
    assert answer["action"] == "allow"
    assert answer["decided_by"] == "engine"
    assert answer["challenge_id"] is None
    assert answer["reasons"] == []
    assert answer["model"] == {"version": "m-1", "probability": 0.01}
    challenged = bad.json()
    assert challenged["action"] == "challenge"
    assert challenged["challenge_id"] == challenge_id_for("tx-bad")
    assert challenged["score"] == 70.0
    assert challenged["reasons"] == [
        {
            "rule": "ato.new_device_promo_rush",
            "version": 1,
            "score": 70.0,
            "action": "challenge",
            "features": {"user.device_is_new": True},
        }
    ]
    assert "idempotent-replayed" not in bad.headers


def test_a_retry_is_answered_again_without_producing() -> None:
    with running_app(budget_ms=5_000) as (client, log), engine(log, {}) as decided:
        body = body_of(checkout("tx-1"))
        first = client.post("/v1/checkouts", content=body, headers=CHECKOUT)
        retried = client.post("/v1/checkouts", content=body, headers=CHECKOUT)
        restamped = client.post(
            "/v1/checkouts",
            content=body_of(checkout("tx-1", event_time=NOW, event_id="again")),
            headers=CHECKOUT,
        )
        conflict = client.post(
            "/v1/checkouts", content=body_of(checkout("tx-1", amount=999.0)), headers=CHECKOUT
        )
    assert retried.json() == first.json() == restamped.json()
    assert retried.headers["idempotent-replayed"] == "true"
    assert conflict.status_code == 409
    assert checkouts_on_log(log, "tx-1") == 1
    assert decided == ["tx-1"]


def test_duplicates_sent_at_once_produce_one_checkout() -> None:
    with running_app(budget_ms=5_000) as (client, log), engine(log, {}, delay_s=0.3):
        body = body_of(checkout("tx-dup"))
        with ThreadPoolExecutor(4) as pool:
            answers = list(
                pool.map(
                    lambda _: client.post("/v1/checkouts", content=body, headers=CHECKOUT),
                    range(4),
                )
            )
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 3
    assert checkouts_on_log(log, "tx-dup") == 1


# -- timeouts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "policy"),
    [(TimeoutAction.ALLOW, "fail-open"), (TimeoutAction.BLOCK, "fail-closed")],
)
def test_a_missed_budget_answers_the_policy_and_records_it(
    action: TimeoutAction, policy: str
) -> None:
    with running_app(budget_ms=100, timeout_action=action) as (client, log):
        body = body_of(checkout("tx-slow"))
        first = client.post("/v1/checkouts", content=body, headers=CHECKOUT)
        retried = client.post("/v1/checkouts", content=body, headers=CHECKOUT)
        eventually(lambda: len(records_of(log, TOPICS.timeouts)) == 1)
    answer = first.json()
    assert answer["decided_by"] == "timeout-policy"
    assert answer["action"] == action.value
    assert answer["score"] is None and answer["reasons"] == []
    assert answer["decision_latency_ms"] >= 100
    assert retried.json() == answer  # the retry waited again, and repeats the policy's answer
    assert checkouts_on_log(log, "tx-slow") == 1
    (recorded,) = [decode_timeout(raw) for raw in records_of(log, TOPICS.timeouts)]
    assert (recorded.transaction_id, recorded.user_id) == ("tx-slow", "u-1")
    assert (recorded.action, recorded.policy, recorded.budget_ms) == (action.value, policy, 100)
    assert recorded.event_id == "tx-slow-timeout"


def test_a_late_decision_answers_the_retries() -> None:
    with running_app(budget_ms=100) as (client, log):
        event = checkout("tx-late")
        first = client.post("/v1/checkouts", content=body_of(event), headers=CHECKOUT)
        assert first.json()["decided_by"] == "timeout-policy"
        write_decision(log, decision_for(event, "block", 95.0))
        eventually(
            lambda: (
                client.post("/v1/checkouts", content=body_of(event), headers=CHECKOUT).json()[
                    "decided_by"
                ]
                == "engine"
            )
        )
        retried = client.post("/v1/checkouts", content=body_of(event), headers=CHECKOUT)
    assert retried.json()["action"] == "block"
    assert checkouts_on_log(log, "tx-late") == 1
    assert len(records_of(log, TOPICS.timeouts)) == 1


def test_a_checkout_the_log_refuses_is_a_503_and_may_be_sent_again() -> None:
    log = MemoryLog()
    with running_app(log, budget_ms=2_000) as (client, _):
        log.admin.delete_topics([TOPICS.checkouts])
        body = body_of(checkout("tx-lost"))
        refused = client.post("/v1/checkouts", content=body, headers=CHECKOUT)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        log.admin.create_topics([TopicSpec(name=TOPICS.checkouts, partitions=2)])
        with engine(log, {}):
            again = client.post("/v1/checkouts", content=body, headers=CHECKOUT)
    assert again.status_code == 200
    assert again.json()["decided_by"] == "engine"
    assert "idempotent-replayed" not in again.headers


# -- restarts ----------------------------------------------------------------------------------


def test_a_restarted_api_answers_retries_from_the_log() -> None:
    log = MemoryLog()
    decided_event, pending_event = checkout("tx-a"), checkout("tx-b", "u-2")
    with running_app(log, budget_ms=5_000) as (client, _), engine(log, {"tx-a": "review"}):
        before = client.post("/v1/checkouts", content=body_of(decided_event), headers=CHECKOUT)
    with running_app(log, budget_ms=100) as (client, _):
        pending = client.post("/v1/checkouts", content=body_of(pending_event), headers=CHECKOUT)
    assert pending.json()["decided_by"] == "timeout-policy"

    with running_app(log, budget_ms=100) as (client, _):
        after = client.post("/v1/checkouts", content=body_of(decided_event), headers=CHECKOUT)
        assert after.headers["idempotent-replayed"] == "true"
        again = client.post("/v1/checkouts", content=body_of(pending_event), headers=CHECKOUT)
        assert again.json()["decided_by"] == "timeout-policy"
        write_decision(log, decision_for(pending_event, "allow"))
        eventually(
            lambda: (
                client.post(
                    "/v1/checkouts", content=body_of(pending_event), headers=CHECKOUT
                ).json()["decided_by"]
                == "engine"
            )
        )
        conflict = client.post(
            "/v1/checkouts", content=body_of(checkout("tx-b", "u-2", amount=1.5)), headers=CHECKOUT
        )
    recovered = after.json()
    assert {k: v for k, v in recovered.items() if k != "decision_latency_ms"} == {
        k: v for k, v in before.json().items() if k != "decision_latency_ms"
    }
    assert recovered["action"] == "review"
    assert conflict.status_code == 409
    assert checkouts_on_log(log, "tx-a") == 1 and checkouts_on_log(log, "tx-b") == 1


# -- events ------------------------------------------------------------------------------------


def _login(number: int, **changes: object) -> dict[str, object]:
    return {
        "type": "login",
        "event_id": f"login-{number}",
        "user_id": f"u-{number}",
        "event_time": NOW - 1_000,
        "device_id": "d-1",
        "ip": "10.0.0.1",
        "country": "DE",
        **changes,
    }


def test_a_valid_batch_is_written_to_each_events_topic() -> None:
    click = {
        "type": "click",
        "event_id": "click-1",
        "user_id": "u-1",
        "event_time": NOW,
        "session_id": "s",
        "page": "/",
    }
    label = {
        "type": "chargeback",
        "event_id": "cb-1",
        "user_id": "u-1",
        "event_time": NOW,
        "transaction_id": "tx-0",
        "amount": 5.0,
    }
    with running_app() as (client, log):
        accepted = client.post(
            "/v1/events", json=[_login(1), _login(2), click, label], headers=EVENTS
        )
        logins = records_of(log, "events.login")
        labels = records_of(log, "events.label")
    assert accepted.status_code == 202
    assert accepted.json() == {"accepted": 4, "by_type": {"login": 2, "click": 1, "chargeback": 1}}
    assert len(logins) == 2 and len(labels) == 1
    assert codec_for("events.login").decode(logins[0]).event_id in {"login-1", "login-2"}


def test_an_invalid_item_fails_the_whole_batch_naming_index_and_field() -> None:
    with running_app() as (client, log):
        refused = client.post(
            "/v1/events", json=[_login(1), _login(2, country=None), _login(3)], headers=EVENTS
        )
        assert records_of(log, "events.login") == []
    assert refused.status_code == 422
    (problem,) = refused.json()["detail"]
    assert problem["index"] == 1
    assert problem["field"] == "country"
    assert problem["loc"] == ["body", 1, "country"]

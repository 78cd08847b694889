"""The checkout API against the real fraud engine (a `riskstream worker` process), on the
embedded log and on the Kafka broker: decisions, the seed fraud, retries, restarts, timeouts;
and `riskstream serve` itself: keys, validation, the OpenAPI document."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from riskstream.events import Checkout, Event
from riskstream.events.codec import codec_for
from riskstream.fraud.decision import decode_decision
from riskstream.log import EventLog, TopicPartition, open_log
from riskstream.services.api.app import create_app
from riskstream.services.api.recovery import watermarks
from riskstream.services.api.settings import ApiSettings, TimeoutAction
from riskstream.services.api.timeouts import decode_timeout
from riskstream.services.api.topics import ApiTopics
from riskstream.services.fraud_service.challenge import challenge_id_for
from riskstream.services.history import read_topic
from riskstream.settings import Settings
from tests.fraud_support.scenarios import START, checkout, seed_scenario
from tests.integration.api_worker_app import PREFIX_ENV

ROOT = Path(__file__).resolve().parents[2]
SEED_RULE = "ato.new_device_promo_rush"
KEYS = {"shop-key": ["checkout", "events"], "reader-key": ["read"]}
SHOP = {"Authorization": "Bearer shop-key"}
PARTITIONS = 3
ENGINE_BUDGET_MS = 20_000  # generous: a worker that just started takes a while to answer

BACKENDS = ["embedded", pytest.param("kafka", marks=pytest.mark.kafka)]


@dataclass
class Namespace:
    """A log and the topic prefix of one test deployment."""

    url: str
    prefix: str
    log: EventLog

    @property
    def topics(self) -> ApiTopics:
        return ApiTopics(self.prefix)

    def ensure_topics(self) -> None:
        self.topics.ensure(self.log, PARTITIONS)
        consumer = self.log.consumer(None)  # a new Kafka topic serves a moment later
        try:
            for name in (self.topics.checkouts, self.topics.decisions):
                for number in range(PARTITIONS):
                    watermarks(consumer, TopicPartition(name, number))
        finally:
            consumer.close()

    def app(self, budget_ms: int, action: TimeoutAction = TimeoutAction.REVIEW) -> TestClient:
        api = ApiSettings(
            decision_budget_ms=budget_ms, timeout_action=action, topic_prefix=self.prefix
        )
        settings = Settings(api_keys=KEYS, partitions=PARTITIONS)
        return TestClient(create_app(self.log, settings, api_settings=api))

    def count(self, topic: str, txid: str) -> int:
        found = 0
        for record in read_topic(self.log, [topic]):
            value = record.value or b""
            if topic == self.topics.decisions:
                found += decode_decision(value).transaction_id == txid
            elif topic == self.topics.timeouts:
                found += decode_timeout(value).transaction_id == txid
            else:
                event = codec_for(Checkout.topic).decode(value)
                found += isinstance(event, Checkout) and event.transaction_id == txid
        return found


@contextlib.contextmanager
def namespace(backend: str, root: Path, request: pytest.FixtureRequest) -> Iterator[Namespace]:
    if backend == "kafka":
        url = f"kafka://{request.getfixturevalue('kafka_bootstrap')}"
        prefix = f"api-{uuid.uuid4().hex[:8]}."
    else:
        url, prefix = f"embedded:{root / 'log'}", ""
    log = open_log(url)
    space = Namespace(url, prefix, log)
    try:
        space.ensure_topics()
        yield space
    finally:
        if prefix:
            with contextlib.suppress(Exception):  # leftovers are untidy, not wrong
                log.admin.delete_topics(
                    [t for t in log.admin.list_topics() if t.startswith(prefix)]
                )
        log.close()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from riskstream.cli import main; main()", *args]


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@pytest.fixture(scope="module", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Namespace]:
    """A namespace with a `riskstream worker` deciding its checkouts."""
    root = tmp_path_factory.mktemp(f"api-{request.param}")
    with namespace(request.param, root, request) as space:
        topology = ["--topology", "tests.integration.api_worker_app:topology"]
        worker = subprocess.Popen(
            _cli(
                "worker",
                "--log",
                space.url,
                "--state-dir",
                str(root / "state"),
                "--commit-interval-ms",
                "200",
                *(topology if space.prefix else []),
            ),
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), PREFIX_ENV: space.prefix},
        )
        try:
            yield space
        finally:
            assert _stop(worker) == 0


@pytest.fixture(scope="module")
def shop(engine: Namespace) -> Iterator[TestClient]:
    """The API in front of the engine, once the engine answers."""
    with engine.app(ENGINE_BUDGET_MS) as client:
        body = _body(checkout("probe-user", f"probe-{uuid.uuid4().hex[:6]}", _now(), "s", 10.0))
        deadline = time.monotonic() + 120
        while client.post("/v1/checkouts", content=body, headers=SHOP).json()["decided_by"] != (
            "engine"
        ):
            assert time.monotonic() < deadline, "the worker never decided a checkout"
        yield client


def _now() -> int:
    return time.time_ns() // 1_000_000


def _body(event: Event) -> bytes:
    return codec_for(event.topic).encode(event)


def _send_story(client: TestClient, events: list[Event]) -> dict[str, Any]:
    """Events in time order: runs of non-checkouts through POST /v1/events, each checkout
    through POST /v1/checkouts; returns the last checkout's answer."""
    answer: dict[str, Any] = {}
    batch: list[Any] = []
    for event in sorted(events, key=lambda e: e.event_time):
        if not isinstance(event, Checkout):
            batch.append(json.loads(_body(event)))
            continue
        if batch:
            response = client.post("/v1/events", json=batch, headers=SHOP)
            assert response.status_code == 202, response.text
            assert response.json()["accepted"] == len(batch)
            batch = []
        response = client.post("/v1/checkouts", content=_body(event), headers=SHOP)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["decided_by"] == "engine", answer
    return answer


# -- against the engine -------------------------------------------------------------------------


def test_a_legitimate_checkout_is_allowed_by_the_engine(shop: TestClient) -> None:
    user = f"regular-{uuid.uuid4().hex[:6]}"
    response = shop.post(
        "/v1/checkouts",
        content=_body(checkout(user, f"{user}-tx", _now(), "s", 25.0)),
        headers=SHOP,
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["transaction_id"] == f"{user}-tx"
    assert (answer["action"], answer["decided_by"], answer["challenge_id"]) == (
        "allow",
        "engine",
        None,
    )
    assert isinstance(answer["score"], float)
    assert isinstance(answer["reasons"], list)
    assert all(reason["action"] == "allow" or reason["score"] < 30 for reason in answer["reasons"])
    assert answer["decision_latency_ms"] < ENGINE_BUDGET_MS


def test_the_seed_fraud_is_challenged_and_a_retry_changes_nothing(
    shop: TestClient, engine: Namespace
) -> None:
    user = f"victim-{uuid.uuid4().hex[:6]}"
    events, txid = seed_scenario(user)
    answer = _send_story(shop, events)
    assert answer["transaction_id"] == txid
    assert answer["action"] == "challenge"
    assert answer["challenge_id"] == challenge_id_for(txid)
    fired = {reason["rule"]: reason for reason in answer["reasons"]}
    assert SEED_RULE in fired
    assert fired[SEED_RULE]["features"]  # the feature values the rule read
    assert answer["score"] >= 60

    takeover = next(e for e in events if isinstance(e, Checkout) and e.transaction_id == txid)
    retried = shop.post("/v1/checkouts", content=_body(takeover), headers=SHOP)
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json() == answer
    assert engine.count(engine.topics.checkouts, txid) == 1
    assert engine.count(engine.topics.decisions, txid) == 1

    # A restarted API knows the transaction from the log: still one checkout, same verdict.
    with engine.app(ENGINE_BUDGET_MS) as restarted:
        again = restarted.post("/v1/checkouts", content=_body(takeover), headers=SHOP)
    assert again.headers["idempotent-replayed"] == "true"
    recovered = again.json()
    assert recovered.pop("decision_latency_ms") >= 0
    assert recovered == {k: v for k, v in answer.items() if k != "decision_latency_ms"}
    assert engine.count(engine.topics.checkouts, txid) == 1
    assert engine.count(engine.topics.decisions, txid) == 1


# -- without an engine -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_a_decision_the_timeout_policy_answers_and_is_recorded(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with namespace(backend, tmp_path, request) as space, space.app(300, TimeoutAction.BLOCK) as api:
        body = _body(checkout("late-user", "late-tx", START, "s", 80.0))
        first = api.post("/v1/checkouts", content=body, headers=SHOP)
        retried = api.post("/v1/checkouts", content=body, headers=SHOP)
        assert first.status_code == retried.status_code == 200
        answer = first.json()
        assert answer["decided_by"] == "timeout-policy"
        assert answer["action"] == "block"
        assert answer["score"] is None and answer["challenge_id"] is None
        assert retried.json() == answer
        assert retried.headers["idempotent-replayed"] == "true"
        deadline = time.monotonic() + 10
        while space.count(space.topics.timeouts, "late-tx") == 0:
            assert time.monotonic() < deadline, "no timeout record"
            time.sleep(0.05)
        (record,) = [
            decode_timeout(r.value or b"") for r in read_topic(space.log, [space.topics.timeouts])
        ]
        assert (record.transaction_id, record.action, record.policy) == (
            "late-tx",
            "block",
            "fail-closed",
        )
        assert space.count(space.topics.checkouts, "late-tx") == 1


# -- the command -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_riskstream_serve_guards_validates_and_documents_its_endpoints(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        _cli(
            "serve",
            "--port",
            str(port),
            "--log",
            f"embedded:{tmp_path / 'log'}",
            "--decision-budget-ms",
            "200",
            "--timeout-action",
            "allow",
        ),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "RISKSTREAM_API_KEYS": json.dumps(KEYS)},
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, "riskstream serve exited"
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/healthz").status_code == 200:
                        break
                assert time.monotonic() < deadline, "riskstream serve never became healthy"
                time.sleep(0.1)
            body = _body(checkout("cli-user", "cli-tx", START, "s", 30.0))
            for path in ("/v1/checkouts", "/v1/events"):
                assert client.post(path, content=body).status_code == 401
                unknown = client.post(path, content=body, headers={"X-API-Key": "guess"})
                assert unknown.status_code == 401
                reader = client.post(path, content=body, headers={"X-API-Key": "reader-key"})
                assert reader.status_code == 403
            invalid = client.post(
                "/v1/checkouts", json={"transaction_id": "cli-tx", "amount": "a lot"}, headers=SHOP
            )
            assert invalid.status_code == 422
            assert "amount" in {problem["field"] for problem in invalid.json()["detail"]}
            answer = client.post("/v1/checkouts", content=body, headers=SHOP).json()
            assert (answer["action"], answer["decided_by"]) == ("allow", "timeout-policy")
            assert client.get("/metrics").status_code == 200
            document = client.get("/openapi.json").json()
    finally:
        assert _stop(server) == 0
    assert {"/v1/checkouts", "/v1/events", "/v1/mfa/{challenge_id}", "/healthz"} <= set(
        document["paths"]
    )
    assert set(document["components"]["securitySchemes"]) == {"bearerAuth", "apiKeyHeader"}
    for path, operations in document["paths"].items():
        for operation in operations.values():
            secured = operation["security"] != []
            assert secured is (path not in ("/healthz", "/metrics")), path

"""The whole story through the HTTP API, on the embedded log and on Kafka: a legitimate
checkout is allowed; the seed fraud is challenged, paused, and cancelled when MFA fails or
expires, released when it passes - also after the Fraud Service was killed mid-flow; the
audit trail shows every step; rebuilt read models equal the live ones."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from riskstream.events import (
    ACTIVITY_TOPICS,
    TRANSACTIONS_TOPIC,
    Checkout,
    MfaChallengeIssued,
    TransactionCancelled,
    TransactionReleased,
)
from riskstream.events.codec import codec_for
from riskstream.fraud.topology import ALERTS_TOPIC, DECISIONS_TOPIC
from riskstream.services.api.app import create_app
from riskstream.services.api.auth import ApiKeys
from riskstream.services.api.settings import ApiSettings
from riskstream.services.fraud_service.config import FraudServiceConfig
from riskstream.services.fraud_service.router import mfa_router
from riskstream.services.history import read_topic
from riskstream.services.projections.projector import Projector
from riskstream.services.projections.rebuild import rebuild
from riskstream.services.projections.router import query_router
from riskstream.services.projections.store import open_store
from riskstream.services.projections.topics import TopicMap
from riskstream.settings import Settings
from tests.fraud_support.scenarios import Variant, checkout, seed_scenario
from tests.integration.api_worker_app import PREFIX_ENV
from tests.integration.test_api import (
    BACKENDS,
    PARTITIONS,
    ROOT,
    Namespace,
    _body,
    _cli,
    _now,
    _send_story,
    _stop,
    namespace,
)

KEYS = {"shop-key": ["checkout", "events"], "phone": ["mfa"], "analyst": ["read"]}
SHOP = {"Authorization": "Bearer shop-key"}  # as the shared story sender uses
PHONE = {"Authorization": "Bearer phone"}
ANALYST = {"Authorization": "Bearer analyst"}
MFA_TIMEOUT_S = 15
STANDARD_TOPICS = (*ACTIVITY_TOPICS, DECISIONS_TOPIC, ALERTS_TOPIC, TRANSACTIONS_TOPIC)


def _wait(condition: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _lifecycle(space: Namespace) -> dict[str, list[Any]]:
    """Every lifecycle event on the transactions topic, by transaction, deduplicated by id."""
    topic = space.prefix + TRANSACTIONS_TOPIC
    codec = codec_for(TRANSACTIONS_TOPIC)
    seen: set[str] = set()
    found: dict[str, list[Any]] = {}
    for record in read_topic(space.log, [topic]):
        event = codec.decode(record.value)
        if event.event_id not in seen:
            seen.add(event.event_id)
            found.setdefault(event.transaction_id, []).append(event)  # type: ignore[attr-defined]
    return found


def _issued(space: Namespace, txid: str) -> bool:
    return any(isinstance(e, MfaChallengeIssued) for e in _lifecycle(space).get(txid, []))


def _service(space: Namespace, root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        _cli(
            "fraud-service",
            "--log",
            space.url,
            "--state-dir",
            str(root / "fraud-service"),
            "--mfa-timeout",
            str(MFA_TIMEOUT_S),
            "--notify-log",
            str(root / "challenges.jsonl"),
            "--topic-prefix",
            space.prefix,
            "--commit-interval-ms",
            "200",
        ),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _worker(space: Namespace, root: Path) -> subprocess.Popen[bytes]:
    topology = ["--topology", "tests.integration.api_worker_app:topology"]
    return subprocess.Popen(
        _cli(
            "worker",
            "--log",
            space.url,
            "--state-dir",
            str(root / "worker"),
            "--commit-interval-ms",
            "200",
            *(topology if space.prefix else []),
        ),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), PREFIX_ENV: space.prefix},
    )


def _challenged(client: TestClient, user: str) -> tuple[str, str]:
    # Each attacker on a device of their own: several accounts taking promos on one device
    # would be another pattern (promo_abuse.shared_device) and a block.
    events, txid = seed_scenario(user, Variant(device=f"dev-{user}"))
    answer = _send_story(client, events)
    assert (answer["transaction_id"], answer["action"]) == (txid, "challenge"), answer
    return txid, answer["challenge_id"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_checkout_story_through_the_http_api(  # noqa: PLR0915 - one story, in order
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    run = uuid.uuid4().hex[:6]
    with namespace(backend, tmp_path, request) as space:
        topics = TopicMap.prefixed(space.prefix, STANDARD_TOPICS) if space.prefix else TopicMap()
        store = open_store(f"sqlite:{tmp_path / 'query.db'}")
        projector = Projector(
            store, space.log, topics=topics, group_id=f"{space.prefix}riskstream-projections"
        )
        projector.start()
        keys = ApiKeys(KEYS)
        service_config = FraudServiceConfig().prefixed(space.prefix)
        app = create_app(
            space.log,
            Settings(api_keys=KEYS, partitions=PARTITIONS),
            api_settings=ApiSettings(decision_budget_ms=20_000, topic_prefix=space.prefix),
            routers=[
                mfa_router(space.log, keys, config=service_config),
                query_router(store, space.log, keys, topics=topics),
            ],
        )
        worker = _worker(space, tmp_path)
        service = _service(space, tmp_path)
        try:
            with TestClient(app) as client:
                # A legitimate checkout.
                user = f"regular-{run}"
                legit = client.post(
                    "/v1/checkouts",
                    content=_body(checkout(user, f"{user}-tx", _now(), "s", 25.0)),
                    headers=SHOP,
                )
                assert legit.status_code == 200, legit.text
                assert (legit.json()["action"], legit.json()["decided_by"]) == ("allow", "engine")

                # The seed fraud, four times: MFA failed, passed, never answered, and passed
                # after the Fraud Service was killed mid-flow.
                failed_tx, failed_id = _challenged(client, f"failed-{run}")
                passed_tx, passed_id = _challenged(client, f"passed-{run}")
                silent_tx, _ = _challenged(client, f"silent-{run}")
                crash_tx, crash_id = _challenged(client, f"crash-{run}")
                for txid in (failed_tx, passed_tx, silent_tx, crash_tx):
                    _wait(lambda t=txid: _issued(space, t), f"the challenge of {txid}")
                assert (
                    client.post(f"/v1/mfa/{failed_id}", json={"passed": False}).status_code == 401
                )
                assert (
                    client.post(
                        f"/v1/mfa/{failed_id}", json={"passed": False}, headers=SHOP
                    ).status_code
                    == 403
                )
                for challenge, passed in ((failed_id, False), (passed_id, True)):
                    answered = client.post(
                        f"/v1/mfa/{challenge}", json={"passed": passed}, headers=PHONE
                    )
                    assert answered.status_code == 202, answered.text

                service.kill()  # SIGKILL: no goodbye, no commit
                service.wait(30)
                service = _service(space, tmp_path)
                answered = client.post(f"/v1/mfa/{crash_id}", json={"passed": True}, headers=PHONE)
                assert answered.status_code == 202, answered.text

                def settled() -> dict[str, list[str]] | None:
                    story = {
                        txid: [type(e).__name__ for e in events]
                        for txid, events in _lifecycle(space).items()
                    }
                    done = (TransactionReleased.__name__, TransactionCancelled.__name__)
                    wanted = (failed_tx, passed_tx, silent_tx, crash_tx)
                    if all(story.get(t, [""])[-1] in done for t in wanted):
                        return story
                    return None

                story = _wait(settled, "every transaction settled", timeout=MFA_TIMEOUT_S + 90)
                issued = ["TransactionPaused", "MfaChallengeIssued"]
                assert story[failed_tx] == [*issued, "TransactionCancelled"]
                assert story[passed_tx] == [*issued, "TransactionReleased"]
                assert story[silent_tx] == [*issued, "TransactionCancelled"]
                assert story[crash_tx] == [*issued, "TransactionReleased"]
                reasons = {txid: events[-1].reason for txid, events in _lifecycle(space).items()}
                assert reasons[failed_tx] == "mfa failed"
                assert reasons[silent_tx] == "mfa expired"
                assert reasons[passed_tx] == reasons[crash_tx] == "mfa passed"

                # The audit trail: why, and everything after.
                projector.catch_up()
                trail = client.get(f"/v1/transactions/{failed_tx}", headers=ANALYST)
                assert trail.status_code == 200, trail.text
                body = trail.json()
                assert body["decision"]["action"] == "challenge"
                assert "ato.new_device_promo_rush" in {
                    reason["rule"] for reason in body["decision"]["reasons"]
                }
                after = [entry["kind"] for entry in body["after"]]
                assert "alert" in after  # a challenge is also an alert
                assert [kind for kind in after if kind != "alert"] == [
                    "transaction_paused",
                    "mfa_challenge_issued",
                    "mfa_completed",
                    "transaction_cancelled",
                ]
                assert client.get(f"/v1/transactions/{failed_tx}").status_code == 401

                # Rebuilt read models equal the live ones.
                users = [f"{kind}-{run}" for kind in ("regular", "failed", "passed", "crash")]

                def views() -> list[Any]:
                    return [
                        client.get(path, headers=ANALYST).json()
                        for user in users
                        for path in (f"/v1/users/{user}/summary", f"/v1/users/{user}/transactions")
                    ]

                live = views()
                rebuild(store, space.log, topics=topics)
                assert views() == live
        finally:
            assert _stop(service) == 0
            assert _stop(worker) == 0
            projector.close()
            store.close()
    assert {Checkout.topic} <= set(ACTIVITY_TOPICS)

"""`riskstream fraud-service` on the embedded log, as a real process: challenged payments are
paused and challenged, answers release or cancel them, silence expires them, blocks cancel,
and neither a repeated decision nor a repeated answer writes anything twice. The MFA endpoint
over HTTP against an in-process service."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from riskstream.events import MfaChallengeIssued
from riskstream.log import open_log
from riskstream.log.port import EventLog
from riskstream.services.api.auth import ApiKeys
from riskstream.services.fraud_service import (
    ChallengeClosedError,
    CollectingNotifier,
    FraudServiceConfig,
    MfaSubmitter,
    Status,
    UnknownChallengeError,
    challenge_id_for,
    ensure_topics,
    fraud_service_topology,
    mfa_router,
)
from riskstream.stream import Runner
from tests.unit.services.fraud_service.kit import (
    answer,
    answer_record,
    decision_record,
    distinct,
    lifecycle,
    produce,
    states,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = FraudServiceConfig()


def fraud_service_process(
    log_dir: Path, state_dir: Path, notify_log: Path, *, mfa_timeout: float
) -> subprocess.Popen[bytes]:
    command = "from riskstream.cli import main; main()"
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            command,
            "fraud-service",
            "--log",
            f"embedded:{log_dir}",
            "--state-dir",
            str(state_dir),
            "--mfa-timeout",
            str(mfa_timeout),
            "--notify-log",
            str(notify_log),
            "--commit-interval-ms",
            "200",
            "--session-timeout-ms",
            "2000",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _started(log: EventLog) -> bool:
    """The runner creates its outputs just before it joins the group."""
    return f"{CONFIG.application}.late" in log.admin.list_topics()


def _status(log: EventLog) -> dict[str, tuple[Status, str | None]]:
    return {txid: (tx.status, tx.outcome) for txid, tx in states(distinct(lifecycle(log))).items()}


def test_the_service_process_pauses_challenges_and_settles_every_transaction(
    tmp_path: Path,
) -> None:
    log_dir, notify_log = tmp_path / "log", tmp_path / "challenges.jsonl"
    log = open_log(f"embedded:{log_dir}")
    ensure_topics(log, partitions=4)
    service = fraud_service_process(log_dir, tmp_path / "state", notify_log, mfa_timeout=3.0)
    submitter: MfaSubmitter | None = None
    try:
        wait_until(lambda: _started(log), what="the service started")
        now = int(time.time() * 1000)
        decisions = [
            decision_record("tx-pass", "alice", "challenge", decided_at=now),
            decision_record("tx-fail", "bob", "challenge", decided_at=now),
            decision_record("tx-silent", "carol", "challenge", decided_at=now),
            decision_record("tx-block", "dave", "block", decided_at=now),
            decision_record("tx-allow", "erin", "allow", decided_at=now),
            decision_record("tx-review", "erin", "review", decided_at=now),
        ]
        produce(log, CONFIG.decisions_topic, decisions)
        submitter = MfaSubmitter(log)
        wait_until(lambda: len(submitter.book) == 3, what="three challenges issued")
        passed = submitter.submit(challenge_id_for("tx-pass"), True)
        failed = submitter.submit(challenge_id_for("tx-fail"), False, method="push")
        assert (passed.transaction_id, passed.user_id) == ("tx-pass", "alice")
        assert (failed.transaction_id, failed.user_id) == ("tx-fail", "bob")
        with pytest.raises(ChallengeClosedError, match=r"answered already|released"):
            submitter.submit(challenge_id_for("tx-pass"), False)
        with pytest.raises(UnknownChallengeError):
            submitter.submit(challenge_id_for("tx-allow"), True)
        # Duplicates straight on the log: the decisions again, and an answer again.
        produce(log, CONFIG.decisions_topic, decisions)
        again = answer("tx-fail", "bob", passed=True, at=failed.submitted_at + 1)
        produce(log, CONFIG.labels_topic, [answer_record(again)])

        expected = {
            "tx-pass": (Status.RELEASED, "mfa passed"),
            "tx-fail": (Status.CANCELLED, "mfa failed"),
            "tx-silent": (Status.CANCELLED, "mfa expired"),
            "tx-block": (Status.CANCELLED, "blocked"),
        }
        wait_until(lambda: _status(log) == expected, what="every transaction settled")
        # Closed either way: by the cancellation, or - if the book has not read it yet - by
        # the expiry time itself.
        with pytest.raises(ChallengeClosedError, match=r"cancelled|expired"):
            submitter.submit(challenge_id_for("tx-silent"), True)
        service.send_signal(signal.SIGTERM)
        assert service.wait(60) == 0
    finally:
        if submitter is not None:
            submitter.close()
        if service.poll() is None:
            service.kill()
            service.wait(30)

    written = lifecycle(log)
    assert len(written) == len(distinct(written)) == 3 * 3 + 2  # nothing twice
    kinds = sorted(json.loads(value)["type"] for _, value in written)
    assert kinds.count("transaction_paused") == 4
    assert kinds.count("mfa_challenge_issued") == 3
    challenges = [
        msgspec.json.decode(line, type=MfaChallengeIssued)
        for line in notify_log.read_bytes().splitlines()
    ]
    assert sorted(c.transaction_id for c in challenges) == ["tx-fail", "tx-pass", "tx-silent"]
    assert {c.challenge_id for c in challenges} == {
        challenge_id_for(t) for t in ("tx-fail", "tx-pass", "tx-silent")
    }
    assert {c.expires_at - now for c in challenges} == {3_000}
    log.close()


class InProcessService:
    """The service's runner on a thread of this process."""

    def __init__(self, log: EventLog, state_dir: Path, config: FraudServiceConfig) -> None:
        self.notifier = CollectingNotifier()
        ensure_topics(log, config, partitions=2)
        self.runner = Runner(
            fraud_service_topology(config, notifier=self.notifier),
            log,
            state_dir=state_dir,
            commit_interval_ms=100,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.runner.start()
        while not self._stop.is_set():
            self.runner.poll_once(0.05)

    @contextmanager
    def running(self) -> Iterator[InProcessService]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(30)
            self.runner.close()


KEYS = {"mfa-key": ["mfa"], "reader": ["read"]}


def test_mfa_endpoint_answers_202_404_409_and_guards_its_door(tmp_path: Path) -> None:
    url = f"embedded:{tmp_path / 'log'}"
    service_log, api_log = open_log(url), open_log(url)
    app = FastAPI()
    app.include_router(mfa_router(api_log, ApiKeys(KEYS)))
    now = int(time.time() * 1000)
    with (
        InProcessService(service_log, tmp_path / "state", CONFIG).running() as service,
        TestClient(app) as client,
    ):
        produce(
            service_log,
            CONFIG.decisions_topic,
            [
                decision_record("tx-1", "alice", "challenge", decided_at=now),
                decision_record("tx-2", "bob", "challenge", decided_at=now),
            ],
        )
        wait_until(lambda: len(service.notifier.challenges) == 2, what="challenges issued")
        auth = {"Authorization": "Bearer mfa-key"}
        path = f"/v1/mfa/{challenge_id_for('tx-1')}"

        assert client.post(path, json={"passed": True}).status_code == 401
        assert (
            client.post(path, json={"passed": True}, headers={"X-API-Key": "nope"}).status_code
            == 401
        )
        assert (
            client.post(path, json={"passed": True}, headers={"X-API-Key": "reader"}).status_code
            == 403
        )
        bad = client.post(path, json={"passed": "yes"}, headers=auth)
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["body", "passed"]
        assert client.post(path, json={}, headers=auth).status_code == 422

        accepted = client.post(path, json={"passed": True}, headers=auth)
        assert accepted.status_code == 202
        assert accepted.json() == {
            "challenge_id": challenge_id_for("tx-1"),
            "transaction_id": "tx-1",
            "status": "accepted",
        }
        again = client.post(path, json={"passed": False}, headers=auth)
        assert again.status_code == 409
        detail = again.json()["detail"]  # answered here, or already released by the service
        assert "answered already" in detail or "released (mfa passed)" in detail
        unknown = client.post("/v1/mfa/mfa-0123456789abcdef", json={"passed": True}, headers=auth)
        assert unknown.status_code == 404
        failed = client.post(
            f"/v1/mfa/{challenge_id_for('tx-2')}", json={"passed": False}, headers=auth
        )
        assert failed.status_code == 202
        wait_until(
            lambda: (
                _status(service_log)
                == {
                    "tx-1": (Status.RELEASED, "mfa passed"),
                    "tx-2": (Status.CANCELLED, "mfa failed"),
                }
            ),
            what="both answers applied",
        )
    schema = app.openapi()["paths"]["/v1/mfa/{challenge_id}"]["post"]
    assert set(schema["responses"]) >= {"202", "404", "409", "422"}
    service_log.close()
    api_log.close()

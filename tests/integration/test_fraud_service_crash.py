"""SIGKILL the fraud-service process again and again while transactions are in every state -
paused, challenged, answered, expiring - and restart it: it ends in the state of a run that
was never interrupted, having written the same lifecycle events (a few twice at most, with
the same id and bytes), and every challenge was notified."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import msgspec

from riskstream.events import MfaChallengeIssued
from riskstream.log import open_log
from riskstream.log.port import EventLog
from riskstream.services.fraud_service import FraudServiceConfig, Ledger, Status, ensure_topics
from riskstream.state import SqliteStore, changelog_topic
from tests.integration.test_fraud_service import fraud_service_process
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

CONFIG = FraudServiceConfig()
PARTITIONS = 4
TIMEOUT_S = 4.0
ROUNDS = 8
PER_ROUND = 16
KINDS = ("pass", "fail", "silent", "late", "block", "allow", "review")

Round = dict[str, list[tuple[bytes, bytes, int]]]


def _rounds(start: int) -> list[Round]:
    """Each round: decisions of every kind, the answers given to them, and duplicates."""
    rng = random.Random(7)
    timeout = int(TIMEOUT_S * 1000)
    rounds: list[Round] = []
    for r in range(ROUNDS):
        decisions, answers = [], []
        for i in range(PER_ROUND):
            txid, user = f"tx-{r}-{i}", f"user-{rng.randrange(12)}"
            kind = KINDS[(r + i) % len(KINDS)]
            at = start + r * 700 + i
            action = {"block": "block", "allow": "allow", "review": "review"}.get(kind, "challenge")
            decisions.append(decision_record(txid, user, action, decided_at=at))
            if kind in ("pass", "fail"):
                answered_at = at + rng.randrange(100, timeout)
                answers.append(
                    answer_record(answer(txid, user, passed=kind == "pass", at=answered_at))
                )
            elif kind == "late":  # given after the deadline: the challenge expires
                answers.append(answer_record(answer(txid, user, passed=True, at=at + timeout + 1)))
        decisions += rng.sample(decisions, 3)  # the engine's retries
        answers += rng.sample(answers, 2)
        rounds.append({CONFIG.decisions_topic: decisions, CONFIG.labels_topic: answers})
    return rounds


def _feed(log: EventLog, round_: Round) -> None:
    for topic, records in round_.items():
        produce(log, topic, records)


def _settled(log: EventLog, expected: int) -> bool:
    found = states(distinct(lifecycle(log)))
    return len(found) == expected and not any(tx.is_open for tx in found.values())


def _ledgers(log: EventLog, state_dir: Path) -> dict[bytes, Ledger]:
    ledgers = {}
    name = f"{CONFIG.application}-state"
    for partition in range(PARTITIONS):
        store = SqliteStore(
            name,
            partition,
            changelog=changelog_topic(CONFIG.application, "state"),
            directory=state_dir,
        )
        store.restore(log)
        for key, value in store.items(b"lifecycle\x00"):
            ledgers[key] = msgspec.msgpack.decode(value, type=Ledger)
        store.close()
    return ledgers


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0


def test_sigkilled_service_recovers_to_the_same_state_and_events(tmp_path: Path) -> None:
    logs = {run: tmp_path / run / "log" for run in ("reference", "crash")}
    opened = {run: open_log(f"embedded:{path}") for run, path in logs.items()}
    for log in opened.values():
        ensure_topics(log, partitions=PARTITIONS)
    rounds = _rounds(int(time.time() * 1000) + 2_000)
    paused = sum(
        1
        for r in rounds
        for _, value, _ in r[CONFIG.decisions_topic][:PER_ROUND]
        if b'"action":"challenge"' in value or b'"action":"block"' in value
    )
    processes: list[subprocess.Popen[bytes]] = []

    def start(run: str) -> subprocess.Popen[bytes]:
        process = fraud_service_process(
            logs[run],
            tmp_path / run / "state",
            tmp_path / run / "notified.jsonl",
            mfa_timeout=TIMEOUT_S,
        )
        processes.append(process)
        return process

    try:
        reference = opened["reference"]
        for round_ in rounds:
            _feed(reference, round_)
        process = start("reference")
        wait_until(lambda: _settled(reference, paused), 120, "the reference run settled")
        _stop(process)

        crash = opened["crash"]
        rng = random.Random(5)
        progress = []
        for number, round_ in enumerate(rounds):
            _feed(crash, round_)
            if number % 2 == 1:
                continue  # this round waits in the backlog of the next start
            process = start("crash")
            before = len(lifecycle(crash))
            wait_until(
                lambda before=before: len(lifecycle(crash)) > before,
                60,
                "the service made progress",
            )
            time.sleep(rng.uniform(0.0, 0.6))
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            progress.append(len(distinct(lifecycle(crash))))
        process = start("crash")
        wait_until(lambda: _settled(crash, paused), 120, "the crashed run settled")
        _stop(process)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(30)

    expected, got = distinct(lifecycle(reference)), distinct(lifecycle(crash))
    print(
        f"lifecycle events after each kill: {progress} of {len(expected)}; "
        f"written {len(lifecycle(crash))} times in all"
    )
    assert progress == sorted(progress)
    assert progress[-1] < len(expected)  # the kills landed before the work was done
    assert got == expected  # the same events, with the same ids and bytes
    assert len(lifecycle(reference)) == len(expected)  # the uninterrupted run: each once
    final = states(got)
    assert {tx.status for tx in final.values()} == {Status.RELEASED, Status.CANCELLED}
    assert {tx.outcome for tx in final.values()} == {
        "mfa passed",
        "mfa failed",
        "mfa expired",
        "blocked",
    }
    assert _ledgers(crash, tmp_path / "crash" / "state") == _ledgers(
        reference, tmp_path / "reference" / "state"
    )
    notified = {
        run: {
            msgspec.json.decode(line, type=MfaChallengeIssued).challenge_id
            for line in (tmp_path / run / "notified.jsonl").read_bytes().splitlines()
        }
        for run in logs
    }
    issued = {tx.challenge_id for tx in final.values() if tx.challenge_id is not None}
    assert notified["crash"] == notified["reference"] == issued
    for log in opened.values():
        log.close()

"""The Fraud Service on the real Kafka broker: challenges answered, failed and left to expire,
a block, a repeated decision - and the MFA answers submitted through the challenge book."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from riskstream.log import open_log
from riskstream.services.fraud_service import (
    ChallengeClosedError,
    FraudServiceConfig,
    MfaSubmitter,
    Status,
    challenge_id_for,
)
from tests.integration.test_fraud_service import InProcessService
from tests.unit.services.fraud_service.kit import (
    decision_record,
    distinct,
    lifecycle,
    produce,
    states,
    wait_until,
)


@pytest.mark.kafka
def test_fraud_service_on_kafka(kafka_bootstrap: str, tmp_path: Path) -> None:
    log = open_log(f"kafka://{kafka_bootstrap}")
    config = FraudServiceConfig.isolated(f"fs-{uuid.uuid4().hex[:8]}", mfa_timeout_ms=6_000)
    service = InProcessService(log, tmp_path / "state", config)
    try:
        with service.running(), MfaSubmitter(log, config) as mfa:
            now = int(time.time() * 1000)
            decisions = [
                decision_record("tx-pass", "alice", "challenge", decided_at=now),
                decision_record("tx-fail", "bob", "challenge", decided_at=now),
                decision_record("tx-silent", "carol", "challenge", decided_at=now),
                decision_record("tx-block", "dave", "block", decided_at=now),
                decision_record("tx-allow", "erin", "allow", decided_at=now),
            ]
            produce(log, config.decisions_topic, decisions)
            wait_until(lambda: len(mfa.book) == 3, 60, "the challenges issued")
            assert mfa.submit(challenge_id_for("tx-pass"), True).user_id == "alice"
            assert mfa.submit(challenge_id_for("tx-fail"), False).user_id == "bob"
            with pytest.raises(ChallengeClosedError):
                mfa.submit(challenge_id_for("tx-fail"), True)
            produce(log, config.decisions_topic, decisions[:2])  # a repeated decision

            def outcome() -> dict[str, tuple[Status, str | None]]:
                found = states(distinct(lifecycle(log, config)), config)
                return {txid: (tx.status, tx.outcome) for txid, tx in found.items()}

            wait_until(
                lambda: (
                    outcome()
                    == {
                        "tx-pass": (Status.RELEASED, "mfa passed"),
                        "tx-fail": (Status.CANCELLED, "mfa failed"),
                        "tx-silent": (Status.CANCELLED, "mfa expired"),
                        "tx-block": (Status.CANCELLED, "blocked"),
                    }
                ),
                60,
                "every transaction settled",
            )
        written = lifecycle(log, config)
        assert len(written) == len(distinct(written)) == 3 * 3 + 2
        assert sorted(c.transaction_id for c in service.notifier.challenges) == [
            "tx-fail",
            "tx-pass",
            "tx-silent",
        ]
    finally:
        ours = [
            topic
            for topic in log.admin.list_topics()
            if config.application in topic
            or topic in (config.decisions_topic, config.labels_topic, config.transactions_topic)
        ]
        log.admin.delete_topics(ours)
        log.close()

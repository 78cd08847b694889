"""Export to Parquet from a hand-made embedded log: exact rows read back with pyarrow, the
time range, no consumer group touched, and ``riskstream export`` as a process."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from riskstream.events import (
    ACTIVITY_TOPICS,
    Chargeback,
    Checkout,
    Click,
    Event,
    FraudReported,
    Login,
    MfaCompleted,
    ProfileUpdated,
    PromoApplied,
    codec_for,
)
from riskstream.fraud.decision import Decision, ModelVerdict, RuleReason, encode_decision
from riskstream.fraud.topology import DECISIONS_TOPIC
from riskstream.log import EventLog, TopicPartition, TopicSpec, open_log
from riskstream.services.export import EVENT_SCHEMA, LABEL_SCHEMA, export_parquet, table_paths

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z
MINUTE = 60_000
HOUR = 60 * MINUTE
END = T0 + HOUR
PARTITIONS = 2


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# -- the hand-made log -------------------------------------------------------------------------

CHECKOUT = Checkout(
    event_id="e-checkout", user_id="u-1", event_time=T0 + 3 * MINUTE, source="web",
    transaction_id="tx-1", amount=129.5, currency="EUR", merchant_id="m-7", item_count=3,
    instrument_fingerprint="card-1", bin_country="DE", device_id="d-1", ip="10.0.0.1",
    country="DE", shipping_address_hash="addr-1", session_id="s-1",
)  # fmt: skip
INSIDE: tuple[Event, ...] = (
    Login(
        event_id="e-login", user_id="u-1", event_time=T0 + MINUTE, device_id="d-1",
        ip="10.0.0.1", country="DE", latitude=52.5, longitude=13.4, user_agent="ua",
    ),
    Click(event_id="e-click", user_id="u-1", event_time=T0 + 2 * MINUTE, session_id="s-1",
          page="/cart", first_in_session=True),
    CHECKOUT,
    PromoApplied(event_id="e-promo", user_id="u-2", event_time=T0 + 5 * MINUTE, code="SPRING15",
                 discount_value=15.0, cart_value=100.0),
    ProfileUpdated(event_id="e-profile", user_id="u-2", event_time=T0 + 6 * MINUTE,
                   fields=("email", "phone"), email_hash="h-e"),
    Chargeback(event_id="e-cb", user_id="u-1", event_time=T0 + 30 * MINUTE, source="acquirer",
               transaction_id="tx-1", amount=129.5, reason_code="10.4"),
    MfaCompleted(event_id="e-mfa", user_id="u-2", event_time=T0 + 40 * MINUTE,
                 transaction_id="tx-2", challenge_id="ch-2", passed=False, method="sms"),
    FraudReported(event_id="e-report", user_id="u-3", event_time=T0 + 50 * MINUTE,
                  transaction_id="tx-9", reporter="customer", confirmed=False),
)  # fmt: skip
OUTSIDE: tuple[Event, ...] = (
    Click(event_id="e-before", user_id="u-1", event_time=T0 - 1, session_id="s-0", page="/"),
    Click(event_id="e-at-end", user_id="u-1", event_time=END, session_id="s-2", page="/"),
    Chargeback(event_id="e-late-cb", user_id="u-2", event_time=END + HOUR, source="acquirer",
               transaction_id="tx-2", amount=40.0, reason_code="4837"),
)  # fmt: skip


def _decision(txid: str, at: int, action: str, features: dict[str, Any], **extra: Any) -> Decision:
    fields: dict[str, Any] = {
        "transaction_id": txid, "user_id": "u-1", "checkout_time": at, "amount": 129.5,
        "currency": "EUR", "merchant_id": "m-7", "action": action, "score": 12.5,
        "rule_score": 12.5, "rule_action": action, "reasons": [], "shadow": [], "faults": [],
        "model": None, "challenger": None, "rules_version": "r1", "lists_version": "l1",
        "features_version": "f1", "features": features, "missing": [], "decided_at": at + 7,
        "latency_ms": 7,
    }  # fmt: skip
    return Decision(**(fields | extra))


REASON = RuleReason(
    rule="ato.new_device_promo_rush", version=3, score=60.0, action="challenge",
    features={"device.is_new": True},
)  # fmt: skip
DECISIONS = (
    _decision(
        "tx-1", T0 + 3 * MINUTE, "challenge",
        {"user.checkouts_1h": 2, "user.amount_1h": 1.5, "device.is_new": True, "ip.country": "DE",
         "mixed": 1, "never": None},
        reasons=[REASON], shadow=[REASON], missing=["ip"],
        model=ModelVerdict(version="m-3", probability=0.25, contributions=[]),
        score=72.5,
    ),
    _decision(
        "tx-2", T0 + 10 * MINUTE, "allow",
        {"user.checkouts_1h": 0, "user.amount_1h": 3, "device.is_new": False, "mixed": "x"},
    ),
    _decision("tx-0", T0 - 5 * MINUTE, "allow", {"user.checkouts_1h": 9, "only_before": 1.0}),
)  # fmt: skip


def _fill(log: EventLog) -> None:
    log.admin.create_topics(
        [TopicSpec(name=t, partitions=PARTITIONS) for t in (*ACTIVITY_TOPICS, DECISIONS_TOPIC)]
    )
    producer = log.producer()
    for event in (*INSIDE, *OUTSIDE):
        codec = codec_for(event.topic)
        producer.produce(event.topic, codec.encode(event), event.key, timestamp=event.event_time)
    producer.produce("events.click", b"{not json", b"u-1", timestamp=T0 + MINUTE)
    for decision in DECISIONS:
        producer.produce(
            DECISIONS_TOPIC, encode_decision(decision), b"u-1", timestamp=decision.checkout_time
        )
    assert producer.flush(30) == 0


@pytest.fixture
def log(tmp_path: Path) -> Any:
    log = open_log(f"embedded:{tmp_path / 'log'}")
    _fill(log)
    yield log
    log.close()


def _rows(path: Path, key: str) -> list[dict[str, Any]]:
    return sorted(pq.read_table(path).to_pylist(), key=lambda row: row[key])


# -- exact rows --------------------------------------------------------------------------------


def test_events_decisions_and_labels_come_back_exactly(log: EventLog, tmp_path: Path) -> None:
    summary = export_parquet(log, tmp_path / "jan.parquet", start_ms=T0, end_ms=END)
    files = table_paths(tmp_path / "jan.parquet")
    assert summary.files == files
    assert files["events"] == tmp_path / "jan.events.parquet"
    assert summary.rows == {"events": len(INSIDE), "decisions": 2, "labels": 3}
    assert summary.undecodable == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "jan.decisions.parquet",
        "jan.events.parquet",
        "jan.labels.parquet",
        "log",
    ]  # fmt: skip (and no partial files left behind)

    events = _rows(files["events"], "event_id")
    assert [row["event_id"] for row in events] == sorted(e.event_id for e in INSIDE)
    assert pq.read_schema(files["events"]).remove_metadata() == EVENT_SCHEMA
    checkout = next(row for row in events if row["event_id"] == "e-checkout")
    located = {k: checkout.pop(k) for k in ("topic", "partition", "offset")}
    assert located["topic"] == "events.checkout"
    assert checkout == {name: None for name in EVENT_SCHEMA.names if name not in located} | {
        "type": "checkout", "event_id": "e-checkout", "user_id": "u-1",
        "event_time": _ts(T0 + 3 * MINUTE), "source": "web", "schema_version": 1,
        "transaction_id": "tx-1", "amount": 129.5, "currency": "EUR", "merchant_id": "m-7",
        "item_count": 3, "instrument_fingerprint": "card-1", "bin_country": "DE",
        "device_id": "d-1", "ip": "10.0.0.1", "country": "DE",
        "shipping_address_hash": "addr-1", "session_id": "s-1",
    }  # fmt: skip
    profile = next(row for row in events if row["event_id"] == "e-profile")
    assert (profile["type"], profile["fields"], profile["email_hash"]) == (
        "profile_updated", ["email", "phone"], "h-e",
    )  # fmt: skip
    assert {row["type"] for row in events} == {
        "login", "click", "checkout", "promo", "profile_updated", "chargeback", "mfa_completed",
        "fraud_reported",
    }  # fmt: skip

    decisions = _rows(files["decisions"], "transaction_id")
    assert [row["transaction_id"] for row in decisions] == ["tx-1", "tx-2"]
    challenged = decisions[0]
    reasons = json.loads(challenged.pop("reasons_json"))
    assert [r["rule"] for r in reasons] == ["ato.new_device_promo_rush"]
    assert reasons[0]["features"] == {"device.is_new": True}
    assert challenged == {
        "transaction_id": "tx-1", "user_id": "u-1", "checkout_time": _ts(T0 + 3 * MINUTE),
        "decided_at": _ts(T0 + 3 * MINUTE + 7), "latency_ms": 7, "amount": 129.5,
        "currency": "EUR", "merchant_id": "m-7", "action": "challenge", "score": 72.5,
        "rule_score": 12.5, "rule_action": "challenge",
        "rule_ids": ["ato.new_device_promo_rush"], "shadow_rule_ids": ["ato.new_device_promo_rush"],
        "model_version": "m-3", "model_probability": 0.25, "challenger_version": None,
        "challenger_probability": None, "rules_version": "r1", "lists_version": "l1",
        "features_version": "f1", "missing": ["ip"], "faults": [],
        "feature.device.is_new": True, "feature.ip.country": "DE", "feature.mixed": "1",
        "feature.never": None, "feature.user.amount_1h": 1.5, "feature.user.checkouts_1h": 2,
    }  # fmt: skip
    allowed = decisions[1]
    # A feature of mixed kinds is JSON text (1 and "x"), and its field says so.
    assert (allowed["feature.mixed"], allowed["feature.ip.country"]) == ('"x"', None)
    assert allowed["feature.user.amount_1h"] == 3.0
    # The feature columns are those of the range's decisions, typed by their values.
    schema = pq.read_schema(files["decisions"])
    features = {f.name: str(f.type) for f in schema if f.name.startswith("feature.")}
    assert features == {
        "feature.device.is_new": "bool", "feature.ip.country": "string", "feature.mixed": "string",
        "feature.never": "double", "feature.user.amount_1h": "double",
        "feature.user.checkouts_1h": "int64",
    }  # fmt: skip
    assert schema.field("feature.mixed").metadata == {b"encoding": b"json"}
    assert schema.field("feature.ip.country").metadata is None
    assert schema.metadata[b"riskstream.table"] == b"decisions"
    assert schema.metadata[b"riskstream.from"] == b"2026-01-01T00:00:00+00:00"

    labels = _rows(files["labels"], "event_id")
    assert pq.read_schema(files["labels"]).remove_metadata() == LABEL_SCHEMA
    assert labels == [
        {"event_id": "e-cb", "transaction_id": "tx-1", "user_id": "u-1",
         "label_time": _ts(T0 + 30 * MINUTE), "kind": "chargeback", "is_fraud": True,
         "source": "acquirer", "amount": 129.5, "detail": "10.4"},
        {"event_id": "e-mfa", "transaction_id": "tx-2", "user_id": "u-2",
         "label_time": _ts(T0 + 40 * MINUTE), "kind": "mfa_failed", "is_fraud": True,
         "source": "unknown", "amount": None, "detail": "sms"},
        {"event_id": "e-report", "transaction_id": "tx-9", "user_id": "u-3",
         "label_time": _ts(T0 + 50 * MINUTE), "kind": "fraud_reported", "is_fraud": False,
         "source": "unknown", "amount": None, "detail": "customer"},
    ]  # fmt: skip


def test_the_time_range_filters_every_table(log: EventLog, tmp_path: Path) -> None:
    out = tmp_path / "slice.parquet"
    summary = export_parquet(log, out, start_ms=T0 + 2 * MINUTE, end_ms=T0 + 6 * MINUTE)
    files = table_paths(out)
    events = _rows(files["events"], "event_id")
    assert [row["event_id"] for row in events] == ["e-checkout", "e-click", "e-promo"]
    assert [r["transaction_id"] for r in _rows(files["decisions"], "transaction_id")] == ["tx-1"]
    assert summary.rows["labels"] == 0
    assert pq.read_table(files["labels"]).schema.remove_metadata() == LABEL_SCHEMA

    # Later labels of the range's checkouts, on request; the events stay in the range.
    summary = export_parquet(
        log, out, start_ms=T0, end_ms=END, labels_until_ms=END + 2 * HOUR, batch_rows=2
    )
    assert summary.rows == {"events": len(INSIDE), "decisions": 2, "labels": 4}
    labels = _rows(files["labels"], "event_id")
    assert [row["event_id"] for row in labels] == ["e-cb", "e-late-cb", "e-mfa", "e-report"]
    # Small row groups (bounded memory), the same rows.
    assert pq.ParquetFile(files["events"]).num_row_groups >= len(INSIDE) // 2
    assert sorted(row["event_id"] for row in pq.read_table(files["events"]).to_pylist()) == sorted(
        e.event_id for e in INSIDE
    )

    with pytest.raises(ValueError, match="start < end"):
        export_parquet(log, out, start_ms=END, end_ms=T0)


# -- nobody's offsets --------------------------------------------------------------------------


def _groups(log_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the embedded log's group tables (read-only)."""
    conn = sqlite3.connect(f"file:{log_dir / 'meta.db'}?mode=ro", uri=True)
    try:
        return {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall())
            for table in ("groups", "members", "owners", "commits")
        }
    finally:
        conn.close()


def test_the_export_joins_no_group_and_moves_no_offsets(log: EventLog, tmp_path: Path) -> None:
    tps = [TopicPartition(topic, p) for topic in ACTIVITY_TOPICS for p in range(PARTITIONS)]
    analytics = log.consumer("analytics")
    analytics.subscribe(list(ACTIVITY_TOPICS))
    read = 0
    while read < 3:
        read += len(analytics.poll(3 - read, 1.0))
    analytics.commit()
    committed = analytics.committed(tps)
    analytics.close()
    assert any(committed.values())
    before = _groups(tmp_path / "log")
    assert [row[0] for row in before["groups"]] == ["analytics"]

    export_parquet(log, tmp_path / "x.parquet", start_ms=T0, end_ms=END)

    assert _groups(tmp_path / "log") == before  # no new group, no commit, no member
    probe = log.consumer("analytics")
    assert probe.committed(tps) == committed
    probe.close()


# -- the command -------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from riskstream.cli import main; main()", "export", *args],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_riskstream_export_writes_the_files_and_reports_them(log: EventLog, tmp_path: Path) -> None:
    out = tmp_path / "jan.parquet"
    url = f"embedded:{tmp_path / 'log'}"
    done = _cli("--from", "2026-01-01", "--to", "2026-01-01T01:00Z", "--out", str(out),
                "--log", url, "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows"] == {"events": len(INSIDE), "decisions": 2, "labels": 3}
    assert summary["files"] == {name: str(path) for name, path in table_paths(out).items()}
    assert summary["undecodable"] == 1
    assert pq.read_table(table_paths(out)["decisions"]).num_rows == 2

    by_ms = _cli("--from", str(T0), "--to", str(END), "--out", str(tmp_path / "b.parquet"),
                 "--log", url)  # fmt: skip
    assert by_ms.returncode == 0, by_ms.stderr
    assert "decisions" in by_ms.stdout

    bad = _cli("--from", "yesterday", "--to", "2026-01-02", "--out", str(out), "--log", url)
    assert bad.returncode == 2
    assert "--from: not an instant" in bad.stderr
    empty = _cli("--from", "2026-01-02", "--to", "2026-01-01", "--out", str(out), "--log", url)
    assert empty.returncode == 2
    assert "--to must be after --from" in empty.stderr

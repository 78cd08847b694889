"""A run's topic namespace, and the marking that keeps live ids apart from the history's."""

from __future__ import annotations

from riskstream.demo.namespace import Namespace
from riskstream.demo.traffic import LIVE_MARK, LiveTraffic, is_live
from riskstream.events import ACTIVITY_TOPICS, Checkout, Event
from riskstream.fraud.topology import FraudConfig
from riskstream.services.fraud_service import FraudServiceConfig
from riskstream.sim import GroundTruth, SimConfig, TrafficSimulator


def test_the_standard_namespace_changes_nothing() -> None:
    standard = Namespace()
    assert standard.fraud() == FraudConfig()
    assert standard.fraud_service(mfa_timeout_ms=1_000) == FraudServiceConfig(mfa_timeout_ms=1_000)
    assert standard.projections().actual("risk.decisions") == "risk.decisions"
    assert standard.inputs == ACTIVITY_TOPICS
    assert not standard.owns("risk.decisions")


def test_a_run_namespace_prefixes_every_topic_and_group_alike() -> None:
    ns = Namespace.for_run("20260101-000000-abc123")
    prefix = "demo-20260101-000000-abc123."
    assert ns.prefix == prefix
    fraud = ns.fraud()
    assert fraud.input_topics == tuple(prefix + t for t in ACTIVITY_TOPICS)
    assert fraud.decisions_topic == ns.decisions == prefix + "risk.decisions"
    assert fraud.application.startswith(prefix)
    service = ns.fraud_service(mfa_timeout_ms=5_000)
    # the Fraud Service reads the engine's decisions and the labels the engine reads
    assert service.decisions_topic == fraud.decisions_topic
    assert service.labels_topic == ns.labels == prefix + "events.label"
    assert service.labels_topic in fraud.input_topics
    assert service.transactions_topic == ns.transactions
    views = ns.projections()
    for standard in ("events.checkout", "risk.decisions", "risk.transactions", "events.label"):
        assert views.actual(standard) == prefix + standard
    assert ns.projector_group.startswith(prefix)
    assert {ns.models, ns.rules, ns.lists} == {
        prefix + "risk.models",
        prefix + "risk.rules",
        prefix + "risk.lists",
    }
    assert ns.owns(f"dlq.{prefix}events.login") and not ns.owns("risk.decisions")


def _marked(users: int) -> tuple[list[Event], list[GroundTruth]]:
    records: list[GroundTruth] = []
    live = LiveTraffic(seed=3, users=users, fraud_rate=0.2, rate=1_000.0, truth=records.append)
    simulator = TrafficSimulator(SimConfig(seed=3, users=users, fraud_rate=0.2))
    events = [live.mark(e) for e in simulator.events(20_000, truth=live._marked_truth)]
    return events, records


def test_live_ids_are_marked_and_customers_keep_theirs() -> None:
    users = 200
    events, records = _marked(users)
    assert all(e.event_id.startswith(LIVE_MARK) for e in events)
    checkouts = [e for e in events if isinstance(e, Checkout)]
    assert checkouts and all(is_live(c.transaction_id) for c in checkouts)
    assert {c.transaction_id for c in checkouts} == {r.transaction_id for r in records}
    by_tx = {r.transaction_id: r for r in records}
    assert all(by_tx[c.transaction_id].user_id == c.user_id for c in checkouts)
    customers = {e.user_id for e in events if not e.user_id.startswith(LIVE_MARK)}
    opened = {e.user_id for e in events if e.user_id.startswith(LIVE_MARK)}
    assert customers and all(int(u.removeprefix("user-")) < users for u in customers)
    assert opened, "fraudsters and new customers open accounts during the simulation"
    assert all(int(u.removeprefix(LIVE_MARK + "user-")) >= users for u in opened)
    assert any(r.is_fraud for r in records) and any(not r.is_fraud for r in records)

"""A run's topic namespace; live traffic: marked ids, the history's customers going on, one
live session each."""

from __future__ import annotations

from collections import defaultdict
from typing import Final

import pytest

from riskstream.demo.config import MIN_USERS, DemoConfig, default_users
from riskstream.demo.namespace import Namespace
from riskstream.demo.traffic import (
    LIVE_MARK,
    LiveTraffic,
    customers_needed,
    history_simulator,
    is_live,
    live_seed,
)
from riskstream.errors import ConfigError
from riskstream.events import ACTIVITY_TOPICS, Checkout, Event
from riskstream.fraud.topology import FraudConfig
from riskstream.services.fraud_service import FraudServiceConfig
from riskstream.sim import GroundTruth, SimConfig, TrafficSimulator

_END: Final = 1_767_225_600_000


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


def _history(users: int, days: float = 3.0) -> TrafficSimulator:
    """A short history, simulated to its end (as the demo writes it)."""
    simulator = history_simulator(seed=3, users=users, fraud_rate=0.05, days=days, end_ms=_END)
    for _ in simulator.events(until_ms=_END):
        pass
    return simulator


def _live(
    history: TrafficSimulator, count: int
) -> tuple[LiveTraffic, list[Event], list[GroundTruth]]:
    records: list[GroundTruth] = []
    live = LiveTraffic(
        seed=3, population=history.population, fraud_rate=0.2, rate=1_000.0, truth=records.append
    )
    events = [live.mark(e) for e in live.simulator.events(count, truth=live._marked_truth)]
    return live, events, records


def test_live_ids_are_marked_and_customers_keep_theirs() -> None:
    users = 2_000
    history = _history(users)
    joined = {u.user_id for u in history.population._joined}
    opened_before = next(history.population._fresh)
    _, events, records = _live(history, 15_000)
    assert all(e.event_id.startswith(LIVE_MARK) for e in events)
    checkouts = [e for e in events if isinstance(e, Checkout)]
    assert checkouts and all(is_live(c.transaction_id) for c in checkouts)
    assert {c.transaction_id for c in checkouts} == {r.transaction_id for r in records}
    by_tx = {r.transaction_id: r for r in records}
    assert all(by_tx[c.transaction_id].user_id == c.user_id for c in checkouts)
    assert not any(e.user_id.startswith(LIVE_MARK) for e in events)
    numbers = {int(e.user_id.removeprefix("user-")) for e in events}
    assert any(n < users for n in numbers), "the population's customers come back"
    assert joined & {e.user_id for e in events}, "so do those who signed up in the history"
    opened = {n for n in numbers if n >= users and f"user-{n:07d}" not in joined}
    assert opened, "fraudsters and new customers open accounts during the live phase"
    assert min(opened) > users + opened_before, "numbered after the history's accounts"
    assert any(r.is_fraud for r in records) and any(not r.is_fraud for r in records)


def test_live_traffic_does_not_replay_the_history() -> None:
    history = _history(2_000)
    seen: set[tuple[str, float, str]] = set()
    replay = TrafficSimulator(history.config)  # the history's random stream, from its start
    for event in replay.take(15_000):
        if isinstance(event, Checkout):
            seen.add((event.user_id, event.amount, event.merchant_id))
    _, events, _ = _live(history, 15_000)
    live = [(e.user_id, e.amount, e.merchant_id) for e in events if isinstance(e, Checkout)]
    assert live and not seen.intersection(live)
    assert live_seed(3) != 3 and live_seed(3) == live_seed(3) != live_seed(4)


def test_each_customer_has_at_most_one_live_session() -> None:
    users = 4_000  # 5,000 events start about 2,200 sessions (see customers_needed)
    history = _history(users)
    live, events, records = _live(history, 5_000)
    sessions: dict[str, set[str]] = defaultdict(set)
    for event in events:
        session = getattr(event, "session_id", None)
        if session is not None:
            sessions[event.user_id].add(session)
    # an impossible-travel incident is the customer's own session and the attacker's
    travelled = {r.user_id for r in records if r.scenario == "impossible_travel"}
    customers = {u for u in sessions if int(u.removeprefix("user-")) < users}
    assert len(customers) > 400
    assert all(len(sessions[u]) <= (2 if u in travelled else 1) for u in customers)
    assert live.population.revisits == 0
    assert live.population.visited >= len(customers)


def test_the_live_phase_goes_on_from_where_the_history_left_its_customers() -> None:
    history = _history(300, days=20.0)
    moved = {
        u.user_id: u.address_hash
        for u in history.population._cache.values()
        if u.address_hash != history.population._make_user(int(u.user_id[5:])).address_hash
    }
    assert moved, "some customers changed their address in the history"
    live, events, _ = _live(history, 20_000)
    shipped = {e.user_id: e.shipping_address_hash for e in events if isinstance(e, Checkout)}
    assert live.population.customer(next(iter(moved))) is history.population.customer(
        next(iter(moved))
    )
    assert any(shipped.get(user) == address for user, address in moved.items())


def test_the_population_must_hold_a_customer_per_live_session() -> None:
    # about 98 sessions a second for the minute and the ramp-up, with a quarter to spare
    assert customers_needed(1_000, 60) == default_users(1_000, 60) == DemoConfig().users == 15_319
    assert default_users(100, 10) == MIN_USERS
    DemoConfig(users=1_000, rate=100, duration_s=10)
    with pytest.raises(ConfigError, match="too few"):
        DemoConfig(users=6_000, rate=1_000, duration_s=60)


def test_a_simulator_goes_on_only_with_a_population_of_its_size() -> None:
    history = _history(300, days=1.0)
    with pytest.raises(ConfigError, match="300 customers"):
        TrafficSimulator(SimConfig(seed=4, users=400), population=history.population)
    going_on = TrafficSimulator(SimConfig(seed=4, users=300), population=history.population)
    assert going_on.population is history.population

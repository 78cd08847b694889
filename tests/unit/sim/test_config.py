"""Configuration: validation, scenario mix, population."""

from __future__ import annotations

import dataclasses

import pytest

from riskstream.errors import ConfigError
from riskstream.sim import SCENARIOS, SessionSimulator, SimConfig, TrafficSimulator
from riskstream.sim.session import LabelPolicy
from tests.unit.sim.kit import simulate


@pytest.mark.parametrize(
    "overrides",
    [
        {"users": 0},
        {"fraud_rate": 1.0},
        {"fraud_rate": -0.1},
        {"sessions_per_user_day": 0},
        {"events_per_second": 0},
        {"start_ms": -1},
        {"emit_from_ms": 0},
        {"scenario_weights": {"teleportation": 1.0}},
        {"scenario_weights": {"card_testing": -1.0}},
        {"labels": LabelPolicy(fraction=1.5)},
        {"labels": LabelPolicy(min_days=3, max_days=2)},
    ],
)
def test_bad_configuration_is_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        SimConfig(**overrides)  # type: ignore[arg-type] - the point is the wrong values


def test_the_configuration_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SimConfig().seed = 3  # type: ignore[misc] - frozen on purpose


def test_scenario_weights_select_the_mix() -> None:
    only_bots = {name: 0.0 for name in SCENARIOS} | {"bot_checkout": 1.0}
    run = simulate(40_000, seed=2, fraud_rate=0.2, scenario_weights=only_bots)
    assert {r.scenario for r in run.truth if r.is_fraud} == {"bot_checkout"}


def test_no_compromised_merchants_disables_that_scenario() -> None:
    config = SimConfig(compromised_merchants=0)
    assert config.weights()["compromised_merchant"] == 0
    run = simulate(40_000, seed=2, fraud_rate=0.3, compromised_merchants=0)
    assert run.simulator.population.compromised == ()
    assert "compromised_merchant" not in {r.scenario for r in run.truth}


def test_overrides_apply_on_top_of_a_config() -> None:
    base = SimConfig(seed=5, users=100)
    simulator = TrafficSimulator(base, users=200)
    assert simulator.config.seed == 5
    assert simulator.config.users == 200
    assert 0 < simulator.incident_probability < 0.01


def test_the_population_is_deterministic_and_lazy() -> None:
    simulator = TrafficSimulator(seed=3, users=1_000_000)
    assert simulator.population.touched == 0
    simulator.take(2_000)
    assert 0 < simulator.population.touched < 2_000
    again = TrafficSimulator(seed=3, users=1_000_000).population.user(123_456)
    assert again == TrafficSimulator(seed=3, users=1_000_000).population.user(123_456)
    assert again.created_ms < simulator.config.start_ms
    assert 1 <= len(again.devices) <= 3
    assert 1 <= len(again.instruments) <= 3
    assert len(simulator.population.compromised) == 3


def test_sessions_per_user_day_sets_the_volume() -> None:
    day = 86_400_000
    start = SimConfig().start_ms
    light = TrafficSimulator(seed=1, users=2_000, sessions_per_user_day=0.5)
    heavy = TrafficSimulator(seed=1, users=2_000, sessions_per_user_day=1.5)
    light_count = len(list(light.events(until_ms=start + day)))
    heavy_count = len(list(heavy.events(until_ms=start + day)))
    assert heavy_count == pytest.approx(3 * light_count, rel=0.15)


def test_the_simple_session_simulator_still_serves_the_smoke_run() -> None:
    events = list(SessionSimulator(users=50, seed=7).events(500))
    assert len(events) == 500
    assert [e.event_id for e in events] == [
        e.event_id for e in SessionSimulator(users=50, seed=7).events(500)
    ]

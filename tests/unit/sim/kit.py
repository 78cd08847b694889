"""Helpers of the simulator tests: run a simulation, index its events and ground truth."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from riskstream.events import Checkout, Click, Event, Login, MouseMovement, PromoApplied
from riskstream.sim import SCENARIOS, GroundTruth, SimConfig, TrafficSimulator
from riskstream.sim.population import User

HOUR = 3_600_000
DAY = 24 * HOUR


@dataclass
class Run:
    """One simulation's events and ground truth, indexed for the checks."""

    simulator: TrafficSimulator
    events: list[Event]
    truth: list[GroundTruth]
    by_session: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))
    logins: dict[str, list[Login]] = field(default_factory=lambda: defaultdict(list))
    checkouts: dict[str, Checkout] = field(default_factory=dict)
    by_user: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        for event in self.events:
            self.by_user[event.user_id].append(event)
            session = getattr(event, "session_id", None)
            if session is not None:
                self.by_session[session].append(event)
            if type(event) is Login:
                self.logins[event.user_id].append(event)
            elif type(event) is Checkout:
                self.checkouts[event.transaction_id] = event

    def events_of(self, user_id: str) -> list[Event]:
        return self.by_user[user_id]

    @property
    def end_ms(self) -> int:
        return self.events[-1].event_time

    def incidents(self, scenario: str, *, margin_ms: int = 6 * HOUR) -> dict[str, list[Checkout]]:
        """The complete incidents of a scenario: incident id -> its checkouts in order."""
        grouped: dict[str, list[Checkout]] = defaultdict(list)
        for record in self.truth:
            if record.scenario == scenario and record.incident_id is not None:
                grouped[record.incident_id].append(self.checkouts[record.transaction_id])
        return {
            incident: checkouts
            for incident, checkouts in grouped.items()
            if checkouts[0].event_time < self.end_ms - margin_ms
        }

    def session_login(self, checkout: Checkout) -> Login:
        """The successful login that opened the checkout's session (same user and device)."""
        assert checkout.session_id is not None
        first = self.first_click(checkout.session_id)
        candidates = [
            login
            for login in self.logins[checkout.user_id]
            if login.success
            and login.device_id == checkout.device_id
            and first.event_time - 60_000 <= login.event_time <= checkout.event_time
        ]
        assert candidates, f"no login for {checkout.transaction_id}"
        return candidates[0]

    def first_click(self, session_id: str) -> Click:
        clicks = [e for e in self.by_session[session_id] if type(e) is Click]
        assert clicks[0].first_in_session
        return clicks[0]

    def session(self, session_id: str, kind: type[Any]) -> list[Any]:
        return [e for e in self.by_session[session_id] if type(e) is kind]

    def promos(self, session_id: str) -> list[PromoApplied]:
        return self.session(session_id, PromoApplied)

    def mouse(self, session_id: str) -> list[MouseMovement]:
        return self.session(session_id, MouseMovement)

    def customer(self, user_id: str) -> User | None:
        """The population's customer (None for accounts fraudsters opened)."""
        return self.simulator.population.customer(user_id)


def simulate(events: int, config: SimConfig | None = None, **overrides: Any) -> Run:
    truth: list[GroundTruth] = []
    simulator = TrafficSimulator(config, **overrides)
    return Run(simulator, simulator.take(events, truth=truth.append), truth)


def only(scenario: str, *, events: int = 40_000, seed: int = 11, **overrides: Any) -> Run:
    """A stream whose fraud is all one scenario, at a high rate (so there is plenty)."""
    weights = {name: float(name == scenario) for name in SCENARIOS}
    settings: dict[str, Any] = {
        "seed": seed,
        "users": 3_000,
        "fraud_rate": 0.3,
        "scenario_weights": weights,
    }
    settings.update(overrides)
    return simulate(events, **settings)

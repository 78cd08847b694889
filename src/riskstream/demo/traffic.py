"""The demo's traffic: weeks of simulated history, then live traffic from the same customers.

The history is the simulator at its natural pace (``users`` customers, half a session a
day each, the daily rhythm, delayed chargebacks), from ``days`` ago until now, written as
fast as the log takes it. Live traffic goes on with the same population, as the history
left it - its customers' devices, addresses, trips, the customers who signed up meanwhile -
paced at ``rate`` events per second with event time = now
(:func:`~riskstream.sim.live_simulator`, :func:`~riskstream.sim.paced`), on a random
stream of its own (:func:`live_seed`): one that replayed the history's would send the
history's first sessions again, its attacks from devices and places the victims' accounts
have "used" before. The live simulator starts with no warm-up: a warm-up drops the events
of sessions in flight that fall before the cut-off, so their checkouts would reach the
engine without the login, first click or promo that precede them.

Each customer takes part in at most one live session (as a shopper, a victim or a new
customer signing up): at the history's pace a customer comes back after a day or two, and
a live phase of minutes at hundreds of events per second would otherwise bring the same
customer back every minute, several sessions at once, one's login in the middle of
another's checkout - behaviour no customer of the history has, which the velocity and
login rules rightly find suspicious. The population must therefore hold more customers than
the live phase starts sessions (:func:`customers_needed`).

Live transaction, session and event ids are marked ``live-`` (:func:`is_live`: how the
report tells them from the history's). Customers keep their ids - that is what lets the
engine know them - and accounts opened during the live phase number on after the history's.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

import msgspec

from riskstream.events import Event
from riskstream.log import EventLog, TopicSpec
from riskstream.sim import GroundTruth, SimConfig, TrafficSimulator, live_simulator, paced
from riskstream.sim.population import DAY_MS, Population

from .namespace import Namespace

__all__ = [
    "LIVE_MARK",
    "LiveTraffic",
    "create_input_topics",
    "customers_needed",
    "history_simulator",
    "is_live",
    "live_seed",
]

LIVE_MARK: Final = "live-"
EVENTS_PER_SESSION: Final = 10.2
"""The mean events of a session (the simulator's: it paces sessions by it)."""
LIVE_WARMUP_S: Final = 0.0
"""The live simulator's warm-up (see the module docstring)."""
RAMP_S: Final = 65.0
"""Without a warm-up, sessions start from none and take a while to produce their events:
about a minute more of simulated time - more session starts - than the wall-clock
duration goes by. A warm-up's sessions take customers too, over its own span."""
SPARE_CUSTOMERS: Final = 1.25
"""Customers per live session: the last live sessions still find, in a few draws, a
customer without one."""
_replace = msgspec.structs.replace


def is_live(transaction_id: str) -> bool:
    """Whether a transaction is one of the live phase's."""
    return transaction_id.startswith(LIVE_MARK)


def create_input_topics(log: EventLog, namespace: Namespace, partitions: int) -> None:
    """The engine's input topics, co-partitioned (the runtime creates everything else)."""
    log.admin.create_topics(
        [TopicSpec(name=topic, partitions=partitions) for topic in namespace.inputs],
        exist_ok=True,
    )


def history_simulator(
    *, seed: int, users: int, fraud_rate: float, days: float, end_ms: int
) -> TrafficSimulator:
    """The simulator of the ``days`` before ``end_ms``."""
    config = SimConfig(
        seed=seed, users=users, fraud_rate=fraud_rate, start_ms=end_ms - int(days * DAY_MS)
    )
    return TrafficSimulator(config)


def customers_needed(rate: float, duration_s: float) -> int:
    """The population a live phase of ``duration_s`` at ``rate`` events per second needs
    for one session per customer, with spares."""
    sessions = rate / EVENTS_PER_SESSION * (duration_s + max(RAMP_S, LIVE_WARMUP_S))
    return math.ceil(sessions * SPARE_CUSTOMERS)


def live_seed(seed: int) -> int:
    """The live simulator's random stream: derived from the run's seed, not the history's."""
    return int.from_bytes(hashlib.blake2b(f"live:{seed}".encode(), digest_size=4).digest())


class LiveTraffic:
    """The live phase's events: ``population``'s traffic (as the history left it, see the
    module docstring) paced at ``rate`` per second, with ids marked and ground truth to
    ``truth``."""

    def __init__(
        self,
        *,
        seed: int,
        population: Population,
        fraud_rate: float,
        rate: float,
        truth: Callable[[GroundTruth], None],
    ) -> None:
        self.rate = rate
        self._truth = truth
        self.population = population.continued(one_visit_each=True)
        config = SimConfig(seed=live_seed(seed), users=population.users, fraud_rate=fraud_rate)
        self.simulator = live_simulator(
            rate, config, warmup_s=LIVE_WARMUP_S, population=self.population
        )

    def prime(self) -> None:
        """Set the simulator up before the live clock starts."""
        self.simulator.prime()

    def events(self, seconds: float) -> Iterator[Event]:
        """``seconds`` of paced, marked events (the clock starts with the first one)."""
        stream = paced(self.simulator, self.rate, truth=self._marked_truth)
        deadline = 0.0
        for count, event in enumerate(stream):
            if count == 0:
                deadline = time.monotonic() + seconds
            elif count & 31 == 0 and time.monotonic() >= deadline:
                return
            yield self.mark(event)

    def mark(self, event: Event) -> Event:
        changes: dict[str, Any] = {"event_id": LIVE_MARK + event.event_id}
        session = getattr(event, "session_id", None)
        if session is not None:
            changes["session_id"] = LIVE_MARK + session
        transaction = getattr(event, "transaction_id", None)
        if transaction is not None:
            changes["transaction_id"] = LIVE_MARK + transaction
        return _replace(event, **changes)

    def _marked_truth(self, record: GroundTruth) -> None:
        self._truth(
            _replace(
                record,
                transaction_id=LIVE_MARK + record.transaction_id,
                incident_id=None if record.incident_id is None else LIVE_MARK + record.incident_id,
            )
        )

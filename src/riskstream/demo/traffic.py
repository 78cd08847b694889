"""The demo's traffic: weeks of simulated history, then live traffic from the same customers.

The history is the simulator at its natural pace (``users`` customers, half a session a
day each, the daily rhythm, delayed chargebacks), from ``days`` ago until now, written as
fast as the log takes it. Live traffic comes from a second simulator with the same seed, so
the same population - the same customers with the same devices and cards - paced at
``rate`` events per second with event time = now (:func:`~riskstream.sim.live_simulator`,
:func:`~riskstream.sim.paced`). The live simulator starts with no warm-up: a warm-up drops
the events of sessions in flight that fall before the cut-off, so their checkouts would
reach the engine without the login, first click or promo that precede them.

The two simulators number their ids alike (``tx-7-1`` in both), and accounts opened during
the simulation take the same ids in both. Live ids are therefore marked ``live-``: every
event, session and transaction id, and the user id of accounts opened during the live
phase, so a live fraudster's fresh account is never mistaken for a customer who signed up
in the history. Existing customers keep their ids: that is what lets the engine know them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Final

import msgspec

from riskstream.events import Event
from riskstream.log import EventLog, TopicSpec
from riskstream.sim import GroundTruth, SimConfig, TrafficSimulator, live_simulator, paced
from riskstream.sim.population import DAY_MS

from .namespace import Namespace

__all__ = [
    "LIVE_MARK",
    "LiveTraffic",
    "create_input_topics",
    "history_simulator",
    "is_live",
]

LIVE_MARK: Final = "live-"
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


class LiveTraffic:
    """The live phase's events: the population's traffic paced at ``rate`` per second,
    with ids marked (see the module docstring) and ground truth to ``truth``."""

    def __init__(
        self,
        *,
        seed: int,
        users: int,
        fraud_rate: float,
        rate: float,
        truth: Callable[[GroundTruth], None],
    ) -> None:
        self.users = users
        self.rate = rate
        self._truth = truth
        self.simulator = live_simulator(
            rate, SimConfig(seed=seed, users=users, fraud_rate=fraud_rate), warmup_s=0.0
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
        user = self._user(event.user_id)
        if user is not None:
            changes["user_id"] = user
        session = getattr(event, "session_id", None)
        if session is not None:
            changes["session_id"] = LIVE_MARK + session
        transaction = getattr(event, "transaction_id", None)
        if transaction is not None:
            changes["transaction_id"] = LIVE_MARK + transaction
        return _replace(event, **changes)

    def _marked_truth(self, record: GroundTruth) -> None:
        user = self._user(record.user_id)
        self._truth(
            _replace(
                record,
                transaction_id=LIVE_MARK + record.transaction_id,
                user_id=record.user_id if user is None else user,
                incident_id=None if record.incident_id is None else LIVE_MARK + record.incident_id,
            )
        )

    def _user(self, user_id: str) -> str | None:
        """The marked id of an account opened during the simulation (``None``: a customer
        of the population, who keeps their id)."""
        number = user_id.removeprefix("user-")
        if number.isdigit() and int(number) < self.users:
            return None
        return LIVE_MARK + user_id

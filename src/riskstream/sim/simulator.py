"""The traffic simulator: concurrent sessions merged into one event-time-ordered stream.

Sessions start as a Poisson process (following the daily and weekly rhythm); each start is
either an ordinary customer's visit or, at the configured rate, one incident of a fraud
scenario. A session's events are written ahead into a heap ordered by (event time,
generation order); an event leaves the heap once no session still to start can precede it
(every session's events are at or after its start). Everything draws from one seeded random
stream in a fixed order, so the same configuration yields byte-identical events.

With ``emit_from_ms`` (a warm-up) the unit of output is what one session start writes: a
visit, a sign-up, or a whole fraud incident (whose sessions may be hours apart), without its
delayed labels. One with an event at or after ``emit_from_ms`` is in flight and is emitted
whole, its earlier events at their own times, so a checkout never arrives without the login,
clicks or promo before it. One wholly before is history: nothing of it is emitted, not even
its labels.

Ground truth never enters the event stream: pass ``truth=`` to :meth:`TrafficSimulator.events`
to receive one :class:`~riskstream.sim.truth.GroundTruth` per checkout as it is yielded.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from riskstream.errors import ConfigError
from riskstream.events import Chargeback, Event, FraudReported
from riskstream.sim.draws import Weighted
from riskstream.sim.legit import SIGNUP_RATE, legit_session, signup_session
from riskstream.sim.population import DAY_MS, Population
from riskstream.sim.rhythm import Arrivals
from riskstream.sim.scenarios import SCENARIOS, Scenario
from riskstream.sim.session import Entry, LabelPolicy, World
from riskstream.sim.truth import LEGIT, GroundTruth

__all__ = ["DEFAULT_START_MS", "SimConfig", "SimStats", "TrafficSimulator"]

DEFAULT_START_MS: Final = 1_767_225_600_000
"""2026-01-01T00:00:00Z, a Thursday."""

LEGIT_CHECKOUTS_PER_SESSION: Final = 0.314
"""Measured mean checkouts of an ordinary session (calibrates the fraud rate)."""
_PRIOR_EVENTS_PER_ARRIVAL: Final = 10.2
_PRIOR_WEIGHT: Final = 200

_LABELS: Final = (Chargeback, FraudReported)  # days later: they never keep a session in flight

TruthSink = Callable[[GroundTruth], None]


@dataclass(frozen=True, kw_only=True)
class SimConfig:
    """Everything a simulation depends on; the same config gives the same events.

    ``fraud_rate`` is the target share of checkouts that are fraudulent (the incident rate
    is derived from each scenario's mean checkouts); ``scenario_weights`` overrides the
    default mix (names from :data:`~riskstream.sim.scenarios.SCENARIOS`; absent names keep
    their default weight, 0 disables one). Session volume is ``users *
    sessions_per_user_day`` per simulated day unless ``events_per_second`` fixes the mean
    event rate instead (paced runs). ``rhythm`` modulates it by hour of day and day of week.
    ``emit_from_ms`` starts the output later than ``start_ms`` (a warm-up, so output begins
    with sessions in flight): sessions wholly before it are simulated but not emitted; those
    still in flight at it are emitted whole, their earlier events first, at their own times.
    """

    seed: int = 7
    users: int = 10_000
    merchants: int = 250
    compromised_merchants: int = 3
    start_ms: int = DEFAULT_START_MS
    emit_from_ms: int | None = None
    sessions_per_user_day: float = 0.5
    events_per_second: float | None = None
    rhythm: bool = True
    fraud_rate: float = 0.01
    scenario_weights: Mapping[str, float] = field(default_factory=dict)
    labels: LabelPolicy = field(default_factory=LabelPolicy)
    currency: str = "EUR"

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ConfigError("users must be at least 1")
        if not 0 <= self.fraud_rate < 1:
            raise ConfigError(f"fraud_rate must be in [0, 1), got {self.fraud_rate}")
        if self.sessions_per_user_day <= 0:
            raise ConfigError("sessions_per_user_day must be positive")
        if self.events_per_second is not None and self.events_per_second <= 0:
            raise ConfigError("events_per_second must be positive")
        if self.start_ms < 0:
            raise ConfigError("start_ms must be an epoch-milliseconds instant")
        if self.emit_from_ms is not None and self.emit_from_ms < self.start_ms:
            raise ConfigError("emit_from_ms must not be before start_ms")
        unknown = set(self.scenario_weights) - set(SCENARIOS)
        if unknown:
            raise ConfigError(f"unknown scenarios {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
        if any(w < 0 for w in self.scenario_weights.values()):
            raise ConfigError("scenario weights must not be negative")
        if not 0 <= self.labels.fraction <= 1:
            raise ConfigError("labels.fraction must be in [0, 1]")
        if not 0 < self.labels.min_days <= self.labels.max_days:
            raise ConfigError("label delays need 0 < min_days <= max_days")

    def weights(self) -> dict[str, float]:
        """The effective weight of every scenario."""
        weights = {name: s.weight for name, s in SCENARIOS.items()}
        weights.update(self.scenario_weights)
        if self.compromised_merchants <= 0:
            weights["compromised_merchant"] = 0.0
        return weights


@dataclass
class SimStats:
    """What a simulator has yielded so far (and how many incidents it has started)."""

    by_class: dict[type[Event], int] = field(default_factory=dict)
    checkouts: Counter[str] = field(default_factory=Counter)  # scenario -> checkouts
    amount: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    labelled: Counter[str] = field(default_factory=Counter)  # scenario -> checkouts to be labelled
    incidents: Counter[str] = field(default_factory=Counter)  # scenario -> incidents started
    first_ms: int | None = None
    last_ms: int | None = None

    @property
    def events(self) -> int:
        return sum(self.by_class.values())

    @property
    def by_type(self) -> Counter[str]:
        """Events yielded per event class name."""
        return Counter({kind.__name__: count for kind, count in self.by_class.items()})

    @property
    def total_checkouts(self) -> int:
        return sum(self.checkouts.values())

    @property
    def fraud_checkouts(self) -> int:
        return self.total_checkouts - self.checkouts[LEGIT]

    @property
    def fraud_share(self) -> float:
        return self.fraud_checkouts / max(1, self.total_checkouts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "by_type": dict(sorted(self.by_type.items())),
            "checkouts": self.total_checkouts,
            "fraud_checkouts": self.fraud_checkouts,
            "fraud_share": round(self.fraud_share, 5),
            "scenarios": {
                name: {
                    "incidents": self.incidents[name],
                    "checkouts": self.checkouts[name],
                    "amount": round(self.amount.get(name, 0.0), 2),
                    "labelled": self.labelled[name],
                }
                for name in (LEGIT, *SCENARIOS)
                if self.checkouts[name] or self.incidents[name]
            },
            "first_event_time": _iso(self.first_ms),
            "last_event_time": _iso(self.last_ms),
        }


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


class TrafficSimulator:
    """Deterministic, labelled traffic as one stream of events in event-time order."""

    def __init__(
        self,
        config: SimConfig | None = None,
        /,
        *,
        population: Population | None = None,
        **overrides: Any,
    ) -> None:
        """``population``: customers to continue with, as another simulation left them
        (:meth:`~riskstream.sim.population.Population.continued`; it must have
        ``config.users`` customers), instead of the seed's as they start out. The seed then
        only drives this simulator's own random stream: give it another one than the
        simulation continued, or its sessions replay that one's."""
        config = replace(config or SimConfig(), **overrides)
        self.config = config
        self._rng = random.Random(config.seed)
        if population is None:
            population = Population(
                seed=config.seed,
                users=config.users,
                start_ms=config.start_ms,
                merchant_count=config.merchants,
                compromised_count=config.compromised_merchants,
            )
        elif population.users != config.users:
            raise ConfigError(
                f"the population has {population.users} customers, the configuration {config.users}"
            )
        self.population = population
        self.world = World(
            self._rng,
            self.population,
            seed=config.seed,
            labels=config.labels,
            currency=config.currency,
        )
        # Session starts before this instant are written aside and kept only if in flight.
        self._emit_from = -1 if config.emit_from_ms is None else config.emit_from_ms
        self.backlog = 0  # events before emit_from_ms of sessions in flight there (emitted)
        self.history = 0  # events of sessions wholly before emit_from_ms (not emitted)
        weights = {n: w for n, w in config.weights().items() if w > 0}
        self._scenarios: Weighted[Scenario] | None = None
        self._fraud_p = 0.0
        if weights and config.fraud_rate > 0:
            chosen = [SCENARIOS[n] for n in weights]
            self._scenarios = Weighted(chosen, list(weights.values()))
            per_incident = sum(s.expected_checkouts * weights[s.name] for s in chosen) / sum(
                weights.values()
            )
            f, legit = config.fraud_rate, LEGIT_CHECKOUTS_PER_SESSION
            self._fraud_p = f * legit / (per_incident * (1 - f) + f * legit)
        self._target_rate = config.events_per_second
        per_ms = (
            config.events_per_second / _PRIOR_EVENTS_PER_ARRIVAL / 1000
            if config.events_per_second is not None
            else config.users * config.sessions_per_user_day / DAY_MS
        )
        self._arrivals = Arrivals(self._rng, config.start_ms, per_ms, rhythm=config.rhythm)
        self._arrived = 0
        self._next_start = self._arrivals.next()
        self._peeked: Entry | None = None
        self.stats = SimStats(incidents=self.world.incidents)

    @property
    def incident_probability(self) -> float:
        """The chance that a session start is a fraud incident rather than a visit."""
        return self._fraud_p

    @property
    def live(self) -> bool:
        """Whether the last event yielded is at or after ``emit_from_ms`` (before it come the
        earlier events of the sessions in flight there); false before the first event."""
        last = self.stats.last_ms
        return last is not None and last >= self._emit_from

    @property
    def now_ms(self) -> int:
        """The simulated time generation has reached (the next session start)."""
        return int(self._next_start)

    def prime(self) -> None:
        """Simulate until the next event can be yielded and through any warm-up (now)."""
        heap, emit_from = self.world.heap, self._emit_from
        while not heap or heap[0][0] >= self._next_start or self._next_start < emit_from:
            self._spawn(self._next_start)
            self._next_start = self._arrivals.next()

    def events(
        self,
        limit: int | None = None,
        *,
        until_ms: int | None = None,
        truth: TruthSink | None = None,
    ) -> Iterator[Event]:
        """Events in event-time order: at most ``limit``, all before ``until_ms`` if given.

        Calling again continues where the previous iterator stopped. ``truth`` receives the
        ground truth of each checkout just before the checkout is yielded.
        """
        stats = self.stats
        by_type = stats.by_class
        heap = self.world.heap
        pop = heapq.heappop
        yielded = 0
        while limit is None or yielded < limit:
            entry = self._peeked
            if entry is None:
                # An event may leave once no session still to start can precede it.
                while not heap or heap[0][0] >= self._next_start:
                    self._spawn(self._next_start)
                    self._next_start = self._arrivals.next()
                entry = pop(heap)
            else:
                self._peeked = None
            if until_ms is not None and entry[0] >= until_ms:
                self._peeked = entry
                return
            event = entry[2]
            kind = type(event)
            by_type[kind] = by_type.get(kind, 0) + 1
            record = entry[3]
            if record is not None:
                scenario = record.scenario
                stats.checkouts[scenario] += 1
                stats.amount[scenario] += record.amount
                if record.label is not None:
                    stats.labelled[scenario] += 1
                if truth is not None:
                    truth(record)
            if stats.first_ms is None:
                stats.first_ms = entry[0]
            stats.last_ms = entry[0]
            yielded += 1
            yield event

    def take(self, limit: int, *, truth: TruthSink | None = None) -> list[Event]:
        """The next ``limit`` events as a list."""
        return list(self.events(limit, truth=truth))

    # -- generation ----------------------------------------------------------------------

    def _spawn(self, start: float) -> None:
        if start < self._emit_from:
            self._warm(start)
        else:
            self._start(start)
        self._arrived += 1
        if self._target_rate is not None and self._arrived % 64 == 0:
            self._recalibrate(self._target_rate)

    def _start(self, start: float) -> None:
        rng = self._rng
        roll = rng.random()
        if self._scenarios is not None and roll < self._fraud_p:
            self._scenarios.pick(rng).run(self.world, start)
        elif roll > 1 - SIGNUP_RATE:
            signup_session(self.world, start)
        else:
            legit_session(self.world, self.population.shopper(rng), start)

    def _warm(self, start: float) -> None:
        # A session start before emit_from_ms writes onto a heap of its own; it joins the
        # output whole if any of its events (labels aside) is at or after emit_from_ms.
        world, cutoff = self.world, self._emit_from
        heap, world.heap = world.heap, []
        self._start(start)
        written, world.heap = world.heap, heap
        if any(e[0] >= cutoff and not isinstance(e[2], _LABELS) for e in written):
            for entry in written:
                heapq.heappush(heap, entry)
            self.backlog += sum(e[0] < cutoff for e in written)
        else:
            self.history += len(written)

    def _recalibrate(self, events_per_second: float) -> None:
        # A fixed event rate: divide it by the events a session start has produced so far
        # (with a prior) to get the session rate. Deterministic: it depends only on what
        # was generated.
        generated = self.world.generated
        per_arrival = (_PRIOR_EVENTS_PER_ARRIVAL * _PRIOR_WEIGHT + generated) / (
            _PRIOR_WEIGHT + self._arrived
        )
        self._arrivals.rate_per_ms = events_per_second / per_arrival / 1000

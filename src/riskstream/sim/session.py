"""Writing sessions: the shared world every session emits into, and the session builder.

:class:`World` hands out deterministic ids, keeps the heap of pending events (event time,
generation sequence) the simulator merges from, and schedules the delayed labels of fraud.
:class:`Session` builds one visit's events on one device from one place, advancing its own
clock: first click, login, page views with mouse-movement summaries, promos, checkouts.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from dataclasses import dataclass
from typing import Final

from riskstream.events import (
    AddressChanged,
    Chargeback,
    Checkout,
    Click,
    Event,
    FraudReported,
    Login,
    MouseMovement,
    ProfileUpdated,
    PromoApplied,
)
from riskstream.sim.catalog import CATEGORIES, CHARGEBACK_REASONS
from riskstream.sim.draws import Weighted, below, lognormal, normal
from riskstream.sim.population import DAY_MS, Device, Instrument, Merchant, Population
from riskstream.sim.truth import LEGIT, GroundTruth

__all__ = ["Entry", "LabelPolicy", "Session", "World", "human_mouse", "scripted_mouse"]

Entry = tuple[int, int, Event, GroundTruth | None]
"""A pending event: (event time, generation sequence, event, truth for checkouts)."""

_REASONS: Final = Weighted(
    [code for code, _ in CHARGEBACK_REASONS], [w for _, w in CHARGEBACK_REASONS]
)
_REPORTERS: Final = Weighted(["customer", "issuer", "analyst"], [0.6, 0.25, 0.15])
_SEARCHES: Final = (
    "headphones", "running shoes", "coffee", "phone case", "gift", "laptop", "dress", "lego",
    "vitamins", "backpack", "monitor", "sneakers", "perfume", "tent", "book", "charger",
)  # fmt: skip
_CATEGORY_PAGES: Final = tuple(f"/c/{c.name}" for c in CATEGORIES)
_SEARCH_PAGES: Final = tuple(f"/search?q={term.replace(' ', '+')}" for term in _SEARCHES)


@dataclass(frozen=True, slots=True)
class LabelPolicy:
    """Which fraud gets labelled, how and when.

    ``fraction`` of fraudulent checkouts receive a label; chargebacks (the majority) take a
    log-normal delay with median ``median_days``; fraud reports come about three times
    sooner. Every delay is clamped to ``[min_days, max_days]``.
    """

    fraction: float = 0.8
    median_days: float = 7.0
    min_days: float = 1.0
    max_days: float = 45.0
    chargeback_share: float = 0.7


class World:
    """Ids, the pending-event heap and the label schedule shared by all sessions."""

    __slots__ = (
        "_incidents",
        "_seq",
        "_sessions",
        "_transactions",
        "currency",
        "generated",
        "heap",
        "incidents",
        "labels",
        "population",
        "prefix",
        "rng",
    )

    def __init__(
        self,
        rng: random.Random,
        population: Population,
        *,
        seed: int,
        labels: LabelPolicy,
        currency: str = "EUR",
    ) -> None:
        self.rng = rng
        self.population = population
        self.labels = labels
        self.currency = currency
        self.prefix = f"{seed:x}"
        self.heap: list[Entry] = []
        self.incidents: Counter[str] = Counter()
        self._seq = itertools.count()
        self.generated = 0  # events emitted
        self._sessions = itertools.count(1)
        self._transactions = itertools.count(1)
        self._incidents = itertools.count(1)

    # -- ids -----------------------------------------------------------------------------

    def event_id(self) -> str:
        """A new event's id (every event takes one: this also counts them)."""
        self.generated += 1
        return f"ev-{self.prefix}-{self.generated:x}"

    def session_id(self) -> str:
        return f"ses-{self.prefix}-{next(self._sessions):x}"

    def transaction_id(self) -> str:
        return f"tx-{self.prefix}-{next(self._transactions):x}"

    def incident_id(self, scenario: str) -> str:
        self.incidents[scenario] += 1
        return f"inc-{self.prefix}-{next(self._incidents):x}"

    # -- output --------------------------------------------------------------------------

    def emit(self, event: Event, truth: GroundTruth | None = None) -> None:
        heapq.heappush(self.heap, (event.event_time, next(self._seq), event, truth))

    def record_checkout(self, checkout: Checkout, scenario: str, incident: str | None) -> None:
        """Emit a checkout with its ground truth, and schedule its label if it gets one."""
        fraud = scenario != LEGIT
        label: str | None = None
        label_time: int | None = None
        if fraud and self.rng.random() < self.labels.fraction:
            label, label_time = self._label(checkout)
        truth = GroundTruth(
            transaction_id=checkout.transaction_id,
            user_id=checkout.user_id,
            event_time=checkout.event_time,
            scenario=scenario,
            is_fraud=fraud,
            amount=checkout.amount,
            merchant_id=checkout.merchant_id,
            incident_id=incident,
            label=label,
            label_time=label_time,
        )
        self.emit(checkout, truth)

    def _label(self, checkout: Checkout) -> tuple[str, int]:
        rng, policy = self.rng, self.labels
        chargeback = rng.random() < policy.chargeback_share
        median = policy.median_days if chargeback else policy.median_days / 3
        days = lognormal(rng, median, 0.7, policy.min_days, policy.max_days)
        when = checkout.event_time + int(days * DAY_MS)
        event: Event
        if chargeback:
            event = Chargeback(
                event_id=self.event_id(),
                user_id=checkout.user_id,
                event_time=when,
                source="acquirer",
                transaction_id=checkout.transaction_id,
                amount=checkout.amount,
                reason_code=_REASONS.pick(rng),
            )
        else:
            reporter = _REPORTERS.pick(rng)
            event = FraudReported(
                event_id=self.event_id(),
                user_id=checkout.user_id,
                event_time=when,
                source="support" if reporter == "customer" else reporter,
                transaction_id=checkout.transaction_id,
                reporter=reporter,
                confirmed=True,
            )
        self.emit(event)
        return ("chargeback" if chargeback else "fraud_reported"), when


def human_mouse(rng: random.Random) -> tuple[int, int, float, float, float, float]:
    """(samples, duration ms, path px, straightness, mean and max speed px/ms) of a person.

    People move in curves with bursts: straightness well below 1, peak speed several times
    the mean, samples at a jittery ~60 Hz.
    """
    duration = int(lognormal(rng, 1_480.0, 0.7, 150.0, 15_000.0))
    mean_speed = lognormal(rng, 0.45, 0.5, 0.03, 4.0)
    straightness = min(0.95, max(0.08, normal(rng, 0.62, 0.15)))
    return (
        max(3, int(duration / rng.uniform(14.0, 22.0))),
        duration,
        round(mean_speed * duration, 1),
        round(straightness, 3),
        round(mean_speed, 3),
        round(mean_speed * rng.uniform(2.2, 6.0), 3),
    )


def scripted_mouse(rng: random.Random) -> tuple[int, int, float, float, float, float]:
    """The same summary for automation: a straight line at constant speed, sampled evenly."""
    duration = 180 + below(rng, 620)
    mean_speed = rng.uniform(0.8, 3.0)
    return (
        duration // 10,
        duration,
        round(mean_speed * duration, 1),
        round(rng.uniform(0.985, 1.0), 3),
        round(mean_speed, 3),
        round(mean_speed * rng.uniform(1.0, 1.06), 3),
    )


class Session:
    """One visit: a device at a place, with a clock that only moves forward."""

    __slots__ = (
        "country",
        "device",
        "first_click_ms",
        "ip",
        "lat",
        "lon",
        "session_id",
        "t",
        "user_id",
        "world",
    )

    def __init__(
        self,
        world: World,
        user_id: str,
        device: Device,
        *,
        ip: str,
        country: str,
        lat: float,
        lon: float,
        start_ms: float,
    ) -> None:
        self.world = world
        self.user_id = user_id
        self.device = device
        self.ip = ip
        self.country = country
        self.lat = lat
        self.lon = lon
        self.t = start_ms
        self.session_id = world.session_id()
        self.first_click_ms: int | None = None

    @property
    def now(self) -> int:
        return int(self.t)

    def wait(self, low_ms: float, high_ms: float) -> None:
        """Advance the clock by a uniform pause."""
        self.t += self.world.rng.uniform(low_ms, high_ms)

    def dwell(self, median_ms: float, sigma: float, low_ms: float, high_ms: float) -> None:
        """Advance the clock by a log-normal pause (how long people look at a page)."""
        self.t += lognormal(self.world.rng, median_ms, sigma, low_ms, high_ms)

    def login(self, *, success: bool = True) -> None:
        world, t = self.world, int(self.t)
        device = self.device
        world.emit(
            Login(
                event_id=world.event_id(),
                user_id=self.user_id,
                event_time=t,
                source=device.source,
                device_id=device.device_id,
                ip=self.ip,
                country=self.country,
                latitude=round(self.lat, 4),
                longitude=round(self.lon, 4),
                success=success,
                user_agent=device.user_agent,
            )
        )

    def click(self, page: str) -> None:
        world, t = self.world, int(self.t)
        first = self.first_click_ms is None
        if first:
            self.first_click_ms = t
        world.emit(
            Click(
                event_id=world.event_id(),
                user_id=self.user_id,
                event_time=t,
                source=self.device.source,
                session_id=self.session_id,
                page=page,
                first_in_session=first,
                device_id=self.device.device_id,
            )
        )

    def browse(self) -> None:
        """A page view somewhere in the shop."""
        rng = self.world.rng
        roll = rng.random()
        if roll < 0.45:
            page = f"/product/{below(rng, 200_000):06d}"
        elif roll < 0.7:
            page = _CATEGORY_PAGES[below(rng, len(_CATEGORY_PAGES))]
        elif roll < 0.88:
            page = _SEARCH_PAGES[below(rng, len(_SEARCH_PAGES))]
        elif roll < 0.95:
            page = "/deals"
        else:
            page = "/account"
        self.click(page)

    def mouse(self, *, scripted: bool = False) -> None:
        """A movement summary for the pointer activity just before now."""
        world = self.world
        samples, duration, path, straightness, mean, peak = (
            scripted_mouse(world.rng) if scripted else human_mouse(world.rng)
        )
        self.t += duration
        t = int(self.t)
        world.emit(
            MouseMovement(
                event_id=world.event_id(),
                user_id=self.user_id,
                event_time=t,
                source=self.device.source,
                session_id=self.session_id,
                sample_count=samples,
                duration_ms=duration,
                path_length=path,
                straightness=straightness,
                mean_speed=mean,
                max_speed=peak,
            )
        )

    def promo(self, code: str, discount: float, cart: float) -> None:
        world, t = self.world, int(self.t)
        world.emit(
            PromoApplied(
                event_id=world.event_id(),
                user_id=self.user_id,
                event_time=t,
                source=self.device.source,
                session_id=self.session_id,
                code=code,
                discount_value=discount,
                cart_value=cart,
                device_id=self.device.device_id,
            )
        )

    def checkout(
        self,
        *,
        amount: float,
        merchant: Merchant,
        instrument: Instrument,
        items: int,
        shipping: str,
        scenario: str = LEGIT,
        incident: str | None = None,
    ) -> None:
        world, t = self.world, int(self.t)
        device = self.device
        event = Checkout(
            event_id=world.event_id(),
            user_id=self.user_id,
            event_time=t,
            source=device.source,
            transaction_id=world.transaction_id(),
            amount=round(amount, 2),
            currency=world.currency,
            merchant_id=merchant.merchant_id,
            item_count=items,
            instrument_fingerprint=instrument.fingerprint,
            bin_country=instrument.bin_country,
            device_id=device.device_id,
            ip=self.ip,
            country=self.country,
            shipping_address_hash=shipping,
            session_id=self.session_id,
        )
        world.record_checkout(event, scenario, incident)

    def address_changed(self, address_hash: str, kind: str = "shipping") -> None:
        world, t = self.world, int(self.t)
        world.emit(
            AddressChanged(
                event_id=world.event_id(),
                user_id=self.user_id,
                event_time=t,
                source=self.device.source,
                address_hash=address_hash,
                kind=kind,
                device_id=self.device.device_id,
            )
        )

    def profile_updated(
        self,
        fields: tuple[str, ...],
        *,
        email_hash: str | None = None,
        phone_hash: str | None = None,
    ) -> None:
        world, t = self.world, int(self.t)
        world.emit(
            ProfileUpdated(
                event_id=world.event_id(),
                user_id=self.user_id,
                event_time=t,
                source=self.device.source,
                fields=fields,
                email_hash=email_hash,
                phone_hash=phone_hash,
                device_id=self.device.device_id,
            )
        )

"""The simulated population: customers with their devices and cards, merchants, identities.

Customers are created lazily and deterministically: customer ``i`` is drawn from its own
random stream seeded by ``(seed, i)``, so a population of a million costs only the customers
that actually show up, and the same seed always gives the same people. What changes while the
simulation runs (where a customer is, their devices, their address) lives on the
:class:`User` object and evolves in generation order, which is deterministic too.

A population can outlive its simulator: :meth:`Population.continued` hands the customers, as
one simulation left them, to the next (see ``TrafficSimulator(population=...)``), optionally
with one visit each - how a short, fast simulation keeps every customer at a natural pace.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Final

from riskstream.sim.catalog import CATEGORIES, Category, UserAgents
from riskstream.sim.draws import Weighted, below
from riskstream.sim.geo import COUNTRIES, Country

__all__ = [
    "DAY_MS",
    "Device",
    "Instrument",
    "Merchant",
    "Population",
    "User",
    "device_kind",
    "new_device",
    "new_instrument",
]

DAY_MS: Final = 86_400_000
_BRANDS: Final = ("visa", "visa", "visa", "mastercard", "mastercard", "amex")
_PERMUTE: Final = 2_654_435_761  # Knuth's multiplicative hash, a prime: spreads heavy users
_VISIT_DRAWS: Final = 64  # draws for a customer not yet visited before one visits again


@dataclass(frozen=True, slots=True)
class Device:
    """A browser or app install, known by its fingerprint."""

    device_id: str
    kind: str  # desktop | mobile | tablet | bot
    user_agent: str
    source: str  # app | web: the channel its events report

    @property
    def has_mouse(self) -> bool:
        return self.kind in ("desktop", "bot")


@dataclass(frozen=True, slots=True)
class Instrument:
    """A payment card, by the fingerprint of its number; its BIN names the issuing country."""

    fingerprint: str
    bin_country: str
    brand: str


@dataclass(frozen=True, slots=True)
class Merchant:
    merchant_id: str
    category: Category
    compromised: bool = False


@dataclass(slots=True)
class User:
    """A customer: fixed traits, and the state the simulation moves along."""

    user_id: str
    home: Country
    city: tuple[str, float, float]
    email_hash: str
    phone_hash: str
    created_ms: int
    devices: list[Device]
    instruments: list[Instrument]
    address_hash: str
    home_ip: str  # the household's address, used by desktops and tablets at home
    # where the customer is now, and since when
    country: str = ""
    lat: float = 0.0
    lon: float = 0.0
    last_seen_ms: float = -math.inf
    away_until_ms: float = 0.0  # > 0 while travelling
    visited: tuple[str, ...] = ()  # countries travelled to

    @property
    def at_home(self) -> bool:
        return self.away_until_ms == 0.0


def _hex(rng: random.Random, bits: int) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def new_device(rng: random.Random, kind: str) -> Device:
    """A device never seen before."""
    agents = UserAgents.of(kind)
    agent = agents[below(rng, len(agents))]
    source = "app" if agent.startswith("ShopApp/") else "web"
    return Device(f"dev-{_hex(rng, 64)}", kind, agent, source)


def new_instrument(rng: random.Random, bin_country: str) -> Instrument:
    """A card never seen before."""
    return Instrument(f"card-{_hex(rng, 64)}", bin_country, _BRANDS[rng.randrange(len(_BRANDS))])


def device_kind(rng: random.Random) -> str:
    roll = rng.random()
    return "mobile" if roll < 0.5 else "desktop" if roll < 0.9 else "tablet"


@dataclass(slots=True)
class Population:
    """Customers, merchants and the supply of fresh identities fraudsters use."""

    seed: int
    users: int
    start_ms: int
    merchant_count: int = 250
    compromised_count: int = 3
    merchants: tuple[Merchant, ...] = ()
    compromised: tuple[Merchant, ...] = ()
    _cache: dict[int, User] = field(default_factory=dict)
    _fresh: itertools.count[int] = field(default_factory=itertools.count)
    _joined: list[User] = field(default_factory=list)  # customers who signed up meanwhile
    _joined_ids: dict[str, User] = field(default_factory=dict)
    _countries: Weighted[Country] = field(init=False)
    _by_category: dict[str, Weighted[Merchant]] = field(init=False)
    _categories: Weighted[Category] = field(init=False)
    one_visit_each: bool = False  # each customer in at most one session (shopper or victim)
    revisits: int = 0  # one_visit_each: sessions that found no customer without a visit
    _visited: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError("a population needs at least one user")
        self._countries = Weighted(
            list(COUNTRIES.values()), [c.shoppers for c in COUNTRIES.values()]
        )
        rng = random.Random(f"merchants:{self.seed}")
        categories = Weighted(CATEGORIES, [c.weight for c in CATEGORIES])
        drawn = [categories.pick(rng) for _ in range(max(self.merchant_count, len(CATEGORIES)))]
        drawn[: len(CATEGORIES)] = CATEGORIES  # every category has a merchant
        bad = set(rng.sample(range(len(drawn)), min(self.compromised_count, len(drawn))))
        self.merchants = tuple(
            Merchant(f"m-{i:05d}", category, i in bad) for i, category in enumerate(drawn)
        )
        self.compromised = tuple(m for m in self.merchants if m.compromised)
        self._categories = Weighted(CATEGORIES, [c.weight for c in CATEGORIES])
        by_category: dict[str, list[Merchant]] = {}
        for merchant in self.merchants:
            by_category.setdefault(merchant.category.name, []).append(merchant)
        # popularity within a category falls off like a power law (a few big shops)
        self._by_category = {
            name: Weighted(shops, [1 / (rank + 1) ** 0.8 for rank in range(len(shops))])
            for name, shops in by_category.items()
        }

    # -- customers -----------------------------------------------------------------------

    def user(self, index: int) -> User:
        """Customer ``index`` (created on first use, the same for the same seed)."""
        found = self._cache.get(index)
        if found is None:
            found = self._cache[index] = self._make_user(index)
        return found

    def continued(self, *, one_visit_each: bool = False) -> Population:
        """The same customers, as the simulation so far left them (devices, addresses,
        trips, those who joined; fresh accounts keep numbering on), for another simulator:
        the two share them, so the first must not run on. ``one_visit_each``: from now on,
        each customer takes part in at most one session - as a shopper, a victim or a new
        customer signing up - while any is left (:attr:`revisits` counts the sessions that
        found none after a bounded number of draws)."""
        return replace(self, one_visit_each=one_visit_each, revisits=0, _visited=set())

    @property
    def visited(self) -> int:
        """How many customers have had their one visit (``one_visit_each``)."""
        return len(self._visited)

    def shopper(self, rng: random.Random) -> User:
        """A customer starting a session: most uniformly (including those who joined during
        the simulation), some from a heavy-buyer tail."""
        if self.one_visit_each:
            return self._first_visit(rng, self._shopper)
        return self._shopper(rng)

    def _shopper(self, rng: random.Random) -> User:
        n = self.users
        if rng.random() < 0.75:
            index = below(rng, n + len(self._joined))
            if index >= n:
                return self._joined[index - n]
        else:
            index = (int(n * rng.random() ** 1.3) * _PERMUTE) % n
        return self.user(index)

    def victim(self, rng: random.Random) -> User:
        """An established customer whose account or card a fraudster gets hold of."""
        if self.one_visit_each:
            return self._first_visit(rng, self._victim)
        return self._victim(rng)

    def _victim(self, rng: random.Random) -> User:
        return self.user(below(rng, self.users))

    def _first_visit(self, rng: random.Random, draw: Callable[[random.Random], User]) -> User:
        visited = self._visited
        for _ in range(_VISIT_DRAWS):
            user = draw(rng)
            if user.user_id not in visited:
                break
        else:
            self.revisits += 1
        visited.add(user.user_id)
        return user

    def join(self, user: User) -> None:
        """Make a new account a regular: it comes back for more sessions."""
        self._joined.append(user)
        self._joined_ids[user.user_id] = user
        if self.one_visit_each:
            self._visited.add(user.user_id)  # signing up was its visit

    def customer(self, user_id: str) -> User | None:
        """A genuine customer by id (one who joined meanwhile too); ``None`` for accounts
        fraudsters opened."""
        index = int(user_id.removeprefix("user-"))
        if index < self.users:
            return self.user(index)
        return self._joined_ids.get(user_id)

    def fresh_account(
        self, rng: random.Random, created_ms: float, country: Country | None = None
    ) -> User:
        """A brand-new account, without devices or cards yet: ids continue after the
        population's (fraudsters open them, and so do new customers)."""
        index = self.users + next(self._fresh)
        home = country or self._countries.pick(rng)
        user = self._build(rng, index, home, created_ms=self.start_ms - int(created_ms))
        user.devices.clear()
        user.instruments.clear()
        return user

    def _make_user(self, index: int) -> User:
        rng = random.Random(self.seed * 1_000_003 + index)
        age_days = min(4000.0, max(3.0, math.exp(rng.gauss(math.log(420), 1.0))))
        return self._build(rng, index, self._countries.pick(rng), int(age_days * DAY_MS))

    def _build(self, rng: random.Random, index: int, home: Country, created_ms: int) -> User:
        city = home.cities[rng.randrange(len(home.cities))]
        devices = [new_device(rng, device_kind(rng))]
        devices += [new_device(rng, device_kind(rng)) for _ in range(rng.random() < 0.55)]
        devices += [new_device(rng, device_kind(rng)) for _ in range(rng.random() < 0.2)]
        cards = 1 + (rng.random() < 0.4) + (rng.random() < 0.12)
        instruments = [
            new_instrument(
                rng, home.code if rng.random() < 0.93 else self._countries.pick(rng).code
            )
            for _ in range(cards)
        ]
        prefix = home.prefixes[rng.randrange(len(home.prefixes))]
        lat = city[1] + rng.uniform(-0.08, 0.08)
        lon = city[2] + rng.uniform(-0.08, 0.08)
        return User(
            user_id=f"user-{index:07d}",
            home=home,
            city=(city[0], lat, lon),
            email_hash=_hex(rng, 128),
            phone_hash=_hex(rng, 128),
            created_ms=self.start_ms - created_ms,
            devices=devices,
            instruments=instruments,
            address_hash=f"addr-{_hex(rng, 64)}",
            home_ip=f"{prefix}{rng.randrange(256)}.{rng.randrange(1, 255)}",
            country=home.code,
            lat=lat,
            lon=lon,
        )

    # -- merchants -----------------------------------------------------------------------

    def merchant(self, rng: random.Random, category: str | None = None) -> Merchant:
        """A merchant by popularity, within a category if given."""
        name = category or self._categories.pick(rng).name
        return self._by_category[name].pick(rng)

    @property
    def touched(self) -> int:
        """How many customers have been created so far."""
        return len(self._cache)

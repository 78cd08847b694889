"""The simulated world map: countries, their cities, IP ranges and great-circle distances.

Coordinates are real city centres; IPv4 prefixes are fixed per country (deterministic, not a
real allocation), with separate "hosting" ranges for data-centre and proxy traffic, which is
what much automated fraud arrives from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "COUNTRIES",
    "EARTH_RADIUS_KM",
    "HOSTING_PREFIXES",
    "Country",
    "distance_km",
    "speed_kmh",
]

EARTH_RADIUS_KM: Final = 6371.0088


@dataclass(frozen=True, slots=True)
class Country:
    """A country of the simulated world.

    ``shoppers`` weighs where the platform's customers live (a European marketplace);
    ``fraud`` weighs where attacks originate; ``travel`` weighs trip destinations.
    """

    code: str
    cities: tuple[tuple[str, float, float], ...]  # (name, latitude, longitude)
    shoppers: float
    fraud: float
    travel: float
    prefixes: tuple[str, ...]  # residential/mobile IPv4 /16 prefixes, "a.b."


def _prefixes(index: int) -> tuple[str, ...]:
    # Four /16s per country from public-looking first octets (skipping 10, 127, 172, 192).
    firsts = (31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92)
    return tuple(
        f"{firsts[(index * 3 + k) % len(firsts)]}.{(index * 37 + k * 61) % 250 + 3}."
        for k in range(4)
    )


_TABLE: Final = (
    # code, cities, shoppers, fraud, travel
    ("DE", (("Berlin", 52.52, 13.405), ("Munich", 48.137, 11.575), ("Hamburg", 53.551, 9.994)),
     18.0, 1.0, 6.0),
    ("FR", (("Paris", 48.857, 2.352), ("Lyon", 45.764, 4.836), ("Marseille", 43.297, 5.37)),
     12.0, 1.0, 9.0),
    ("GB", (("London", 51.507, -0.128), ("Manchester", 53.481, -2.243)), 12.0, 1.5, 7.0),
    ("NL", (("Amsterdam", 52.368, 4.904), ("Rotterdam", 51.924, 4.478)), 6.0, 0.5, 4.0),
    ("ES", (("Madrid", 40.417, -3.704), ("Barcelona", 41.385, 2.173)), 8.0, 0.5, 10.0),
    ("IT", (("Rome", 41.903, 12.496), ("Milan", 45.464, 9.19)), 8.0, 0.8, 9.0),
    ("PL", (("Warsaw", 52.23, 21.012), ("Krakow", 50.065, 19.945)), 6.0, 1.0, 2.0),
    ("SE", (("Stockholm", 59.329, 18.069),), 3.0, 0.2, 2.0),
    ("AT", (("Vienna", 48.208, 16.374),), 3.0, 0.2, 3.0),
    ("BE", (("Brussels", 50.85, 4.352),), 3.0, 0.3, 2.0),
    ("CH", (("Zurich", 47.377, 8.541),), 2.0, 0.1, 3.0),
    ("PT", (("Lisbon", 38.722, -9.139),), 2.0, 0.3, 5.0),
    ("IE", (("Dublin", 53.35, -6.26),), 2.0, 0.2, 2.0),
    ("US", (("New York", 40.713, -74.006), ("Los Angeles", 34.052, -118.244)), 6.0, 3.0, 6.0),
    ("CA", (("Toronto", 43.653, -79.383),), 2.0, 0.5, 2.0),
    ("BR", (("Sao Paulo", -23.55, -46.633),), 1.0, 5.0, 1.5),
    ("MX", (("Mexico City", 19.433, -99.133),), 0.5, 2.0, 2.0),
    ("IN", (("Mumbai", 19.076, 72.878),), 0.8, 4.0, 1.0),
    ("JP", (("Tokyo", 35.676, 139.65),), 0.5, 0.5, 2.0),
    ("AU", (("Sydney", -33.869, 151.209),), 0.5, 0.5, 1.0),
    ("NG", (("Lagos", 6.524, 3.379),), 0.2, 10.0, 0.2),
    ("RO", (("Bucharest", 44.426, 26.102),), 1.0, 8.0, 1.0),
    ("UA", (("Kyiv", 50.45, 30.523),), 0.5, 5.0, 0.3),
    ("VN", (("Hanoi", 21.028, 105.854),), 0.2, 6.0, 1.0),
    ("ID", (("Jakarta", -6.208, 106.846),), 0.2, 5.0, 1.5),
    ("PH", (("Manila", 14.599, 120.984),), 0.2, 5.0, 0.5),
    ("RU", (("Moscow", 55.756, 37.617),), 0.3, 6.0, 0.2),
    ("CN", (("Shanghai", 31.23, 121.474),), 0.3, 4.0, 0.5),
    ("TR", (("Istanbul", 41.008, 28.978),), 1.0, 3.0, 4.0),
    ("AE", (("Dubai", 25.205, 55.271),), 0.3, 1.0, 3.0),
    ("ZA", (("Johannesburg", -26.204, 28.047),), 0.2, 2.0, 0.5),
)  # fmt: skip

COUNTRIES: Final = MappingProxyType(
    {
        code: Country(code, cities, shoppers, fraud, travel, _prefixes(index))
        for index, (code, cities, shoppers, fraud, travel) in enumerate(_TABLE)
    }
)
"""Country code -> :class:`Country`, in a fixed order."""

HOSTING_PREFIXES: Final = (
    ("34.89.", "NL"),
    ("35.198.", "DE"),
    ("45.83.", "NL"),
    ("104.244.", "US"),
    ("138.68.", "GB"),
    ("185.220.", "DE"),
    ("193.32.", "RO"),
    ("198.51.", "US"),
)
"""Data-centre / proxy ranges with the country their IP geolocates to."""


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def speed_kmh(
    lat1: float, lon1: float, time1_ms: int, lat2: float, lon2: float, time2_ms: int
) -> float:
    """The ground speed needed to get from one place and time to another (inf if no time)."""
    hours = abs(time2_ms - time1_ms) / 3_600_000
    km = distance_km(lat1, lon1, lat2, lon2)
    if hours == 0:
        return math.inf if km > 0 else 0.0
    return km / hours

"""Great-circle distance and the speed it implies: the impossible-travel signal."""

from __future__ import annotations

import math

__all__ = ["EARTH_RADIUS_KM", "great_circle_km", "speed_kmh"]

EARTH_RADIUS_KM = 6371.0088
_MAX_SPEED_KMH = 1e6  # two distant events in the same millisecond: "instant", kept finite


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in km (accurate to ~0.5 %, plenty for travel speeds)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def speed_kmh(distance_km: float, elapsed_ms: int) -> float:
    """The speed to cover ``distance_km`` in ``elapsed_ms``; capped for zero elapsed time."""
    if elapsed_ms <= 0:
        return _MAX_SPEED_KMH if distance_km > 0 else 0.0
    return min(_MAX_SPEED_KMH, distance_km / (elapsed_ms / 3_600_000))

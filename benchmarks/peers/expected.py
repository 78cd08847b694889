"""What every contender of benchmarks/peers.py must output for a given input: the reference.

The benchmark's fraud check, stated once, over events as JSON objects (``type`` names the
kind; fields as in :mod:`riskstream.events`), each user's events in event-time order:

* **velocity** - per user, the count of the user's events in the 10-minute tumbling window
  ``[k * 600 s, (k + 1) * 600 s)`` an event falls in, counting that event: one result per
  input event. (Tumbling because it is the one window all three frameworks offer with the
  same meaning: Faust has no sliding tables, and its hopping tables read a different window
  than Quix's or ours.)
* **promo rush** - a user's known devices and countries are those of their successful
  logins and their checkouts (the last 64 devices and 32 countries). A successful login is
  *flagged* when the user has known devices and countries and it brings a new device *and*
  a new country; a user's flag is that of their last successful login. A session's first
  click is the first click with its id (the last four sessions of the user are kept). A
  promo worth at least 50 in a session whose first click was at most 30 s earlier, by a
  flagged user, raises one alert. This is the fraud engine's rule
  ``ato.new_device_promo_rush`` reduced to its events (the engine evaluates it at the
  checkout, with the rest of the profile).

``expected(events)`` runs it over the input the way a stream processor would (one user's
state at a time, in input order) and returns the alerts and a digest of the velocity
results; ``velocity_result`` and ``alert_of`` read what a contender wrote (each framework
shapes its results its own way) for the comparison.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

__all__ = [
    "HIGH_VALUE_PROMO",
    "MAX_COUNTRIES",
    "MAX_DEVICES",
    "MAX_SESSIONS",
    "RUSH_MS",
    "WINDOW_MS",
    "Alert",
    "Expected",
    "UserState",
    "alert_of",
    "expected",
    "fold",
    "velocity_digest",
    "velocity_result",
]

HIGH_VALUE_PROMO: Final = 50.0
RUSH_MS: Final = 30_000
WINDOW_MS: Final = 600_000
MAX_DEVICES: Final = 64
MAX_COUNTRIES: Final = 32
MAX_SESSIONS: Final = 4

Alert = tuple[str, str]  # (user id, the promo's event id)


@dataclass
class UserState:
    """One user's promo-rush state."""

    devices: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    flagged: bool = False
    sessions: list[tuple[str, int]] = field(default_factory=list)  # (id, first click)


def _remember(known: list[str], value: str, limit: int) -> None:
    if value not in known:
        known.append(value)
        if len(known) > limit:
            del known[0]


def fold(state: UserState, event: Mapping[str, Any]) -> Alert | None:
    """Apply one event to its user's state; the alert it raises, if any."""
    kind = event["type"]
    if kind == "click":
        session = event["session_id"]
        if all(sid != session for sid, _ in state.sessions):
            state.sessions.append((session, event["event_time"]))
            if len(state.sessions) > MAX_SESSIONS:
                del state.sessions[0]
    elif kind == "promo":
        session = event.get("session_id")
        if state.flagged and session is not None and event["discount_value"] >= HIGH_VALUE_PROMO:
            for sid, first_click in state.sessions:
                if sid == session and event["event_time"] - first_click <= RUSH_MS:
                    return (event["user_id"], event["event_id"])
    elif kind == "login":
        if event.get("success", True):
            device, country = event["device_id"], event["country"]
            state.flagged = (
                bool(state.devices)
                and device not in state.devices
                and bool(state.countries)
                and country not in state.countries
            )
            _remember(state.devices, device, MAX_DEVICES)
            _remember(state.countries, country, MAX_COUNTRIES)
    elif kind == "checkout":
        _remember(state.devices, event["device_id"], MAX_DEVICES)
        _remember(state.countries, event["country"], MAX_COUNTRIES)
    return None


@dataclass(frozen=True)
class Expected:
    """The reference outputs of one input."""

    events: int
    alerts: frozenset[Alert]
    velocity: tuple[int, int, int]  # see velocity_digest

    @property
    def alert_users(self) -> frozenset[str]:
        return frozenset(user for user, _ in self.alerts)


def velocity_digest(results: Iterable[tuple[str, int, int]]) -> tuple[int, int, int]:
    """(results, distinct (user, window) pairs, sum of counts) of velocity results given as
    (user, window start ms, count). Equal digests for the same input mean every user-window
    reached the same count through one result per event (a missing, repeated or miscounted
    result changes the pairs or the sum)."""
    results_n = 0
    windows: Counter[tuple[str, int]] = Counter()
    total = 0
    for user, start, count in results:
        results_n += 1
        windows[(user, start)] += 1
        total += count
    return results_n, len(windows), total


def expected(events: Iterable[Mapping[str, Any]]) -> Expected:
    """The alerts and the velocity digest every contender must produce for ``events``."""
    states: dict[str, UserState] = {}
    alerts: set[Alert] = set()
    windows: Counter[tuple[str, int]] = Counter()
    velocity: list[tuple[str, int, int]] = []
    count = 0
    for event in events:
        count += 1
        user = event["user_id"]
        state = states.get(user)
        if state is None:
            state = states[user] = UserState()
        alert = fold(state, event)
        if alert is not None:
            alerts.add(alert)
        at = event["event_time"]
        window = (user, at - at % WINDOW_MS)
        windows[window] += 1
        velocity.append((user, window[1], windows[window]))
    return Expected(count, frozenset(alerts), velocity_digest(velocity))


class _VelocityRecord(msgspec.Struct):
    """A velocity result as any contender writes it: Quix's and Faust's ``value``, or
    riskstream's ``WindowResult.values``."""

    start: int
    value: int | None = None
    values: dict[str, int] | None = None


class _AlertRecord(msgspec.Struct):
    user_id: str
    promo_event_id: str


_velocity_record = msgspec.json.Decoder(_VelocityRecord)
_alert_record = msgspec.json.Decoder(_AlertRecord)


def velocity_result(key: bytes | None, value: bytes) -> tuple[str, int, int]:
    """(user, window start ms, count) of a velocity record (key: the user id)."""
    record = _velocity_record.decode(value)
    count = record.value if record.value is not None else (record.values or {})["count"]
    return (key or b"").decode(), record.start, count


def alert_of(value: bytes) -> Alert:
    """(user, the promo's event id) of an alert record."""
    record = _alert_record.decode(value)
    return record.user_id, record.promo_event_id

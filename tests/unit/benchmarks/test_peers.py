"""benchmarks/peers: the reference fraud check, and riskstream's app agreeing with it."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec

from riskstream.events import Click, Event, Login, PromoApplied
from riskstream.events.codec import codec_for
from riskstream.sim import SimConfig, TrafficSimulator
from riskstream.testing import TestDriver

PEERS = Path(__file__).resolve().parents[3] / "benchmarks" / "peers"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_peers_{name}", PEERS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


expected = _load("expected")
app = _load("riskstream_app")

T0 = 1_767_225_600_000


def _login(at: int, device: str, country: str, *, success: bool = True) -> dict[str, Any]:
    return {"type": "login", "user_id": "u", "event_time": at, "device_id": device,
            "country": country, "success": success}  # fmt: skip


def _click(at: int, session: str) -> dict[str, Any]:
    return {"type": "click", "user_id": "u", "event_time": at, "session_id": session}


def _promo(at: int, session: str | None, discount: float, event_id: str = "p") -> dict[str, Any]:
    return {"type": "promo", "user_id": "u", "event_time": at, "session_id": session,
            "discount_value": discount, "event_id": event_id}  # fmt: skip


def _checkout(at: int, device: str, country: str) -> dict[str, Any]:
    return {"type": "checkout", "user_id": "u", "event_time": at, "device_id": device,
            "country": country}  # fmt: skip


def _alerts(*events: dict[str, Any]) -> set[tuple[str, str]]:
    return set(expected.expected(events).alerts)


def test_a_promo_rush_after_a_login_from_a_new_device_in_a_new_country_alerts() -> None:
    history = (_login(T0, "d1", "DE"), _click(T0 + 1_000, "s1"))
    rush = (_login(T0 + 60_000, "d2", "BR"), _click(T0 + 61_000, "s2"))
    assert _alerts(*history, *rush, _promo(T0 + 91_000, "s2", 50.0)) == {("u", "p")}
    # 30 s after the first click is the last moment; a click later in the session is no start.
    late = (_click(T0 + 80_000, "s2"), _promo(T0 + 91_001, "s2", 80.0))
    assert _alerts(*history, *rush, *late) == set()


def test_no_alert_without_both_new_device_and_new_country() -> None:
    history = (_login(T0, "d1", "DE"), _click(T0 + 1_000, "s1"))
    for login in (_login(T0 + 60_000, "d2", "DE"), _login(T0 + 60_000, "d1", "BR")):
        events = (*history, login, _click(T0 + 61_000, "s2"), _promo(T0 + 62_000, "s2", 99.0))
        assert _alerts(*events) == set()
    # The first login of an account is its baseline, not a takeover.
    assert _alerts(_login(T0, "d1", "DE"), _click(T0, "s1"), _promo(T0, "s1", 99.0)) == set()


def test_no_alert_for_a_small_promo_or_another_session() -> None:
    events = (_login(T0, "d1", "DE"), _login(T0 + 60_000, "d2", "BR"), _click(T0 + 61_000, "s2"))
    assert _alerts(*events, _promo(T0 + 62_000, "s2", 49.99)) == set()
    assert _alerts(*events, _promo(T0 + 62_000, "s9", 99.0)) == set()
    assert _alerts(*events, _promo(T0 + 62_000, None, 99.0)) == set()


def test_failed_logins_are_ignored_and_checkouts_teach_devices() -> None:
    flagged = (_login(T0, "d1", "DE"), _login(T0 + 60_000, "d2", "BR"))
    failed = _login(T0 + 61_000, "d1", "DE", success=False)  # does not clear the flag
    rush = (_click(T0 + 62_000, "s2"), _promo(T0 + 63_000, "s2", 60.0))
    assert _alerts(*flagged, failed, *rush) == {("u", "p")}
    # A checkout from d2 in BR makes both known: the next login from there is no news.
    seen = (_login(T0, "d1", "DE"), _checkout(T0 + 1_000, "d2", "BR"))
    again = (_login(T0 + 60_000, "d2", "BR"), *rush)
    assert _alerts(*seen, *again) == set()


def test_only_the_last_four_sessions_keep_their_first_click() -> None:
    events = [_login(T0, "d1", "DE"), _login(T0 + 1_000, "d2", "BR"), _click(T0 + 2_000, "s0")]
    events += [_click(T0 + 2_001 + i, f"s{i}") for i in range(1, 5)]  # s0 is forgotten
    assert _alerts(*events, _promo(T0 + 3_000, "s0", 70.0)) == set()
    assert _alerts(*events, _promo(T0 + 3_000, "s1", 70.0, "p1")) == {("u", "p1")}


def test_velocity_counts_per_user_and_tumbling_window() -> None:
    events = [
        {**_click(T0 + 599_999, "s"), "user_id": "a"},
        {**_click(T0 + 600_000, "s"), "user_id": "a"},  # the next window
        {**_click(T0 + 600_001, "s"), "user_id": "a"},
        {**_click(T0 + 600_002, "s"), "user_id": "b"},
    ]
    # 4 results; windows (a, 0), (a, 1), (b, 1); counts 1 + 1 + 2 + 1.
    assert expected.expected(events).velocity == (4, 3, 5)
    results = [("a", 0, 1), ("a", 600_000, 1), ("a", 600_000, 2), ("b", 600_000, 1)]
    assert expected.velocity_digest(results) == (4, 3, 5)
    assert expected.velocity_digest([*results[:3], ("b", 600_000, 2)]) != (4, 3, 5)


def test_velocity_and_alert_records_of_every_framework_read_alike() -> None:
    quix = b'{"start": 600000, "end": 1200000, "value": 3}'
    ours = b'{"start":600000,"end":1200000,"values":{"count":3},"final":false}'
    assert expected.velocity_result(b"u", quix) == expected.velocity_result(b"u", ours)
    assert expected.velocity_result(b"u", ours) == ("u", 600_000, 3)
    alert = b'{"user_id": "u", "session_id": "s", "promo_event_id": "p", "promo_time": 1}'
    assert expected.alert_of(alert) == ("u", "p")


def _traffic() -> list[Event]:
    config = SimConfig(users=50, seed=11, fraud_rate=0.05, scenario_weights={"promo_abuse": 10.0})
    return list(TrafficSimulator(config).events(6_000))


def test_the_riskstream_app_matches_the_reference() -> None:
    events = _traffic()
    encode = codec_for("*").encode
    values = [encode(event) for event in events]
    reference = expected.expected(msgspec.json.decode(b"[" + b",".join(values) + b"]"))
    assert reference.alerts  # the input exercises the check
    names = argparse.Namespace(group="peers-test", input="in", velocity="vel", alerts="alerts")
    driver = TestDriver(app.minimal_topology(names), partitions=8, start_time=T0)
    for event, value in zip(events, values, strict=True):
        driver.pipe("in", value, key=event.key, timestamp=event.event_time)
    velocity = [expected.velocity_result(o.key, o.value) for o in driver.read("vel")]
    alerts = [expected.alert_of(o.value) for o in driver.read("alerts")]
    assert expected.velocity_digest(velocity) == reference.velocity
    assert sorted(alerts) == sorted(reference.alerts)


def test_the_riskstream_app_alerts_on_a_hand_made_rush() -> None:
    def login(at: int, device: str, country: str) -> Login:
        return Login(event_id=f"l{at}", user_id="u", event_time=at, device_id=device,
                     ip="10.0.0.1", country=country)  # fmt: skip

    events: list[Event] = [
        login(T0, "d1", "DE"),
        login(T0 + 60_000, "d2", "BR"),
        Click(event_id="c", user_id="u", event_time=T0 + 61_000, session_id="s", page="/"),
        PromoApplied(event_id="p", user_id="u", event_time=T0 + 90_000, session_id="s",
                     code="VIP50", discount_value=120.0, cart_value=240.0),
    ]  # fmt: skip
    names = argparse.Namespace(group="peers-test", input="in", velocity="vel", alerts="alerts")
    driver = TestDriver(app.minimal_topology(names), start_time=T0)
    encode = codec_for("*").encode
    for event in events:
        driver.pipe("in", encode(event), key=event.key, timestamp=event.event_time)
    alert = msgspec.json.decode(driver.read("alerts")[0].value)
    assert alert == {"user_id": "u", "session_id": "s", "promo_event_id": "p",
                     "promo_time": T0 + 90_000, "first_click": T0 + 61_000}  # fmt: skip
    assert [expected.velocity_result(o.key, o.value)[2] for o in driver.read("vel")] == [1, 2, 3, 4]

"""Patterns inside a topology, through the test driver: matches right away, absences and
timeouts when the watermark moves, state across a restart, late events kept out."""

from __future__ import annotations

from typing import Any

import msgspec

from riskstream.stream.patterns import Pattern, PatternDefinition
from riskstream.stream.topology import Topology
from riskstream.testing import TestDriver
from tests.unit.stream.test_patterns_kit import is_

SECOND = 1_000


def _decode(raw: bytes | None) -> Any:
    return msgspec.json.decode(raw or b"null")


def _topology(**options: Any) -> Topology:
    definition: PatternDefinition[dict[str, Any]] = PatternDefinition(
        {
            "fail_then_ok": Pattern.begin("fail", where=is_("fail"))
            .times(3)
            .next("ok", where=is_("ok"))
            .within(60 * SECOND),
            "mfa_unconfirmed": Pattern.begin("challenge", where=is_("challenge"))
            .not_followed_by("confirmed", where=is_("confirmed"))
            .within(60 * SECOND),
        },
        value_type=dict[str, Any],
        **options,
    )
    topology = Topology("app", allowed_lateness_ms=5 * SECOND, idle_timeout_ms=10**9)
    events = topology.source("events", ["events"], decode=_decode, event_time=lambda v: v["t"])
    events.stateful("patterns", definition).to("alerts", encode=msgspec.json.encode)
    return topology


def _pipe(driver: TestDriver, user: str, t: int, event_id: str) -> None:
    value = {"t": t, "type": event_id.rstrip("0123456789"), "id": event_id}
    driver.pipe("events", msgspec.json.encode(value), key=user.encode(), timestamp=t)


def _alerts(driver: TestDriver) -> list[tuple[str, str, list[str]]]:
    rows = [_decode(o.value) for o in driver.read("alerts")]
    return [
        (row["type"], row["pattern"], [e["id"] for es in row["events"].values() for e in es])
        for row in rows
    ]


def test_matches_come_out_as_soon_as_they_complete() -> None:
    driver = TestDriver(_topology())
    for i, event in enumerate(["fail1", "fail2", "fail3", "ok1"]):
        _pipe(driver, "u1", i * SECOND, event)
    assert _alerts(driver) == [
        ("pattern.match", "fail_then_ok", ["fail1", "fail2", "fail3", "ok1"])
    ]


def test_absence_completes_when_the_watermark_passes_and_survives_a_restart() -> None:
    driver = TestDriver(_topology())
    _pipe(driver, "u1", 0, "challenge1")
    _pipe(driver, "u2", 1 * SECOND, "challenge2")
    _pipe(driver, "u2", 2 * SECOND, "confirmed1")
    driver.restart()
    _pipe(driver, "u3", 64 * SECOND, "x1")  # watermark: 64 s - 5 s lateness < 60 s
    assert _alerts(driver) == []
    _pipe(driver, "u3", 65 * SECOND, "x2")  # watermark 60 s: u1's window has passed
    assert _alerts(driver) == [("pattern.match", "mfa_unconfirmed", ["challenge1"])]


def test_timeouts_and_late_events() -> None:
    driver = TestDriver(_topology(emit_timeouts=True))
    _pipe(driver, "u1", 10 * SECOND, "fail1")
    _pipe(driver, "u1", 20 * SECOND, "x1")
    _pipe(driver, "u1", 16 * SECOND, "fail2")  # out of order but within the lateness
    _pipe(driver, "u1", 2 * SECOND, "fail3")  # late: below the watermark (15 s)
    assert [_decode(o.value)["id"] for o in driver.late()] == ["fail3"]
    _pipe(driver, "u9", 80 * SECOND, "x2")  # watermark 75 s: fail1's window (70 s) passed
    assert _alerts(driver) == [("pattern.timeout", "fail_then_ok", ["fail1", "fail2"])]


def test_strict_next_breaks_on_an_event_between_and_relaxed_does_not() -> None:
    strict = Pattern.begin("login", where=is_("login")).next("promo", where=is_("promo"))
    relaxed = Pattern.begin("login", where=is_("login")).followed_by("promo", where=is_("promo"))
    definition: PatternDefinition[dict[str, Any]] = PatternDefinition(
        {"strict": strict.within(60 * SECOND), "relaxed": relaxed.within(60 * SECOND)},
        value_type=dict[str, Any],
    )
    topology = Topology("app", idle_timeout_ms=10**9)
    events = topology.source("events", ["events"], decode=_decode, event_time=lambda v: v["t"])
    events.stateful("patterns", definition).to("alerts", encode=msgspec.json.encode)
    driver = TestDriver(topology)
    for i, event in enumerate(["login1", "click1", "promo1"]):
        _pipe(driver, "u1", i * SECOND, event)
    assert _alerts(driver) == [("pattern.match", "relaxed", ["login1", "promo1"])]
    for i, event in enumerate(["login2", "promo2"]):
        _pipe(driver, "u2", (10 + i) * SECOND, event)
    assert {pattern for _, pattern, _ in _alerts(driver)} == {"strict", "relaxed"}

"""Joins inside a topology, through the test driver: the executor wraps each input's values
with ``Left``/``Right``, fires deadlines as the watermark moves, and restores join state."""

from __future__ import annotations

from typing import Any

import msgspec

from riskstream.stream.joins import AsOfJoin, IntervalJoin, Left, Right, TableJoin
from riskstream.stream.topology import Topology
from riskstream.testing import TestDriver


def _decode(raw: bytes | None) -> Any:
    return msgspec.json.decode(raw or b"")


def _encode(value: Any) -> bytes:
    return msgspec.json.encode(value)


def _topology(definition: Any) -> Topology:
    topology = Topology("app", idle_timeout_ms=10**9)
    logins = topology.source("logins", ["logins"], decode=_decode, event_time=lambda v: v["t"])
    checkouts = topology.source(
        "checkouts", ["checkouts"], decode=_decode, event_time=lambda v: v["t"]
    )
    checkouts.join("enrich", logins, definition, wrap_left=Left, wrap_right=Right).to(
        "enriched", encode=_encode
    )
    return topology


def _pipe(driver: TestDriver, topic: str, user: str, t: int, **fields: Any) -> None:
    driver.pipe(topic, _encode({"t": t, **fields}), key=user.encode(), timestamp=t)


def _pairs(driver: TestDriver) -> list[tuple[Any, Any]]:
    rows = [msgspec.json.decode(o.value) for o in driver.read("enriched")]
    return [(r["left"] and r["left"]["id"], r["right"] and r["right"]["id"]) for r in rows]


def test_interval_left_join_in_a_topology_with_a_restart() -> None:
    driver = TestDriver(_topology(IntervalJoin(30_000, 0, how="left")))
    _pipe(driver, "logins", "u1", 1_000, id="login1")
    _pipe(driver, "checkouts", "u1", 20_000, id="co1")
    assert _pairs(driver) == [("co1", "login1")]
    _pipe(driver, "checkouts", "u2", 25_000, id="co2")  # no login: waits for the window
    assert _pairs(driver) == []
    driver.restart()
    _pipe(driver, "logins", "u2", 24_000, id="login2")  # out of order, not late: joins
    assert _pairs(driver) == [("co2", "login2")]
    _pipe(driver, "checkouts", "u3", 26_000, id="co3")
    _pipe(driver, "logins", "u9", 40_000, id="x")
    _pipe(driver, "checkouts", "u9", 40_000, id="y")  # both watermarks pass 26 s
    assert ("co3", None) in _pairs(driver)


def test_table_join_in_a_topology() -> None:
    driver = TestDriver(_topology(TableJoin(how="left")))
    _pipe(driver, "logins", "u1", 1_000, id="profile-v1")
    _pipe(driver, "checkouts", "u1", 2_000, id="co1")
    _pipe(driver, "checkouts", "u2", 2_000, id="co2")
    assert _pairs(driver) == [("co1", "profile-v1"), ("co2", None)]


def test_asof_join_in_a_topology_emits_at_the_watermark() -> None:
    driver = TestDriver(_topology(AsOfJoin(10_000)))
    _pipe(driver, "logins", "u1", 1_000, id="a")
    _pipe(driver, "checkouts", "u1", 5_000, id="co1")
    assert _pairs(driver) == []
    _pipe(driver, "logins", "u1", 4_000, id="b")  # out of order, before the watermark
    _pipe(driver, "logins", "u9", 9_000, id="x")
    _pipe(driver, "checkouts", "u9", 9_000, id="y")  # watermark 9 s > 5 s
    assert ("co1", "b") in _pairs(driver)

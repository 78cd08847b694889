"""What the fraud topology's stages send each other: one query per entity a checkout names
(the first bringing the user-side part along), nothing for events no aggregate reads, and
profiles that survive a restore in their compact layout."""

from __future__ import annotations

from collections import Counter
from typing import Any

from riskstream.events import Click, Event, Login, MouseMovement
from riskstream.fraud.decision import Decision, decode_decision
from riskstream.fraud.topology import fraud_topology
from riskstream.stream.topology import Topology
from riskstream.testing import TestDriver
from tests.fraud_support.scenarios import START, as_records, checkout
from tests.unit.fraud.engine.support import failing_entities

S = 1_000


class CountingDriver(TestDriver):
    """A test driver that counts the records each repartition topic carries."""

    __test__ = False

    def __init__(self, topology: Topology) -> None:
        super().__init__(topology, partitions=2, start_time=START)
        self.carried: Counter[str] = Counter()

    def pipe(self, topic: str, value: Any, **fields: Any) -> None:
        if topic.endswith("-repartition"):
            self.carried[topic.removeprefix(f"{self.topology.application}-")] += 1
        super().pipe(topic, value, **fields)

    def feed(self, events: list[Event]) -> list[Decision]:
        for record in as_records(events):
            self.clock.set(max(self.clock.now(), record.timestamp))
            self.pipe(record.topic, record.value, key=record.key, timestamp=record.timestamp)
        return [decode_decision(output.value) for output in self.read("risk.decisions")]


def _login(user: str, at: int) -> Login:
    return Login(
        event_id=f"{user}-login-{at}",
        user_id=user,
        event_time=at,
        device_id="dev-home",
        ip="10.0.0.1",
        country="DE",
    )


def test_a_checkout_asks_each_entity_once_and_an_answer_brings_the_user_part() -> None:
    driver = CountingDriver(fraud_topology())
    driver.feed([_login("u", START)])
    driver.carried.clear()
    (decision,) = driver.feed([checkout("u", "t1", START + 60 * S, "s", 25.0)])
    # device, instrument, ip, merchant: no record of its own for the user-side part
    assert driver.carried == {"entity-repartition": 4, "by-user-repartition": 4}
    assert decision.missing == []
    assert decision.features["checkout.amount"] == 25.0  # the user side
    assert decision.features["login.new_device"] is False
    assert decision.features["device.distinct_accounts_24h"] == 1  # the entities
    assert decision.features["merchant.checkouts_24h"] == 0


def test_a_checkout_naming_no_entity_sends_its_user_part_alone() -> None:
    driver = CountingDriver(fraud_topology())
    nothing = {"device_id": "", "ip": "", "merchant_id": "", "instrument_fingerprint": ""}
    (decision,) = driver.feed([checkout("u", "t1", START, "s", 5.0, **nothing)])
    assert driver.carried == {"entity-repartition": 1, "by-user-repartition": 1}
    assert decision.missing == []
    assert decision.features["checkout.amount"] == 5.0
    assert "merchant.checkouts_24h" not in decision.features  # no merchant was asked
    driver.carried.clear()
    card_only = {**nothing, "instrument_fingerprint": "card-1"}
    (decision,) = driver.feed([checkout("u", "t2", START + S, "s", 7.0, **card_only)])
    assert driver.carried == {"entity-repartition": 1, "by-user-repartition": 1}
    assert decision.missing == []
    assert decision.features["checkout.amount"] == 7.0
    assert decision.features["instrument.distinct_accounts_30d"] == 0


def test_events_no_aggregate_reads_send_nothing_but_still_fold() -> None:
    driver = CountingDriver(fraud_topology())
    click = Click(
        event_id="c1",
        user_id="u",
        event_time=START,
        session_id="s",
        page="/",
        first_in_session=True,
        device_id="dev-home",
    )
    mouse = MouseMovement(
        event_id="m1",
        user_id="u",
        event_time=START + S,
        session_id="s",
        sample_count=10,
        path_length=100.0,
        duration_ms=1_000,
        straightness=0.5,
        mean_speed=0.1,
        max_speed=0.2,
    )
    driver.feed([click, mouse])
    assert driver.carried == {}
    (decision,) = driver.feed([checkout("u", "t1", START + 10 * S, "s", 5.0)])
    assert decision.features["checkout.seconds_after_first_click"] == 10.0
    assert decision.features["mouse.samples"] == 10


def test_the_user_part_survives_a_failing_entity_that_carried_it() -> None:
    # the device is asked first: its query carries the user-side part
    driver = CountingDriver(failing_entities("device", "device profile unavailable"))
    (decision,) = driver.feed([_login("u", START), checkout("u", "t", START + S, "s", 5.0)])
    assert decision.missing == ["device: RuntimeError: device profile unavailable"]
    assert decision.features["login.new_device"] is False  # the user side still came
    assert decision.features["checkout.amount"] == 5.0
    assert "device.distinct_accounts_24h" not in decision.features


def test_profiles_restored_from_their_stores_read_as_before() -> None:
    driver = CountingDriver(fraud_topology())
    driver.feed([_login("u", START), checkout("u", "t1", START + S, "s", 40.0)])
    driver.restart()  # every profile from its stored bytes
    (decision,) = driver.feed([checkout("u", "t2", START + 2 * S, "s", 60.0)])
    features = decision.features
    assert features["user.checkouts_24h"] == 1
    assert features["user.checkout_amount_24h"] == 40.0
    assert features["device.checkouts_1h"] == 1
    assert features["device.distinct_accounts_24h"] == 1
    assert features["instrument.distinct_accounts_30d"] == 1
    assert features["merchant.checkouts_24h"] == 1
    assert features["checkout.new_shipping_address"] is False

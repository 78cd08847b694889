"""The live warm-up on a fake clock: sessions in flight at the cut-off arrive whole.

Each paced run is checked against a reference: the same simulation with no cut-off, which
generates exactly the same events (the cut-off only chooses which of them leave).
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest

from riskstream.events import (
    Chargeback,
    Checkout,
    Click,
    Event,
    FraudReported,
    Login,
    PromoApplied,
)
from riskstream.sim import GroundTruth, LabelPolicy, TrafficSimulator, live_simulator, paced
from riskstream.sim.population import DAY_MS
from tests.unit.sim.test_pacing import NOW, FakeClock

NOW_MS = int(NOW * 1000)
RATE = 1_000.0
LIVE = 12_000


@dataclass
class Warm:
    """A paced run with a warm-up, and the reference run it is a selection of."""

    simulator: TrafficSimulator
    events: list[Event]  # as paced() stamped them
    left_at_ms: list[int]  # the fake clock when each left
    truth: list[GroundTruth]
    reference: list[Event]  # simulated times, nothing dropped
    reference_truth: dict[str, GroundTruth]
    simulated: dict[str, int] = field(default_factory=dict)  # event id -> simulated time
    sessions: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        self.simulated = {e.event_id: e.event_time for e in self.reference}
        for event in self.reference:
            session = getattr(event, "session_id", None)
            if session is not None:
                self.sessions[session].append(event)

    @property
    def cutoff(self) -> int:
        emit_from = self.simulator.config.emit_from_ms
        assert emit_from is not None
        return emit_from


def _reference(simulator: TrafficSimulator, **changes: Any) -> TrafficSimulator:
    return TrafficSimulator(dataclasses.replace(simulator.config, emit_from_ms=None, **changes))


@pytest.fixture(scope="module")
def warm() -> Warm:
    clock = FakeClock(NOW)
    simulator = live_simulator(RATE, clock=clock, seed=4, fraud_rate=0.2, warmup_s=90)
    truth: list[GroundTruth] = []
    events: list[Event] = []
    left_at: list[int] = []
    stream = paced(simulator, RATE, limit=LIVE, truth=truth.append, clock=clock, sleep=clock.sleep)
    for event in stream:
        events.append(event)
        left_at.append(int(clock.now * 1000))
    reference = _reference(simulator)
    last = simulator.stats.last_ms
    assert last is not None
    reference_truth: list[GroundTruth] = []
    expected = list(reference.events(until_ms=last + 1, truth=reference_truth.append))
    end = [e.event_id for e in expected].index(events[-1].event_id)  # the same instant's next
    expected = expected[: end + 1]
    return Warm(
        simulator,
        events,
        left_at,
        truth,
        expected,
        {record.transaction_id: record for record in reference_truth},
    )


def test_the_output_is_the_reference_without_the_sessions_over_before_the_cutoff(
    warm: Warm,
) -> None:
    sent = {e.event_id for e in warm.events}
    assert [e.event_id for e in warm.reference if e.event_id in sent] == [
        e.event_id for e in warm.events
    ]
    dropped = [e for e in warm.reference if e.event_id not in sent]
    assert len(dropped) > 1_000
    # history also counts the labels of its checkouts, days after the end of this run
    labels = sum(type(e) is Checkout for e in dropped)
    assert len(dropped) <= warm.simulator.history <= len(dropped) + labels
    assert all(e.event_time < warm.cutoff for e in dropped)
    backlog = [e for e in warm.events if warm.simulated[e.event_id] < warm.cutoff]
    assert len(backlog) == warm.simulator.backlog > 1_000
    assert len(warm.events) == len(backlog) + LIVE
    # a session is sent whole or not at all; what is not sent was over before the cut-off
    for events in warm.sessions.values():
        kept = {e.event_id in sent for e in events}
        assert len(kept) == 1
        if kept == {False}:
            assert events[-1].event_time < warm.cutoff


def test_every_checkout_comes_after_the_events_of_its_session_before_it(warm: Warm) -> None:
    position = {e.event_id: i for i, e in enumerate(warm.events)}
    by_user: dict[str, list[Event]] = defaultdict(list)
    for event in warm.reference:
        by_user[event.user_id].append(event)
    spanning = with_promo = with_login = 0
    for index, checkout in enumerate(warm.events):
        if type(checkout) is not Checkout:
            continue
        assert checkout.session_id is not None
        session = warm.sessions[checkout.session_id]
        opened = session[0].event_time
        at = warm.simulated[checkout.event_id]
        window = [
            e
            for e in by_user[checkout.user_id]
            if opened - 60_000 <= e.event_time <= at and e.event_id != checkout.event_id
        ]
        # The session's own events; and a login, address or profile change (which carry no
        # session id) on its device, unless another session of that device overlaps.
        others = {
            getattr(e, "session_id", None)
            for e in window
            if getattr(e, "device_id", None) == checkout.device_id
        }
        alone = others == {checkout.session_id, None}
        before = [
            e
            for e in window
            if getattr(e, "session_id", None) == checkout.session_id
            or (alone and type(e) is Login and e.device_id == checkout.device_id)
        ]
        with_login += alone and opened < warm.cutoff <= at and any(type(e) is Login for e in before)
        assert all(position.get(e.event_id, index) < index for e in before), checkout
        assert [position[e.event_id] for e in before] == sorted(
            position[e.event_id] for e in before
        )
        clicks = [e for e in session if type(e) is Click]
        assert clicks and clicks[0].first_in_session and clicks[0].event_id in position
        if opened < warm.cutoff <= at:
            spanning += 1
            with_promo += any(type(e) is PromoApplied for e in before)
    assert spanning > 100
    assert with_promo > 5
    assert with_login > 20


def test_stamps_keep_the_gaps_and_are_never_in_the_future(warm: Warm) -> None:
    stamps = [e.event_time for e in warm.events]
    assert stamps == sorted(stamps)  # for every user and session, and the stream as a whole
    assert all(s <= left for s, left in zip(stamps, warm.left_at_ms, strict=True))
    for event in warm.events:
        simulated = warm.simulated[event.event_id]
        if simulated < warm.cutoff:  # the backlog ends just before the schedule starts
            assert event.event_time == NOW_MS - (warm.cutoff - simulated)
        else:
            assert event.event_time >= NOW_MS
    sent = {e.event_id: e.event_time for e in warm.events}
    across: list[float] = []
    for session in warm.sessions.values():
        for a, b in itertools.pairwise(session):
            if a.event_id not in sent or b.event_id not in sent:
                continue
            gap = sent[b.event_id] - sent[a.event_id]
            simulated = b.event_time - a.event_time
            assert gap >= 0
            if b.event_time < warm.cutoff:
                assert gap == simulated
            elif a.event_time < warm.cutoff and simulated >= 5_000:
                across.append(gap / simulated)
    # across the cut-off the live side is paced: its gaps are kept on average, not exactly
    assert len(across) > 100
    assert 0.6 <= statistics.median(across) <= 1.2


def test_the_truth_of_every_checkout_sent_is_restamped_with_it(warm: Warm) -> None:
    checkouts = [e for e in warm.events if type(e) is Checkout]
    assert len(checkouts) == len(warm.truth) > 200
    backlog = 0
    for checkout, record in zip(checkouts, warm.truth, strict=True):
        assert record.transaction_id == checkout.transaction_id
        assert record.event_time == checkout.event_time
        simulated = warm.reference_truth[record.transaction_id]
        assert (
            msgspec.structs.replace(
                record, event_time=simulated.event_time, label_time=simulated.label_time
            )
            == simulated
        )
        if record.label_time is not None:
            assert simulated.label_time is not None
            delay = simulated.label_time - simulated.event_time
            assert record.label_time - record.event_time == delay
        backlog += warm.simulated[checkout.event_id] < warm.cutoff
    assert backlog > 20
    assert sum(r.is_fraud for r in warm.truth) > 20
    dropped = set(warm.reference_truth) - {r.transaction_id for r in warm.truth}
    assert dropped and all(warm.reference_truth[t].event_time < warm.cutoff for t in dropped)


def test_labels_follow_their_checkout_in_or_out() -> None:
    # At the natural pace with labels within hours: labels of the sessions over before the
    # cut-off are dropped with them, and never keep a session in flight.
    start = 1_767_225_600_000
    cutoff = start + 3_600_000
    soon = LabelPolicy(fraction=1.0, median_days=0.05, min_days=0.01, max_days=0.2)
    settings: dict[str, Any] = {
        "seed": 3,
        "users": 2_000,
        "sessions_per_user_day": 4.0,
        "fraud_rate": 0.3,
        "labels": soon,
        "start_ms": start,
    }
    simulator = TrafficSimulator(emit_from_ms=cutoff, **settings)
    until = start + DAY_MS // 2
    sent = list(simulator.events(until_ms=until))
    reference = list(_reference(simulator).events(until_ms=until))
    ids = {e.event_id for e in sent}
    assert [e.event_id for e in reference if e.event_id in ids] == [e.event_id for e in sent]
    checkouts = {e.transaction_id for e in reference if type(e) is Checkout}
    kept = {e.transaction_id for e in sent if type(e) is Checkout}
    labels = [e for e in reference if isinstance(e, Chargeback | FraudReported)]
    assert len(labels) > 100
    late = 0
    for label in labels:
        assert label.transaction_id in checkouts
        assert (label.event_id in ids) == (label.transaction_id in kept)
        late += label.event_id not in ids and label.event_time >= cutoff
    assert late > 10  # labels after the cut-off did not keep their sessions in flight
    assert all(
        e.event_time < cutoff
        for e in reference
        if e.event_id not in ids and not isinstance(e, Chargeback | FraudReported)
    )


def test_a_cutoff_at_the_start_changes_nothing() -> None:
    settings: dict[str, Any] = {"seed": 6, "fraud_rate": 0.1, "start_ms": NOW_MS}
    plain = TrafficSimulator(**settings).take(20_000)
    from_start = TrafficSimulator(emit_from_ms=NOW_MS, **settings)
    assert from_start.take(20_000) == plain
    assert from_start.backlog == from_start.history == 0


def test_no_warm_up_means_no_backlog() -> None:
    clock = FakeClock(NOW)
    simulator = live_simulator(RATE, clock=clock, seed=4, warmup_s=0)
    events = list(paced(simulator, RATE, limit=500, clock=clock, sleep=clock.sleep))
    assert len(events) == 500
    assert events[0].event_time == NOW_MS
    assert simulator.backlog == simulator.history == 0

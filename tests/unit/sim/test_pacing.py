"""Paced traffic on a fake clock: the asked rate, event time = now, truth re-stamped alike.

(The warm-up's sessions in flight: test_pacing_warmup.py.)"""

from __future__ import annotations

import pytest

from riskstream.events import Checkout, Click, Event
from riskstream.sim import GroundTruth, live_simulator, paced

NOW = 1_780_000_000.0  # seconds


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def _paced(
    rate: float, count: int, warmup_s: float = 20
) -> tuple[list[Event], list[GroundTruth], FakeClock, int]:
    """``count`` live events after the backlog of the warm-up (whose size is returned)."""
    clock = FakeClock(NOW)
    simulator = live_simulator(rate, clock=clock, seed=4, fraud_rate=0.2, warmup_s=warmup_s)
    truth: list[GroundTruth] = []
    events = list(
        paced(simulator, rate, limit=count, truth=truth.append, clock=clock, sleep=clock.sleep)
    )
    return events, truth, clock, simulator.backlog


@pytest.mark.parametrize("rate", [500.0, 5_000.0])
def test_paced_traffic_runs_at_the_asked_rate_with_event_time_now(rate: float) -> None:
    events, _, clock, backlog = _paced(rate, 6_000)
    assert len(events) == backlog + 6_000
    assert backlog > 0
    elapsed = clock.now - NOW
    assert elapsed == pytest.approx(6_000 / rate, rel=0.01)
    times = [e.event_time for e in events]
    assert times == sorted(times)
    assert times[backlog - 1] < int(NOW * 1000) == times[backlog]
    assert times[-1] <= int(clock.now * 1000)
    times = times[backlog:]
    per_second: dict[int, int] = {}
    for t in times:
        per_second[t // 1000] = per_second.get(t // 1000, 0) + 1
    full = list(per_second.values())[1:-1]
    assert all(abs(n - rate) <= rate * 0.01 + 2 for n in full)


def test_ground_truth_is_restamped_with_its_checkout() -> None:
    events, truth, _, _ = _paced(2_000.0, 20_000)
    checkouts = [e for e in events if type(e) is Checkout]
    assert len(checkouts) == len(truth) > 50
    for checkout, record in zip(checkouts, truth, strict=True):
        assert record.transaction_id == checkout.transaction_id
        assert record.event_time == checkout.event_time
        if record.label_time is not None:
            assert record.label_time - record.event_time >= 86_400_000


def test_a_live_stream_starts_with_sessions_in_flight() -> None:
    clock = FakeClock(NOW)
    simulator = live_simulator(1_000, clock=clock, seed=4, warmup_s=120)
    simulator.prime()
    backlog = simulator.take(simulator.backlog)  # their earlier events come first
    assert backlog[-1].event_time < int(NOW * 1000)
    assert not simulator.live
    events = simulator.take(3_000)
    assert simulator.live
    assert events[0].event_time >= int(NOW * 1000)
    clicks = [e for e in events if type(e) is Click]
    # mid-session page views from the warm-up show up before many sessions have started
    assert sum(not c.first_in_session for c in clicks[:200]) > 100


def test_the_live_simulated_rate_matches_once_warm() -> None:
    # In simulated time the rate starts a little low (the warm-up cannot hold every long
    # session in flight) and settles at the target; paced() stamps the exact rate anyway.
    clock = FakeClock(NOW)
    simulator = live_simulator(500, clock=clock, seed=4)
    start = int(NOW * 1000)
    assert len(list(simulator.events(until_ms=start))) == simulator.backlog > 0
    first_minute = len(list(simulator.events(until_ms=start + 60_000)))
    assert first_minute >= 0.7 * 500 * 60
    list(simulator.events(until_ms=start + 240_000))
    settled = len(list(simulator.events(until_ms=start + 360_000)))
    assert settled == pytest.approx(500 * 120, rel=0.05)


def test_a_consumer_far_behind_is_not_flooded() -> None:
    clock = FakeClock(NOW)
    simulator = live_simulator(1_000, clock=clock, seed=4, warmup_s=10)
    simulator.prime()
    stream = paced(simulator, 1_000, clock=clock, sleep=clock.sleep, max_lag_s=1.0)
    for _ in range(simulator.backlog + 100):
        next(stream)
    clock.now += 30  # the consumer stalled for 30 s
    burst_start = clock.now
    for _ in range(3_000):
        next(stream)
    # after the stall it goes on at the rate from now, instead of 30 s of catch-up burst
    assert clock.now - burst_start == pytest.approx(3.0, abs=0.05)


def test_rates_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        live_simulator(0)
    with pytest.raises(ValueError, match="rate"):
        next(paced(live_simulator(10, warmup_s=0), -1))

"""Paced (live) traffic: ``rate`` events per second of wall clock, event time = now.

:func:`paced` releases a simulator's events on a fixed schedule (event ``k`` at
``t0 + k / rate``) and stamps each with the wall-clock instant it leaves at, so consumers
see exactly the asked rate with event time = now, whatever the simulated rate does. The
ground truth of each checkout is re-stamped the same way (a label keeps its simulated delay
after the new checkout time). A slow consumer is never flooded: once the schedule is more
than ``max_lag_s`` behind, it restarts from now.

:func:`live_simulator` makes the simulated time run at the same pace (mean ``rate`` events
per simulated second, no daily rhythm), so re-stamping keeps the gaps inside a session, and
warms up first (sessions starting before now are simulated but their earlier events not
emitted), so output begins with sessions in flight rather than all of them starting at once.
The clock and sleep are injected: tests run paced traffic on a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from riskstream.events import Checkout, Event
from riskstream.sim.simulator import SimConfig, TrafficSimulator, TruthSink
from riskstream.sim.truth import GroundTruth

__all__ = ["Clock", "live_simulator", "paced"]

Clock = Callable[[], float]
"""Seconds since the epoch (``time.time``)."""

_WARMUP_EVENTS = 600_000  # cap on the events a warm-up may simulate (a few seconds of work)
_SLEEP_GRANULARITY_S = 0.001  # release up to 1 ms of events per wake-up


def live_simulator(
    rate: float,
    config: SimConfig | None = None,
    *,
    clock: Clock = time.time,
    warmup_s: float | None = None,
    **overrides: Any,
) -> TrafficSimulator:
    """A simulator whose output starts now, at ``rate`` events per simulated second.

    ``warmup_s`` defaults to two minutes, shortened at high rates so the warm-up simulates
    at most about 600k events.
    """
    if rate <= 0:
        raise ValueError("the rate must be positive")
    if warmup_s is None:
        warmup_s = min(120.0, _WARMUP_EVENTS / rate)
    if warmup_s < 0:
        raise ValueError("the warm-up must not be negative")
    now_ms = int(clock() * 1000)
    settings: dict[str, Any] = {
        "start_ms": now_ms - int(warmup_s * 1000),
        "emit_from_ms": now_ms,
        "events_per_second": float(rate),
        "rhythm": False,
        **overrides,
    }
    return TrafficSimulator(config, **settings)


def paced(
    simulator: TrafficSimulator,
    rate: float,
    *,
    limit: int | None = None,
    truth: TruthSink | None = None,
    clock: Clock = time.time,
    sleep: Callable[[float], None] = time.sleep,
    max_lag_s: float = 1.0,
) -> Iterator[Event]:
    """The simulator's events at ``rate`` per second of ``clock``, each stamped with now."""
    if rate <= 0:
        raise ValueError("the rate must be positive")
    pending: list[GroundTruth] = []
    stream = simulator.events(limit, truth=pending.append if truth is not None else None)
    replace = msgspec.structs.replace
    interval = 1.0 / rate
    simulator.prime()  # the warm-up happens before the schedule starts
    due = clock()
    for event in stream:
        now = clock()
        ahead = due - now
        if ahead > _SLEEP_GRANULARITY_S:
            sleep(ahead)
            now = clock()
        elif ahead < -max_lag_s:
            due = now  # too far behind: restart the schedule rather than burst
        due += interval
        stamp = int(now * 1000)
        if pending and type(event) is Checkout and truth is not None:
            record = pending.pop()
            label_time = record.label_time
            truth(
                replace(
                    record,
                    event_time=stamp,
                    label_time=None
                    if label_time is None
                    else stamp + label_time - record.event_time,
                )
            )
        yield replace(event, event_time=stamp)

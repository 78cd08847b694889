"""Paced (live) traffic: ``rate`` events per second of wall clock, event time = now.

:func:`paced` releases a simulator's events on a fixed schedule (event ``k`` at
``t0 + k / rate``) and stamps each with the wall-clock instant it leaves at, so consumers
see exactly the asked rate with event time = now, whatever the simulated rate does. The
ground truth of each checkout is re-stamped the same way (a label keeps its simulated delay
after the new checkout time). A slow consumer is never flooded: once the schedule is more
than ``max_lag_s`` behind, it restarts from now.

:func:`live_simulator` makes the simulated time run at the same pace (mean ``rate`` events
per simulated second, no daily rhythm), so re-stamping keeps the gaps inside a session, and
warms up first, so output begins with sessions in flight rather than all of them starting
at once. The simulated clock starts ``warmup_s`` before now and the cut-off
(:attr:`SimConfig.emit_from_ms <riskstream.sim.SimConfig>`) is now:

- a session start (a visit, a sign-up, or a whole fraud incident) whose events all fall
  before the cut-off is history: none of it is emitted, nor its labels;
- one with any event at or after the cut-off is in flight and arrives whole: a checkout
  always comes after the login, clicks, pointer summaries and promos of its session.

The earlier events of the sessions in flight (the backlog: about 37 s of traffic after a
two-minute warm-up) leave first, at once rather than paced, in simulated-time order, each
stamped ``start - (cut-off - simulated time)`` where ``start`` is the wall-clock instant
:func:`paced` begins (after the warm-up is simulated). So the gaps between them are the
simulated ones, every stamp is in the past when it leaves, and the live events that follow
are stamped at or after ``start``: event time never goes back, for a user, a session or the
stream as a whole. A gap that spans the cut-off also holds the time the consumer takes to
take in the backlog. The ground truth of a backlog checkout is re-stamped with it, like any
other. The rate schedule and ``limit`` count live events only: the backlog comes on top.

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
    """A simulator whose live output starts now, at ``rate`` events per simulated second.

    Its simulated clock starts ``warmup_s`` before now; the sessions still in flight now are
    emitted whole, their earlier events first (see the module). ``warmup_s`` defaults to two
    minutes, shortened at high rates so the warm-up simulates at most about 600k events;
    0 starts every session now.
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
    """The simulator's events at ``rate`` per second of ``clock``, each stamped with now.

    Any backlog of a warm-up comes first, stamped in the past (see the module); ``limit``
    caps the live events after it.
    """
    if rate <= 0:
        raise ValueError("the rate must be positive")
    pending: list[GroundTruth] = []
    stream = simulator.events(truth=pending.append if truth is not None else None)
    replace = msgspec.structs.replace
    interval = 1.0 / rate
    simulator.prime()  # the warm-up happens before the schedule starts
    emit_from = simulator.config.emit_from_ms
    cutoff = -1 if emit_from is None else emit_from
    start_ms = int(clock() * 1000)
    due: float | None = None
    live = 0
    if limit is not None and limit <= 0:
        return
    for event in stream:
        if event.event_time < cutoff:  # a session in flight's past: the backlog, not paced
            stamp = start_ms - (cutoff - event.event_time)
        else:
            live += 1
            now = clock()
            if due is None:
                due = now
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
        if live == limit:  # before pulling another: a later call goes on from the next one
            return

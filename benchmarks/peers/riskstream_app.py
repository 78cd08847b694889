"""The fraud check of benchmarks/peers.py as a riskstream worker (and the full fraud topology).

    python riskstream_app.py --bootstrap HOST:PORT --input TOPIC --group APPLICATION
                             --velocity TOPIC --alerts TOPIC --state-dir DIR --stamp FILE
    python riskstream_app.py --topology fraud --bootstrap ... --input TOPIC --group APPLICATION
                             --decisions TOPIC --alerts TOPIC --state-dir DIR --stamp FILE

Runs as ``riskstream worker`` does (a ``Runner`` with its defaults: SqliteStore per task with
a changelog, ``low_latency`` delivery, 1 s commits, the streaming GC policy after start-up,
stopped by SIGTERM, INFO logging). The minimal topology reads the JSON input with the
any-event codec (typed msgspec structs, event time from the event) into two steps:

* ``velocity``: ``Tumbling(10 min, {"count": Count()})`` emitting on every event - one
  result per input event, the user's event count in the window the event falls in;
* ``promo-rush``: a custom processor over the user's state (known devices and countries,
  whether the last successful login came from a new device *and* a new country, the first
  click of the last four sessions) - an alert for a promo worth >= 50 within 30 s of its
  session's first click after such a login.

``--topology fraud`` runs :func:`riskstream.fraud.topology.fraud_topology` (built-in
features, shipped rules, no model) over the same input instead. The time of the first
non-empty poll of the group consumer reaches the benchmark through ``--stamp``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console

from riskstream.cli.running import run_until_stopped, stop_on_signals
from riskstream.events import Checkout, Click, Event, Login, PromoApplied, codec_for
from riskstream.fraud.topology import FraudConfig, fraud_topology
from riskstream.log import Consumer, EventLog, open_log
from riskstream.log.records import Record
from riskstream.stream import Runner
from riskstream.stream.item import Item
from riskstream.stream.processor import Context, KeyState
from riskstream.stream.topology import Topology
from riskstream.stream.windows import Count, Tumbling

HIGH_VALUE_PROMO = 50.0
RUSH_MS = 30_000
WINDOW_MS = 600_000
MAX_DEVICES = 64
MAX_COUNTRIES = 32
MAX_SESSIONS = 4


class RushState(msgspec.Struct, array_like=True, gc=False):
    """One user's promo-rush state."""

    devices: list[str] = msgspec.field(default_factory=list)
    countries: list[str] = msgspec.field(default_factory=list)
    flagged: bool = False
    sessions: list[tuple[str, int]] = msgspec.field(default_factory=list)  # (id, first click)


class RushAlert(msgspec.Struct, frozen=True):
    user_id: str
    session_id: str
    promo_event_id: str
    promo_time: int
    first_click: int


def remember(known: list[str], value: str, limit: int) -> bool:
    """Add ``value`` (the oldest goes beyond ``limit``); True when it was new."""
    if value in known:
        return False
    known.append(value)
    if len(known) > limit:
        del known[0]
    return True


class PromoRush:
    """New device and new country at login, then a high-value promo within 30 s of the
    session's first click."""

    def process(self, item: Item, state: KeyState[RushState], ctx: Context) -> None:
        event = item.value
        kind = type(event)
        if kind is Click:
            rush = state.get() or RushState()
            session = event.session_id
            if all(sid != session for sid, _ in rush.sessions):
                rush.sessions.append((session, event.event_time))
                if len(rush.sessions) > MAX_SESSIONS:
                    del rush.sessions[0]
                state.set(rush)
        elif kind is PromoApplied:
            known = state.get()  # a promo only reads: no state for a user without any
            session = event.session_id
            if (
                known is not None
                and known.flagged
                and session is not None
                and event.discount_value >= HIGH_VALUE_PROMO
            ):
                at = event.event_time
                for sid, first_click in known.sessions:
                    if sid == session and at - first_click <= RUSH_MS:
                        ctx.forward(
                            RushAlert(event.user_id, session, event.event_id, at, first_click)
                        )
        elif kind is Login:
            if event.success:
                rush = state.get() or RushState()
                devices, countries = rush.devices, rush.countries
                device, country = event.device_id, event.country
                rush.flagged = (
                    bool(devices)
                    and device not in devices
                    and bool(countries)
                    and country not in countries
                )
                remember(devices, device, MAX_DEVICES)
                remember(countries, country, MAX_COUNTRIES)
                state.set(rush)
        elif kind is Checkout:
            rush = state.get() or RushState()
            new_device = remember(rush.devices, event.device_id, MAX_DEVICES)
            if remember(rush.countries, event.country, MAX_COUNTRIES) or new_device:
                state.set(rush)

    def on_timer(self, at: int, state: KeyState[RushState], ctx: Context) -> None:
        """No timers."""


def _event_time(event: Event) -> int:
    return event.event_time


def minimal_topology(args: argparse.Namespace) -> Topology:
    topology = Topology(args.group)
    encode = msgspec.json.encode
    events = topology.source(
        "events", (args.input,), decode=codec_for("*").decode, event_time=_event_time
    )
    velocity = Tumbling(WINDOW_MS, aggregations={"count": Count()}, emit="update")
    events.stateful("velocity", velocity).to(args.velocity, encode=encode)
    events.process("promo-rush", PromoRush(), state_type=RushState | None).to(
        args.alerts, encode=encode
    )
    return topology


def full_topology(args: argparse.Namespace) -> Topology:
    config = FraudConfig(
        application=args.group,
        input_topics=(args.input,),
        decisions_topic=args.decisions,
        alerts_topic=args.alerts,
    )
    return fraud_topology(config)


class FirstPoll:
    """The log as the runner sees it, with the group consumer's ``poll`` stamping the time
    of the first poll that returned records (once) into a file."""

    def __init__(self, inner: EventLog, path: Path) -> None:
        self._inner = inner
        self._path = path

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def consumer(self, group_id: str | None = None, **kwargs: Any) -> Consumer:
        consumer = self._inner.consumer(group_id, **kwargs)
        if group_id is not None:
            consumer.poll = self._stamped(consumer.poll)  # type: ignore[method-assign]
        return consumer

    def _stamped(self, poll: Callable[..., list[Record]]) -> Callable[..., list[Record]]:
        path = self._path

        def stamped(*args: Any, **kwargs: Any) -> list[Record]:
            records = poll(*args, **kwargs)
            if records and not path.exists():
                path.write_text(json.dumps({"first_ns": time.monotonic_ns()}))
            return records

        return stamped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--topology", choices=("minimal", "fraud"), default="minimal")
    for flag in ("--bootstrap", "--input", "--group", "--alerts", "--state-dir", "--stamp"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--velocity")
    parser.add_argument("--decisions")
    args = parser.parse_args()
    stopping = stop_on_signals(Console(stderr=True))
    log = open_log(f"kafka://{args.bootstrap}")
    topology = minimal_topology(args) if args.topology == "minimal" else full_topology(args)
    stamped: Any = FirstPoll(log, Path(args.stamp))
    runner = Runner(topology, stamped, state_dir=args.state_dir)
    try:
        run_until_stopped(runner, stopping)
    finally:
        log.close()


if __name__ == "__main__":
    main()

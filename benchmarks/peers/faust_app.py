"""The fraud check of benchmarks/peers.py as a Faust (faust-streaming) worker.

    python faust_app.py --bootstrap HOST:PORT --input TOPIC --group APP_ID
                        --velocity TOPIC --alerts TOPIC --state-dir DIR --stamp FILE
                        --partitions N --expires-s SECONDS

Runs in its own virtualenv (faust-streaming brings aiokafka and mode); stops on SIGTERM.
Written as the Faust docs recommend: one agent over the JSON input topic, tables in RocksDB
(``rocksdb://`` through rocksdict) with their changelog topics, at-least-once, the default
commit interval (2.8 s), uvloop:

* velocity: a windowed table ``Table(...).tumbling(10 min, expires=...)``; ``table[user] += 1``
  then ``table[user].current()`` is the user's event count in the window of the event's
  timestamp - one result per input event, sent to the velocity topic;
* promo rush: a ``Table`` of per-user state (known devices and countries, whether the last
  successful login came from a new device *and* a new country, the first click of the last
  four sessions) - an alert for a promo worth >= 50 within 30 s of its session's first click
  after such a login.

Faust expires windows against the wall clock (``time.time()``), not event time, so
``--expires-s`` must reach back to the input's oldest event or windows would be dropped
while still being counted into. The time of the first record reaches the benchmark through
``--stamp`` (written once).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import mode.loop

mode.loop.use("uvloop")  # before faust creates its event loop, as ``faust -L uvloop`` does

import faust  # noqa: E402 - after the loop policy
from faust.worker import Worker  # noqa: E402

HIGH_VALUE_PROMO = 50.0
RUSH_MS = 30_000
WINDOW_S = 600
MAX_DEVICES = 64
MAX_COUNTRIES = 32
MAX_SESSIONS = 4


def remember(known: list[str], value: str, limit: int) -> bool:
    """Add ``value`` (the oldest goes beyond ``limit``); True when it was new."""
    if value in known:
        return False
    known.append(value)
    if len(known) > limit:
        del known[0]
    return True


def fold(state: dict[str, Any], event: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    """Apply one event to the user's state: (state changed, alert or None)."""
    kind = event["type"]
    if kind == "click":
        session = event["session_id"]
        sessions = state["sessions"]
        if all(s[0] != session for s in sessions):
            sessions.append([session, event["event_time"]])
            if len(sessions) > MAX_SESSIONS:
                del sessions[0]
            return True, None
    elif kind == "promo":
        session = event["session_id"]
        if state["flagged"] and session is not None and event["discount_value"] >= HIGH_VALUE_PROMO:
            at = event["event_time"]
            for sid, first_click in state["sessions"]:
                if sid == session and at - first_click <= RUSH_MS:
                    alert = {
                        "user_id": event["user_id"],
                        "session_id": session,
                        "promo_event_id": event["event_id"],
                        "promo_time": at,
                        "first_click": first_click,
                    }
                    return False, alert
    elif kind == "login":
        if event["success"]:
            devices, countries = state["devices"], state["countries"]
            device, country = event["device_id"], event["country"]
            state["flagged"] = (
                bool(devices)
                and device not in devices
                and bool(countries)
                and country not in countries
            )
            remember(devices, device, MAX_DEVICES)
            remember(countries, country, MAX_COUNTRIES)
            return True, None
    elif kind == "checkout":
        new_device = remember(state["devices"], event["device_id"], MAX_DEVICES)
        new_country = remember(state["countries"], event["country"], MAX_COUNTRIES)
        return new_device or new_country, None
    return False, None


def new_state() -> dict[str, Any]:
    return {"devices": [], "countries": [], "flagged": False, "sessions": []}


def build(args: argparse.Namespace) -> faust.App:
    app = faust.App(
        args.group,
        broker=f"kafka://{args.bootstrap}",
        store="rocksdb://",
        datadir=args.state_dir,
        topic_partitions=args.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        value_serializer="json",
        key_serializer="raw",
        web_enabled=False,
    )
    events = app.topic(args.input, key_type=str, value_serializer="json")
    velocity_out = app.topic(args.velocity, key_type=str, value_serializer="json")
    alerts_out = app.topic(args.alerts, key_type=str, value_serializer="json")
    velocity = app.Table("velocity", default=int, key_type=str).tumbling(
        WINDOW_S, expires=args.expires_s
    )
    rush = app.Table("promo-rush", key_type=str)
    stamp = args.stamp

    @app.agent(events)
    async def check(stream: Any) -> None:
        first = True
        async for user, event in stream.items():
            if first:
                first = False
                with open(stamp, "w") as out:
                    json.dump({"first_ns": time.monotonic_ns()}, out)
            velocity[user] += 1
            count = velocity[user].current()
            start = event["event_time"] // (WINDOW_S * 1000) * WINDOW_S * 1000
            result = {"start": start, "end": start + WINDOW_S * 1000, "value": count}
            await velocity_out.send(key=user, value=result)
            if event["type"] in ("click", "promo", "login", "checkout"):
                state = rush.get(user)
                if state is None:
                    state = new_state()
                changed, alert = fold(state, event)
                if changed:
                    rush[user] = state
                if alert is not None:
                    await alerts_out.send(key=user, value=alert)

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--bootstrap", "--input", "--group", "--velocity", "--alerts", "--state-dir"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--stamp", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--expires-s", type=float, required=True)
    args = parser.parse_args()
    app = build(args)
    # INFO, as the docs run workers (`faust worker -l info`): at WARN and above the worker
    # drives a terminal spinner from a DEBUG-level root logger, on every log call.
    Worker(app, loglevel="INFO").execute_from_commandline()


if __name__ == "__main__":
    main()

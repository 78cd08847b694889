"""The fraud check of benchmarks/peers.py as a Quix Streams application.

    python quix_app.py --bootstrap HOST:PORT --input TOPIC --group GROUP
                       --velocity TOPIC --alerts TOPIC --state-dir DIR --stamp FILE

Runs in its own virtualenv (quixstreams pins an older confluent-kafka); stops on SIGTERM.
Written as the Quix docs recommend: one ``Application`` (at-least-once, RocksDB state with
changelog topics, the default 5 s commit interval), one ``StreamingDataFrame`` over the
JSON input and two branches of it:

* velocity: ``tumbling_window(10 min).count().current()`` - one result per input event,
  the user's event count in the 10-minute window the event falls in;
* promo rush: ``apply(stateful=True)`` over the user's state (known devices and countries,
  whether the last successful login came from a new device *and* a new country, the first
  click of the last four sessions) - an alert for a promo worth >= 50 within 30 s of its
  session's first click after such a login.

The time of the first record reaches the benchmark through ``--stamp`` (written once).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from quixstreams import Application, State

HIGH_VALUE_PROMO = 50.0
RUSH_MS = 30_000
WINDOW_MS = 600_000
MAX_DEVICES = 64
MAX_COUNTRIES = 32
MAX_SESSIONS = 4


class FirstRecord:
    """Writes the monotonic time of the first record it sees to a file, once."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.seen = False

    def mark(self) -> None:
        self.seen = True
        with open(self.path, "w") as out:
            json.dump({"first_ns": time.monotonic_ns()}, out)


def remember(known: list[str], value: str, limit: int) -> bool:
    """Add ``value`` (the oldest goes beyond ``limit``); True when it was new."""
    if value in known:
        return False
    known.append(value)
    if len(known) > limit:
        del known[0]
    return True


def promo_rush(first: FirstRecord) -> Any:
    def check(event: dict[str, Any], state: State) -> dict[str, Any] | None:
        if not first.seen:
            first.mark()
        kind = event["type"]
        if kind == "click":
            session = event["session_id"]
            sessions = state.get("sessions", [])
            if all(s[0] != session for s in sessions):
                sessions.append([session, event["event_time"]])
                if len(sessions) > MAX_SESSIONS:
                    del sessions[0]
                state.set("sessions", sessions)
        elif kind == "promo":
            session = event["session_id"]
            if (
                event["discount_value"] >= HIGH_VALUE_PROMO
                and session is not None
                and state.get("flagged", False)
            ):
                at = event["event_time"]
                for sid, first_click in state.get("sessions", []):
                    if sid == session and at - first_click <= RUSH_MS:
                        return {
                            "user_id": event["user_id"],
                            "session_id": session,
                            "promo_event_id": event["event_id"],
                            "promo_time": at,
                            "first_click": first_click,
                        }
        elif kind == "login":
            if event["success"]:
                devices = state.get("devices", [])
                countries = state.get("countries", [])
                device, country = event["device_id"], event["country"]
                flagged = (
                    bool(devices)
                    and device not in devices
                    and bool(countries)
                    and country not in countries
                )
                state.set("flagged", flagged)
                if remember(devices, device, MAX_DEVICES):
                    state.set("devices", devices)
                if remember(countries, country, MAX_COUNTRIES):
                    state.set("countries", countries)
        elif kind == "checkout":
            devices = state.get("devices", [])
            if remember(devices, event["device_id"], MAX_DEVICES):
                state.set("devices", devices)
            countries = state.get("countries", [])
            if remember(countries, event["country"], MAX_COUNTRIES):
                state.set("countries", countries)
        return None

    return check


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--bootstrap", "--input", "--group", "--velocity", "--alerts", "--state-dir"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--stamp", required=True)
    args = parser.parse_args()
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        loglevel="WARNING",
    )
    events = app.topic(args.input, key_deserializer="str", value_deserializer="json")
    velocity = app.topic(args.velocity, key_serializer="str", value_serializer="json")
    alerts = app.topic(args.alerts, key_serializer="str", value_serializer="json")
    sdf = app.dataframe(events)
    rush = sdf.apply(promo_rush(FirstRecord(args.stamp)), stateful=True)
    rush.filter(lambda alert: alert is not None).to_topic(alerts)
    sdf.tumbling_window(WINDOW_MS).count().current().to_topic(velocity)
    app.run()


if __name__ == "__main__":
    main()

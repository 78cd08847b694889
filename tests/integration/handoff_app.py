"""A two-hop stream application for the runner's hand-over tests, runnable as a child process:

    python -m tests.integration.handoff_app <log-dir> <state-dir>

``events`` (keyed by user) -> ``per-user`` (counts each user's events) -> rekey by the
event's ``n`` -> ``per-n`` (sums the ``i`` of each ``n``) -> ``per-n`` topic, one ``[i, n]``
per event. The values are independent of the order in which the repartition topic
interleaves the users, so a run can be checked against the input alone. It processes
everything on ``events``, commits, and exits.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from collections.abc import Iterable
from typing import Any

import msgspec

from riskstream.stream.item import Item
from riskstream.stream.processor import Context, KeyState
from riskstream.stream.topology import Topology
from tests.integration.runner_app import run_to_end

PARTITIONS = 4
OUTPUT = "per-n"


class PerUser:
    def process(self, item: Item, state: KeyState[Any], ctx: Context) -> None:
        seen = (state.get(0) or 0) + 1
        state.set(seen)
        ctx.forward({**item.value, "seen": seen})

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None:
        """No timers."""


class PerN:
    def process(self, item: Item, state: KeyState[Any], ctx: Context) -> None:
        state.set((state.get(0) or 0) + item.value["i"])
        ctx.forward([item.value["i"], item.value["n"]])

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None:
        """No timers."""


def _by_n(value: dict[str, Any]) -> bytes:
    return str(value["n"]).encode()


def topology(
    application: str = "handoff-app", source: str = "events", sink: str = OUTPUT
) -> Topology:
    # Nothing is ever late or idle: the outputs depend on the input alone.
    topo = Topology(application, idle_timeout_ms=10**12, allowed_lateness_ms=10**12)
    events = topo.source("events", [source], decode=msgspec.json.decode, event_time=_time)
    (
        events.process("per-user", PerUser(), state_type=int)
        .rekey("by-n", _by_n, encode=msgspec.json.encode, decode=msgspec.json.decode)
        .process("per-n", PerN(), state_type=int)
        .to(sink, encode=msgspec.json.encode)
    )
    return topo


def _time(value: dict[str, Any]) -> int:
    return int(value["t"])


def events(count: int, *, users: int = 50, seed: int = 3) -> list[tuple[bytes, dict[str, Any]]]:
    """``count`` events as ``(user key, event)``, in time order give or take 300 ms."""
    rng = random.Random(seed)
    made = []
    for i in range(count):
        user = f"user-{rng.randrange(users)}".encode()
        at = 1_000_000 + i * 100 + rng.randrange(-300, 300)
        made.append((user, {"i": i, "n": rng.randrange(1, 10), "t": at}))
    return made


def expected_state(events: Iterable[tuple[bytes, dict[str, Any]]]) -> dict[str, dict[bytes, int]]:
    """What the steps hold after ``events`` (``(user key, event)``), by step and key."""
    per_user: Counter[bytes] = Counter()
    per_n: Counter[bytes] = Counter()
    for user, event in events:
        per_user[user] += 1
        per_n[str(event["n"]).encode()] += event["i"]
    return {"per-user": dict(per_user), "per-n": dict(per_n)}


def main(log_dir: str, state_dir: str) -> None:
    run_to_end(topology(), log_dir, state_dir)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

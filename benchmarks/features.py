"""Declared-aggregate benchmarks: updating and reading per-entity state, in one process.

    python benchmarks/features.py [--quick] [--users N] [--seed N]

Prints one JSON object per figure on stdout (DESIGN.md §4 "Benchmarks"); a figure that fails
prints ``{"bench": ..., "backend": ..., "error": ...}`` on stderr and the exit status is 1.
No log is involved (``backend: none``): the figures are the pure cost of the aggregates of
``default.features``.

Workload: N users over 30 days, ~1 session a day each (login - 5 % failed, one retry - a
few clicks, a promo in 20 % of sessions, a checkout in 60 %), touches in time order, on one
of 200 devices shared by ~20 users each and one of 50 merchants.

* ``features.update`` ``events_per_s``: ``EntityAggregates.update`` of every touch on its
  user's state (clicks included, which no user feature reads), of the checkouts alone
  (7 of the 9 user features read them), of every touch on its device's state, and of every
  checkout/chargeback on its merchant's (thousands of touches per state).
  ``params.us_per_event`` is the mean cost per touch.
* ``features.read`` ``events_per_s``: ``read`` of the user's, device's and merchant's
  features at each checkout's time, before its touch is applied.
* ``features.update``/``features.read`` with ``params.states: 1``: one user checking out
  every 10 minutes for months (every window and tail full), its state hot in cache: the
  cost per checkout without memory misses; ``params.bytes`` is that state's msgpack size.
* ``features.state`` ``bytes_per_key``: msgpack size of a user's ``AggregateState`` at the
  end (median and p90 over users in ``params``), and of the busiest merchant's.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import msgspec

from riskstream.fraud.features import AggregateState, EntityAggregates, Touch, default_features

BACKEND = "none"
DAY = 86_400_000
START = 1_700_000_000_000


def workload(users: int, seed: int) -> list[Touch]:
    """Every touch of ``users`` users over 30 days, in time order."""
    rng = random.Random(seed)
    touches: list[Touch] = []
    for u in range(users):
        user = f"u{u}"
        card = f"i{u}"
        for day in range(30):
            t = START + day * DAY + rng.randrange(DAY)
            device = f"d{rng.randrange(200)}" if rng.random() < 0.3 else f"d{u % 200}"
            ip = f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"
            common: dict[str, Any] = {"user": user, "device": device, "ip": ip, "country": "DE"}
            if rng.random() < 0.05:
                touches.append(Touch("login", t, success=False, **common))
                t += rng.randrange(2_000, 20_000)
            touches.append(Touch("login", t, success=True, **common))
            for _ in range(rng.randrange(1, 6)):
                t += rng.randrange(1_000, 30_000)
                touches.append(Touch("click", t, **common))
            promo = rng.random() < 0.2
            if promo:
                t += rng.randrange(1_000, 30_000)
                touches.append(Touch("promo", t, discount=rng.choice((5.0, 10.0, 50.0)), **common))
            if rng.random() < 0.6:
                t += rng.randrange(1_000, 60_000)
                touches.append(
                    Touch(
                        "checkout",
                        t,
                        instrument=card if rng.random() < 0.9 else f"j{rng.randrange(10**6)}",
                        merchant=f"m{rng.randrange(50)}",
                        bin_country="DE",
                        amount=round(rng.uniform(5, 300), 2),
                        promo=promo,
                        **common,
                    )
                )
                if rng.random() < 0.01:
                    touches.append(
                        Touch("chargeback", t + rng.randrange(DAY, 20 * DAY), merchant="m0")
                    )
    touches.sort(key=lambda touch: touch.time)
    return touches


def emit(bench: str, metric: str, value: float, unit: str, **params: Any) -> None:
    figure = {
        "bench": bench,
        "backend": BACKEND,
        "metric": metric,
        "value": value,
        "unit": unit,
        "params": params,
    }
    print(json.dumps(figure), flush=True)


def bench_update(
    touches: list[Touch], agg: dict[str, EntityAggregates], entity: str, kinds: frozenset[str]
) -> None:
    """Apply every touch of ``kinds`` to its entity's state (3 runs, the median)."""
    aggregates = agg[entity]
    mine = [t for t in touches if t.kind in kinds and getattr(t, entity) is not None]
    runs = []
    for _ in range(3):
        states = {getattr(t, entity): aggregates.new_state() for t in mine}
        pairs = [(states[getattr(t, entity)], t) for t in mine]
        update = aggregates.update
        begin = time.perf_counter()
        for state, touch in pairs:
            update(state, touch)
        runs.append(time.perf_counter() - begin)
    seconds = statistics.median(runs)
    emit(
        "features.update",
        "events_per_s",
        len(mine) / seconds,
        "events/s",
        entity=entity,
        kinds=sorted(kinds),
        touches=len(mine),
        us_per_event=round(seconds / len(mine) * 1e6, 3),
        features=len(aggregates.names),
        runs=[round(r, 4) for r in runs],
    )
    sizes = sorted(len(msgspec.msgpack.encode(s)) for s in states.values())
    emit(
        "features.state",
        "bytes_per_key",
        float(statistics.median(sizes)),
        "bytes",
        entity=entity,
        keys=len(sizes),
        p90=sizes[int(len(sizes) * 0.9)],
        max=sizes[-1],
    )


def bench_read(touches: list[Touch], agg: dict[str, EntityAggregates]) -> None:
    """Replay in time order, reading every entity's features at each checkout first."""
    states: dict[str, dict[str, AggregateState]] = {e: {} for e in agg}
    reads: dict[str, list[float]] = {e: [] for e in agg}
    out: dict[str, Any] = {}
    clock = time.perf_counter
    for touch in touches:
        for entity, aggregates in agg.items():
            key = getattr(touch, entity)
            if key is None:
                continue
            state = states[entity].get(key)
            if state is None:
                state = states[entity][key] = aggregates.new_state()
            if touch.kind == "checkout":
                begin = clock()
                aggregates.read_into(state, touch.time, out)
                reads[entity].append(clock() - begin)
            aggregates.update(state, touch)
    for entity, samples in reads.items():
        mean = statistics.fmean(samples)
        emit(
            "features.read",
            "events_per_s",
            1 / mean,
            "events/s",
            entity=entity,
            reads=len(samples),
            us_per_event=round(mean * 1e6, 3),
            p99_us=round(sorted(samples)[int(len(samples) * 0.99)] * 1e6, 3),
            features=len(agg[entity].names),
        )


def bench_one_state(agg: dict[str, EntityAggregates]) -> None:
    """One user checking out every 10 min, state in cache: update and read per checkout."""
    aggregates = agg["user"]
    state = aggregates.new_state()
    step = 600_000
    made = [
        Touch("checkout", START + i * step, user="u", instrument=f"i{i % 2}", amount=10.0)
        for i in range(30_000)
    ]
    for touch in made[:10_000]:  # 70 days: every window full, every tail full
        aggregates.update(state, touch)
    update = aggregates.update
    begin = time.perf_counter()
    for touch in made[10_000:]:
        update(state, touch)
    seconds = time.perf_counter() - begin
    emit(
        "features.update",
        "events_per_s",
        20_000 / seconds,
        "events/s",
        entity="user",
        kinds=["checkout"],
        states=1,
        us_per_event=round(seconds / 20_000 * 1e6, 3),
        features=len(aggregates.names),
    )
    out: dict[str, Any] = {}
    at = made[-1].time + 1
    begin = time.perf_counter()
    for _ in range(20_000):
        aggregates.read_into(state, at, out)
    seconds = time.perf_counter() - begin
    emit(
        "features.read",
        "events_per_s",
        20_000 / seconds,
        "events/s",
        entity="user",
        states=1,
        us_per_event=round(seconds / 20_000 * 1e6, 3),
        features=len(aggregates.names),
        bytes=len(msgspec.msgpack.encode(state)),
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    users = args.users or (500 if args.quick else 3_000)
    specs = default_features()
    agg = {e: EntityAggregates.compile(specs.for_entity(e)) for e in ("user", "device", "merchant")}
    touches = workload(users, args.seed)
    every = frozenset(t.kind for t in touches)
    figures: list[tuple[str, Callable[[], None]]] = [
        ("features.update", lambda: bench_update(touches, agg, "user", every)),
        ("features.update", lambda: bench_update(touches, agg, "user", frozenset({"checkout"}))),
        ("features.update", lambda: bench_update(touches, agg, "device", every)),
        (
            "features.update",
            lambda: bench_update(touches, agg, "merchant", frozenset({"checkout", "chargeback"})),
        ),
        ("features.read", lambda: bench_read(touches, agg)),
        ("features.update", lambda: bench_one_state(agg)),
    ]
    failed = False
    for bench, run in figures:
        try:
            run()
        except Exception as exc:
            error = {"bench": bench, "backend": BACKEND, "error": repr(exc)}
            print(json.dumps(error), file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

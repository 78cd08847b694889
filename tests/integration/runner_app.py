"""A small stream application for the runner's restart tests, runnable as a child process:

    python -m tests.integration.runner_app <log-dir> <state-dir>

It processes everything on ``events``, commits, and exits once all of it is processed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import msgspec

from riskstream.log import open_log
from riskstream.stream.item import Item
from riskstream.stream.processor import Context, KeyState
from riskstream.stream.runner import Runner
from riskstream.stream.topology import Topology

PARTITIONS = 4


class Bucket:
    """Counts a key's events per 10 s bucket; emits the count when the bucket closes."""

    __slots__ = ("counts",)

    def __init__(self, counts: dict[int, int]) -> None:
        self.counts = counts

    def on_event(self, event_time: int, value: Any) -> Sequence[Any]:
        start = event_time - event_time % 10_000
        self.counts[start] = self.counts.get(start, 0) + 1
        return ()

    def on_watermark(self, watermark: int) -> Sequence[Any]:
        closed = sorted(start for start in self.counts if start + 10_000 <= watermark)
        return [[start, self.counts.pop(start)] for start in closed]

    def next_deadline(self) -> int | None:
        return min(self.counts) + 10_000 if self.counts else None

    def snapshot(self) -> dict[int, int]:
        return dict(self.counts)

    def is_empty(self) -> bool:
        return not self.counts


class BucketCount:
    snapshot_type = dict[int, int]

    def build(self, snapshot: dict[int, int] | None = None) -> Bucket:
        return Bucket(dict(snapshot or {}))


class RunningTotal:
    def process(self, item: Item, state: KeyState[Any], ctx: Context) -> None:
        total = (state.get(0) or 0) + item.value["n"]
        state.set(total)
        ctx.forward([item.value["i"], total])

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None:
        """No timers in this application."""


def topology() -> Topology:
    # Watermarks move by event time only, so the reference run is deterministic.
    topo = Topology("restart-app", idle_timeout_ms=10**12, allowed_lateness_ms=1_000)
    events = topo.source(
        "events", ["events"], decode=msgspec.json.decode, event_time=lambda v: v["t"]
    )
    events.process("totals", RunningTotal(), state_type=int).to(
        "totals", encode=msgspec.json.encode
    )
    events.stateful("buckets", BucketCount()).to("buckets", encode=msgspec.json.encode)
    return topo


def run_to_end(built: Topology, log_dir: str, state_dir: str) -> None:
    """Run ``built`` over the embedded log until every partition is ours and read to its end."""
    log = open_log(f"embedded:{log_dir}")
    runner = Runner(
        built,
        log,
        state_dir=state_dir,
        commit_interval_ms=200,
        max_batch=500,
        session_timeout_ms=2_000,
    )
    runner.start()
    # Done once every partition is ours (a killed predecessor's expire after the session
    # timeout) and read to its end.
    while not (len(runner.units) == PARTITIONS and runner.caught_up()):
        runner.poll_once(0.05)
    runner.close()
    log.close()


def main(log_dir: str, state_dir: str) -> None:
    run_to_end(topology(), log_dir, state_dir)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

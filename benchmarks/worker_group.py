"""Worker processes in one consumer group, for the benchmarks that time more than one worker.

The parent spawns N processes, each running a :class:`~riskstream.stream.runner.Runner`; every
worker joins the group on empty topics and reports its task count until the parent, once the
group has settled with every partition number owned by one worker, tells it to hold. The
parent then pre-fills the inputs, and the workers start together on a go signal. Messages
on each worker's pipe are ``(kind, value)`` pairs; a worker that fails sends
``("error", text)``, and a closed pipe reads as ``("exit", exit code)``.

Also here: the clean-up of a run's topics and group on a shared Kafka broker.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from collections.abc import Callable, Collection, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_any
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

from riskstream.log import EventLog, TopicPartition
from riskstream.stream.runner import Runner

__all__ = [
    "Workers",
    "check_copartitioned",
    "delete_run",
    "join_until_held",
    "records_held",
    "settle_group",
    "start_workers",
    "worker_counts",
]

Message = tuple[str, Any]


# -- the worker's side -----------------------------------------------------------------------


def join_until_held(runner: Runner, conn: Connection, timeout_s: float = 120.0) -> None:
    """Join the group (empty topics), reporting the task count, until the parent says hold;
    then report the tasks and the partitions held."""
    units = -1
    deadline = time.monotonic() + timeout_s
    while not conn.poll():
        runner.poll_once(0.05)
        if len(runner.units) != units:
            units = len(runner.units)
            conn.send(("units", units))
        if time.monotonic() > deadline:
            raise TimeoutError(f"no word from the parent within {timeout_s:.0f}s")
    command, _ = conn.recv()
    if command != "hold":
        raise RuntimeError(f"expected hold, got {command!r}")
    # The runner keeps its consumer to itself; the co-partitioning check needs its assignment.
    owned = [tuple(tp) for tp in runner._consumer.assignment()]
    conn.send(("held", (len(runner.units), owned)))


def records_held(log: EventLog, topics: Sequence[str], numbers: Collection[int]) -> int:
    """Records in partitions ``numbers`` of ``topics`` (end offsets: the topics were empty
    before the pre-fill)."""
    probe = log.consumer()
    try:
        return sum(probe.watermarks(TopicPartition(t, n))[1] for t in topics for n in numbers)
    finally:
        probe.close()


# -- the parent's side -----------------------------------------------------------------------


@dataclass
class Workers:
    """The worker processes of one run and the parent's end of their pipes."""

    procs: list[Any]
    conns: list[Connection]
    go: ProcessEvent
    units: list[int] = field(default_factory=list)
    exited: set[int] = field(default_factory=set)  # workers whose pipe is closed

    def expect(self, index: int, kind: str, timeout_s: float) -> Any:
        """The value of worker ``index``'s next ``kind`` message (task counts are noted)."""
        conn = self.conns[index]
        deadline = time.monotonic() + timeout_s
        while True:
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"worker {index}: no {kind!r} within {timeout_s:.0f}s")
            got, value = self._receive(index)
            if got == "exit":
                raise RuntimeError(f"worker {index}: exited (code {value}) before {kind!r}")
            if got == "units":
                self.units[index] = value
                if kind == "units":
                    return value
                continue
            if got != kind:
                raise RuntimeError(f"worker {index}: expected {kind!r}, got {got!r}")
            return value

    def tell(self, command: str, value: Any = None) -> None:
        for conn in self.conns:
            conn.send((command, value))

    def pending(self, timeout_s: float = 0.0) -> list[tuple[int, str, Any]]:
        """Every message waiting (after up to ``timeout_s`` for the first), as
        ``(worker, kind, value)``, a worker's exit included; raises on a worker's error."""
        open_ = [conn for index, conn in enumerate(self.conns) if index not in self.exited]
        if timeout_s > 0:
            if not open_:
                time.sleep(timeout_s)
            ready = set(wait_any(open_, timeout_s)) if open_ else set()
        else:
            ready = set(open_)
        got: list[tuple[int, str, Any]] = []
        for index, conn in enumerate(self.conns):
            while conn in ready and index not in self.exited and conn.poll():
                got.append((index, *self._receive(index)))
        return got

    def end(self) -> None:
        for proc in self.procs:
            proc.join(30)
            if proc.is_alive():
                proc.terminate()
                proc.join()

    def _receive(self, index: int) -> Message:
        try:
            got, value = self.conns[index].recv()
        except EOFError:
            self.exited.add(index)
            proc = self.procs[index]
            proc.join(5)
            return "exit", proc.exitcode
        if got == "error":
            raise RuntimeError(value)
        return got, value


def start_workers(target: Callable[..., None], jobs: Sequence[Any]) -> Workers:
    """One spawned process per job, each running ``target(job, conn, go)``."""
    ctx = mp.get_context("spawn")  # each worker opens its own log handles
    go = ctx.Event()
    procs, conns = [], []
    for job in jobs:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=target, args=(job, child, go), daemon=True)
        proc.start()
        child.close()
        procs.append(proc)
        conns.append(parent)
    return Workers(procs, conns, go, [0] * len(jobs))


def settle_group(
    workers: Workers, partitions: int, topics: Collection[str], timeout_s: float = 60.0
) -> list[list[int]]:
    """Wait until every worker holds tasks and together they hold all ``partitions``,
    unchanged for a second (cooperative rebalances come in two rounds); then tell them to
    hold and check the assignment. Returns each worker's partition numbers."""
    deadline = time.monotonic() + timeout_s
    stable_since: float | None = None
    while True:
        for index, conn in enumerate(workers.conns):
            while conn.poll():
                got, value = workers._receive(index)
                if got != "units":
                    raise RuntimeError(f"worker {index}: {got} {value!r} while joining")
                workers.units[index] = value
                stable_since = None
        settled = sum(workers.units) == partitions and all(workers.units)
        now = time.monotonic()
        if settled and stable_since is None:
            stable_since = now
        if settled and stable_since is not None and now - stable_since >= 1.0:
            break
        if now > deadline:
            raise TimeoutError(
                f"group not settled after {timeout_s:.0f}s: tasks per worker {workers.units} "
                "(a worker owning partitions but no task: not co-partitioned)"
            )
        time.sleep(0.02)
    workers.tell("hold")
    held = [workers.expect(i, "held", 30) for i in range(len(workers.conns))]
    owned = [[(str(topic), int(number)) for topic, number in pairs] for _units, pairs in held]
    return check_copartitioned([units for units, _ in held], owned, partitions, topics)


def check_copartitioned(
    units: Sequence[int],
    owned: Sequence[Sequence[tuple[str, int]]],
    partitions: int,
    topics: Collection[str],
) -> list[list[int]]:
    """Every partition number belongs to one worker, with every one of ``topics``; returns
    each worker's partition numbers."""
    holders: dict[int, set[int]] = {}
    held: dict[int, set[str]] = {}
    for index, pairs in enumerate(owned):
        for topic, number in pairs:
            holders.setdefault(number, set()).add(index)
            held.setdefault(number, set()).add(topic)
    wanted = set(topics)
    split = {n: sorted(h) for n, h in sorted(holders.items()) if len(h) > 1}
    partial = {n: sorted(wanted - t) for n, t in sorted(held.items()) if not wanted <= t}
    unowned = sorted(set(range(partitions)) - set(holders))
    if split or partial or unowned or sum(units) != partitions:
        raise RuntimeError(
            f"assignment not co-partitioned: tasks per worker {list(units)}, partition numbers "
            f"split between workers {split}, partitions missing inputs {partial}, partitions "
            f"owned by no worker {unowned}"
        )
    return [sorted({number for _topic, number in pairs}) for pairs in owned]


def worker_counts(text: str, parser: argparse.ArgumentParser, most: int) -> tuple[int, ...]:
    """``--workers 1,2``: comma-separated counts from 1 to ``most`` (the partitions)."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        parser.error(f"--workers takes comma-separated numbers, got {text!r}")
    if not values or min(values) < 1 or max(values) > most:
        parser.error(f"--workers: from 1 to {most} workers")
    return values


# -- clean-up on a shared broker ---------------------------------------------------------------


def delete_run(log: EventLog, url: str, prefix: str, groups: Sequence[str]) -> None:
    """Best effort: every topic whose name holds ``prefix`` (inputs, outputs, internal,
    changelog, late and ``dlq.<prefix>…`` dead-letter topics) and the run's groups."""
    try:
        mine = [name for name in log.admin.list_topics() if prefix in name]
        if mine:
            log.admin.delete_topics(mine)
    except Exception as exc:  # a leftover topic is only untidy
        print(f"warning: could not delete topics of {prefix}: {exc}", file=sys.stderr)
    # The port has no group administration.
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415 - only for the clean-up

    bootstrap = url.removeprefix("kafka://").split("?", 1)[0]
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 4})
    with suppress(Exception):
        for future in admin.delete_consumer_groups(list(groups)).values():
            with suppress(Exception):
                future.result(10)

"""``riskstream worker``: run a topology as a member of a consumer group until told to stop.

SIGTERM or SIGINT finishes the batch in hand, commits outputs, state and offsets, and leaves
the group, so a clean stop loses nothing and the partitions move on at once.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import logging
import signal
import threading
from types import FrameType

import typer
from rich.console import Console

from riskstream.errors import ConfigError
from riskstream.log import EventLog, open_log
from riskstream.settings import Settings
from riskstream.stream import Runner, Topology
from riskstream.stream.gc_policy import tune_gc_for_streaming

__all__ = ["load_topology", "worker"]

console = Console(stderr=True)

#: The topology a worker runs unless told otherwise: the fraud engine, following the
#: published rules, lists and models.
FRAUD_TOPOLOGY = "riskstream.services.fraud_app:fraud_worker_topology"


class DeliveryChoice(enum.StrEnum):
    low_latency = "low_latency"
    exactly_once = "exactly_once"


_DELIVERY = typer.Option(
    DeliveryChoice.low_latency,
    help="low_latency: outputs leave at once, with deterministic ids to deduplicate by; "
    "exactly_once: Kafka transactions, outputs visible at each commit.",
)


def load_topology(spec: str, log: EventLog | None = None) -> Topology:
    """``package.module:function`` → the topology that function returns. A factory with a
    ``log`` parameter is given the event log (to follow published rules and models)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"--topology needs 'module:function', got {spec!r}")
    factory = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(factory):
        raise ConfigError(f"{spec!r} does not name a function")
    takes_log = "log" in inspect.signature(factory).parameters
    topology = factory(log=log) if takes_log else factory()
    if not isinstance(topology, Topology):
        raise ConfigError(f"{spec!r} returned {type(topology).__name__}, not a Topology")
    return topology


def worker(
    topology: str = typer.Option(
        FRAUD_TOPOLOGY, help="The topology factory, as 'package.module:function'."
    ),
    log_url: str | None = typer.Option(None, "--log", help="Event log URL (default: settings)."),
    group: str | None = typer.Option(None, help="Consumer group (default: the application name)."),
    state_dir: str = typer.Option(".riskstream/state", help="Directory of the local state stores."),
    delivery: DeliveryChoice = _DELIVERY,
    commit_interval_ms: int | None = typer.Option(
        None, min=1, help="How often state and offsets commit (default 1000, exactly_once 100)."
    ),
    session_timeout_ms: int = typer.Option(
        10_000, min=1_000, help="How long the group waits for a silent worker before moving on."
    ),
    standbys: int = typer.Option(
        0, min=0, help="How many other tasks' state to keep warm here, for fast failover."
    ),
    metrics_port: int | None = typer.Option(None, help="Serve Prometheus metrics on this port."),
) -> None:
    """Run a topology's tasks for the partitions this worker is assigned."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        console.print(f"signal {signal.Signals(signum).name}: finishing the batch and committing")
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # before anything slow: a stop is never missed
    settings = Settings()
    log = open_log(log_url or settings.log_url, options=settings.log_options)
    runner = Runner(
        load_topology(topology, log),
        log,
        state_dir=state_dir,
        group_id=group,
        delivery=delivery.value,
        commit_interval_ms=commit_interval_ms,
        session_timeout_ms=session_timeout_ms,
        standbys=standbys,
    )
    server = runner.metrics.serve(metrics_port) if metrics_port is not None else None
    runner.start()
    tune_gc_for_streaming()  # after start-up: what it made lives as long as the worker
    console.print(f"worker of {runner.topology.application} in group {runner.group_id} started")
    try:
        runner.run(stopping.is_set)
    finally:
        runner.close()
        log.close()
        if server is not None:
            server.close()
    console.print(f"worker stopped after {runner.processed:,} records; everything committed")

"""``riskstream worker``: run a topology as a member of a consumer group until told to stop.

SIGTERM or SIGINT finishes the batch in hand, commits outputs, state and offsets, and leaves
the group, so a clean stop loses nothing and the partitions move on at once.
"""

from __future__ import annotations

import enum
import importlib
import inspect

import typer
from rich.console import Console

from riskstream.cli.running import run_until_stopped, stop_on_signals
from riskstream.errors import ConfigError
from riskstream.log import EventLog, open_log
from riskstream.settings import Settings
from riskstream.stream import Runner, Topology

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
    stopping = stop_on_signals(console)
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
    console.print(f"worker of {runner.topology.application} in group {runner.group_id} starting")
    try:
        run_until_stopped(runner, stopping, metrics_port=metrics_port)
    finally:
        log.close()
    console.print(f"worker stopped after {runner.processed:,} records; everything committed")

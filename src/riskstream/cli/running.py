"""What every long-running command shares: logging, signals that stop it cleanly, and a
runner driven until then."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from rich.console import Console

from riskstream.stream import Runner
from riskstream.stream.gc_policy import tune_gc_for_streaming

__all__ = ["run_until_stopped", "stop_on_signals"]


def stop_on_signals(console: Console) -> threading.Event:
    """Log at INFO and return an event SIGTERM or SIGINT sets. Call it first, before
    anything slow: a stop that arrives during start-up is never missed."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        console.print(f"signal {signal.Signals(signum).name}: finishing the batch and committing")
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return stopping


def run_until_stopped(
    runner: Runner, stopping: threading.Event, *, metrics_port: int | None = None
) -> None:
    """Start ``runner`` (serving its metrics if asked), cycle until ``stopping`` is set, then
    commit and close it; the streaming GC policy applies from after start-up, when what
    start-up made lives as long as the process."""
    server = runner.metrics.serve(metrics_port) if metrics_port is not None else None
    try:
        runner.start()
        tune_gc_for_streaming()
        runner.run(stopping.is_set)
    finally:
        runner.close()
        if server is not None:
            server.close()

"""The topology the multi-worker Kafka tests run in real ``riskstream worker`` processes:

    riskstream worker --topology tests.integration.worker_app:topology ...

Each test names its own topics through the environment (the factory takes no arguments):
``WORKER_APP_NAME`` (the application: group, changelog and late topic derive from it),
``WORKER_APP_SOURCE`` (the input topic) and ``WORKER_APP_SINK`` (the output topic).

Input values are JSON objects ``{"i": index, "n": amount, "t": event time}`` keyed by user.
For each input the ``totals`` step adds ``n`` to the user's running total and emits
``[i, total]`` to the sink, keyed by the user. A value with ``"boom": true`` makes the step
raise *after* it updated its state, so a dead-lettered record must leave no trace in state.
"""

from __future__ import annotations

import os
from typing import Any

import msgspec

from riskstream.stream.item import Item
from riskstream.stream.processor import Context, KeyState
from riskstream.stream.topology import Topology

__all__ = ["ENV_NAME", "ENV_SINK", "ENV_SOURCE", "STEP", "Totals", "topology"]

ENV_NAME = "WORKER_APP_NAME"
ENV_SOURCE = "WORKER_APP_SOURCE"
ENV_SINK = "WORKER_APP_SINK"
STEP = "totals"


class PoisonError(ValueError):
    """Raised by :class:`Totals` for an input marked ``"boom"``."""


class Totals:
    """A running total of ``n`` per key; emits ``[i, total]`` for every input."""

    def process(self, item: Item, state: KeyState[Any], ctx: Context) -> None:
        value = item.value
        total = (state.get(0) or 0) + value["n"]
        state.set(total)
        if value.get("boom"):
            raise PoisonError(f"boom at input {value['i']}")
        ctx.forward([value["i"], total])

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None:
        """No timers in this application."""


def topology() -> Topology:
    """The application named by the environment (see the module docstring)."""
    # Watermarks move by event time only and nothing is ever late: the outputs depend on the
    # inputs alone, so a test can compute them.
    topo = Topology(os.environ[ENV_NAME], idle_timeout_ms=10**12, allowed_lateness_ms=10**12)
    events = topo.source("events", [os.environ[ENV_SOURCE]], decode=_decode, event_time=_event_time)
    events.process(STEP, Totals(), state_type=int).to(
        os.environ[ENV_SINK], encode=msgspec.json.encode
    )
    return topo


def _decode(raw: bytes | None) -> Any:
    return msgspec.json.decode(raw or b"")


def _event_time(value: Any) -> int:
    return int(value["t"])

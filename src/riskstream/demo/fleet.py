"""The run's processes and the thread that follows them.

:class:`Fleet` starts the children (:mod:`~riskstream.demo.children`) and, in a monitor
thread, reads their messages ten times a second: the engine's progress goes to the
dashboard and into a time series (the throughput plot), each live decision the probe reads
is noted with the moment it became readable (the latency), and a child that fails is
reported to the run, which stops at its next wait.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import Any, Final

from .children import Child, ChildError, ChildSpec
from .customers import SimulatedCustomers
from .dashboard import Dashboard
from .traffic import is_live

__all__ = ["ROLES", "Fleet"]

ROLES: Final = ("worker", "fraud-service", "projector", "probe")
_TICK_S: Final = 0.1
_RATE_WINDOW: Final = 8  # status samples the dashboard's "events/s now" spans (~2 s)


class Fleet:
    """One child per role of ``specs``; see the module docstring."""

    def __init__(self, specs: Mapping[str, ChildSpec], dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        self.failure: BaseException | None = None
        self.engine_samples: list[tuple[float, int]] = []  # (wall s, input events processed)
        self.seen: dict[str, tuple[int, str]] = {}  # live decision: (readable at ns, action)
        self.sent_ns: Mapping[str, int] = {}  # live checkouts' produce times (the writer's)
        self.customers: SimulatedCustomers | None = None
        self.children = {role: Child(spec) for role, spec in specs.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="demo-monitor", daemon=True)
        self._thread.start()

    def __getitem__(self, role: str) -> Child:
        return self.children[role]

    @property
    def ready(self) -> bool:
        return all(child.ready for child in self.children.values())

    def stop(self) -> dict[str, dict[str, Any]]:
        """Stop following, then ask every child to commit and exit; their final statuses."""
        self._stop_watching()
        for child in self.children.values():
            child.send("stop")  # all at once: they wind down in parallel
        finals = {role: child.stop() or {} for role, child in self.children.items()}
        self.children.clear()
        return finals

    def shutdown(self) -> None:
        """After a failure or an interrupt: stop whatever still runs, quietly."""
        self._stop_watching()
        for child in self.children.values():
            with contextlib.suppress(Exception):
                child.stop(timeout=15)
        self.children.clear()

    def _stop_watching(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _watch(self) -> None:
        window: list[tuple[float, int]] = []
        dash = self.dashboard
        while not self._stop.wait(_TICK_S):
            try:
                for role, child in self.children.items():
                    messages = child.pump()
                    if role == "probe":
                        self._probed(messages)
                    if not child.alive() and child.final is None:
                        child.check()
            except ChildError as exc:
                self.failure = exc
                return
            worker = self.children["worker"].status
            if "processed" in worker:
                at, processed = worker["at"], worker["processed"]
                if not self.engine_samples or self.engine_samples[-1][0] != at:
                    self.engine_samples.append((at, processed))
                    window = [*window[-_RATE_WINDOW:], (at, processed)]
                dash.engine_processed = processed
                if len(window) > 1 and window[-1][0] > window[0][0]:
                    first, last = window[0], window[-1]
                    dash.engine_rate = (last[1] - first[1]) / (last[0] - first[0])
                dash.model = worker.get("model")
            dash.fraud_service_processed = self.children["fraud-service"].status.get("processed", 0)
            dash.projected = self.children["projector"].status.get("processed", 0)
            customers = self.customers
            if customers is not None:
                dash.mfa_passed, dash.mfa_failed = customers.passed, customers.failed

    def _probed(self, messages: list[tuple[str, Any]]) -> None:
        dash = self.dashboard
        for kind, payload in messages:
            if kind != "status":
                continue
            for tx, at, action in payload["seen"]:
                if tx in self.seen or not is_live(tx):
                    continue
                self.seen[tx] = (at, action)
                dash.live_actions[action] += 1
                sent = self.sent_ns.get(tx)
                if sent is not None:
                    dash.latency_ms.append((at - sent) / 1e6)

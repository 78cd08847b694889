"""The state a demo run shows while it runs: its phases and the live figures.

The run and its monitor thread write it; the display reads it a few times a second. Single
assignments of Python objects are atomic, and a reader that sees a figure one update late
shows it at the next refresh: no lock is needed.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Dashboard", "Phase"]


@dataclass
class Phase:
    key: str
    title: str
    status: str = "pending"  # pending | running | done
    started: float | None = None  # time.monotonic()
    ended: float | None = None
    done: float = 0.0
    total: float | None = None
    detail: str = ""

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended if self.ended is not None else time.monotonic()) - self.started


@dataclass
class Dashboard:
    """Phases in order, and what the engine, the services and the customers are doing."""

    title: str
    phases: dict[str, Phase] = field(default_factory=dict)
    engine_processed: int = 0
    engine_rate: float = 0.0  # input events per second, over the last second or so
    model: str | None = None
    live_produced: int = 0
    live_checkouts: int = 0
    live_actions: Counter[str] = field(default_factory=Counter)
    latency_ms: list[float] = field(default_factory=list)
    mfa_passed: int = 0
    mfa_failed: int = 0
    fraud_service_processed: int = 0
    projected: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, key: str, title: str) -> None:
        self.phases[key] = Phase(key, title)

    def start(self, key: str, *, total: float | None = None, detail: str = "") -> None:
        phase = self.phases[key]
        phase.status, phase.started = "running", time.monotonic()
        phase.total, phase.detail = total, detail

    def progress(
        self, key: str, done: float, *, total: float | None = None, detail: str | None = None
    ) -> None:
        phase = self.phases[key]
        phase.done = done
        if total is not None:
            phase.total = total
        if detail is not None:
            phase.detail = detail

    def finish(self, key: str, detail: str | None = None) -> None:
        phase = self.phases[key]
        phase.status, phase.ended = "done", time.monotonic()
        if phase.total is not None:
            phase.done = phase.total
        if detail is not None:
            phase.detail = detail

    @property
    def current(self) -> Phase | None:
        running = [p for p in self.phases.values() if p.status == "running"]
        return running[-1] if running else None

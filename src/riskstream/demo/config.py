"""What a demo run is asked to do (:class:`DemoConfig`) and where it keeps its files
(:class:`RunLayout`)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from riskstream.errors import ConfigError

from .namespace import Namespace
from .traffic import customers_needed

__all__ = [
    "DEFAULT_DURATION_S",
    "DEFAULT_OUT",
    "DEFAULT_RATE",
    "DEFAULT_WORK",
    "MIN_USERS",
    "DemoConfig",
    "RunLayout",
    "default_users",
]

DEFAULT_OUT: Final = Path(".riskstream/demo-report")
DEFAULT_WORK: Final = Path(".riskstream/demo")
MIN_USERS: Final = 6_000
"""The smallest default population: weeks of its history hold enough fraud to train on."""
DEFAULT_RATE: Final = 1_000.0
DEFAULT_DURATION_S: Final = 60.0


def default_users(rate: float, duration_s: float) -> int:
    """The population for a live phase of ``duration_s`` at ``rate``: enough customers for
    one live session each (:func:`~riskstream.demo.traffic.customers_needed`), at least
    :data:`MIN_USERS`."""
    return max(MIN_USERS, customers_needed(rate, duration_s))


@dataclass(frozen=True, kw_only=True)
class DemoConfig:
    """One demo run.

    ``duration_s`` seconds of live traffic at ``rate`` events per second follow a history
    of ``history_days`` days of ``users`` customers, who have at most one live session each:
    the population must hold more customers than the live phase starts sessions
    (:func:`default_users`). ``fraud_rate`` is the share of the
    history's checkouts that are fraud (the simulator's default, what the model learns
    from), ``live_fraud_rate`` the live phase's: higher, so that a minute of traffic holds
    enough of every scenario to measure (recall and the friction for genuine customers do
    not depend on it; precision does). ``log_url`` ``None`` runs on a fresh
    embedded log of its own; a URL given runs there under a namespace of the run's (see
    :mod:`~riskstream.demo.namespace`). ``keep`` keeps the run's log, state and read models
    (else removed at the end: the reports in ``out_dir`` stay). Simulated customers answer
    MFA challenges after ``mfa_delay_s`` seconds (a range); an unanswered challenge expires
    after ``mfa_timeout_s``.
    """

    duration_s: float = DEFAULT_DURATION_S
    rate: float = DEFAULT_RATE
    seed: int = 7
    users: int = default_users(DEFAULT_RATE, DEFAULT_DURATION_S)
    history_days: float = 21.0
    fraud_rate: float = 0.01
    live_fraud_rate: float = 0.05
    log_url: str | None = None
    log_options: Mapping[str, str] = field(default_factory=dict)
    partitions: int = 8
    out_dir: Path = DEFAULT_OUT
    work_dir: Path = DEFAULT_WORK
    keep: bool = False
    mfa_delay_s: tuple[float, float] = (0.3, 1.5)
    mfa_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ConfigError("the duration must be positive")
        if self.rate <= 0:
            raise ConfigError("the rate must be positive")
        if self.users < 10:
            raise ConfigError("a demo needs at least 10 customers")
        needed = customers_needed(self.rate, self.duration_s)
        if self.users < needed:
            raise ConfigError(
                f"{self.users:,} customers are too few for {self.duration_s:g} s of live "
                f"traffic at {self.rate:g} events/s, which gives each customer at most one "
                f"session: {needed:,} or more (--users), or a lower --rate or --duration"
            )
        if self.history_days <= 0:
            raise ConfigError("the history must last some days")
        if not (0 < self.fraud_rate < 0.5 and 0 < self.live_fraud_rate < 0.5):
            raise ConfigError("the fraud rates must be in (0, 0.5)")
        if self.partitions < 1:
            raise ConfigError("the topics need at least one partition")
        low, high = self.mfa_delay_s
        if not 0 <= low <= high < self.mfa_timeout_s:
            raise ConfigError("MFA answers must come before the challenge expires")


@dataclass(frozen=True, kw_only=True)
class RunLayout:
    """One run's id, log, topic namespace and files."""

    run_id: str
    log_url: str
    namespace: Namespace
    run_dir: Path
    fresh_log: bool  # a log of the run's own, under run_dir

    @classmethod
    def create(cls, config: DemoConfig, *, now: float | None = None) -> RunLayout:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
        run_id = f"{stamp}-{secrets.token_hex(3)}"
        run_dir = (config.work_dir / run_id).resolve()
        run_dir.mkdir(parents=True, exist_ok=False)
        if config.log_url is None:
            return cls(
                run_id=run_id,
                log_url=f"embedded:{run_dir / 'log'}",
                namespace=Namespace(),
                run_dir=run_dir,
                fresh_log=True,
            )
        return cls(
            run_id=run_id,
            log_url=config.log_url,
            namespace=Namespace.for_run(run_id),
            run_dir=run_dir,
            fresh_log=False,
        )

    def state_dir(self, role: str) -> Path:
        return self.run_dir / "state" / role

    @property
    def store_url(self) -> str:
        return f"sqlite:{self.run_dir / 'query.db'}"

    @property
    def notify_path(self) -> Path:
        return self.run_dir / "mfa-challenges.jsonl"

    @property
    def truth_path(self) -> Path:
        return self.run_dir / "truth.jsonl"

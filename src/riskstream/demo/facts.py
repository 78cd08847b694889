"""What a demo run collected: the raw material of its report, all of it from the run.

Counts come from the writer's acknowledgements and the engine's reported positions; the
decisions are read back from the decisions topic, the ground truth from the truth file the
run wrote, the payments' outcomes from the read models, latencies from the probe's reading
times and the writer's produce times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from riskstream.fraud.decision import Decision
from riskstream.sim import GroundTruth

from .config import DemoConfig
from .training import TrainedModel

__all__ = ["RunFacts"]


@dataclass
class RunFacts:
    """Everything :func:`~riskstream.demo.summary.build_summary` needs."""

    run_id: str
    log_url: str
    prefix: str
    config: DemoConfig
    started_at: float = 0.0  # wall clock, seconds
    finished_at: float = 0.0
    phases: dict[str, tuple[float, float]] = field(default_factory=dict)  # wall-clock spans
    produced: int = 0  # events written, history and live
    acknowledged: int = 0
    history_events: int = 0
    history_checkouts: int = 0
    history_frauds: int = 0
    history_start_ms: int = 0
    history_end_ms: int = 0
    catch_up_s: float = 0.0  # go .. every history checkout's decision readable
    model: TrainedModel | None = None
    live_events: int = 0
    live_s: float = 0.0
    live_window: tuple[float, float] | None = None  # wall clock: traffic first .. last produced
    live_customers: int = 0  # customers who had their live session
    live_revisits: int = 0  # live sessions that found no customer without one
    sent_ns: dict[str, int] = field(default_factory=dict)  # live checkout -> produce time
    read_ns: dict[str, int] = field(default_factory=dict)  # live decision -> readable time
    decisions: list[Decision] = field(default_factory=list)  # live, read back
    truth: list[GroundTruth] = field(default_factory=list)  # live, read back
    statuses: dict[str, str] = field(default_factory=dict)  # live transaction -> status
    mfa_outcomes: dict[str, bool] = field(default_factory=dict)  # live tx -> passed (read model)
    engine_samples: list[tuple[float, int]] = field(default_factory=list)  # (wall s, events)
    engine_processed: int = 0
    fraud_service_processed: int = 0
    projected: int = 0
    mfa_passed: int = 0
    mfa_failed: int = 0
    mfa_refused: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds per process

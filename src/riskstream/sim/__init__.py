"""Traffic simulation: a deterministic population's sessions with labelled fraud scenarios.

:class:`TrafficSimulator` yields events in event-time order (ground truth per checkout to a
separate sink); :class:`SimWriter` produces them into any event log; :func:`paced` releases
them in real time. :class:`SessionSimulator` is the small generator the smoke run and the
runtime benchmarks use.
"""

from riskstream.sim.catalog import HIGH_VALUE_PROMO
from riskstream.sim.pacing import live_simulator, paced
from riskstream.sim.scenarios import SCENARIOS, Scenario
from riskstream.sim.session import LabelPolicy
from riskstream.sim.sessions import SessionSimulator
from riskstream.sim.simulator import DEFAULT_START_MS, SimConfig, SimStats, TrafficSimulator
from riskstream.sim.truth import LEGIT, TRUTH_TOPIC, GroundTruth, TruthFile, read_truth
from riskstream.sim.writer import SimWriter, WriteResult

__all__ = [
    "DEFAULT_START_MS",
    "HIGH_VALUE_PROMO",
    "LEGIT",
    "SCENARIOS",
    "TRUTH_TOPIC",
    "GroundTruth",
    "LabelPolicy",
    "Scenario",
    "SessionSimulator",
    "SimConfig",
    "SimStats",
    "SimWriter",
    "TrafficSimulator",
    "TruthFile",
    "WriteResult",
    "live_simulator",
    "paced",
    "read_truth",
]

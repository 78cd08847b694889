"""Traffic simulation: plausible user sessions as events."""

from riskstream.sim.sessions import SessionSimulator

__all__ = ["SessionSimulator"]

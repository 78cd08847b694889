"""The test kit: run topologies in-process against a virtual clock, with no broker."""

from riskstream.testing.clock import VirtualClock
from riskstream.testing.driver import DictStore, TestDriver

__all__ = ["DictStore", "TestDriver", "VirtualClock"]

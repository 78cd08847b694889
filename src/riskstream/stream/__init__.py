"""The stream runtime: topologies of named steps over co-partitioned topics, per-key state,
event time with watermarks, windows, velocity counters, joins and patterns.

Nothing here knows about fraud: :mod:`riskstream.fraud` builds on it.
"""

from riskstream.stream.item import Item
from riskstream.stream.logic import Definition, Logic
from riskstream.stream.metrics import RunnerMetrics
from riskstream.stream.output import OUTPUT_ID_HEADER, Output
from riskstream.stream.processor import Context, KeyState, Processor
from riskstream.stream.render import describe, to_mermaid
from riskstream.stream.runner import Runner
from riskstream.stream.task import Task
from riskstream.stream.topology import Stream, Topology, TopologyError

__all__ = [
    "OUTPUT_ID_HEADER",
    "Context",
    "Definition",
    "Item",
    "KeyState",
    "Logic",
    "Output",
    "Processor",
    "Runner",
    "RunnerMetrics",
    "Stream",
    "Task",
    "Topology",
    "TopologyError",
    "describe",
    "to_mermaid",
]

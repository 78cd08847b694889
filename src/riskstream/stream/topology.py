"""A topology as plain data: sources, named steps, re-keying, sinks.

Build it with :class:`Topology` and the :class:`Stream` handles it returns; nothing runs
until an executor compiles it. Every step has a name, unique within the topology: state
stores, changelog and repartition topics, metrics and the rendered graph derive from it.

    topology = Topology("velocity-demo", late_topic="velocity-demo.late")
    checkouts = topology.source("checkouts", ["events.checkout"], decode=decode_checkout,
                                event_time=lambda e: e.event_time)
    (checkouts
        .rekey("by-card", lambda e: e.instrument_fingerprint.encode())
        .stateful("card-velocity", Velocity(horizons=(60_000, 3_600_000)))
        .to("card.velocity", encode=msgspec.json.encode))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from riskstream.log.deadletter import dlq_topic
from riskstream.stream.logic import Definition
from riskstream.stream.processor import Processor

__all__ = [
    "FilterNode",
    "JoinNode",
    "MapNode",
    "Node",
    "ProcessNode",
    "RekeyNode",
    "SinkNode",
    "SourceNode",
    "StatefulNode",
    "Stream",
    "Topology",
    "TopologyError",
]

Decode = Callable[[bytes | None], Any]
Encode = Callable[[Any], bytes | None]


class TopologyError(ValueError):
    """A topology that cannot run: duplicate names, dangling steps, bad wiring."""


@dataclass(frozen=True)
class SourceNode:
    """Reads one or more co-partitioned topics; ``decode`` turns record values into values
    (one function for every topic, or one per topic)."""

    name: str
    topics: tuple[str, ...]
    decode: Decode | Mapping[str, Decode] | None = None
    event_time: Callable[[Any], int] | None = None  # defaults to the record timestamp


@dataclass(frozen=True)
class MapNode:
    name: str
    parent: str
    fn: Callable[[Any], Any]


@dataclass(frozen=True)
class FilterNode:
    name: str
    parent: str
    predicate: Callable[[Any], bool]


@dataclass(frozen=True)
class ProcessNode:
    """A custom processor with a per-key state value of ``state_type``."""

    name: str
    parent: str
    processor: Processor
    state_type: Any = Any


@dataclass(frozen=True)
class StatefulNode:
    """A definition (window, velocity, pattern) whose per-key logic receives ``select(value)``."""

    name: str
    parent: str
    definition: Definition[Any, Any, Any]
    select: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class JoinNode:
    """A two-input definition (a join); ``wrap_left``/``wrap_right`` tag each side's values."""

    name: str
    left: str
    right: str
    definition: Definition[Any, Any, Any]
    wrap_left: Callable[[Any], Any]
    wrap_right: Callable[[Any], Any]


@dataclass(frozen=True)
class RekeyNode:
    """Re-keys through the repartition topic ``<application>-<name>-repartition``."""

    name: str
    parent: str
    key: Callable[[Any], bytes]
    encode: Encode
    decode: Decode


@dataclass(frozen=True)
class SinkNode:
    """Writes values to ``topic`` (key: the item's key unless ``key`` picks another)."""

    name: str
    parent: str
    topic: str
    encode: Encode
    key: Callable[[Any], bytes | None] | None = None


Node = (
    SourceNode | MapNode | FilterNode | ProcessNode | StatefulNode | JoinNode | RekeyNode | SinkNode
)


@dataclass
class Topology:
    """The graph of one stream application; ``application`` prefixes its internal topics."""

    application: str
    late_topic: str = ""  # default: "<application>.late"
    allowed_lateness_ms: int = 0
    idle_timeout_ms: int = 5_000
    # Prefixes the dead-letter topics, so an isolated replay (a backtest) never writes to
    # production's ``dlq.<topic>``: "" keeps the production names.
    dlq_namespace: str = ""
    nodes: dict[str, Node] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.late_topic:
            self.late_topic = f"{self.application}.late"

    def add(self, node: Node) -> Node:
        if node.name in self.nodes:
            raise TopologyError(f"step name {node.name!r} is used twice")
        for parent in _parents(node):
            if parent not in self.nodes:
                raise TopologyError(f"step {node.name!r} reads from unknown step {parent!r}")
        self.nodes[node.name] = node
        return node

    def source(
        self,
        name: str,
        topics: Sequence[str],
        *,
        decode: Decode | Mapping[str, Decode] | None = None,
        event_time: Callable[[Any], int] | None = None,
    ) -> Stream:
        """A stream of the records of ``topics`` (co-partitioned, same key)."""
        if not topics:
            raise TopologyError(f"source {name!r} needs at least one topic")
        if isinstance(decode, Mapping) and set(decode) != set(topics):
            raise TopologyError(f"source {name!r} needs one decoder per topic, exactly")
        self.add(SourceNode(name, tuple(topics), decode, event_time))
        return Stream(self, name)

    def repartition_topic(self, step: str) -> str:
        return f"{self.application}-{step}-repartition"

    def dlq_topic(self, topic: str) -> str:
        """Where the records of ``topic`` this topology cannot process go."""
        return self.dlq_namespace + dlq_topic(topic)

    def changelog_topic(self, step: str) -> str:
        return f"{self.application}-{step}-changelog"

    def children(self, name: str) -> list[Node]:
        return [node for node in self.nodes.values() if name in _parents(node)]

    def repartition_topics(self) -> list[str]:
        return [
            self.repartition_topic(node.name)
            for node in self.nodes.values()
            if isinstance(node, RekeyNode)
        ]

    def input_topics(self) -> list[str]:
        """Every topic a task reads: sources and repartition topics."""
        sources = [node for node in self.nodes.values() if isinstance(node, SourceNode)]
        return [topic for node in sources for topic in node.topics] + self.repartition_topics()

    def output_topics(self) -> list[str]:
        return [node.topic for node in self.nodes.values() if isinstance(node, SinkNode)]

    def stateful_steps(self) -> list[str]:
        kinds = (ProcessNode, StatefulNode, JoinNode)
        return [node.name for node in self.nodes.values() if isinstance(node, kinds)]


def _parents(node: Node) -> tuple[str, ...]:
    if isinstance(node, SourceNode):
        return ()
    if isinstance(node, JoinNode):
        return (node.left, node.right)
    return (node.parent,)


@dataclass(frozen=True)
class Stream:
    """A handle on a step's output; each method adds a named step and returns its stream."""

    topology: Topology
    name: str

    def map(self, name: str, fn: Callable[[Any], Any]) -> Stream:
        return self._then(MapNode(name, self.name, fn))

    def filter(self, name: str, predicate: Callable[[Any], bool]) -> Stream:
        return self._then(FilterNode(name, self.name, predicate))

    def process(self, name: str, processor: Processor, *, state_type: Any = Any) -> Stream:
        return self._then(ProcessNode(name, self.name, processor, state_type))

    def stateful(
        self,
        name: str,
        definition: Definition[Any, Any, Any],
        *,
        select: Callable[[Any], Any] | None = None,
    ) -> Stream:
        return self._then(StatefulNode(name, self.name, definition, select))

    def join(
        self,
        name: str,
        right: Stream,
        definition: Definition[Any, Any, Any],
        *,
        wrap_left: Callable[[Any], Any],
        wrap_right: Callable[[Any], Any],
    ) -> Stream:
        return self._then(JoinNode(name, self.name, right.name, definition, wrap_left, wrap_right))

    def rekey(
        self, name: str, key: Callable[[Any], bytes], *, encode: Encode, decode: Decode
    ) -> Stream:
        return self._then(RekeyNode(name, self.name, key, encode, decode))

    def to(
        self, topic: str, *, encode: Encode, key: Callable[[Any], bytes | None] | None = None
    ) -> None:
        self.topology.add(SinkNode(f"to-{topic}", self.name, topic, encode, key))

    def _then(self, node: Node) -> Stream:
        self.topology.add(node)
        return Stream(self.topology, node.name)

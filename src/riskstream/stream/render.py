"""Render a topology as indented text or as a Mermaid flowchart."""

from __future__ import annotations

from riskstream.stream.topology import (
    FilterNode,
    JoinNode,
    MapNode,
    Node,
    ProcessNode,
    RekeyNode,
    SinkNode,
    SourceNode,
    StatefulNode,
    Topology,
)

__all__ = ["describe", "to_mermaid"]


def _label(topology: Topology, node: Node) -> str:
    if isinstance(node, SourceNode):
        return f"source {node.name} <- {', '.join(node.topics)}"
    if isinstance(node, MapNode):
        return f"map {node.name}"
    if isinstance(node, FilterNode):
        return f"filter {node.name}"
    if isinstance(node, ProcessNode):
        return f"process {node.name} [state: {topology.changelog_topic(node.name)}]"
    if isinstance(node, StatefulNode):
        kind = type(node.definition).__name__
        return f"stateful {node.name}: {kind} [state: {topology.changelog_topic(node.name)}]"
    if isinstance(node, JoinNode):
        return f"join {node.name}: {node.left} x {node.right} {type(node.definition).__name__}"
    if isinstance(node, RekeyNode):
        return f"rekey {node.name} -> {topology.repartition_topic(node.name)}"
    return f"sink -> {node.topic}"


def describe(topology: Topology) -> str:
    """An indented tree of the steps, from each source down."""
    lines = [f"topology {topology.application} (late records -> {topology.late_topic})"]
    seen: set[tuple[str, int]] = set()

    def walk(node: Node, depth: int) -> None:
        lines.append(f"{'  ' * depth}{_label(topology, node)}")
        if (node.name, depth) in seen:
            return
        seen.add((node.name, depth))
        for child in topology.children(node.name):
            walk(child, depth + 1)

    for node in topology.nodes.values():
        if isinstance(node, SourceNode):
            walk(node, 1)
    return "\n".join(lines)


def to_mermaid(topology: Topology) -> str:
    """A Mermaid ``flowchart LR`` of topics (rounded) and steps (boxes)."""
    lines = ["flowchart LR"]
    ids: dict[str, str] = {}

    def ident(name: str) -> str:
        return ids.setdefault(name, f"n{len(ids)}")

    for node in topology.nodes.values():
        lines.append(f'  {ident(node.name)}["{_label(topology, node)}"]')
        if isinstance(node, SourceNode):
            for topic in node.topics:
                lines.append(f'  {ident("topic:" + topic)}(["{topic}"]) --> {ident(node.name)}')
        elif isinstance(node, SinkNode):
            lines.append(
                f'  {ident(node.name)} --> {ident("topic:" + node.topic)}(["{node.topic}"])'
            )
        if isinstance(node, JoinNode):
            lines.append(f"  {ident(node.left)} --> {ident(node.name)}")
            lines.append(f"  {ident(node.right)} --> {ident(node.name)}")
        elif not isinstance(node, SourceNode):
            lines.append(f"  {ident(node.parent)} --> {ident(node.name)}")
    return "\n".join(lines)

"""Topologies for engine tests."""

from __future__ import annotations

from typing import Any

from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.features.entity_stage import EntityStage
from riskstream.fraud.topology import fraud_topology
from riskstream.stream.topology import ProcessNode, Topology


def failing_entities(failing: str, error: str) -> Topology:
    """The fraud topology whose ``failing`` profiles (``"ip"``, ``"device"`` …) raise
    ``RuntimeError(error)`` instead of answering."""

    class Failing(EntityStage):
        def _answer(self, entity: str, message: Any, state: Any, ctx: Any) -> None:
            if entity == failing:
                raise RuntimeError(error)
            super()._answer(entity, message, state, ctx)

    topology = fraud_topology()
    node = topology.nodes["entities"]
    assert isinstance(node, ProcessNode)
    topology.nodes["entities"] = ProcessNode(
        node.name, node.parent, Failing(FeatureEngine()), node.state_type
    )
    return topology

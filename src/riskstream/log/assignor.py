"""Deterministic partition assignment for the backends that coordinate groups themselves.

Every member computes the same answer from the same inputs, so no leader is needed: members
sorted by id take the group's partitions round-robin, balanced per topic, so co-partitioned
topics (same partition number) land on the same member — the property stream tasks need
to join a user's streams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from riskstream.log.records import TopicPartition

__all__ = ["assign_partitions"]


def assign_partitions(
    members: Sequence[str], partition_counts: Mapping[str, int]
) -> dict[str, set[TopicPartition]]:
    """Map each member to its partitions; partition ``p`` of every topic goes to the same member."""
    ordered = sorted(set(members))
    result: dict[str, set[TopicPartition]] = {member: set() for member in ordered}
    if not ordered:
        return result
    for topic, count in partition_counts.items():
        for partition in range(count):
            result[ordered[partition % len(ordered)]].add(TopicPartition(topic, partition))
    return result

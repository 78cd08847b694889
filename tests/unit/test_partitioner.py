"""The murmur2 partitioner matches Kafka's Java client bit for bit."""

from __future__ import annotations

import ctypes

import pytest

from riskstream.log import murmur2, partition_for
from riskstream.log.assignor import assign_partitions
from riskstream.log.partitioner import partitions_for
from riskstream.log.records import TopicPartition

# Vectors from org.apache.kafka.common.utils.UtilsTest#testMurmur2 (signed 32-bit results).
KAFKA_VECTORS = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
]


@pytest.mark.parametrize(("data", "expected"), KAFKA_VECTORS)
def test_murmur2_matches_kafka(data: bytes, expected: int) -> None:
    assert ctypes.c_int32(murmur2(data)).value == expected


def test_partition_is_positive_hash_modulo_count() -> None:
    for i in range(1000):
        key = f"user-{i}".encode()
        assert partition_for(key, 12) == (murmur2(key) & 0x7FFFFFFF) % 12


def test_partitions_for_many_keys_match_one_at_a_time() -> None:
    # Every length 0..40 (each tail of 0-3 bytes), bytes up to 0xff, in batches below and
    # above the vectorised path's threshold.
    keys = [bytes((i * 37 + j * 11) % 256 for j in range(i % 41)) for i in range(600)]
    keys += [f"device:dev-{i:x}".encode() for i in range(300)]
    for count in (1, 8, 13):
        expected = [partition_for(key, count) for key in keys]
        assert partitions_for(keys, count) == expected
        assert partitions_for(keys[:5], count) == expected[:5]
    assert partitions_for([], 8) == []


def test_assignment_is_deterministic_balanced_and_co_partitioned() -> None:
    counts = {"events.login": 6, "events.checkout": 6}
    result = assign_partitions(["b", "a", "c"], counts)
    assert result == assign_partitions(["c", "b", "a"], counts)
    assert all(len(parts) == 4 for parts in result.values())
    for parts in result.values():
        numbers = {tp.partition for tp in parts if tp.topic == "events.login"}
        assert numbers == {tp.partition for tp in parts if tp.topic == "events.checkout"}
    everything = set().union(*result.values())
    assert everything == {TopicPartition(t, p) for t in counts for p in range(6)}
    assert assign_partitions([], counts) == {}

"""Co-partitioned inputs reach a task in timestamp order."""

from __future__ import annotations

from riskstream.log.records import Record, TopicPartition
from riskstream.stream.ordering import TimeOrderedBuffer

A, B = TopicPartition("a", 0), TopicPartition("b", 0)


def _records(tp: TopicPartition, *times: int) -> list[Record]:
    return [Record(tp.topic, tp.partition, i, t, None, None) for i, t in enumerate(times)]


def test_merges_inputs_by_timestamp_while_every_input_has_data() -> None:
    buffer = TimeOrderedBuffer()
    buffer.add(_records(A, 10, 20, 30, 40))
    buffer.add(_records(B, 15, 25))
    released = buffer.release([A, B], frozenset())
    # b ran dry after 25: a's 30 might be followed by an older b record, so it waits.
    assert [(r.topic, r.timestamp) for r in released] == [
        ("a", 10),
        ("b", 15),
        ("a", 20),
        ("b", 25),
    ]
    assert len(buffer) == 2


def test_an_input_without_data_blocks_until_it_reaches_its_end() -> None:
    buffer = TimeOrderedBuffer()
    buffer.add(_records(A, 10, 20))
    assert buffer.release([A, B], frozenset()) == []
    assert [r.timestamp for r in buffer.release([A, B], frozenset({B}))] == [10, 20]


def test_dropped_partitions_are_forgotten() -> None:
    buffer = TimeOrderedBuffer()
    buffer.add(_records(A, 1, 2))
    buffer.drop([A])
    assert len(buffer) == 0

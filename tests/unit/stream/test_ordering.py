"""Co-partitioned inputs reach a task in timestamp order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

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


def _reference_release(
    queues: dict[TopicPartition, list[Record]],
    inputs: list[TopicPartition],
    at_end: frozenset[TopicPartition],
) -> list[Record]:
    """The rule one record at a time: the oldest head (ties: first input) goes, until an
    input that may still deliver runs dry."""
    if any(tp not in at_end and not queues.get(tp) for tp in inputs):
        return []
    out: list[Record] = []
    while any(queues.values()):
        order = list(queues)
        tp = min(
            (tp for tp in order if queues[tp]),
            key=lambda t: (queues[t][0].timestamp, order.index(t)),
        )
        out.append(queues[tp].pop(0))
        if not queues[tp] and tp not in at_end:
            break
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 30), max_size=12), min_size=1, max_size=4),
    st.lists(st.booleans(), min_size=4, max_size=4),
    st.integers(1, 3),
)
def test_release_matches_the_one_at_a_time_rule(
    streams: list[list[int]], ends: list[bool], rounds: int
) -> None:
    tps = [TopicPartition(f"t{i}", 0) for i in range(len(streams))]
    at_end = frozenset(tp for tp, end in zip(tps, ends, strict=False) if end)
    buffer = TimeOrderedBuffer()
    model: dict[TopicPartition, list[Record]] = {}
    for tp, times in zip(tps, streams, strict=True):
        records = _records(tp, *times)
        buffer.add(records)
        if records:
            model[tp] = list(records)
    for _ in range(rounds):
        assert buffer.release(tps, at_end) == _reference_release(model, tps, at_end)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 30), max_size=12), min_size=1, max_size=4),
    st.lists(st.booleans(), min_size=4, max_size=4),
    st.integers(1, 3),
)
def test_release_of_inputs_in_time_order_matches_the_rule(
    streams: list[list[int]], ends: list[bool], rounds: int
) -> None:
    # Every input in time order (the common case), records coming between releases.
    tps = [TopicPartition(f"t{i}", 0) for i in range(len(streams))]
    at_end = frozenset(tp for tp, end in zip(tps, ends, strict=False) if end)
    buffer = TimeOrderedBuffer()
    model: dict[TopicPartition, list[Record]] = {}
    for tp, times in zip(tps, streams, strict=True):
        records = _records(tp, *sorted(times))
        buffer.add(records)
        if records:
            model[tp] = list(records)
    for _ in range(rounds):
        assert buffer.release(tps, at_end) == _reference_release(model, tps, at_end)
        more = [Record(tp.topic, 0, 100 + len(model.get(tp, [])), 31, None, None) for tp in tps]
        for tp, record in zip(tps, more, strict=True):
            buffer.add([record])
            model.setdefault(tp, []).append(record)


def test_a_tracked_input_drops_what_it_already_delivered() -> None:
    buffer = TimeOrderedBuffer()
    buffer.track(A, 2)
    assert buffer.expects(A) == 2
    buffer.add(_records(A, 10, 20, 30, 40))  # offsets 0-3: 0 and 1 came before
    assert [r.offset for r in buffer.release([A], frozenset())] == [2, 3]
    assert buffer.expects(A) == 4
    # Records handed over without the consumer: the consumer's copies are dropped.
    handed = [Record("a", 0, offset, 50 + offset, None, None) for offset in (4, 5)]
    buffer.hand(A, handed)
    assert buffer.expects(A) == 6
    buffer.add(_records(A, *range(7)))
    assert [r.offset for r in buffer.release([A], frozenset({A}))] == [4, 5, 6]


def test_an_input_tracked_from_an_unknown_offset_learns_it_from_its_first_record() -> None:
    buffer = TimeOrderedBuffer()
    buffer.track(A, None)
    assert buffer.expects(A) is None
    buffer.add([Record("a", 0, 7, 1, None, None)])
    assert buffer.expects(A) == 8
    buffer.add(_records(B, 1))  # untracked inputs keep everything
    assert buffer.expects(B) is None
    buffer.drop([A])
    assert buffer.expects(A) is None

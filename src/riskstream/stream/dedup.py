"""After a crash, find the outputs already written so a replay does not write them again.

A task commits the end offsets of its output partitions with its state. Outputs written
after that commit and before the crash are in the log beyond those offsets; their ids
(deterministic: derived from the input record and step) are collected here, and the
replayed task skips exactly those — each output is written once.
"""

from __future__ import annotations

from collections.abc import Mapping

from riskstream.log.port import EventLog
from riskstream.log.records import TopicPartition
from riskstream.stream.output import OUTPUT_ID_HEADER

__all__ = ["input_of", "still_to_replay", "written_since"]


def written_since(
    log: EventLog, starts: Mapping[TopicPartition, int], origin_partitions: set[int]
) -> set[bytes]:
    """Ids of outputs after ``starts`` whose input came from ``origin_partitions``."""
    if not starts:
        return set()
    consumer = log.consumer()
    try:
        # Ask for the ends before assigning: a fetching Kafka consumer answers offset
        # queries only after its long poll.
        ends = {tp: consumer.watermarks(tp)[1] for tp in starts}
        pending = {tp for tp in starts if ends[tp] > starts[tp]}
        consumer.assign(sorted(pending))
        for tp in pending:
            consumer.seek(tp, starts[tp])
        found: set[bytes] = set()
        while pending:
            for record in consumer.poll(max_records=50_000, timeout=0.5):
                tp = record.topic_partition
                if record.offset + 1 >= ends[tp]:
                    pending.discard(tp)
                ident = record.header(OUTPUT_ID_HEADER)
                if ident is not None and _origin_partition(ident) in origin_partitions:
                    found.add(ident)
            pending -= consumer.at_end()
        return found
    finally:
        consumer.close()


def _origin_partition(ident: bytes) -> int:
    # ids are "<topic>/<partition>/<offset>/<seq>" or "timer/<partition>/<step>/<key>/<at>/<seq>"
    parts = ident.split(b"/")
    try:
        return int(parts[-3]) if parts[0] != b"timer" else int(parts[1])
    except (ValueError, IndexError):
        return -1


def input_of(ident: bytes) -> tuple[TopicPartition, int] | None:
    """The input record an output id derives from (``None`` for a timer's output)."""
    parts = ident.split(b"/")
    if len(parts) != 4 or parts[0] == b"timer":
        return None
    try:
        return TopicPartition(parts[0].decode(), int(parts[1])), int(parts[2])
    except (ValueError, UnicodeDecodeError):
        return None


def still_to_replay(
    found: set[bytes], positions: Mapping[TopicPartition, int]
) -> tuple[set[bytes], dict[TopicPartition, int]]:
    """The ids of ``found`` a task resuming at ``positions`` can still produce, and the
    last input offset (per input partition) that made one of them.

    An output of an input before the resume position was written before the commit (its
    acknowledgement had not come back when the commit was sealed): it can never come again.
    Once the task has passed the last offsets, nothing left can match and the set can go.
    """
    kept: set[bytes] = set()
    last: dict[TopicPartition, int] = {}
    for ident in found:
        origin = input_of(ident)
        if origin is None:
            kept.add(ident)
            continue
        tp, offset = origin
        if offset >= positions.get(tp, 0):
            kept.add(ident)
            last[tp] = max(offset, last.get(tp, -1))
    return kept, last

"""What the API knew before it restarted, read back from the tail of the log.

At start-up the idempotency store is refilled from the last records of ``events.checkout``
(the checkouts produced: a retry of one of them must not produce it again) and of
``risk.decisions`` (their verdicts: a retry gets the same answer), up to the store's
capacity, with a consumer that is only assigned (no group, no offsets committed). The
decisions are read up to where the decision waiter starts, so none is missed or seen twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

import msgspec

from riskstream.errors import ConsumerError, EventDecodeError
from riskstream.events import Checkout
from riskstream.events.codec import codec_for
from riskstream.fraud.decision import Decision, decode_decision
from riskstream.log.port import Consumer, EventLog
from riskstream.log.records import Record, TopicPartition

__all__ = ["Recovered", "read_tail", "recover", "watermarks"]

logger = logging.getLogger(__name__)

_TIMEOUT_S: Final = 60.0
_NEW_TOPIC_WAIT_S: Final = 30.0


def watermarks(consumer: Consumer, tp: TopicPartition) -> tuple[int, int]:
    """``consumer.watermarks(tp)``, waiting out a topic just created: Kafka answers
    NOT_LEADER_FOR_PARTITION for a moment after creation, which the client does not retry."""
    deadline = time.monotonic() + _NEW_TOPIC_WAIT_S
    while True:
        try:
            return consumer.watermarks(tp)
        except ConsumerError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


@dataclass(slots=True)
class Recovered:
    """Recent checkouts and decisions, oldest first per partition."""

    checkouts: list[Checkout] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    skipped: int = 0  # records that did not decode


def read_tail(
    log: EventLog,
    topic: str,
    per_partition: int,
    *,
    ends: Mapping[TopicPartition, int] | None = None,
    timeout_s: float = _TIMEOUT_S,
) -> Iterator[Record]:
    """The last ``per_partition`` records of each partition of ``topic``, up to ``ends``
    (default: the ends when the read begins)."""
    if per_partition <= 0 or topic not in set(log.admin.list_topics()):
        return
    partitions = log.admin.describe_topics([topic])[topic].partitions
    consumer = log.consumer(None)
    try:
        stops: dict[TopicPartition, int] = {}
        starts: dict[TopicPartition, int] = {}
        for number in range(partitions):
            tp = TopicPartition(topic, number)
            low, high = watermarks(consumer, tp)
            stop = high if ends is None else min(high, ends.get(tp, high))
            if stop > low:
                stops[tp] = stop
                starts[tp] = max(low, stop - per_partition)
        if not stops:
            return
        consumer.assign(list(stops))
        for tp, start in starts.items():
            consumer.seek(tp, start)
        deadline = time.monotonic() + timeout_s
        while stops:
            if time.monotonic() > deadline:
                logger.warning("recovery: %s not read to its end within %ss", topic, timeout_s)
                return
            for record in consumer.poll(5_000, 0.2):
                until = stops.get(TopicPartition(record.topic, record.partition))
                if until is not None and record.offset < until:
                    yield record
            # Done with a partition once its position passed the stop (compaction gaps and
            # transaction markers mean the record at stop - 1 may never come).
            for tp in [tp for tp, until in stops.items() if consumer.position(tp) >= until]:
                del stops[tp]
            for tp in consumer.at_end():
                stops.pop(tp, None)
    finally:
        consumer.close()


def recover(
    log: EventLog,
    *,
    checkouts_topic: str,
    decisions_topic: str,
    capacity: int,
    decision_ends: Mapping[TopicPartition, int] | None = None,
) -> Recovered:
    """The last ``capacity`` checkouts and decisions (spread over the partitions)."""
    found = Recovered()
    decode_event = codec_for(Checkout.topic).decode
    for record in read_tail(log, checkouts_topic, _share(log, checkouts_topic, capacity)):
        try:
            event = decode_event(record.value)
        except EventDecodeError:
            found.skipped += 1
            continue
        if isinstance(event, Checkout):
            found.checkouts.append(event)
    per_partition = _share(log, decisions_topic, capacity)
    for record in read_tail(log, decisions_topic, per_partition, ends=decision_ends):
        try:
            found.decisions.append(decode_decision(record.value))
        except (msgspec.DecodeError, ValueError):
            found.skipped += 1
    return found


def _share(log: EventLog, topic: str, capacity: int) -> int:
    if topic not in set(log.admin.list_topics()):
        return 0
    partitions = log.admin.describe_topics([topic])[topic].partitions
    return -(-capacity // max(partitions, 1))

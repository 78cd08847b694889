"""The log side of projections: which topics and partitions feed them, decoding what is read.

Views name the standard topics (``risk.decisions``, ``events.label`` …); a :class:`TopicMap`
says where they really are, for deployments (and tests) that keep side-by-side topic sets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from riskstream.errors import EventDecodeError
from riskstream.events import DEFAULT_PARTITIONS
from riskstream.log.port import EventLog
from riskstream.log.records import Record, TopicPartition, TopicSpec
from riskstream.services.projections.facts import Fact, decode_fact
from riskstream.services.projections.view import View

__all__ = [
    "DEFAULT_TOPICS",
    "TopicMap",
    "decode_batch",
    "ensure_topics",
    "log_ends",
    "partitions_of",
    "topics_of",
]

logger = logging.getLogger(__name__)


class TopicMap:
    """Standard topic name → the topic that holds it (identity for names not mapped)."""

    __slots__ = ("_actual", "_standard")

    def __init__(self, renames: Mapping[str, str] | None = None) -> None:
        self._actual = dict(renames or {})
        self._standard = {real: standard for standard, real in self._actual.items()}

    def actual(self, standard: str) -> str:
        return self._actual.get(standard, standard)

    def standard(self, actual: str) -> str:
        return self._standard.get(actual, actual)

    @classmethod
    def prefixed(cls, prefix: str, standards: Iterable[str]) -> TopicMap:
        """Every topic of ``standards`` under ``prefix``."""
        return cls({topic: prefix + topic for topic in standards})

    def __repr__(self) -> str:
        return f"TopicMap({self._actual!r})"


DEFAULT_TOPICS: Final = TopicMap()


def topics_of(views: Iterable[View], topics: TopicMap = DEFAULT_TOPICS) -> list[str]:
    """The actual topics feeding ``views``."""
    return sorted({topics.actual(topic) for view in views for topic in view.topics})


def ensure_topics(log: EventLog, topics: Sequence[str]) -> None:
    """Create the topics that do not exist yet, co-partitioned with those that do (a
    projector may start before the worker or the Fraud Service has written anything)."""
    existing = set(log.admin.list_topics())
    missing = [topic for topic in topics if topic not in existing]
    if not missing:
        return
    described = log.admin.describe_topics([topic for topic in topics if topic in existing])
    partitions = max((spec.partitions for spec in described.values()), default=DEFAULT_PARTITIONS)
    log.admin.create_topics(
        [TopicSpec(name=topic, partitions=partitions) for topic in missing], exist_ok=True
    )


def partitions_of(log: EventLog, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of the ``topics`` that exist."""
    existing = set(log.admin.list_topics())
    described = log.admin.describe_topics([topic for topic in topics if topic in existing])
    return [
        TopicPartition(topic, number)
        for topic in sorted(described)
        for number in range(described[topic].partitions)
    ]


def log_ends(log: EventLog, topics: Sequence[str]) -> dict[TopicPartition, int]:
    """The end offset of every partition of ``topics`` that holds records now."""
    probe = log.consumer()  # never assigned: it only asks for watermarks
    try:
        ends: dict[TopicPartition, int] = {}
        for tp in partitions_of(log, topics):
            low, high = probe.watermarks(tp)
            if high > low:
                ends[tp] = high
        return ends
    finally:
        probe.close()


def decode_batch(
    records: Sequence[Record], topics: TopicMap = DEFAULT_TOPICS
) -> tuple[list[Fact | None], int]:
    """The facts of ``records`` (``None`` where a record does not decode) and how many did
    not: those are logged with their place and skipped — their offsets still move on."""
    facts: list[Fact | None] = []
    bad = 0
    for record in records:
        try:
            facts.append(decode_fact(record, topics.standard(record.topic)))
        except EventDecodeError as exc:
            bad += 1
            facts.append(None)
            logger.warning("projection skips an undecodable record: %s", exc)
    return facts, bad

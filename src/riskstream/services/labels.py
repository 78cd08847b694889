"""Fraud labels from the log: which transactions turned out to be fraud, and since when.

A label is evidence that a checkout was fraud, arriving after it: today a ``Chargeback``
or a confirmed ``FraudReported`` on ``events.label``. What training and backtests need is
the *first* label time per transaction (training at ``T`` may only use labels that had
arrived by ``T``)::

    labels = read_labels(log)
    labels.times["tx-7"]        # event time of its first label; absent: never labelled

Each kind of evidence is a :class:`LabelSource` - the topics it reads and what it finds in
their records - and the sources' findings merge by earliest time. That is where more
evidence joins: the outcomes of MFA challenges (a customer denying a payment), once the
Fraud Service records them, become one more source in :data:`DEFAULT_SOURCES`, and every
caller picks them up. Reading goes through :func:`~riskstream.services.history.read_topic`:
no consumer group, nothing committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from riskstream.errors import EventDecodeError
from riskstream.events import Chargeback, FraudReported, codec_for
from riskstream.fraud.model import first_label_times
from riskstream.log.port import EventLog
from riskstream.log.records import Record
from riskstream.services.history import read_topic

__all__ = [
    "DEFAULT_SOURCES",
    "LABEL_TOPIC",
    "REPORTED_FRAUD",
    "LabelSource",
    "Labels",
    "ReportedFraud",
    "collect_labels",
    "read_labels",
]

LABEL_TOPIC: Final = Chargeback.topic
"""Where chargebacks and fraud reports arrive (``events.label``)."""


@dataclass(frozen=True, slots=True)
class Labels:
    """Transaction id → event time of its first label; ``events`` label events were read
    and ``undecodable`` records were skipped (bad input is counted, never fatal here)."""

    times: Mapping[str, int] = field(default_factory=dict)
    events: int = 0
    undecodable: int = 0

    def __len__(self) -> int:
        return len(self.times)

    def merged(self, other: Labels) -> Labels:
        """Both findings; a transaction labelled by both keeps the earlier time."""
        times = dict(self.times)
        for transaction, when in other.times.items():
            seen = times.get(transaction)
            if seen is None or when < seen:
                times[transaction] = when
        return Labels(times, self.events + other.events, self.undecodable + other.undecodable)


class LabelSource(Protocol):
    """One kind of fraud evidence: the topics it reads, and its labels in their records."""

    @property
    def topics(self) -> tuple[str, ...]: ...

    def collect(self, records: Iterable[Record]) -> Labels:
        """The labels in ``records`` (records of other topics are ignored)."""
        ...


class ReportedFraud:
    """Chargebacks and confirmed fraud reports (``events.label``)."""

    topics: tuple[str, ...] = (LABEL_TOPIC,)

    def collect(self, records: Iterable[Record]) -> Labels:
        codec = codec_for(LABEL_TOPIC)
        events: list[Chargeback | FraudReported] = []
        undecodable = 0
        for record in records:
            if record.topic != LABEL_TOPIC:
                continue
            try:
                event = codec.decode(record.value)
            except EventDecodeError:
                undecodable += 1
                continue
            if isinstance(event, Chargeback | FraudReported):
                events.append(event)
        return Labels(first_label_times(events), len(events), undecodable)


REPORTED_FRAUD: Final = ReportedFraud()

#: The label sources training and backtests use.
DEFAULT_SOURCES: Final[tuple[LabelSource, ...]] = (REPORTED_FRAUD,)


def collect_labels(
    records: Iterable[Record], sources: Iterable[LabelSource] = DEFAULT_SOURCES
) -> Labels:
    """The labels every source finds in ``records``, merged."""
    kept = list(records)
    found = Labels()
    for source in sources:
        found = found.merged(source.collect(kept))
    return found


def read_labels(log: EventLog, sources: Iterable[LabelSource] = DEFAULT_SOURCES) -> Labels:
    """Every label on ``log`` (sources whose topics do not exist yet find nothing)."""
    present = set(log.admin.list_topics())
    found = Labels()
    for source in sources:
        topics = [topic for topic in source.topics if topic in present]
        if topics:
            found = found.merged(source.collect(read_topic(log, topics)))
    return found

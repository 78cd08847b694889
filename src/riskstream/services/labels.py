"""Fraud labels from the log: which transactions turned out to be fraud, and since when.

A label is evidence that a checkout was fraud, arriving after it: a ``Chargeback``, a
confirmed ``FraudReported`` or a failed MFA challenge (``MfaCompleted``, ``passed=False``) on
``events.label``. What training and backtests need is the *first* label time per transaction
(training at ``T`` may only use labels that had arrived by ``T``)::

    labels = read_labels(log)
    labels.times["tx-7"]        # event time of its first label; absent: never labelled
    labels.cleared["tx-9"]      # the customer passed the MFA challenge then

Each kind of evidence is a :class:`LabelSource` - the topics it reads and what it finds in
their records - and the sources' findings merge by earliest time; every caller uses
:data:`DEFAULT_SOURCES`, or :func:`label_sources` of a label topic under another name (an
isolated run's ``<prefix>events.label``: ``read_labels(log, topic=...)``). Reading goes
through :func:`~riskstream.services.history.read_topic`: no consumer group, nothing committed.

A *passed* MFA challenge is not a label, and training does not treat it as one: the
checkout stays what an unlabelled checkout is - legitimate - unless fraud evidence arrives
later (a stolen phone passes MFA too; a chargeback then still labels the checkout, at its
own time). :attr:`Labels.cleared` keeps those outcomes apart, for reports on challenges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from riskstream.errors import EventDecodeError
from riskstream.events import Chargeback, FraudReported, MfaCompleted, codec_for
from riskstream.fraud.model import first_label_times
from riskstream.log.port import EventLog
from riskstream.log.records import Record
from riskstream.services.history import read_topic

__all__ = [
    "DEFAULT_SOURCES",
    "LABEL_TOPIC",
    "MFA_OUTCOMES",
    "REPORTED_FRAUD",
    "LabelSource",
    "Labels",
    "MfaOutcomes",
    "ReportedFraud",
    "collect_labels",
    "label_sources",
    "read_labels",
]

LABEL_TOPIC: Final = Chargeback.topic
"""Where chargebacks, fraud reports and MFA outcomes arrive (``events.label``)."""


@dataclass(frozen=True, slots=True)
class Labels:
    """Transaction id → event time of its first label; ``events`` label events were read
    and ``undecodable`` records were skipped (bad input is counted, never fatal here).
    ``cleared``: transaction id → time its customer passed an MFA challenge (not a label)."""

    times: Mapping[str, int] = field(default_factory=dict)
    events: int = 0
    undecodable: int = 0
    cleared: Mapping[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.times)

    def merged(self, other: Labels) -> Labels:
        """Both findings; a transaction labelled by both keeps the earlier time."""
        return Labels(
            _earliest(self.times, other.times),
            self.events + other.events,
            self.undecodable + other.undecodable,
            _earliest(self.cleared, other.cleared),
        )


def _earliest(ours: Mapping[str, int], theirs: Mapping[str, int]) -> dict[str, int]:
    merged = dict(ours)
    for transaction, when in theirs.items():
        seen = merged.get(transaction)
        if seen is None or when < seen:
            merged[transaction] = when
    return merged


class LabelSource(Protocol):
    """One kind of fraud evidence: the topics it reads, and its labels in their records."""

    @property
    def topics(self) -> tuple[str, ...]: ...

    def collect(self, records: Iterable[Record]) -> Labels:
        """The labels in ``records`` (records of other topics are ignored)."""
        ...


class ReportedFraud:
    """Chargebacks and confirmed fraud reports on ``topic`` (by default ``events.label``)."""

    def __init__(self, topic: str = LABEL_TOPIC) -> None:
        self.topic = topic
        self.topics: tuple[str, ...] = (topic,)

    def collect(self, records: Iterable[Record]) -> Labels:
        codec = codec_for(LABEL_TOPIC)
        events: list[Chargeback | FraudReported] = []
        undecodable = 0
        for record in records:
            if record.topic != self.topic:
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

# An MFA outcome's tag on the wire: the only records of the topic this source decodes.
_MFA_TAG: Final = b'"mfa_completed"'


class MfaOutcomes:
    """Answers to MFA challenges (``MfaCompleted`` on ``topic``, by default ``events.label``):
    the first answer to a transaction's challenge counts, as in the Fraud Service; failed is
    a fraud label at its event time, passed goes to :attr:`Labels.cleared`.

    Only records tagged as MFA outcomes are decoded (and, if broken, counted undecodable):
    :class:`ReportedFraud` reads the same topic and counts the rest.
    """

    def __init__(self, topic: str = LABEL_TOPIC) -> None:
        self.topic = topic
        self.topics: tuple[str, ...] = (topic,)

    def collect(self, records: Iterable[Record]) -> Labels:
        codec = codec_for(LABEL_TOPIC)
        first: dict[str, MfaCompleted] = {}
        events = undecodable = 0
        for record in records:
            if record.topic != self.topic or _MFA_TAG not in (record.value or b""):
                continue
            try:
                event = codec.decode(record.value)
            except EventDecodeError:
                undecodable += 1
                continue
            if isinstance(event, MfaCompleted):
                events += 1
                first.setdefault(event.transaction_id, event)
        failed = {tx: a.event_time for tx, a in first.items() if not a.passed}
        passed = {tx: a.event_time for tx, a in first.items() if a.passed}
        return Labels(failed, events, undecodable, passed)


MFA_OUTCOMES: Final = MfaOutcomes()

#: The label sources training and backtests use.
DEFAULT_SOURCES: Final[tuple[LabelSource, ...]] = (REPORTED_FRAUD, MFA_OUTCOMES)


def label_sources(topic: str = LABEL_TOPIC) -> tuple[LabelSource, ...]:
    """The kinds of evidence of :data:`DEFAULT_SOURCES`, read from ``topic``."""
    if topic == LABEL_TOPIC:
        return DEFAULT_SOURCES
    return (ReportedFraud(topic), MfaOutcomes(topic))


def collect_labels(
    records: Iterable[Record], sources: Iterable[LabelSource] = DEFAULT_SOURCES
) -> Labels:
    """The labels every source finds in ``records``, merged."""
    kept = list(records)
    found = Labels()
    for source in sources:
        found = found.merged(source.collect(kept))
    return found


def read_labels(
    log: EventLog, sources: Iterable[LabelSource] | None = None, *, topic: str | None = None
) -> Labels:
    """Every label on ``log`` (sources whose topics do not exist yet find nothing):
    ``sources``' findings, by default :data:`DEFAULT_SOURCES`' - or theirs on ``topic``
    (:func:`label_sources`; give one or the other)."""
    if sources is None:
        sources = label_sources(LABEL_TOPIC if topic is None else topic)
    elif topic is not None:
        raise ValueError("read_labels takes sources or a label topic, not both")
    present = set(log.admin.list_topics())
    found = Labels()
    for source in sources:
        topics = [topic for topic in source.topics if topic in present]
        if topics:
            found = found.merged(source.collect(read_topic(log, topics)))
    return found

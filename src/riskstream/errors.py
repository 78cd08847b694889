"""The riskstream exception tree.

Every error the package raises on purpose derives from :class:`RiskstreamError`::

    RiskstreamError
    ├── ConfigError                  bad settings or log URL
    ├── EventError
    │   ├── EventEncodeError         an event could not be serialised
    │   └── EventDecodeError         bytes that are not a valid event (names the field path,
    │                                carries the raw record and where it was read)
    └── LogError
        ├── LogClosedError           use of a closed log, producer or consumer
        ├── TopicError
        │   ├── UnknownTopicError
        │   └── TopicExistsError
        ├── ProduceError             a record was not acknowledged
        │   ├── TransactionAbortedError  a transaction must be aborted; the producer goes on
        │   └── RedriveError         a dead-letter re-drive stopped (riskstream.log.dlq)
        ├── ConsumerError
        │   ├── CommitFailedError    the consumer no longer owns the partition (fenced)
        │   └── NotAssignedError     seek/position on a partition the consumer does not hold
        └── LogCorruptionError       the embedded store failed an integrity check

The state layer adds its subtree in ``riskstream.state.errors``::

    RiskstreamError
    └── StateError                   a state store cannot serve or commit
        ├── ChangelogError           a changelog write failed (final for the store)
        ├── StoreLockedError         another process holds the store's files
        ├── SnapshotError            a snapshot stream is malformed
        └── StateDecodeError         stored bytes do not decode to the state's type

The fraud domain adds ``riskstream.fraud.rules.errors`` and its siblings::

    RiskstreamError
    ├── RuleError                    a rule file does not parse or type-check (file:line:col)
    │   └── RuleSetError             every problem of a rule set that was refused as a whole
    ├── FeatureError                 a features file problem (file:line:col), in
    │   └── FeatureSpecError         ``riskstream.fraud.features.errors``: the file was refused
    └── ModelError                   ``riskstream.fraud.model.errors``
        ├── TrainingError            no model can be trained from these rows
        ├── ArtifactError            bytes that are not a valid model artifact
        ├── ModelFeatureMismatch     the feature engine lacks features the model needs
        └── FeatureValueError        a feature value the model's encoder cannot read

The services add ``riskstream.services.hotreload.Rejected`` (a published rule set, list entry
or model that was not applied: the previous one stays in force).

Errors about a record carry ``topic``/``partition``/``offset`` and the raw bytes so a
caller can route the record to a dead-letter topic with the reason in its headers.
"""

from __future__ import annotations

__all__ = [
    "CommitFailedError",
    "ConfigError",
    "ConsumerError",
    "EventDecodeError",
    "EventEncodeError",
    "EventError",
    "LogClosedError",
    "LogCorruptionError",
    "LogError",
    "NotAssignedError",
    "ProduceError",
    "RiskstreamError",
    "TopicError",
    "TopicExistsError",
    "TransactionAbortedError",
    "UnknownTopicError",
]


class RiskstreamError(Exception):
    """Root of every error riskstream raises on purpose."""


class ConfigError(RiskstreamError):
    """Settings or a log URL that cannot work."""


class EventError(RiskstreamError):
    """An event could not be encoded or decoded."""


class EventEncodeError(EventError):
    """An event could not be serialised."""


class EventDecodeError(EventError):
    """Bytes that are not a valid event for their topic.

    ``path`` is the JSON path of the offending field (``$`` when the payload as a whole is
    malformed); ``topic``/``partition``/``offset`` say where the record was read, when known.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str = "$",
        raw: bytes | None = None,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> None:
        self.reason = reason
        self.path = path
        self.raw = raw
        self.topic = topic
        self.partition = partition
        self.offset = offset
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = ""
        if self.topic is not None:
            where = f" in {self.topic}[{self.partition}]@{self.offset}"
        return f"invalid event{where} at {self.path}: {self.reason}"

    def located(self, topic: str, partition: int, offset: int) -> EventDecodeError:
        """The same error, stamped with where its record was read."""
        return EventDecodeError(
            self.reason,
            path=self.path,
            raw=self.raw,
            topic=topic,
            partition=partition,
            offset=offset,
        )


class LogError(RiskstreamError):
    """A failure of the event log or of one of its backends.

    ``code`` names the backend's error when there is one (e.g. ``UNKNOWN_TOPIC_OR_PART``).
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class LogClosedError(LogError):
    """The log, producer or consumer was already closed."""


class TopicError(LogError):
    """A topic-level failure."""


class UnknownTopicError(TopicError):
    """The topic does not exist."""


class TopicExistsError(TopicError):
    """The topic already exists."""


class ProduceError(LogError):
    """A record was not acknowledged by the log."""


class TransactionAbortedError(ProduceError):
    """A transaction cannot commit (e.g. the consumer group rebalanced under it) and must be
    aborted; unlike a plain :class:`ProduceError` from a transaction (fenced by a newer
    producer with the same id, a fatal error), the producer can begin another."""


class ConsumerError(LogError):
    """A consumer-level failure."""


class CommitFailedError(ConsumerError):
    """Offsets could not be committed because the partition moved to another member."""


class NotAssignedError(ConsumerError):
    """The consumer does not hold the partition it was asked about."""


class LogCorruptionError(LogError):
    """The embedded log's files failed an integrity check."""

"""Translation of librdkafka errors into the riskstream error tree."""

from __future__ import annotations

from typing import Final

from confluent_kafka import KafkaError, KafkaException

from riskstream.errors import (
    CommitFailedError,
    ConfigError,
    ConsumerError,
    LogError,
    TopicExistsError,
    UnknownTopicError,
)

__all__ = [
    "COMMIT_FENCED",
    "UNKNOWN_TOPIC",
    "commit_error",
    "creation_error",
    "describe",
    "error_code",
    "kafka_error",
    "translate",
]

UNKNOWN_TOPIC: Final = frozenset(
    {
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
    }
)

# The member no longer owns what it commits: the group moved on without it.
COMMIT_FENCED: Final = frozenset(
    {
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.FENCED_INSTANCE_ID,
        # types-confluent-kafka 1.4 predates KIP-848's member epochs; confluent-kafka has them.
        KafkaError.STALE_MEMBER_EPOCH,
        KafkaError.FENCED_MEMBER_EPOCH,
        KafkaError._ASSIGNMENT_LOST,
        KafkaError._FENCED,
        # close() revokes the partitions while the handle is being destroyed: a commit made
        # in that revocation cannot reach the group any more.
        KafkaError._DESTROY,
    }
)


def kafka_error(exc: KafkaException) -> KafkaError | None:
    """The ``KafkaError`` a ``KafkaException`` carries, if any."""
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, KafkaError) else None


def error_code(exc: KafkaException) -> int | None:
    err = kafka_error(exc)
    return err.code() if err is not None else None


def describe(err: KafkaError | KafkaException) -> str:
    """``NAME: reason``, e.g. ``UNKNOWN_TOPIC_OR_PART: Broker: Unknown topic or partition``."""
    if isinstance(err, KafkaException):
        inner = kafka_error(err)
        if inner is None:
            return str(err)
        err = inner
    return f"{err.name()}: {err.str()}"


def translate(
    err: KafkaError | KafkaException, context: str, default: type[LogError] = LogError
) -> LogError:
    """Our error for a librdkafka error; ``default`` when no more specific class applies."""
    inner = kafka_error(err) if isinstance(err, KafkaException) else err
    code = inner.code() if inner is not None else None
    message = f"{context}: {describe(err)}"
    if code in UNKNOWN_TOPIC:
        return UnknownTopicError(message)
    if code == KafkaError.TOPIC_ALREADY_EXISTS:
        return TopicExistsError(message)
    if code in COMMIT_FENCED and issubclass(default, ConsumerError):
        return CommitFailedError(message)
    return default(message)


def commit_error(err: KafkaError | KafkaException, context: str) -> LogError:
    return translate(err, context, ConsumerError)


def creation_error(exc: KafkaException, kind: str, default: type[LogError] = LogError) -> Exception:
    """Why a client could not be created: bad options are a ``ConfigError``."""
    if error_code(exc) == KafkaError._INVALID_ARG:
        return ConfigError(f"invalid kafka {kind} options: {describe(exc)}")
    return translate(exc, f"cannot create kafka {kind}", default)

"""librdkafka configurations for the three client kinds, built from the log's options.

Options are raw librdkafka properties passed through untouched. A key prefixed with
``producer.``, ``consumer.`` or ``admin.`` applies only to that kind of client (prefix
stripped), so ``producer.compression.type=zstd`` does not make consumers warn about a
producer-only property. Precedence, lowest first: our defaults, unprefixed options, prefixed
options, then the port's arguments (``linger_ms``, ``group_id``, ``auto_offset_reset``,
``session_timeout_ms``), which name their value explicitly.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Final, Literal

from riskstream.errors import ConfigError

__all__ = [
    "ClientKind",
    "SplitOptions",
    "admin_config",
    "consumer_config",
    "producer_config",
    "redact",
    "split_options",
]

ClientKind = Literal["producer", "consumer", "admin"]
_KINDS: Final[tuple[ClientKind, ...]] = ("producer", "consumer", "admin")

CLIENT_DEFAULTS: Final[Mapping[str, str]] = {
    # TCP_NODELAY, as the Java clients always set it: a small request (a 1 ms linger's
    # batch, a fetch, an offset query) never waits for the peer's ACK of the previous one
    # (Nagle with delayed ACKs stalls such a write by up to 40 ms on a real network). On
    # loopback it measured neutral (benchmarks/README.md, "Kafka client settings").
    "socket.nagle.disable": "true",
}

PRODUCER_DEFAULTS: Final[Mapping[str, str]] = {
    **CLIENT_DEFAULTS,
    # Retries neither duplicate nor reorder records, and an acknowledged record is on every
    # in-sync replica.
    "enable.idempotence": "true",
    "acks": "all",
    # librdkafka defaults to CRC32; murmur2_random is Java's default and our partition_for,
    # so a key lands on the same partition on every backend.
    "partitioner": "murmur2_random",
    # The port spreads keyless records; sticky partitioning would send a whole linger's
    # worth of them to a single partition.
    "sticky.partitioning.linger.ms": "0",
    # Big batches and a deep queue: librdkafka's 10k-message batches and 100k-message queue
    # fill in a fraction of a second at the rates the hot path produces.
    "batch.num.messages": "100000",
    "batch.size": "4000000",
    "queue.buffering.max.messages": "2000000",
    "queue.buffering.max.kbytes": "2097152",
    # lz4 measured faster than none end to end (less for the broker to write and serve),
    # and cheaper than zstd or snappy.
    "compression.type": "lz4",
}

CONSUMER_DEFAULTS: Final[Mapping[str, str]] = {
    **CLIENT_DEFAULTS,
    "partition.assignment.strategy": "cooperative-sticky",
    # Transactions are used by later stages; never expose aborted or open transactions.
    "isolation.level": "read_committed",
    # A deep local prefetch so poll() rarely waits on the network, refilled promptly: with
    # the default 1 s backoff a fast consumer drains the full queue and then idles.
    "queued.min.messages": "500000",
    "queued.max.messages.kbytes": "131072",
    "fetch.max.bytes": "104857600",
    "max.partition.fetch.bytes": "8388608",
    "fetch.queue.backoff.ms": "10",
    # fetch.wait.max.ms stays at 500 and fetch.min.bytes at 1: the broker answers a parked
    # fetch as soon as a record is appended, so neither delays records; a shorter wait only
    # adds empty fetches when idle, and a larger min.bytes batches fetches at the cost of
    # latency (measured: p50 +1 to +4 ms, p99 no better).
}

# Consumer properties the port's semantics rest on: commits only through commit(), and
# end-of-partition events for at_end().
CONSUMER_PINNED: Final[Mapping[str, str]] = {
    "enable.auto.commit": "false",
    "enable.partition.eof": "true",
}

_SECRET_MARKERS: Final = ("password", "secret", "ssl.key.pem", "sasl.oauthbearer.config")


class SplitOptions:
    """Options shared by every client plus the per-kind overrides."""

    __slots__ = ("common", "per_kind")

    def __init__(self, common: dict[str, str], per_kind: dict[ClientKind, dict[str, str]]) -> None:
        self.common = common
        self.per_kind = per_kind

    def for_kind(self, kind: ClientKind) -> dict[str, str]:
        return {**self.common, **self.per_kind[kind]}


def split_options(options: Mapping[str, str] | None) -> SplitOptions:
    """Separate ``producer.``/``consumer.``/``admin.``-prefixed keys from shared ones."""
    common: dict[str, str] = {}
    per_kind: dict[ClientKind, dict[str, str]] = {kind: {} for kind in _KINDS}
    for key, value in (options or {}).items():
        if not isinstance(value, str):
            raise ConfigError(f"kafka option {key!r} must be a string, got {type(value).__name__}")
        for kind in _KINDS:
            prefix = kind + "."
            if key.startswith(prefix):
                per_kind[kind][key[len(prefix) :]] = value
                break
        else:
            common[key] = value
    return SplitOptions(common, per_kind)


def producer_config(bootstrap: str, options: SplitOptions, *, linger_ms: int) -> dict[str, str]:
    config = {**PRODUCER_DEFAULTS, **options.for_kind("producer")}
    config["bootstrap.servers"] = bootstrap
    config["linger.ms"] = str(linger_ms)
    return config


def consumer_config(
    bootstrap: str,
    options: SplitOptions,
    *,
    group_id: str | None,
    auto_offset_reset: str,
    session_timeout_ms: int,
) -> dict[str, str]:
    user = options.for_kind("consumer")
    for key, required in CONSUMER_PINNED.items():
        if key in user and user[key].lower() != required:
            raise ConfigError(f"kafka consumer option {key}={user[key]!r} is not supported")
    config = {**CONSUMER_DEFAULTS, **user, **CONSUMER_PINNED}
    config["bootstrap.servers"] = bootstrap
    # confluent-kafka refuses a consumer without group.id; a group-less consumer only ever
    # assigns partitions itself and never commits, so a private throwaway id is harmless.
    config["group.id"] = group_id or f"riskstream-standalone-{uuid.uuid4().hex}"
    config["auto.offset.reset"] = auto_offset_reset
    if config.get("group.protocol", "classic").lower() == "consumer":
        # KIP-848: the broker assigns partitions (always incrementally) and owns the
        # session and heartbeat timing; librdkafka rejects these client-side settings.
        for key in ("partition.assignment.strategy", "session.timeout.ms", "heartbeat.interval.ms"):
            config.pop(key, None)
        return config
    strategy = config["partition.assignment.strategy"]
    if strategy != "cooperative-sticky":
        # The port's on_assign/on_revoke are incremental; eager strategies revoke everything.
        raise ConfigError(
            f"kafka partition.assignment.strategy={strategy!r}: only cooperative-sticky "
            "gives the port's incremental rebalances"
        )
    config["session.timeout.ms"] = str(session_timeout_ms)
    # Kafka's guidance: heartbeat at most every third of the session timeout.
    config["heartbeat.interval.ms"] = str(max(100, session_timeout_ms // 3))
    return config


def admin_config(bootstrap: str, options: SplitOptions) -> dict[str, str]:
    config = {**CLIENT_DEFAULTS, **options.for_kind("admin")}
    config["bootstrap.servers"] = bootstrap
    return config


def redact(options: Mapping[str, str]) -> dict[str, str]:
    """``options`` with credentials masked, for URLs and logs."""
    return {
        key: "***" if any(marker in key.lower() for marker in _SECRET_MARKERS) else value
        for key, value in options.items()
    }

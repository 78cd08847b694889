"""Open an event log from its URL: ``embedded:…``, ``kafka://…`` or ``memory:``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from riskstream.errors import ConfigError
from riskstream.log.port import EventLog

__all__ = ["DEFAULT_LOG_URL", "embedded_path", "kafka_options", "open_log"]

DEFAULT_LOG_URL = "embedded:.riskstream/log"


def embedded_path(url: str) -> Path:
    """The directory of an ``embedded:`` URL (``embedded:///abs`` or ``embedded:rel``)."""
    rest = url.removeprefix("embedded:")
    if rest.startswith("//"):
        rest = rest[2:]
    if not rest:
        raise ConfigError(f"embedded log URL needs a directory: {url!r}")
    return Path(rest)


def kafka_options(url: str) -> tuple[str, dict[str, str]]:
    """Bootstrap servers and librdkafka options (query parameters) of a ``kafka://`` URL."""
    parts = urlsplit(url)
    if not parts.netloc:
        raise ConfigError(f"kafka log URL needs host:port: {url!r}")
    return parts.netloc, dict(parse_qsl(parts.query))


def open_log(url: str = DEFAULT_LOG_URL, *, options: Mapping[str, str] | None = None) -> EventLog:
    """The log backend a URL names; ``options`` pass through to the backend untouched."""
    extra = dict(options or {})
    if url.startswith("embedded:"):
        from riskstream.log.embedded import EmbeddedLog  # noqa: PLC0415 - backends load on demand

        return EmbeddedLog(embedded_path(url), options=extra)
    if url.startswith("kafka://"):
        from riskstream.log.kafka import KafkaLog  # noqa: PLC0415 - confluent_kafka loads only here

        bootstrap, query = kafka_options(url)
        return KafkaLog(bootstrap, options={**query, **extra})
    if url.startswith("memory:"):
        from riskstream.log.memory import MemoryLog  # noqa: PLC0415

        return MemoryLog()
    raise ConfigError(f"unknown log URL scheme (expected embedded:, kafka:// or memory:): {url!r}")

"""Typed settings, read from ``RISKSTREAM_*`` environment variables (and a ``.env`` file)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from riskstream.events.topics import DEFAULT_PARTITIONS
from riskstream.log.url import DEFAULT_LOG_URL

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything a riskstream process is configured with; one field, one variable."""

    model_config = SettingsConfigDict(env_prefix="RISKSTREAM_", env_file=".env", extra="ignore")

    log_url: str = Field(
        DEFAULT_LOG_URL,
        description="Event log URL: embedded:<dir> or kafka://host:port[,host:port]. "
        "Env: RISKSTREAM_LOG_URL",
    )
    log_options: dict[str, str] = Field(
        default_factory=dict,
        description="Backend options passed through untouched (librdkafka keys for Kafka, e.g. "
        '{"security.protocol": "SASL_SSL"}), as JSON. Env: RISKSTREAM_LOG_OPTIONS',
    )
    partitions: int = Field(
        DEFAULT_PARTITIONS,
        ge=1,
        description="Partitions of the event topics riskstream creates. Env: RISKSTREAM_PARTITIONS",
    )

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
    features_file: str | None = Field(
        None,
        description="A features file declaring the aggregate features (default: the shipped "
        "default.features). Env: RISKSTREAM_FEATURES_FILE",
    )
    review_threshold: float = Field(
        30.0,
        description="Risk score from which a checkout is reviewed. "
        "Env: RISKSTREAM_REVIEW_THRESHOLD",
    )
    challenge_threshold: float = Field(
        60.0,
        description="Risk score from which a checkout is challenged (MFA). "
        "Env: RISKSTREAM_CHALLENGE_THRESHOLD",
    )
    block_threshold: float = Field(
        90.0,
        description="Risk score from which a checkout is blocked. Env: RISKSTREAM_BLOCK_THRESHOLD",
    )
    model_weight: float = Field(
        2000.0,
        description="Points of risk score per unit of the champion model's fraud probability. "
        "Env: RISKSTREAM_MODEL_WEIGHT",
    )
    api_keys: dict[str, list[str]] = Field(
        default_factory=dict,
        description="API keys and their scopes (checkout, events, mfa, read, admin, or *), "
        'as JSON: {"key": ["checkout", "read"]}. Env: RISKSTREAM_API_KEYS',
    )

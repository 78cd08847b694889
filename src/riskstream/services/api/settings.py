"""Settings of the HTTP API, read from ``RISKSTREAM_API_*`` environment variables.

Kept beside the process-wide :class:`~riskstream.settings.Settings` (log URL, keys,
partitions), which :func:`~riskstream.services.api.app.create_app` takes as well.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ApiSettings", "TimeoutAction"]


class TimeoutAction(StrEnum):
    """What a checkout gets when its decision misses the budget."""

    ALLOW = "allow"  # fail open: the sale goes through, the engine's verdict follows later
    REVIEW = "review"  # fail closed, softly: held for a person to look at
    BLOCK = "block"  # fail closed

    @property
    def policy(self) -> str:
        return "fail-open" if self is TimeoutAction.ALLOW else "fail-closed"


class ApiSettings(BaseSettings):
    """How the checkout and ingestion endpoints behave; one field, one variable."""

    model_config = SettingsConfigDict(env_prefix="RISKSTREAM_API_", env_file=".env", extra="ignore")

    decision_budget_ms: int = Field(
        250,
        ge=1,
        le=60_000,
        description="How long POST /v1/checkouts waits for the engine's decision. "
        "Env: RISKSTREAM_API_DECISION_BUDGET_MS",
    )
    timeout_action: TimeoutAction = Field(
        TimeoutAction.REVIEW,
        description="The answer when the decision misses the budget: allow (fail open), "
        "review or block (fail closed). Env: RISKSTREAM_API_TIMEOUT_ACTION",
    )
    idempotency_entries: int = Field(
        100_000,
        ge=1,
        description="How many recent transactions the API remembers (and reads back from the "
        "log at start-up) to answer retries. Env: RISKSTREAM_API_IDEMPOTENCY_ENTRIES",
    )
    max_batch_events: int = Field(
        10_000,
        ge=1,
        description="Most events one POST /v1/events may carry. "
        "Env: RISKSTREAM_API_MAX_BATCH_EVENTS",
    )
    max_body_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted. Env: RISKSTREAM_API_MAX_BODY_BYTES",
    )
    topic_prefix: str = Field(
        "",
        description="Prefix of every topic the API reads and writes (a namespace of its own "
        "beside other deployments on one broker). Env: RISKSTREAM_API_TOPIC_PREFIX",
    )

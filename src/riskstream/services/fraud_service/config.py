"""What the Fraud Service is configured with: its topics and the terms of a challenge.

:class:`FraudServiceConfig` is the plain value the topology, the challenge book and the MFA
submitter share; :class:`FraudServiceSettings` reads its tunable parts from ``RISKSTREAM_*``
environment variables, like :class:`~riskstream.settings.Settings` does for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from riskstream.events import TRANSACTIONS_TOPIC, MfaCompleted
from riskstream.fraud.topology import DECISIONS_TOPIC

__all__ = [
    "DEFAULT_MFA_TIMEOUT_MS",
    "FRAUD_SERVICE_APPLICATION",
    "FraudServiceConfig",
    "FraudServiceSettings",
]

FRAUD_SERVICE_APPLICATION: Final = "riskstream-fraud-service"
DEFAULT_MFA_TIMEOUT_MS: Final = 5 * 60_000


@dataclass(frozen=True, kw_only=True)
class FraudServiceConfig:
    """Topics and terms of one Fraud Service (tests give it topics of their own).

    ``mfa_timeout_ms`` counts from the decision (``decided_at``), so a replayed decision
    issues the very same challenge; ``channel`` is where challenges are sent.
    """

    application: str = FRAUD_SERVICE_APPLICATION
    decisions_topic: str = DECISIONS_TOPIC
    labels_topic: str = MfaCompleted.topic
    transactions_topic: str = TRANSACTIONS_TOPIC
    mfa_timeout_ms: int = DEFAULT_MFA_TIMEOUT_MS
    channel: str = "sms"
    source: str = "fraud-service"  # the ``source`` of the events the service writes

    def __post_init__(self) -> None:
        if self.mfa_timeout_ms <= 0:
            raise ValueError(f"the MFA timeout must be positive, got {self.mfa_timeout_ms} ms")

    def prefixed(self, prefix: str) -> FraudServiceConfig:
        """The same service with ``prefix`` before its topics and group (a deployment's
        namespace on a shared broker; ``""`` changes nothing)."""
        if not prefix:
            return self
        return replace(
            self,
            application=prefix + self.application,
            decisions_topic=prefix + self.decisions_topic,
            labels_topic=prefix + self.labels_topic,
            transactions_topic=prefix + self.transactions_topic,
        )

    @classmethod
    def isolated(
        cls, namespace: str, *, mfa_timeout_ms: int = DEFAULT_MFA_TIMEOUT_MS, channel: str = "sms"
    ) -> FraudServiceConfig:
        """Every topic and the group carry ``namespace`` (side-by-side runs, tests)."""
        return cls(
            application=f"{namespace}-fraud-service",
            decisions_topic=f"{namespace}.decisions",
            labels_topic=f"{namespace}.label",
            transactions_topic=f"{namespace}.transactions",
            mfa_timeout_ms=mfa_timeout_ms,
            channel=channel,
        )


class FraudServiceSettings(BaseSettings):
    """The Fraud Service's settings; one field, one variable."""

    model_config = SettingsConfigDict(env_prefix="RISKSTREAM_", env_file=".env", extra="ignore")

    mfa_timeout_s: float = Field(
        DEFAULT_MFA_TIMEOUT_MS / 1000,
        gt=0,
        description="How long an MFA challenge may go unanswered before the transaction is "
        "cancelled. Env: RISKSTREAM_MFA_TIMEOUT_S",
    )
    mfa_channel: str = Field(
        "sms", min_length=1, description="Where challenges are sent. Env: RISKSTREAM_MFA_CHANNEL"
    )
    mfa_notify_log: str = Field(
        ".riskstream/mfa-challenges.jsonl",
        description="The file the default notifier appends one JSON line per challenge to. "
        "Env: RISKSTREAM_MFA_NOTIFY_LOG",
    )

    def config(self) -> FraudServiceConfig:
        return FraudServiceConfig(
            mfa_timeout_ms=round(self.mfa_timeout_s * 1000), channel=self.mfa_channel
        )

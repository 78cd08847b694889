"""Why an MFA answer was refused::

RiskstreamError
└── MfaError
    ├── UnknownChallengeError    no such challenge was issued (or it is long gone)
    └── ChallengeClosedError     answered already, expired, or its transaction closed
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from riskstream.errors import RiskstreamError

if TYPE_CHECKING:
    from riskstream.services.fraud_service.challenges import ChallengeEntry

__all__ = ["ChallengeClosedError", "MfaError", "UnknownChallengeError"]


class MfaError(RiskstreamError):
    """An MFA answer that cannot be accepted."""


class UnknownChallengeError(MfaError):
    def __init__(self, challenge_id: str) -> None:
        super().__init__(f"unknown challenge {challenge_id!r}")
        self.challenge_id = challenge_id


class ChallengeClosedError(MfaError):
    def __init__(self, entry: ChallengeEntry, reason: str) -> None:
        super().__init__(f"challenge {entry.challenge_id!r} is closed: {reason}")
        self.challenge_id = entry.challenge_id
        self.transaction_id = entry.transaction_id
        self.reason = reason

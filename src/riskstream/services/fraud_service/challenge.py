"""Challenge ids, derived from the transaction they guard.

The checkout API tells the client which challenge to answer in the same response that says
"challenge", before the Fraud Service has issued it; both sides therefore compute the id from
the transaction id alone, and a replayed decision issues the same challenge again.
"""

from __future__ import annotations

import hashlib
from typing import Final

__all__ = ["CHALLENGE_PREFIX", "challenge_id_for"]

CHALLENGE_PREFIX: Final = "mfa-"


def challenge_id_for(transaction_id: str) -> str:
    """``"mfa-"`` + the first 16 hex digits of the SHA-256 of the transaction id."""
    return CHALLENGE_PREFIX + hashlib.sha256(transaction_id.encode()).hexdigest()[:16]

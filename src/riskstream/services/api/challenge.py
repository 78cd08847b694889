"""The MFA challenge id of a transaction, derived from the transaction id alone.

The checkout API answers a challenged checkout with its challenge id at once, while the Fraud
Service issues the challenge asynchronously from the same decision. Both derive the id with
:func:`challenge_id_for`, so they agree without talking to each other, a retried checkout
gets the same id, and a restarted Fraud Service re-derives it from the log.
"""

from __future__ import annotations

import hashlib
from typing import Final

__all__ = ["CHALLENGE_PREFIX", "challenge_id_for"]

CHALLENGE_PREFIX: Final = "mfa-"
_HEX_CHARS: Final = 16  # 64 bits: collisions stay negligible at billions of challenges


def challenge_id_for(transaction_id: str) -> str:
    """``"mfa-"`` + the first 16 hex digits of SHA-256 of the UTF-8 transaction id."""
    digest = hashlib.sha256(transaction_id.encode()).hexdigest()
    return CHALLENGE_PREFIX + digest[:_HEX_CHARS]

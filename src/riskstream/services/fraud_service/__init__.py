"""The Fraud Service: it holds the payments the engine challenges or blocks, sends the MFA
challenges, and releases or cancels each transaction - event-sourced on ``risk.transactions``.

* :func:`fraud_service_topology` - the service, for :class:`~riskstream.stream.Runner`
  (``riskstream fraud-service`` runs it);
* :mod:`.lifecycle` - the pure commands and :func:`fold` a transaction's state comes from;
* :class:`MfaSubmitter` / :func:`submit_mfa` / :func:`mfa_router` - answers to challenges;
* :class:`Notifier` - how challenges reach users (:class:`FileNotifier` by default).
"""

from riskstream.services.fraud_service.challenge import challenge_id_for
from riskstream.services.fraud_service.challenges import ChallengeBook, ChallengeEntry
from riskstream.services.fraud_service.config import (
    FRAUD_SERVICE_APPLICATION,
    FraudServiceConfig,
    FraudServiceSettings,
)
from riskstream.services.fraud_service.errors import (
    ChallengeClosedError,
    MfaError,
    UnknownChallengeError,
)
from riskstream.services.fraud_service.lifecycle import (
    Ledger,
    LifecycleEvent,
    Status,
    Transaction,
    fold,
    replay,
)
from riskstream.services.fraud_service.mfa import MfaSubmission, MfaSubmitter, submit_mfa
from riskstream.services.fraud_service.notifier import CollectingNotifier, FileNotifier, Notifier
from riskstream.services.fraud_service.router import mfa_router
from riskstream.services.fraud_service.topology import ensure_topics, fraud_service_topology

__all__ = [
    "FRAUD_SERVICE_APPLICATION",
    "ChallengeBook",
    "ChallengeClosedError",
    "ChallengeEntry",
    "CollectingNotifier",
    "FileNotifier",
    "FraudServiceConfig",
    "FraudServiceSettings",
    "Ledger",
    "LifecycleEvent",
    "MfaError",
    "MfaSubmission",
    "MfaSubmitter",
    "Notifier",
    "Status",
    "Transaction",
    "UnknownChallengeError",
    "challenge_id_for",
    "ensure_topics",
    "fold",
    "fraud_service_topology",
    "mfa_router",
    "replay",
    "submit_mfa",
]

"""The read models the projector maintains, by name."""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType
from typing import Final

from riskstream.services.projections.errors import UnknownViewError
from riskstream.services.projections.view import View
from riskstream.services.projections.views.recent import (
    DecisionSummary,
    RecentAlerts,
    RecentDecisions,
)
from riskstream.services.projections.views.rules import Rules, RuleStats
from riskstream.services.projections.views.transactions import Transactions, TransactionStatus
from riskstream.services.projections.views.users import Hold, LastDecision, Seen, Users, UserSummary

__all__ = [
    "VIEWS",
    "DecisionSummary",
    "Hold",
    "LastDecision",
    "RecentAlerts",
    "RecentDecisions",
    "RuleStats",
    "Rules",
    "Seen",
    "TransactionStatus",
    "Transactions",
    "UserSummary",
    "Users",
    "views_named",
]

VIEWS: Final[MappingProxyType[str, View]] = MappingProxyType(
    {
        view.name: view
        for view in (Users(), Transactions(), RecentDecisions(), RecentAlerts(), Rules())
    }
)
"""Every view, by name: users, transactions, decisions, alerts, rules."""


def views_named(names: Iterable[str] | None = None) -> list[View]:
    """The views called ``names`` (all of them for ``None``); unknown names raise."""
    if names is None:
        return list(VIEWS.values())
    chosen: list[View] = []
    for name in names:
        view = VIEWS.get(name)
        if view is None:
            raise UnknownViewError(f"no view named {name!r} (views: {', '.join(VIEWS)})")
        if view not in chosen:
            chosen.append(view)
    return chosen

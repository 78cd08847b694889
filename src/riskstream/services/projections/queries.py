"""The read side: answers from the views, each from one consistent snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from riskstream.log.port import EventLog
from riskstream.services.projections.ledger import (
    ensure_ledger,
    load_offsets,
    projector_owner,
    view_states,
)
from riskstream.services.projections.projector import DEFAULT_GROUP
from riskstream.services.projections.store import QueryStore
from riskstream.services.projections.topics import DEFAULT_TOPICS, TopicMap, log_ends, topics_of
from riskstream.services.projections.view import LIVE, Tables, View
from riskstream.services.projections.views import (
    VIEWS,
    DecisionSummary,
    RecentAlerts,
    RecentDecisions,
    Rules,
    RuleStats,
    Transactions,
    TransactionStatus,
    Users,
    UserSummary,
)

__all__ = ["ReadModels", "ViewStatus", "view_status"]


def _live(view: View) -> Tables:
    return Tables.of(view, LIVE, "")


class ReadModels:
    """Queries over the live views of ``store``."""

    def __init__(self, store: QueryStore) -> None:
        self.store = store
        self._users = Users()
        self._transactions = Transactions()
        self._decisions = RecentDecisions()
        self._alerts = RecentAlerts()
        self._rules = Rules()

    def user_summary(self, user_id: str) -> UserSummary | None:
        with self.store.read() as tx:
            return self._users.get(tx, _live(self._users), user_id)

    def transaction(self, transaction_id: str) -> TransactionStatus | None:
        with self.store.read() as tx:
            return self._transactions.get(tx, _live(self._transactions), transaction_id)

    def user_transactions(self, user_id: str, *, limit: int = 50) -> list[TransactionStatus]:
        with self.store.read() as tx:
            return self._transactions.of_user(tx, _live(self._transactions), user_id, limit=limit)

    def recent_decisions(
        self,
        *,
        limit: int = 50,
        user_id: str | None = None,
        action: str | None = None,
        before: int | None = None,
    ) -> list[DecisionSummary]:
        with self.store.read() as tx:
            return self._decisions.query(
                tx,
                _live(self._decisions),
                limit=limit,
                user_id=user_id,
                action=action,
                before=before,
            )

    def recent_alerts(
        self, *, limit: int = 50, user_id: str | None = None, before: int | None = None
    ) -> list[DecisionSummary]:
        with self.store.read() as tx:
            return self._alerts.query(
                tx, _live(self._alerts), limit=limit, user_id=user_id, before=before
            )

    def rule_stats(self, *, mode: str | None = None) -> list[RuleStats]:
        with self.store.read() as tx:
            return self._rules.query(tx, _live(self._rules), mode=mode)


@dataclass(frozen=True, slots=True)
class ViewStatus:
    """A view's state and how far behind the log it is (records not yet folded)."""

    view: str
    version: int
    current: bool  # its definition version is the code's
    rebuilding: bool
    lag: int


def view_status(
    store: QueryStore,
    log: EventLog,
    *,
    group_id: str = DEFAULT_GROUP,
    topics: TopicMap = DEFAULT_TOPICS,
) -> tuple[list[ViewStatus], int]:
    """Every view's status, and the projector's own lag (records not read yet)."""
    with store.write() as tx:  # write: creates the bookkeeping tables of a new store
        ensure_ledger(tx)
        states = view_states(tx)
        offsets = {name: load_offsets(tx, name) for name in VIEWS}
        position = load_offsets(tx, projector_owner(group_id))
    out: list[ViewStatus] = []
    for name, view in VIEWS.items():
        ends = log_ends(log, topics_of([view], topics))
        done = offsets[name]
        state = states.get(name)
        out.append(
            ViewStatus(
                view=name,
                version=state.version if state else 0,
                current=state is not None and state.version == view.version,
                rebuilding=state is not None and state.rebuilding is not None,
                lag=sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items()),
            )
        )
    ends = log_ends(log, topics_of(VIEWS.values(), topics))
    lag = sum(max(0, end - position.get(tp, 0)) for tp, end in ends.items())
    return out, lag

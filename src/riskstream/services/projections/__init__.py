"""CQRS read models: projectors fold the log into query-optimised views.

::

    store = open_store("sqlite:.riskstream/query.db")   # or postgresql://…
    projector = Projector(store, log)                   # one consumer group, every view
    projector.start(); projector.run(stop.is_set)
    ReadModels(store).user_summary("u-1")
    rebuild(store, log, ["users"])                      # from the log; the group is untouched

Views: ``users`` (risk profile summary), ``transactions`` (status from checkout to label),
``decisions`` and ``alerts`` (recent), ``rules`` (hit counts and precision). The query API
over them and the audit trail read from the log itself (:mod:`riskstream.services.audit`)
is :func:`riskstream.services.projections.router.query_router` (imported from there: it
needs FastAPI and the audit trail, which needs this package).
"""

from riskstream.services.projections.errors import (
    ProjectionError,
    QueryStoreError,
    RebuildError,
    UnknownViewError,
)
from riskstream.services.projections.projector import DEFAULT_GROUP, Projector
from riskstream.services.projections.queries import ReadModels, ViewStatus, view_status
from riskstream.services.projections.rebuild import RebuildReport, rebuild
from riskstream.services.projections.store import (
    DEFAULT_STORE_URL,
    QueryStore,
    Tx,
    open_store,
)
from riskstream.services.projections.topics import TopicMap
from riskstream.services.projections.views import (
    VIEWS,
    DecisionSummary,
    Hold,
    LastDecision,
    RuleStats,
    Seen,
    TransactionStatus,
    UserSummary,
)

__all__ = [
    "DEFAULT_GROUP",
    "DEFAULT_STORE_URL",
    "VIEWS",
    "DecisionSummary",
    "Hold",
    "LastDecision",
    "ProjectionError",
    "Projector",
    "QueryStore",
    "QueryStoreError",
    "ReadModels",
    "RebuildError",
    "RebuildReport",
    "RuleStats",
    "Seen",
    "TopicMap",
    "TransactionStatus",
    "Tx",
    "UnknownViewError",
    "UserSummary",
    "ViewStatus",
    "open_store",
    "rebuild",
    "view_status",
]

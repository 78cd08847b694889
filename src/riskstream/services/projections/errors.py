"""Errors of the read models::

RiskstreamError
└── ProjectionError              a projection cannot be built or served
    ├── QueryStoreError          the query store refused or lost a statement/connection
    ├── UnknownViewError         a view name no projection defines
    └── RebuildError             a rebuild was superseded or could not hand over
"""

from __future__ import annotations

from riskstream.errors import RiskstreamError

__all__ = ["ProjectionError", "QueryStoreError", "RebuildError", "UnknownViewError"]


class ProjectionError(RiskstreamError):
    """A projection cannot be built or served."""


class QueryStoreError(ProjectionError):
    """The query store refused a statement, or its connection failed."""


class UnknownViewError(ProjectionError):
    """A view name that no projection defines."""


class RebuildError(ProjectionError):
    """A rebuild could not finish: another rebuild of the view took over, or it was stopped."""

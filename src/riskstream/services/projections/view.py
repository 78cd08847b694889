"""What a projection is: a named set of tables, the topics that feed them, and a fold.

A view never holds the live table names in its code: it is handed a :class:`Tables` — the
live names, or a rebuild's shadow names — so the same fold fills both, and a rebuild builds
beside the live view and swaps in at the end. Every view gets an ``applied`` table too: the
ids of the facts it has counted, for folds that are not idempotent by themselves (counters).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from riskstream.services.projections.facts import Fact
from riskstream.services.projections.store import Tx

__all__ = ["LIVE", "Tables", "View"]

LIVE = ""
"""The suffix of a view's live tables (a rebuild's shadow tables carry ``__r<token>``)."""


@dataclass(frozen=True, slots=True)
class Tables:
    """The table names one copy of a view uses: ``tables["decisions"]`` and so on.

    ``generation`` is unique per build and names the indexes (index names are global to a
    schema and survive a table rename, so each build needs fresh ones).
    """

    names: Mapping[str, str]
    generation: str

    def __getitem__(self, table: str) -> str:
        return self.names[table]

    @property
    def applied(self) -> str:
        return self.names["applied"]

    def sql(self, template: str) -> str:
        """``template`` with ``{table}`` and ``{gen}`` filled in."""
        return template.format(gen=self.generation, **self.names)

    @classmethod
    def of(cls, view: View, suffix: str, generation: str) -> Tables:
        bases = (*view.tables, "applied")
        return cls({table: f"rm_{view.name}_{table}{suffix}" for table in bases}, generation)


class View(Protocol):
    """One read model."""

    name: ClassVar[str]
    version: ClassVar[int]
    """Bump when the tables or the fold change: the projector then rebuilds the view."""
    topics: ClassVar[tuple[str, ...]]
    tables: ClassVar[tuple[str, ...]]
    """Table base names; the live table of ``t`` is ``rm_<view>_<t>``."""

    def create(self, tx: Tx, tables: Tables) -> None:
        """Create the view's tables and indexes (``applied`` is created for it)."""
        ...

    def dedupe_id(self, fact: Fact) -> str | None:
        """The id to count ``fact`` once by; ``None`` when folding it twice changes nothing."""
        ...

    def apply(self, tx: Tx, tables: Tables, facts: Sequence[Fact]) -> None:
        """Fold new facts (in log order per partition) into the tables."""
        ...

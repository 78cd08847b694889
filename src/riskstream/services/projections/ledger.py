"""The projections' own bookkeeping, kept in the query store beside the views.

``projection_views``: each view's definition version, the generation of its live tables, and
the token of a rebuild in progress. ``projection_offsets``: per owner and partition, the next
offset to fold — an owner is a live view (``users``), a rebuild's shadow copy
(``users@<token>``) or a projector's read position (``@projector:<group>``).

:func:`apply_batch` is the one way facts reach a view, for the live projector and for
rebuilds alike: in the caller's write transaction it folds each record into each target whose
offset for that partition it has not passed yet, and moves the offset — views and offsets
commit together, so every record is folded exactly once, whoever reads it and however often.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from riskstream.log.records import Record, TopicPartition
from riskstream.services.projections.facts import Fact
from riskstream.services.projections.store import Tx, greatest
from riskstream.services.projections.topics import DEFAULT_TOPICS, TopicMap
from riskstream.services.projections.view import Tables, View

__all__ = [
    "ApplyStats",
    "Target",
    "ViewState",
    "apply_batch",
    "create_view_tables",
    "drop_view_tables",
    "ensure_ledger",
    "load_offsets",
    "projector_owner",
    "save_offsets",
    "view_states",
]

_CHUNK: Final = 400


def projector_owner(group_id: str) -> str:
    """The offsets owner of a live projector's read position."""
    return f"@projector:{group_id}"


@dataclass(frozen=True, slots=True)
class ViewState:
    version: int
    generation: str
    rebuilding: str | None


@dataclass(frozen=True, slots=True)
class Target:
    """One copy of a view to fold into: its tables and whose offsets guard it."""

    view: View
    tables: Tables
    owner: str


@dataclass
class ApplyStats:
    """What one or more batches did, per view: facts folded, and facts skipped as already
    folded (by offset: read again; by id: the same event or decision logged twice)."""

    applied: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    replayed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    duplicates: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, other: ApplyStats) -> None:
        for mine, theirs in (
            (self.applied, other.applied),
            (self.replayed, other.replayed),
            (self.duplicates, other.duplicates),
        ):
            for view, count in theirs.items():
                mine[view] += count


def ensure_ledger(tx: Tx) -> None:
    tx.execute(
        """CREATE TABLE IF NOT EXISTS projection_views (
            view TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            generation TEXT NOT NULL,
            rebuilding TEXT)"""
    )
    tx.execute(
        """CREATE TABLE IF NOT EXISTS projection_offsets (
            owner TEXT NOT NULL,
            topic TEXT NOT NULL,
            partition INTEGER NOT NULL,
            next_offset BIGINT NOT NULL,
            PRIMARY KEY (owner, topic, partition))"""
    )


def view_states(tx: Tx) -> dict[str, ViewState]:
    rows = tx.execute("SELECT view, version, generation, rebuilding FROM projection_views")
    return {row[0]: ViewState(row[1], row[2], row[3]) for row in rows}


def load_offsets(tx: Tx, owner: str) -> dict[TopicPartition, int]:
    rows = tx.execute(
        "SELECT topic, partition, next_offset FROM projection_offsets WHERE owner = ?", [owner]
    )
    return {TopicPartition(row[0], row[1]): row[2] for row in rows}


def save_offsets(tx: Tx, owner: str, offsets: Mapping[TopicPartition, int]) -> None:
    """Move ``owner``'s offsets forward (never back)."""
    if not offsets:
        return
    tx.executemany(
        "INSERT INTO projection_offsets (owner, topic, partition, next_offset) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (owner, topic, partition) DO UPDATE SET next_offset = "
        + greatest(tx.dialect, "projection_offsets.next_offset", "excluded.next_offset"),
        [(owner, tp.topic, tp.partition, offset) for tp, offset in offsets.items()],
    )


def create_view_tables(tx: Tx, view: View, tables: Tables) -> None:
    view.create(tx, tables)
    tx.execute(f"CREATE TABLE {tables.applied} (id TEXT PRIMARY KEY)")


def drop_view_tables(tx: Tx, tables: Tables) -> None:
    for name in tables.names.values():
        tx.execute(f"DROP TABLE IF EXISTS {name}")


def _fresh(tx: Tx, tables: Tables, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` the view has not counted yet (and note them as counted now)."""
    fresh: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = tx.execute(
            f"INSERT INTO {tables.applied} (id) VALUES {', '.join(['(?)'] * len(chunk))} "
            "ON CONFLICT (id) DO NOTHING RETURNING id",
            chunk,
        )
        fresh.update(row[0] for row in rows)
    return fresh


def apply_batch(
    tx: Tx,
    targets: Iterable[Target],
    records: Sequence[Record],
    facts: Sequence[Fact | None],
    topics: TopicMap = DEFAULT_TOPICS,
) -> ApplyStats:
    """Fold ``records`` (decoded as ``facts``; ``None`` for records that did not decode) into
    every target, each record at most once per target, and move the targets' offsets."""
    stats = ApplyStats()
    for target in targets:
        view = target.view
        feeding = {topics.actual(topic) for topic in view.topics}
        done = load_offsets(tx, target.owner)
        moved: dict[TopicPartition, int] = {}
        new: list[Fact] = []
        for record, fact in zip(records, facts, strict=True):
            if record.topic not in feeding:
                continue
            tp = TopicPartition(record.topic, record.partition)
            if record.offset < done.get(tp, 0):
                stats.replayed[view.name] += 1
                continue
            moved[tp] = max(moved.get(tp, 0), record.offset + 1)
            if fact is not None:
                new.append(fact)
        counted = _dedupe(tx, target, new)
        stats.duplicates[view.name] += len(new) - len(counted)
        if counted:
            view.apply(tx, target.tables, counted)
            stats.applied[view.name] += len(counted)
        save_offsets(tx, target.owner, moved)
    return stats


def _dedupe(tx: Tx, target: Target, facts: list[Fact]) -> list[Fact]:
    """``facts`` without those the view counts by id and has counted (first one kept)."""
    ids: dict[int, str] = {}
    first: dict[str, int] = {}
    for number, fact in enumerate(facts):
        ident = target.view.dedupe_id(fact)
        if ident is not None:
            ids[number] = ident
            first.setdefault(ident, number)
    if not ids:
        return facts
    fresh = _fresh(tx, target.tables, list(first))
    return [
        fact
        for number, fact in enumerate(facts)
        if (ident := ids.get(number)) is None or (ident in fresh and first[ident] == number)
    ]

"""Two SQL shapes every view uses: read the rows of a batch's keys, write rows back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from riskstream.services.projections.store import Tx

__all__ = ["select_in", "upsert", "upsert_sql"]

_CHUNK: Final = 500  # keys per IN (...) list: well under every backend's parameter limit


def select_in(tx: Tx, template: str, keys: Iterable[Any]) -> list[tuple[Any, ...]]:
    """Rows of ``template`` (a SELECT with one ``IN ({keys})``) for every key, in chunks."""
    unique = list(dict.fromkeys(keys))
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        rows.extend(tx.execute(template.format(keys=", ".join("?" * len(chunk))), chunk))
    return rows


def upsert_sql(
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    update: Mapping[str, str] | None = None,
) -> str:
    """``INSERT … ON CONFLICT (key) DO UPDATE``: each non-key column takes the new value, or
    the expression ``update`` gives for it (``{table}.col`` is the old value, ``excluded.col``
    the new one)."""
    overrides = update or {}
    sets = ", ".join(
        f"{column} = {overrides.get(column, f'excluded.{column}')}"
        for column in columns
        if column not in key
    )
    marks = ", ".join("?" * len(columns))
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"
    )


def upsert(
    tx: Tx,
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    rows: Iterable[Sequence[Any]],
    update: Mapping[str, str] | None = None,
) -> None:
    """Insert ``rows``, updating those whose key exists (see :func:`upsert_sql`)."""
    batch = list(rows)
    if batch:
        tx.executemany(upsert_sql(table, columns, key, update), batch)

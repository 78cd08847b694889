"""The snapshot of one key's pattern state: plain data that round-trips through msgpack.

Runs and nodes are flattened into int tuples that index a shared event list (see
:mod:`riskstream.stream.patterns.buffer`), so an event shared by several partial matches,
or by several patterns of the step, is stored once. Deadlines are not stored: they are
recomputed from the first event's time and the pattern's current ``within``.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from riskstream.stream.patterns.buffer import FlatNode

__all__ = ["PatternSnapshot", "PatternState"]

V = TypeVar("V")


class PatternState(msgspec.Struct, frozen=True, array_like=True):
    """One pattern's partial matches of one key.

    ``nodes`` are (stage index, event index, event time, sequence number, parent node index
    or -1), parents first; ``runs`` are (NFA state index, node index of the newest event),
    oldest first. ``fingerprint`` identifies the pattern's structure; ``seq`` is the next
    event's sequence number; ``dropped`` the partial matches discarded by the bound so far.
    """

    fingerprint: int
    seq: int
    dropped: int
    nodes: list[FlatNode]
    runs: list[tuple[int, int]]


class PatternSnapshot(msgspec.Struct, Generic[V], frozen=True, array_like=True):
    """A key's state for a whole pattern step: events once, then each pattern's runs.

    Patterns without partial matches (and without drops) are left out.
    """

    events: list[V]
    patterns: dict[str, PatternState]

"""What a pattern step emits: matches, timed-out partial matches, overflow notices.

All three are frozen, tagged ``msgspec`` Structs carrying the pattern's name, so one step
can run several patterns and their outputs can share a topic (decode them as
``Match[E] | Timeout[E] | Overflow``). ``events`` maps each stage that took events to
those events in arrival order, stages in pattern order (FlinkCEP's
``Map<String, List<T>>``); negated and skipped optional stages have no entry.
"""

from __future__ import annotations

from typing import Generic, TypeAlias, TypeVar

import msgspec

__all__ = ["Match", "Overflow", "PatternOutput", "Timeout"]

V = TypeVar("V")


class Match(msgspec.Struct, Generic[V], frozen=True, kw_only=True, tag="pattern.match"):
    """A complete match.

    ``start`` is the event time of its first event. ``end`` is when it completed: the time
    of the event that completed it, or - for a pattern ending in ``not_followed_by`` - the
    deadline ``start + within`` at which the absence was confirmed by the watermark.
    """

    pattern: str
    events: dict[str, list[V]]
    start: int
    end: int


class Timeout(msgspec.Struct, Generic[V], frozen=True, kw_only=True, tag="pattern.timeout"):
    """A partial match whose window passed before it completed (FlinkCEP's timeout output).

    Emitted only by a step built with ``emit_timeouts=True``, once the watermark reaches
    ``deadline = start + within``.
    """

    pattern: str
    events: dict[str, list[V]]
    start: int
    deadline: int


class Overflow(msgspec.Struct, frozen=True, kw_only=True, tag="pattern.overflow"):
    """``dropped`` oldest partial matches of one key were discarded by the bound.

    Emitted by the event (at event time ``time``) that pushed the key past
    ``max_partial_matches``; the logic's ``dropped`` property keeps the running total.
    """

    pattern: str
    dropped: int
    time: int


#: Every output of a pattern step.
PatternOutput: TypeAlias = Match[V] | Timeout[V] | Overflow

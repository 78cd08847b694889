"""The pattern step: a definition of named patterns, and the logic of several patterns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Generic, TypeVar

import msgspec

from riskstream.errors import ConfigError
from riskstream.stream.patterns.base import PatternLogic
from riskstream.stream.patterns.matcher import NOTHING, Matcher, MatcherConfig
from riskstream.stream.patterns.nfa import compile_pattern
from riskstream.stream.patterns.pattern import Pattern
from riskstream.stream.patterns.results import PatternOutput
from riskstream.stream.patterns.snapshot import PatternSnapshot, PatternState

__all__ = ["DEFAULT_MAX_PARTIAL_MATCHES", "PatternDefinition", "PatternGroup"]

V = TypeVar("V")

DEFAULT_MAX_PARTIAL_MATCHES: Final = 1_000


class PatternDefinition(Generic[V]):
    """Immutable configuration of a pattern step: one or more named patterns over one key.

    ``patterns`` maps output names to patterns (the name is every output's ``pattern``
    field and keys the pattern's state in snapshots: renaming is a migration).
    ``value_type`` is the type of the events (a ``msgspec.Struct``, a union of tagged
    Structs, ``dict[str, Any]``...; default ``Any``): snapshots decode their events as
    this type. ``emit_timeouts`` adds a :class:`~riskstream.stream.patterns.results.Timeout`
    for each partial match whose window passes. ``max_partial_matches`` bounds the partial
    matches (NFA runs) each pattern keeps per key; past it the oldest are dropped, counted
    and reported by an :class:`~riskstream.stream.patterns.results.Overflow` output.
    """

    __slots__ = ("_configs", "_emit_timeouts", "_max", "_snapshot_type", "_value_type")

    def __init__(
        self,
        patterns: Mapping[str, Pattern[V]],
        *,
        value_type: Any = Any,
        emit_timeouts: bool = False,
        max_partial_matches: int = DEFAULT_MAX_PARTIAL_MATCHES,
    ) -> None:
        if not patterns:
            raise ConfigError("a pattern step needs at least one pattern")
        for name, pattern in patterns.items():
            if not isinstance(name, str) or not name:
                raise ConfigError(f"a pattern name must be a non-empty str, got {name!r}")
            if not isinstance(pattern, Pattern):
                raise ConfigError(f"pattern {name!r} must be a Pattern, got {pattern!r}")
        if (
            not isinstance(max_partial_matches, int)
            or isinstance(max_partial_matches, bool)
            or max_partial_matches < 1
        ):
            raise ConfigError(
                f"max_partial_matches must be an int >= 1, got {max_partial_matches!r}"
            )
        self._configs: tuple[MatcherConfig[V], ...] = tuple(
            MatcherConfig(
                name,
                compile_pattern(pattern),
                emit_timeouts=bool(emit_timeouts),
                max_runs=max_partial_matches,
            )
            for name, pattern in patterns.items()
        )
        self._value_type = value_type
        self._emit_timeouts = bool(emit_timeouts)
        self._max = max_partial_matches
        self._snapshot_type = PatternSnapshot[value_type]
        try:  # fail at definition time, not at the first restore
            msgspec.msgpack.Decoder(self._snapshot_type)
        except TypeError as exc:
            raise ConfigError(f"value_type {value_type!r} cannot be decoded: {exc}") from exc

    @property
    def patterns(self) -> dict[str, Pattern[V]]:
        """The patterns by name."""
        return {c.name: c.nfa.pattern for c in self._configs}

    @property
    def value_type(self) -> Any:
        """The type snapshots decode events as."""
        return self._value_type

    @property
    def emit_timeouts(self) -> bool:
        """Whether timed-out partial matches are emitted."""
        return self._emit_timeouts

    @property
    def max_partial_matches(self) -> int:
        """The bound on partial matches per pattern and key."""
        return self._max

    @property
    def snapshot_type(self) -> Any:
        """``PatternSnapshot[value_type]``: what ``msgspec`` decodes snapshots into."""
        return self._snapshot_type

    def build(self, snapshot: PatternSnapshot[V] | None = None) -> PatternLogic[V]:
        """A fresh logic for one key, or one restored from ``snapshot``.

        A step with one pattern gets a bare :class:`Matcher`, several a :class:`PatternGroup`.
        State in ``snapshot`` of a pattern no longer in the step is ignored.
        """
        configs = self._configs
        if len(configs) == 1:
            matcher = Matcher(configs[0])
            if snapshot is not None and snapshot.patterns:
                state = snapshot.patterns.get(configs[0].name)
                if state is not None:
                    matcher.restore(state, snapshot.events)
            return matcher
        group = PatternGroup([Matcher(config) for config in configs])
        if snapshot is not None:
            group.restore(snapshot)
        return group

    def describe(self) -> str:
        """One line per pattern: ``name: begin(a) → next(b) within 30s``."""
        return "\n".join(f"{c.name}: {c.nfa.pattern.describe()}" for c in self._configs)

    def __repr__(self) -> str:
        names = ", ".join(c.name for c in self._configs)
        return f"PatternDefinition({names})"


class PatternGroup(PatternLogic[V]):
    """One key's partial matches of several patterns (one :class:`Matcher` each).

    Outputs of one call come pattern by pattern, in definition order; events shared by
    several patterns are stored once in the snapshot.
    """

    __slots__ = ("_matchers",)

    def __init__(self, matchers: list[Matcher[V]]) -> None:
        self._matchers = matchers

    def on_event(self, event_time: int, value: V) -> Sequence[PatternOutput[V]]:
        """Feed one event to every pattern; undo all of them if a condition raises."""
        matchers = self._matchers
        saved = [m.save() for m in matchers]
        out: list[PatternOutput[V]] = []
        try:
            for matcher in matchers:
                out.extend(matcher.on_event(event_time, value))
        except BaseException:
            for matcher, state in zip(matchers, saved, strict=True):
                matcher.load(state)
            raise
        return out or NOTHING

    def on_watermark(self, watermark: int) -> Sequence[PatternOutput[V]]:
        """Expire partial matches whose window the watermark has passed."""
        out: list[PatternOutput[V]] = []
        for matcher in self._matchers:
            out.extend(matcher.on_watermark(watermark))
        return out or NOTHING

    def next_deadline(self) -> int | None:
        """The earliest deadline of any pattern."""
        deadlines = [d for m in self._matchers if (d := m.next_deadline()) is not None]
        return min(deadlines) if deadlines else None

    def is_empty(self) -> bool:
        """True when no pattern has a partial match for this key."""
        return all(m.is_empty() for m in self._matchers)

    def reset(self) -> None:
        """Back to the state of a new group (for reuse by another key)."""
        for matcher in self._matchers:
            matcher.reset()

    @property
    def dropped(self) -> dict[str, int]:
        """Partial matches dropped by the bound, per pattern (patterns with drops only)."""
        return {name: n for m in self._matchers for name, n in m.dropped.items()}

    def snapshot(self) -> PatternSnapshot[V]:
        """Shared events, then the state of each pattern with partial matches or drops."""
        events: list[V] = []
        event_index: dict[int, int] = {}
        patterns: dict[str, PatternState] = {}
        for matcher in self._matchers:
            if matcher.dropped or not matcher.is_empty():
                patterns[matcher.name] = matcher.state(events, event_index)
        return PatternSnapshot(events, patterns)

    def restore(self, snapshot: PatternSnapshot[V]) -> None:
        """Load ``snapshot``; state of patterns no longer in the step is ignored."""
        for matcher in self._matchers:
            state = snapshot.patterns.get(matcher.name)
            if state is not None:
                matcher.restore(state, snapshot.events)

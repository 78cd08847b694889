"""The per-key logic of a pattern step, as every implementation presents it.

:meth:`PatternDefinition.build <riskstream.stream.patterns.definition.PatternDefinition.build>`
returns a :class:`~riskstream.stream.patterns.matcher.Matcher` for a one-pattern step (the
common case, with no indirection on the hot path) and a
:class:`~riskstream.stream.patterns.definition.PatternGroup` for several patterns; both
implement this interface, which is the :class:`~riskstream.stream.logic.Logic` protocol plus
the drop counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from riskstream.stream.patterns.results import PatternOutput
from riskstream.stream.patterns.snapshot import PatternSnapshot

__all__ = ["PatternLogic"]

V = TypeVar("V")


class PatternLogic(Generic[V]):
    """One key's partial matches of every pattern of a step.

    If a condition raises, the call raises and the key's state is exactly as before it.
    """

    __slots__ = ()

    def on_event(self, event_time: int, value: V) -> Sequence[PatternOutput[V]]:
        """Take one event of this key; return the outputs it completes, pattern by pattern."""
        raise NotImplementedError

    def on_watermark(self, watermark: int) -> Sequence[PatternOutput[V]]:
        """Expire partial matches whose window ends at or before ``watermark``."""
        raise NotImplementedError

    def next_deadline(self) -> int | None:
        """The earliest window end of a partial match (an expiry or an absence completion)."""
        raise NotImplementedError

    def is_empty(self) -> bool:
        """True when no pattern has a partial match for this key."""
        raise NotImplementedError

    def snapshot(self) -> PatternSnapshot[V]:
        """The key's state: shared events, then each non-empty pattern's partial matches."""
        raise NotImplementedError

    @property
    def dropped(self) -> dict[str, int]:
        """Partial matches dropped by the bound so far, per pattern (patterns with drops)."""
        raise NotImplementedError

"""After-match skip strategies: which partial matches an emitted match discards.

The policies and their wording follow FlinkCEP's ``AfterMatchSkipStrategy``. Every partial
match is identified by the arrival number of its first event; a strategy turns an emitted
match into a *threshold* and every partial match (and every other match completed by the
same event or watermark) whose first event arrived before the threshold is discarded:

=========================  ==================================================================
``NO_SKIP``                nothing is discarded: every possible match is emitted
``SKIP_TO_NEXT``           partial matches that started with (or before) the match's first
                           event
``SKIP_PAST_LAST_EVENT``   every partial match that started at or before the match's last
                           event: matching resumes after the match (the default)
``skip_to_first(stage)``   partial matches that started before the first event of ``stage``
``skip_to_last(stage)``    partial matches that started before the last event of ``stage``
=========================  ==================================================================

If ``stage`` has no event in the match (an optional stage), nothing is discarded, as in
FlinkCEP without ``throwExceptionOnMiss``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from riskstream.stream.patterns.buffer import Node, root

__all__ = [
    "NO_SKIP",
    "SKIP_PAST_LAST_EVENT",
    "SKIP_TO_NEXT",
    "AfterMatchSkip",
    "skip_to_first",
    "skip_to_last",
]

SkipKind = Literal[
    "no_skip", "skip_to_next", "skip_past_last_event", "skip_to_first", "skip_to_last"
]


@dataclass(frozen=True, slots=True)
class AfterMatchSkip:
    """One after-match skip strategy; use the constants and factories of this module."""

    kind: SkipKind
    stage: str | None = None

    def threshold(self, last: Node[Any]) -> int | None:
        """Partial matches whose first event's sequence number is below this are discarded.

        ``last`` is the node of the match's last event; ``None`` means discard nothing.
        """
        kind = self.kind
        if kind == "skip_past_last_event":
            return last.seq + 1
        if kind == "skip_to_next":
            return root(last).seq + 1
        if kind == "no_skip":
            return None
        found: int | None = None
        node: Node[Any] | None = last
        while node is not None:
            if node.stage == self.stage:
                found = node.seq
                if kind == "skip_to_last":
                    break
            node = node.parent
        return found

    def __str__(self) -> str:
        return self.kind if self.stage is None else f"{self.kind}({self.stage})"


NO_SKIP: Final = AfterMatchSkip("no_skip")
SKIP_TO_NEXT: Final = AfterMatchSkip("skip_to_next")
SKIP_PAST_LAST_EVENT: Final = AfterMatchSkip("skip_past_last_event")


def skip_to_first(stage: str) -> AfterMatchSkip:
    """Discard partial matches that started before the first event of ``stage`` in the match."""
    return AfterMatchSkip("skip_to_first", stage)


def skip_to_last(stage: str) -> AfterMatchSkip:
    """Discard partial matches that started before the last event of ``stage`` in the match."""
    return AfterMatchSkip("skip_to_last", stage)

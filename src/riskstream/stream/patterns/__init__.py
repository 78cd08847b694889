"""Patterns (CEP): keyed, event-time sequence matching as an NFA, after FlinkCEP.

A :class:`Pattern` names a sequence of stages, each with a condition ``cond(event, ctx)``
that may read the events already matched (``ctx["login"]``, ``ctx.times("login")``)::

    from riskstream.stream.patterns import Pattern, PatternDefinition

    promo_abuse = (
        Pattern.begin("login", where=lambda e, ctx: e["new_device"])
        .followed_by("click", where=lambda e, ctx: e["type"] == "click")
        .followed_by("promo", where=lambda e, ctx: e["type"] == "promo" and e["discount"] >= 50)
        .within(30_000)
    )
    step = PatternDefinition({"promo_abuse": promo_abuse}, value_type=dict[str, Any])
    logic = step.build()                      # one per key, driven by the executor
    logic.on_event(1_000, {"type": "login", "new_device": True})   # -> ()
    ...                                       # -> [Match(pattern="promo_abuse", events=...)]

Stages: ``begin``, ``next`` (strict contiguity), ``followed_by`` (relaxed: skip
non-matching events, take the first match), ``followed_by_any`` (non-deterministic: every
match), ``not_next``, ``not_followed_by`` (an absence when last, with ``within``);
quantifiers ``times(n)``/``times(lo, hi)``/``times_or_more(n)``/``one_or_more()``,
``optional()``, and ``consecutive()``/``allow_combinations()`` for loops; ``within(ms)``
for the whole pattern; after-match skip strategies in :mod:`.skip`. Outputs are
:class:`Match`, :class:`Timeout` (``emit_timeouts=True``) and :class:`Overflow`.

Semantics, per key (where FlinkCEP leaves room, the choice is written here):

* Events are matched in the order the executor hands them over (arrival order), without
  FlinkCEP's sort-until-watermark buffer, so matches are emitted from ``on_event`` at once.
  ``next``/``not_next`` mean the next event *of this key* in that order.
* ``within(w)``: a partial match started at ``t`` accepts events with time ``< t + w`` (the
  half-open window of FlinkCEP: ``timestamp - start >= window`` is timed out). Later events
  are invisible to it. At watermark ``>= t + w`` it expires: pruned, or reported as a
  ``Timeout`` with ``emit_timeouts=True``; an absence (trailing ``not_followed_by``)
  completes there as a ``Match`` whose ``end`` is ``t + w``. ``next_deadline()`` is the
  earliest such ``t + w``. Without ``within`` a partial match lives until it completes or
  the bound drops it: give production patterns a window.
* A forbidden (``not_followed_by``) event kills a waiting partial match, unless that same
  event is taken by the stage after it (it is then not "between"). A ``not_next`` event
  kills it whatever the next stage says (FlinkCEP's edge conditions). A trailing
  ``not_next`` completes on the next event that is not forbidden (not included).
* Loops are relaxed between iterations by default and non-greedy: after each iteration
  both "one more" and "go on" stay open, so ``b+`` may complete with 1, 2, ... events.
* Matches completed by the same event (or watermark) are emitted earliest start first,
  then longest, then by earliest events; the skip strategy (default
  ``SKIP_PAST_LAST_EVENT``) applies in that order, so with the default ``a b+ c``
  reports its longest match.
* ``max_partial_matches`` (default 1000) bounds the partial matches (NFA runs) of each
  pattern per key: the oldest go first, reported by ``Overflow`` and counted in
  ``logic.dropped``.
* If a condition raises, the call raises and the key's state is as before the event.

State is a list of runs pointing into a shared tree of matched events (each event held
once, see :mod:`.buffer`); snapshots are msgpack-safe ``PatternSnapshot[value_type]``.
A one-pattern step's logic is a :class:`Matcher`, a several-pattern step's a
:class:`PatternGroup`; both are :class:`PatternLogic`.
"""

from riskstream.stream.patterns.base import PatternLogic
from riskstream.stream.patterns.context import MatchContext
from riskstream.stream.patterns.definition import (
    DEFAULT_MAX_PARTIAL_MATCHES,
    PatternDefinition,
    PatternGroup,
)
from riskstream.stream.patterns.matcher import Matcher
from riskstream.stream.patterns.pattern import Condition, Contiguity, Pattern, Stage
from riskstream.stream.patterns.results import Match, Overflow, PatternOutput, Timeout
from riskstream.stream.patterns.skip import (
    NO_SKIP,
    SKIP_PAST_LAST_EVENT,
    SKIP_TO_NEXT,
    AfterMatchSkip,
    skip_to_first,
    skip_to_last,
)
from riskstream.stream.patterns.snapshot import PatternSnapshot, PatternState

__all__ = [
    "DEFAULT_MAX_PARTIAL_MATCHES",
    "NO_SKIP",
    "SKIP_PAST_LAST_EVENT",
    "SKIP_TO_NEXT",
    "AfterMatchSkip",
    "Condition",
    "Contiguity",
    "Match",
    "MatchContext",
    "Matcher",
    "Overflow",
    "Pattern",
    "PatternDefinition",
    "PatternGroup",
    "PatternLogic",
    "PatternOutput",
    "PatternSnapshot",
    "PatternState",
    "Stage",
    "Timeout",
    "skip_to_first",
    "skip_to_last",
]

"""Compile a :class:`~riskstream.stream.patterns.pattern.Pattern` into a static NFA.

Like FlinkCEP's ``NFACompiler`` (after Agrawal et al., "Efficient Pattern Matching over
Event Streams", SIGMOD 2008), a pattern becomes a graph of :class:`State` objects shared by
every key; a key's state is only its partial matches ("runs"), each sitting in one state.
Quantifiers are unrolled: ``times(3)`` is three states, ``one_or_more()`` one state plus a
self-loop. FlinkCEP's PROCEED (epsilon) edges are resolved here, at compile time: a state's
``targets`` are all the states a run may wait in after taking an event there, and
``completes`` says whether taking also finishes a match. Negated stages become properties
of the state after them: ``not_followed_by`` a ``stop`` condition that kills a waiting run,
``not_next`` a one-event ``guard``. A trailing ``not_followed_by`` is an absence state that
completes at its deadline; a trailing ``not_next`` a guard that completes on the next event.

Whole-pattern rules (checked here, :class:`~riskstream.errors.ConfigError` otherwise):
the first stage is not optional; a stage right after a negated one is not optional (the
negation would then bound two different gaps); a trailing ``not_followed_by`` needs
``within``; a skip strategy's stage exists and is positive.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from itertools import pairwise
from typing import Any, Final, Generic, TypeVar

from riskstream.errors import ConfigError
from riskstream.stream.patterns.context import MatchContext
from riskstream.stream.patterns.pattern import Condition, Contiguity, Pattern, Stage

__all__ = ["NEVER", "Nfa", "State", "compile_pattern"]

V = TypeVar("V")

#: The deadline of a partial match of a pattern without ``within`` (int64 max: msgpack-safe).
NEVER: Final = 2**63 - 1


def _always(event: object, ctx: MatchContext[Any]) -> bool:
    return True


class State(Generic[V]):
    """One NFA state: what a run waiting here does with the next event.

    * ``guard`` (``not_next``): if the event satisfies it the run dies; otherwise the run
      continues as ``unguarded`` with the same event (or completes, if that is ``None``).
    * ``take``: the event joins the run under ``stage``; new runs wait in ``targets``, and
      the match completes if ``completes``. ``None`` for an ``absent`` state, which takes
      nothing and completes at its deadline.
    * otherwise the run stays if ``keep_on_miss`` (relaxed) and dies if not (strict); with
      ``keep_on_take`` (non-deterministic) it also stays after taking. A staying run dies
      instead if the event satisfies ``stop`` (``not_followed_by``).
    """

    __slots__ = (
        "absent",
        "completes",
        "guard",
        "index",
        "keep_on_miss",
        "keep_on_take",
        "label",
        "stage",
        "stop",
        "take",
        "targets",
        "unguarded",
    )

    def __init__(self, index: int, stage: str, label: str) -> None:
        self.index = index
        self.stage = stage
        self.label = label
        self.guard: Condition[V] | None = None
        self.unguarded: State[V] | None = None
        self.take: Condition[V] | None = None
        self.targets: tuple[State[V], ...] = ()
        self.completes = False
        self.keep_on_miss = True
        self.keep_on_take = False
        self.stop: Condition[V] | None = None
        self.absent = False  # a trailing not_followed_by: completes at the deadline

    def __repr__(self) -> str:
        return f"State({self.index}, {self.label})"


class Nfa(Generic[V]):
    """A compiled pattern: its states, first state, window and skip strategy."""

    __slots__ = ("fingerprint", "pattern", "stage_index", "stages", "start", "states", "within")

    def __init__(self, pattern: Pattern[V], states: list[State[V]], start: State[V]) -> None:
        self.pattern = pattern
        self.states = tuple(states)
        self.start = start
        self.within = NEVER if pattern.within_ms is None else pattern.within_ms
        #: Names of the stages that take events; a snapshot numbers them by this order.
        self.stages = tuple(s.name for s in pattern.stages if not s.negated)
        self.stage_index = {name: i for i, name in enumerate(self.stages)}
        shape = " → ".join(s.describe(i == 0) for i, s in enumerate(pattern.stages))
        #: Changes when the state numbering would: guards snapshots against a new pattern.
        self.fingerprint = zlib.crc32(shape.encode())


def compile_pattern(pattern: Pattern[V]) -> Nfa[V]:
    """Validate ``pattern`` and build its NFA."""
    _validate(pattern)
    states: list[State[V]] = []

    def new(stage: str, label: str) -> State[V]:
        state: State[V] = State(len(states), stage, label)
        states.append(state)
        return state

    stages = pattern.stages
    body = stages[:-1] if stages[-1].negated else stages
    follow: tuple[State[V], ...] = ()
    completes = True
    if stages[-1].negated:
        tail = stages[-1]
        end = new(tail.name, f"!{tail.name}")
        if tail.contiguity is Contiguity.STRICT:
            end.guard = tail.where or _always  # completes on the next non-matching event
        else:
            end.stop = tail.where or _always  # absence: completes at the deadline
            end.absent = True
        follow, completes = (end,), False
    for i in reversed(range(len(body))):
        stage = body[i]
        if stage.negated:
            continue
        before = body[i - 1] if i > 0 and body[i - 1].negated else None
        entry = _unroll(stage, follow, completes, before, new)
        if stage.optional:
            follow = (*entry, *follow)
        else:
            follow, completes = entry, False
    (start,) = follow  # the first stage is neither optional nor guarded
    return Nfa(pattern, states, start)


def _unroll(
    stage: Stage[V],
    follow: tuple[State[V], ...],
    completes: bool,
    before: Stage[V] | None,
    new: Callable[[str, str], State[V]],
) -> tuple[State[V], ...]:
    """The states of one positive stage; returns the state a run enters it by."""
    where = stage.where or _always
    low, high = stage.min_times, stage.max_times
    after: tuple[State[V], ...] = ()  # where a run goes after the last unrolled state
    if high is None:
        loop = new(stage.name, f"{stage.name}#loop")
        _configure(loop, where, stage.loop, (loop, *follow), completes)
        after = (loop,)
    for k in reversed(range(high if high is not None else low)):
        state = new(stage.name, f"{stage.name}#{k + 1}")
        enough = k + 1 >= low  # taking here reaches the minimum count
        contiguity = stage.contiguity if k == 0 else stage.loop
        _configure(
            state, where, contiguity, after + (follow if enough else ()), completes and enough
        )
        after = (state,)
    (first,) = after  # low >= 1: at least one unrolled state
    if before is None:
        return (first,)
    if before.contiguity is Contiguity.RELAXED:  # not_followed_by
        first.stop = before.where or _always
        return (first,)
    guarded = new(stage.name, f"!{before.name}>{stage.name}")  # not_next
    guarded.guard = before.where or _always
    guarded.unguarded = first
    return (guarded,)


def _configure(
    state: State[V],
    where: Condition[V],
    contiguity: Contiguity,
    targets: tuple[State[V], ...],
    completes: bool,
) -> None:
    state.take = where
    state.targets = targets
    state.completes = completes
    state.keep_on_miss = contiguity is not Contiguity.STRICT
    state.keep_on_take = contiguity is Contiguity.ANY


def _validate(pattern: Pattern[Any]) -> None:
    stages = pattern.stages
    if stages[0].optional:
        raise ConfigError(f"the first stage {stages[0].name!r} cannot be optional")
    for prev, stage in pairwise(stages):
        if prev.negated and stage.optional:
            raise ConfigError(
                f"stage {stage.name!r} right after the negated stage {prev.name!r} "
                "cannot be optional"
            )
    last = stages[-1]
    if last.negated and last.contiguity is Contiguity.RELAXED and pattern.within_ms is None:
        raise ConfigError(
            f"a pattern ending in not_followed_by({last.name}) needs within(...): "
            "the absence completes when the window passes"
        )
    skip_stage = pattern.skip.stage
    if skip_stage is not None and not any(s.name == skip_stage and not s.negated for s in stages):
        raise ConfigError(f"skip strategy {pattern.skip} names no positive stage")

"""The pattern language: an immutable sequence of named stages, built fluently.

::

    Pattern.begin("login", where=new_device)
        .followed_by("click")
        .followed_by("promo", where=big_discount)
        .within(timedelta(seconds=30))

Each builder call returns a new :class:`Pattern`; quantifier calls (``times``,
``one_or_more``, ``optional``, ...) apply to the stage added last. Local mistakes (a
duplicate name, a quantified negative stage) raise :class:`~riskstream.errors.ConfigError`
at once; whole-pattern rules are checked when the pattern is compiled
(:func:`riskstream.stream.patterns.nfa.compile_pattern`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Generic, TypeAlias, TypeVar

from riskstream.errors import ConfigError
from riskstream.stream.patterns.context import MatchContext
from riskstream.stream.patterns.skip import SKIP_PAST_LAST_EVENT, AfterMatchSkip

__all__ = ["Condition", "Contiguity", "Pattern", "Stage", "format_ms"]

V = TypeVar("V")

#: ``cond(event, ctx) -> bool``: does ``event`` extend the partial match described by ``ctx``?
Condition: TypeAlias = Callable[[V, MatchContext[V]], bool]


class Contiguity(enum.Enum):
    """How a stage's event may follow the previous matched event (FlinkCEP's names)."""

    STRICT = "next"  # the very next event of the key
    RELAXED = "followed_by"  # skip events that do not match; take the first that does
    ANY = "followed_by_any"  # non-deterministic: every matching event starts a branch


@dataclass(frozen=True, slots=True)
class Stage(Generic[V]):
    """One named step of a pattern.

    A positive stage takes ``min_times``..``max_times`` events (``max_times=None``:
    unbounded), or none at all if ``optional``; ``contiguity`` says how its first event
    follows the previous stage and ``loop`` how its further events follow each other. A
    negated stage (``not_next``/``not_followed_by``) forbids its events instead.
    """

    name: str
    where: Condition[V] | None
    contiguity: Contiguity
    negated: bool = False
    min_times: int = 1
    max_times: int | None = 1
    optional: bool = False
    loop: Contiguity = Contiguity.RELAXED
    quantified: bool = False

    @property
    def looping(self) -> bool:
        """True if the stage may take more than one event."""
        return self.max_times is None or self.max_times > 1

    def describe(self, first: bool) -> str:
        """``followed_by(b){2..4, consecutive}?`` - the stage as written."""
        if first:
            verb = "begin"
        elif self.negated:
            verb = "not_next" if self.contiguity is Contiguity.STRICT else "not_followed_by"
        else:
            verb = self.contiguity.value
        text = f"{verb}({self.name})"
        if self.quantified:
            low, high = self.min_times, self.max_times
            span = f"{low}.." if high is None else str(low) if high == low else f"{low}..{high}"
            loop = {Contiguity.STRICT: ", consecutive", Contiguity.ANY: ", combinations"}
            text += "{" + span + loop.get(self.loop, "") + "}"
        return text + ("?" if self.optional else "")


def format_ms(ms: int) -> str:
    """``30s``, ``10m``, ``2h``, ``1500ms``: a duration in its largest whole unit."""
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if ms % size == 0 and ms >= size:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _to_ms(value: int | timedelta, what: str) -> int:
    if isinstance(value, timedelta):
        ms = value // timedelta(milliseconds=1)
    elif isinstance(value, int) and not isinstance(value, bool):
        ms = value
    else:
        raise ConfigError(f"{what} must be int milliseconds or a timedelta, got {value!r}")
    if ms <= 0:
        raise ConfigError(f"{what} must be positive, got {ms} ms")
    return ms


def _check_count(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{what} must be an int >= 1, got {value!r}")
    return value


class Pattern(Generic[V]):
    """An immutable event-sequence pattern; start one with :meth:`begin`."""

    __slots__ = ("_skip", "_stages", "_within")

    def __init__(
        self, stages: tuple[Stage[V], ...], within_ms: int | None, skip: AfterMatchSkip
    ) -> None:
        self._stages = stages
        self._within = within_ms
        self._skip = skip

    @classmethod
    def begin(
        cls,
        name: str,
        where: Condition[V] | None = None,
        *,
        skip: AfterMatchSkip = SKIP_PAST_LAST_EVENT,
    ) -> Pattern[V]:
        """A pattern whose first stage ``name`` takes an event satisfying ``where``.

        Every event that satisfies ``where`` starts a partial match. ``skip`` is the
        after-match skip strategy (:mod:`riskstream.stream.patterns.skip`).
        """
        if not isinstance(skip, AfterMatchSkip):
            raise ConfigError(f"skip must be an AfterMatchSkip, got {skip!r}")
        return cls((), None, skip)._add(name, where, Contiguity.RELAXED, negated=False)

    # -- stages ------------------------------------------------------------------------------

    def next(self, name: str, where: Condition[V] | None = None) -> Pattern[V]:
        """Strict contiguity: the very next event of the key must satisfy ``where``."""
        return self._add(name, where, Contiguity.STRICT, negated=False)

    def followed_by(self, name: str, where: Condition[V] | None = None) -> Pattern[V]:
        """Relaxed contiguity: skip non-matching events, take the first one that matches."""
        return self._add(name, where, Contiguity.RELAXED, negated=False)

    def followed_by_any(self, name: str, where: Condition[V] | None = None) -> Pattern[V]:
        """Non-deterministic relaxed contiguity: every later matching event forms a match."""
        return self._add(name, where, Contiguity.ANY, negated=False)

    def not_next(self, name: str, where: Condition[V] | None = None) -> Pattern[V]:
        """The event right after the previous stage must not satisfy ``where``."""
        return self._add(name, where, Contiguity.STRICT, negated=True)

    def not_followed_by(self, name: str, where: Condition[V] | None = None) -> Pattern[V]:
        """No event satisfying ``where`` between the previous stage and the next one.

        As the last stage (which needs :meth:`within`) this is an absence: the match
        completes when the window passes without such an event.
        """
        return self._add(name, where, Contiguity.RELAXED, negated=True)

    # -- quantifiers of the last stage -------------------------------------------------------

    def times(self, low: int, high: int | None = None) -> Pattern[V]:
        """The last stage takes exactly ``low`` events, or ``low``..``high`` if given."""
        low = _check_count(low, "times")
        high = low if high is None else _check_count(high, "times (upper bound)")
        if high < low:
            raise ConfigError(f"times({low}, {high}): upper bound below lower bound")
        return self._quantify(low, high)

    def times_or_more(self, low: int) -> Pattern[V]:
        """The last stage takes ``low`` or more events."""
        return self._quantify(_check_count(low, "times_or_more"), None)

    def one_or_more(self) -> Pattern[V]:
        """The last stage takes one or more events."""
        return self._quantify(1, None)

    def optional(self) -> Pattern[V]:
        """The last stage may also be skipped entirely."""
        stage = self._last("optional")
        if stage.optional:
            raise ConfigError(f"stage {stage.name!r} is already optional")
        return self._replace_last(replace(stage, optional=True))

    def consecutive(self) -> Pattern[V]:
        """The last (looping) stage's events must follow each other strictly."""
        return self._loop(Contiguity.STRICT, "consecutive")

    def allow_combinations(self) -> Pattern[V]:
        """The last (looping) stage's events follow each other non-deterministically."""
        return self._loop(Contiguity.ANY, "allow_combinations")

    def within(self, window: int | timedelta) -> Pattern[V]:
        """A match must end less than ``window`` after its first event (half-open window).

        A partial match started at ``t`` can take events with time ``< t + window``; it is
        pruned (or, after ``not_followed_by``, completed) once the watermark reaches
        ``t + window``. Calling it again replaces the window.
        """
        return Pattern(self._stages, _to_ms(window, "within"), self._skip)

    # -- reading -----------------------------------------------------------------------------

    @property
    def stages(self) -> tuple[Stage[V], ...]:
        """The stages, first to last."""
        return self._stages

    @property
    def within_ms(self) -> int | None:
        """The window in milliseconds, if any."""
        return self._within

    @property
    def skip(self) -> AfterMatchSkip:
        """The after-match skip strategy."""
        return self._skip

    def describe(self) -> str:
        """``begin(login) → followed_by(click) → followed_by(promo) within 30s``."""
        text = " → ".join(s.describe(i == 0) for i, s in enumerate(self._stages))
        if self._within is not None:
            text += f" within {format_ms(self._within)}"
        if self._skip != SKIP_PAST_LAST_EVENT:
            text += f", {self._skip}"
        return text

    def __str__(self) -> str:
        return self.describe()

    def __repr__(self) -> str:
        return f"Pattern({self.describe()})"

    # -- helpers -----------------------------------------------------------------------------

    def _add(
        self, name: str, where: Condition[V] | None, contiguity: Contiguity, *, negated: bool
    ) -> Pattern[V]:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"a stage name must be a non-empty str, got {name!r}")
        if any(s.name == name for s in self._stages):
            raise ConfigError(f"duplicate stage name {name!r}")
        if where is not None and not callable(where):
            raise ConfigError(f"where of stage {name!r} must be callable, got {where!r}")
        if negated and self._stages and self._stages[-1].negated:
            raise ConfigError(f"stage {name!r}: two negated stages in a row")
        stage: Stage[V] = Stage(name, where, contiguity, negated=negated)
        return Pattern((*self._stages, stage), self._within, self._skip)

    def _last(self, what: str) -> Stage[V]:
        stage = self._stages[-1]
        if stage.negated:
            raise ConfigError(f"{what}() cannot apply to the negated stage {stage.name!r}")
        return stage

    def _replace_last(self, stage: Stage[Any]) -> Pattern[V]:
        return Pattern((*self._stages[:-1], stage), self._within, self._skip)

    def _quantify(self, low: int, high: int | None) -> Pattern[V]:
        stage = self._last("times")
        if stage.quantified:
            raise ConfigError(f"stage {stage.name!r} already has a quantifier")
        return self._replace_last(replace(stage, min_times=low, max_times=high, quantified=True))

    def _loop(self, loop: Contiguity, what: str) -> Pattern[V]:
        stage = self._last(what)
        if not stage.looping:
            raise ConfigError(f"{what}() needs a looping stage; {stage.name!r} takes one event")
        return self._replace_last(replace(stage, loop=loop))

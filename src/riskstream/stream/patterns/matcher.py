"""One key's partial matches of one pattern, advanced event by event and by the watermark.

A *run* is one partial match waiting in one NFA state. Runs live in a list ordered by the
arrival number of their first event (oldest first), which is what the after-match skip
strategies and the partial-match bound need. Processing an event builds the next list and
only then replaces the old one, so a condition that raises leaves the key as it was.

Time: a run started by an event at ``t`` has the deadline ``t + within`` and sees only
events with time ``< deadline`` (later ones are invisible to it: they neither extend nor
break nor kill it, since an earlier event may still arrive out of order). At a watermark
``w >= deadline`` the run expires: an absence run completes, any other is dropped (and
reported as a :class:`Timeout` if asked).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Generic, TypeVar

import msgspec

from riskstream.errors import ConfigError
from riskstream.stream.patterns.base import PatternLogic
from riskstream.stream.patterns.buffer import Node, events_of, flatten, path_seqs, root, unflatten
from riskstream.stream.patterns.context import MatchContext
from riskstream.stream.patterns.nfa import NEVER, Nfa, State
from riskstream.stream.patterns.results import Match, Overflow, PatternOutput, Timeout
from riskstream.stream.patterns.snapshot import PatternSnapshot, PatternState

__all__ = ["Matcher", "MatcherConfig"]

V = TypeVar("V")

#: The shared result of a call that emits nothing (no allocation on the hot path).
NOTHING: Final[tuple[()]] = ()

#: A completed match before emission: (node of its last event, first event's seq, end time).
_Done = tuple[Node[Any], int, int]

# The runs of a key without any: shared, so never updated in place (see Matcher._keep).
_NO_RUNS: list[Any] = []


# A Struct for speed (built per take); gc=False: it points at a static state and a node only.
class Run(msgspec.Struct, Generic[V], gc=False, eq=False):
    """A partial match waiting in ``state``; never mutated (lists of runs share them)."""

    state: State[V]
    node: Node[V]
    start_seq: int
    deadline: int


class MatcherConfig(Generic[V]):
    """What every key's :class:`Matcher` of one pattern shares (built once per step)."""

    __slots__ = ("emit_timeouts", "max_runs", "name", "nfa")

    def __init__(self, name: str, nfa: Nfa[V], *, emit_timeouts: bool, max_runs: int) -> None:
        self.name = name
        self.nfa = nfa
        self.emit_timeouts = emit_timeouts
        self.max_runs = max_runs


def _no_runs() -> list[Any]:
    return _NO_RUNS


# A Struct with gc=False, eq=False: a matcher lives per key, and one the garbage collector
# does not track costs its full passes nothing. It is in no cycle: nothing it reaches
# (config, context, runs, nodes, events) points back at it. Built as ``Matcher(config)``.
class Matcher(PatternLogic[V], msgspec.Struct, gc=False, eq=False):
    """The partial matches of one pattern for one key (FlinkCEP's ``NFAState`` + ``NFA``).

    It is the whole logic of a one-pattern step, and one part of a
    :class:`~riskstream.stream.patterns.definition.PatternGroup`.
    """

    _cfg: MatcherConfig[V]
    _ctx: MatchContext[V] = msgspec.field(default_factory=MatchContext)
    _runs: list[Run[V]] = msgspec.field(default_factory=_no_runs)
    _seq: int = 0  # arrival number of the next event
    _deadline: int | None = NEVER  # min run deadline; None = recompute
    _dropped: int = 0  # partial matches discarded by the bound

    @property
    def name(self) -> str:
        """The pattern's name in the step (every output's ``pattern``)."""
        return self._cfg.name

    @property
    def dropped(self) -> dict[str, int]:
        """``{name: count}`` of partial matches dropped by the bound, if any."""
        return {self._cfg.name: self._dropped} if self._dropped else {}

    # -- events ------------------------------------------------------------------------------

    def on_event(self, event_time: int, value: V) -> Sequence[PatternOutput[V]]:
        """Advance every run by one event, start a new one if it fits; emit what completes."""
        t = event_time
        seq = self._seq
        ctx = self._ctx
        ctx.event_time = t
        start = self._cfg.nfa.start
        if not self._runs:  # the common case: only a new partial match can begin
            ctx._node = None
            take = start.take
            if take is None or not take(value, ctx):
                self._seq = 0
                self._deadline = NEVER
                return NOTHING
            kept: list[Run[V]] = []
            done: list[_Done] = []
            self._begin(t, value, seq, kept, done)
        else:
            kept, done = self._advance(t, value, seq)
            ctx._node = None
            take = start.take
            if take is not None and take(value, ctx):
                self._begin(t, value, seq, kept, done)
        out: Sequence[PatternOutput[V]] = self._emit(done, kept) if done else NOTHING
        excess = len(kept) - self._cfg.max_runs
        if excess > 0:  # the oldest partial matches go first
            del kept[:excess]
            self._dropped += excess
            out = [*out, Overflow(pattern=self._cfg.name, dropped=excess, time=t)]
        self._keep(kept)
        self._seq = seq + 1 if kept else 0  # numbers only order live runs: restart when idle
        self._deadline = None
        return out

    def _advance(self, t: int, value: V, seq: int) -> tuple[list[Run[V]], list[_Done]]:
        """The runs after ``value`` (at ``t``, arrival ``seq``), and the matches it completes."""
        ctx = self._ctx
        kept: list[Run[V]] = []
        done: list[_Done] = []
        for run in self._runs:
            if t >= run.deadline:  # outside this run's window: invisible to it
                kept.append(run)
                continue
            state = run.state
            node = run.node
            ctx._node = node
            guard = state.guard
            if guard is not None:  # not_next: only this first event is checked
                if guard(value, ctx):
                    continue
                unguarded = state.unguarded
                if unguarded is None:  # a trailing not_next is confirmed by this event
                    done.append((node, run.start_seq, t))
                    continue
                state = unguarded
                # the run moves past its guard: a new Run, since the old one may be restored
                run = Run(state, node, run.start_seq, run.deadline)  # noqa: PLW2901
            take = state.take
            if take is not None and take(value, ctx):
                taken = Node(state.stage, value, t, seq, node)
                for target in state.targets:
                    kept.append(Run(target, taken, run.start_seq, run.deadline))
                if state.completes:
                    done.append((taken, run.start_seq, t))
                if not state.keep_on_take:
                    continue
            elif not state.keep_on_miss:  # strict contiguity broken
                continue
            stop = state.stop
            if stop is None or not stop(value, ctx):
                kept.append(run)
        return kept, done

    def _keep(self, kept: list[Run[V]]) -> None:
        """Make ``kept`` the runs. A key keeps one list while it has runs, updated in place:
        a new list per event would outlive the collector's young generations and make it
        scan every live object far more often."""
        runs = self._runs
        if not kept:
            self._runs = _NO_RUNS
        elif runs is _NO_RUNS:
            self._runs = kept
        else:
            runs[:] = kept

    def _begin(self, t: int, value: V, seq: int, kept: list[Run[V]], done: list[_Done]) -> None:
        """Start a partial match with ``value``, which the first stage took."""
        nfa = self._cfg.nfa
        start = nfa.start
        taken: Node[V] = Node(start.stage, value, t, seq, None)
        within = nfa.within
        deadline = NEVER if within == NEVER else t + within
        for target in start.targets:
            kept.append(Run(target, taken, seq, deadline))
        if start.completes:
            done.append((taken, seq, t))

    def _emit(self, done: list[_Done], kept: list[Run[V]]) -> list[PatternOutput[V]]:
        """Emit completed matches in order, applying the skip strategy to ``kept`` in place."""
        if len(done) > 1:
            done.sort(key=_order)
        skip = self._cfg.nfa.pattern.skip
        out: list[PatternOutput[V]] = []
        threshold = -1
        for node, start_seq, end in done:
            if start_seq < threshold:
                continue
            out.append(self._match(node, end))
            cut = skip.threshold(node)
            if cut is not None and cut > threshold:
                threshold = cut
        if threshold > 0:
            kept[:] = [run for run in kept if run.start_seq >= threshold]
        return out

    def _match(self, node: Node[V], end: int) -> Match[V]:
        return Match(pattern=self._cfg.name, events=events_of(node), start=root(node).time, end=end)

    # -- time --------------------------------------------------------------------------------

    def next_deadline(self) -> int | None:
        """The earliest deadline of a run, if any run has one."""
        deadline = self._deadline
        if deadline is None:  # recomputed lazily: a plain loop beats min() on a few runs
            deadline = NEVER
            for run in self._runs:
                if run.deadline < deadline:  # noqa: PLR1730 - no call per run
                    deadline = run.deadline
            self._deadline = deadline
        return None if deadline >= NEVER else deadline

    def on_watermark(self, watermark: int) -> Sequence[PatternOutput[V]]:
        """Expire runs with ``deadline <= watermark``, earliest deadline first."""
        deadline = self.next_deadline()
        if deadline is None or watermark < deadline:
            return NOTHING
        expired = [r for r in self._runs if r.deadline <= watermark]
        kept = [r for r in self._runs if r.deadline > watermark]
        expired.sort(key=_expiry_order)
        skip = self._cfg.nfa.pattern.skip
        out: list[PatternOutput[V]] = []
        threshold = -1
        reported: set[int] = set()  # runs of one partial match share a node: report it once
        for run in expired:
            if run.start_seq < threshold:
                continue
            state, node = run.state, run.node
            if state.absent:  # the window passed without a forbidden event
                out.append(self._match(node, run.deadline))
                cut = skip.threshold(node)
                if cut is not None and cut > threshold:
                    threshold = cut
            elif self._cfg.emit_timeouts and id(node) not in reported:
                reported.add(id(node))
                start = root(node).time
                out.append(
                    Timeout(
                        pattern=self._cfg.name,
                        events=events_of(node),
                        start=start,
                        deadline=run.deadline,
                    )
                )
        if threshold > 0:
            kept = [run for run in kept if run.start_seq >= threshold]
        self._keep(kept)
        if not kept:
            self._seq = 0
        self._deadline = None
        return out

    # -- state -------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        """True when the key has no partial match of this pattern."""
        return not self._runs

    def reset(self) -> None:
        """Back to the state of a new matcher (for reuse by another key)."""
        self._ctx._node = None
        self._ctx.event_time = 0
        self._runs = _NO_RUNS
        self._seq = 0
        self._deadline = NEVER
        self._dropped = 0

    def snapshot(self) -> PatternSnapshot[V]:
        """The key's state for a one-pattern step."""
        events: list[V] = []
        if not self._runs and not self._dropped:
            return PatternSnapshot(events, {})
        return PatternSnapshot(events, {self._cfg.name: self.state(events, {})})

    def state(self, events: list[Any], event_index: dict[int, int]) -> PatternState:
        """This pattern's runs; their events go to the step's shared ``events``."""
        nfa = self._cfg.nfa
        nodes, index = flatten((r.node for r in self._runs), nfa.stage_index, events, event_index)
        runs = [(r.state.index, index[id(r.node)]) for r in self._runs]
        return PatternState(nfa.fingerprint, self._seq, self._dropped, nodes, runs)

    def restore(self, state: PatternState, events: list[Any]) -> None:
        """Load ``state`` (from :meth:`state` of a matcher of the same pattern)."""
        nfa = self._cfg.nfa
        if state.fingerprint != nfa.fingerprint:
            raise ConfigError(
                f"the snapshot of pattern {self.name!r} was taken with a different pattern "
                f"structure; rename the pattern to start it afresh ({nfa.pattern.describe()})"
            )
        within = nfa.within
        try:
            nodes = unflatten(state.nodes, nfa.stages, events)
            runs: list[Run[V]] = []
            for index, node_index in state.runs:
                node = nodes[node_index]
                first = root(node)
                deadline = NEVER if within == NEVER else first.time + within
                runs.append(Run(nfa.states[index], node, first.seq, deadline))
        except IndexError as exc:
            raise ConfigError(f"corrupt snapshot of pattern {self.name!r}: {exc}") from exc
        self._runs = runs
        self._seq = state.seq
        self._dropped = state.dropped
        self._deadline = None

    def save(self) -> tuple[list[Run[V]], int, int, int | None]:
        """The matcher's whole mutable state (runs are immutable; their list is copied, since
        it is updated in place)."""
        runs = self._runs
        return runs[:] if runs else _NO_RUNS, self._seq, self._dropped, self._deadline

    def load(self, saved: tuple[list[Run[V]], int, int, int | None]) -> None:
        """Go back to a :meth:`save` point."""
        self._runs, self._seq, self._dropped, self._deadline = saved


def _order(done: _Done) -> tuple[int, int, tuple[int, ...]]:
    """Matches completed together: earliest start first, then longest, then earliest events."""
    seqs = path_seqs(done[0])
    return done[1], -len(seqs), seqs


def _expiry_order(run: Run[Any]) -> tuple[int, int, int, bool, tuple[int, ...]]:
    """Expiring runs: by deadline, then as :func:`_order`; a completing absence before a
    timeout of the same events, so the skip strategy can discard the latter."""
    seqs = path_seqs(run.node)
    return run.deadline, run.start_seq, -len(seqs), not run.state.absent, seqs

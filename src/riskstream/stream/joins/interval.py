"""Stream-stream interval join (Kafka Streams ``JoinWindows``, Flink ``intervalJoin``).

A left event at time ``t`` joins every right event of the same key whose time lies in the
**closed** interval ``[t - before_ms, t + after_ms]`` (both ends inclusive, as in Kafka
Streams and Flink). Symmetrically a right event at ``r`` joins the left events in
``[r - after_ms, r + before_ms]``. "A checkout with the same user's logins of the preceding
30 s" is ``IntervalJoin(before_ms=30_000, after_ms=0)`` with checkouts on the left.
Negative bounds are allowed as long as the interval is not empty (``before + after >= 0``):
``before_ms=-5, after_ms=10`` means a right event 5 to 10 ms *after* the left one.

Emission:

* every pair is emitted as soon as its second event arrives, whatever the arrival order, as
  ``Joined(left, right, left_time, right_time)``; a new event's pairs come in partner-time
  order;
* ``how="left"``/``"outer"``: a left event that found no partner emits
  ``Joined(left, None, t, None)`` once the watermark passes its window, ``watermark > t +
  after_ms`` - never eagerly, so there are no spurious left results (Kafka Streams >= 3.1);
  ``"outer"`` likewise emits ``Joined(None, right, None, r)`` once ``watermark > r +
  before_ms``. A watermark call emits left-only results first, then right-only ones, each
  in time order.

Buffers: a left event is kept while a right event may still join it (until ``watermark > t +
after_ms``), a right event until ``watermark > r + before_ms`` (the executor only delivers
events at or after the watermark, so that is exactly when they can no longer join; the
allowed lateness is already in the watermark, so there is no separate grace period).

Bound: each side keeps at most ``max_buffered`` events per key. On overflow the *oldest by
event time* is evicted (recent events matter most, and the new event has already probed the
other side); ``evicted`` counts them. An evicted left event of a left/outer join that never
matched emits its ``Joined(left, None, ...)`` at eviction - possibly premature, but the left
record is never lost; likewise an unmatched right event of an outer join.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal

import msgspec

from riskstream.errors import ConfigError
from riskstream.stream.joins.base import (
    NO_WATERMARK,
    NOTHING,
    Joined,
    L,
    Left,
    R,
    Right,
    Side,
    check_bound,
    check_choice,
    not_a_side,
    to_ms,
)

__all__ = ["IntervalJoin", "IntervalJoinLogic", "IntervalJoinSnapshot"]

IntervalHow = Literal["inner", "left", "outer"]
DEFAULT_MAX_BUFFERED = 1_000


class IntervalJoinSnapshot(msgspec.Struct, Generic[L, R], frozen=True, array_like=True):
    """One key's interval-join buffers, each side as parallel tuples sorted by time.

    ``*_matched`` flags are kept only for a side whose unmatched events are emitted (left for
    left/outer joins, right for outer joins) and are empty otherwise.
    """

    left_times: tuple[int, ...] = ()
    left_values: tuple[L, ...] = ()
    left_matched: tuple[bool, ...] = ()
    right_times: tuple[int, ...] = ()
    right_values: tuple[R, ...] = ()
    right_matched: tuple[bool, ...] = ()
    watermark: int = NO_WATERMARK
    evicted: int = 0


@dataclass(frozen=True, init=False)
class IntervalJoin(Generic[L, R]):
    """Join each left event with the right events in ``[t - before_ms, t + after_ms]``.

    ``how``: ``"inner"`` (pairs only), ``"left"`` (plus unmatched left events at window
    close), ``"outer"`` (plus unmatched right events). ``max_buffered`` bounds each side's
    buffer per key (``None``: unbounded). ``left_type``/``right_type`` type the snapshot.
    """

    before_ms: int
    after_ms: int
    how: IntervalHow
    max_buffered: int | None
    left_type: Any
    right_type: Any

    def __init__(
        self,
        before_ms: int | timedelta,
        after_ms: int | timedelta,
        *,
        how: IntervalHow = "inner",
        max_buffered: int | None = DEFAULT_MAX_BUFFERED,
        left_type: Any = Any,
        right_type: Any = Any,
    ) -> None:
        before = to_ms(before_ms, "before_ms", minimum=None)
        after = to_ms(after_ms, "after_ms", minimum=None)
        if before + after < 0:
            raise ConfigError(f"empty join interval: before_ms + after_ms = {before + after} < 0")
        check_choice(how, "how", ("inner", "left", "outer"))
        init = object.__setattr__  # the dataclass is frozen; normalise once here
        init(self, "before_ms", before)
        init(self, "after_ms", after)
        init(self, "how", how)
        init(self, "max_buffered", check_bound(max_buffered))
        init(self, "left_type", left_type)
        init(self, "right_type", right_type)

    @property
    def snapshot_type(self) -> Any:
        """``IntervalJoinSnapshot[left_type, right_type]``."""
        # Parametrised at runtime with the configured value types, which mypy cannot follow.
        return IntervalJoinSnapshot[self.left_type, self.right_type]  # type: ignore[name-defined]

    def build(self, snapshot: IntervalJoinSnapshot[L, R] | None = None) -> IntervalJoinLogic[L, R]:
        """A fresh logic, or one restored from ``snapshot``."""
        how = self.how
        # Matched flags only for the sides whose unmatched events are emitted.
        lm = None if how == "inner" else bytearray()
        rm = bytearray() if how == "outer" else None
        if snapshot is None:
            return IntervalJoinLogic(self.before_ms, self.after_ms, self.max_buffered, lm, rm)
        # Copies: the snapshot is immutable and the columns are mutated in place.
        lt, rt = list(snapshot.left_times), list(snapshot.right_times)
        return IntervalJoinLogic(
            self.before_ms,
            self.after_ms,
            self.max_buffered,
            None if lm is None else _flags(snapshot.left_matched, len(lt)),
            None if rm is None else _flags(snapshot.right_matched, len(rt)),
            lt,
            list(snapshot.left_values),
            rt,
            list(snapshot.right_values),
            snapshot.watermark,
            snapshot.evicted,
        )


# A Struct with gc=False, eq=False: every key holds a join logic, and one the garbage
# collector does not track costs its full passes nothing. It is in no cycle: its columns
# hold times, flags and events only. Built by :meth:`IntervalJoin.build`.
class IntervalJoinLogic(msgspec.Struct, Generic[L, R], gc=False, eq=False):
    """One key's interval join: both sides' buffers as parallel columns sorted by event time.

    Matched flags are ``bytearray`` (untracked by the garbage collector too), ``None`` for a
    side whose unmatched events are not emitted.
    """

    _before: int
    _after: int
    _bound: int | None
    _lm: bytearray | None
    _rm: bytearray | None
    _lt: list[int] = msgspec.field(default_factory=list)
    _lv: list[L] = msgspec.field(default_factory=list)
    _rt: list[int] = msgspec.field(default_factory=list)
    _rv: list[R] = msgspec.field(default_factory=list)
    _wm: int = NO_WATERMARK
    #: Events this key evicted because a buffer was full (kept in the snapshot).
    evicted: int = 0

    def on_event(self, event_time: int, value: Side[L, R]) -> Sequence[Joined[L, R]]:
        """Dispatch ``Left``/``Right`` to :meth:`on_left`/:meth:`on_right`."""
        if isinstance(value, Left):
            return self.on_left(event_time, value.value)
        if isinstance(value, Right):
            return self.on_right(event_time, value.value)
        raise not_a_side(value)

    def on_left(self, event_time: int, value: L) -> Sequence[Joined[L, R]]:
        """Pair with buffered right events in ``[t - before, t + after]``; buffer the event."""
        t = event_time
        out: Sequence[Joined[L, R]] = NOTHING
        matched = False
        rt = self._rt
        if rt:
            i = bisect_left(rt, t - self._before)
            j = bisect_right(rt, t + self._after, i)
            if i < j:
                rv = self._rv
                if j == i + 1:  # the common case, without a comprehension's frame (3.11)
                    out = [Joined(value, rv[i], t, rt[i])]
                else:
                    out = [Joined(value, rv[k], t, rt[k]) for k in range(i, j)]
                matched = True
                if self._rm is not None:
                    self._rm[i:j] = b"\x01" * (j - i)
        lm = self._lm
        if t + self._after < self._wm:  # negative after_ms: no right event can still come
            if not matched and lm is not None:
                return [Joined(value, None, t, None)]
            return out
        lt, lv = self._lt, self._lv
        if not lt or t >= lt[-1]:  # in-order arrival: append
            lt.append(t)
            lv.append(value)
            if lm is not None:
                lm.append(matched)
        else:
            k = bisect_right(lt, t)
            lt.insert(k, t)
            lv.insert(k, value)
            if lm is not None:
                lm.insert(k, matched)
        if self._bound is not None and len(lt) > self._bound:
            self.evicted += 1
            old_t, old_v = lt.pop(0), lv.pop(0)
            if lm is not None and not lm.pop(0):
                out = [*out, Joined(old_v, None, old_t, None)]
        return out

    def on_right(self, event_time: int, value: R) -> Sequence[Joined[L, R]]:
        """Pair with buffered left events in ``[r - after, r + before]``; buffer the event."""
        t = event_time
        out: Sequence[Joined[L, R]] = NOTHING
        matched = False
        lt = self._lt
        if lt:
            i = bisect_left(lt, t - self._after)
            j = bisect_right(lt, t + self._before, i)
            if i < j:
                lv = self._lv
                if j == i + 1:
                    out = [Joined(lv[i], value, lt[i], t)]
                else:
                    out = [Joined(lv[k], value, lt[k], t) for k in range(i, j)]
                matched = True
                if self._lm is not None:
                    self._lm[i:j] = b"\x01" * (j - i)
        rm = self._rm
        if t + self._before < self._wm:  # negative before_ms: no left event can still come
            if not matched and rm is not None:
                return [Joined(None, value, None, t)]
            return out
        rt, rv = self._rt, self._rv
        if not rt or t >= rt[-1]:
            rt.append(t)
            rv.append(value)
            if rm is not None:
                rm.append(matched)
        else:
            k = bisect_right(rt, t)
            rt.insert(k, t)
            rv.insert(k, value)
            if rm is not None:
                rm.insert(k, matched)
        if self._bound is not None and len(rt) > self._bound:
            self.evicted += 1
            old_t, old_v = rt.pop(0), rv.pop(0)
            if rm is not None and not rm.pop(0):
                out = [*out, Joined(None, old_v, None, old_t)]
        return out

    def on_watermark(self, watermark: int) -> Sequence[Joined[L, R]]:
        """Drop events whose window the watermark passed; emit the unmatched ones (left/outer)."""
        self._wm = w = max(self._wm, watermark)
        out: list[Joined[L, R]] = []
        lt = self._lt
        if lt and lt[0] + self._after < w:
            k = bisect_left(lt, w - self._after)
            lv, lm = self._lv, self._lm
            if lm is not None:
                out = [Joined(lv[i], None, lt[i], None) for i in range(k) if not lm[i]]
                del lm[:k]
            del lt[:k], lv[:k]
        rt = self._rt
        if rt and rt[0] + self._before < w:
            k = bisect_left(rt, w - self._before)
            rv, rm = self._rv, self._rm
            if rm is not None:
                out += [Joined(None, rv[i], None, rt[i]) for i in range(k) if not rm[i]]
                del rm[:k]
            del rt[:k], rv[:k]
        return out or NOTHING

    def next_deadline(self) -> int | None:
        """The watermark at which the oldest buffered event of either side expires."""
        lt, rt = self._lt, self._rt
        if lt:
            d = lt[0] + self._after + 1
            if rt:
                e = rt[0] + self._before + 1
                return e if e < d else d
            return d
        return rt[0] + self._before + 1 if rt else None

    def snapshot(self) -> IntervalJoinSnapshot[L, R]:
        """Both buffers (copied), the last watermark seen and the eviction count."""
        return IntervalJoinSnapshot(
            tuple(self._lt),
            tuple(self._lv),
            () if self._lm is None else tuple(map(bool, self._lm)),
            tuple(self._rt),
            tuple(self._rv),
            () if self._rm is None else tuple(map(bool, self._rm)),
            self._wm,
            self.evicted,
        )

    def is_empty(self) -> bool:
        """True when neither side buffers anything."""
        return not self._lt and not self._rt

    def reset(self) -> None:
        """Back to the state of a new logic (for reuse by another key); the buffers are
        emptied in place (snapshots hold copies)."""
        for column in (self._lt, self._lv, self._lm, self._rt, self._rv, self._rm):
            if column is not None:
                del column[:]
        self._wm = NO_WATERMARK
        self.evicted = 0


def _flags(matched: tuple[bool, ...], n: int) -> bytearray:
    # A snapshot taken under another ``how`` may lack flags: count those events unmatched.
    return bytearray(matched) if len(matched) == n else bytearray(n)


if TYPE_CHECKING:  # static proof that the classes meet the runtime contract
    from riskstream.stream.joins.base import JoinLogic
    from riskstream.stream.logic import Definition

    _check: Definition[Side[int, str], Joined[int, str], IntervalJoinSnapshot[int, str]] = (
        IntervalJoin[int, str](1, 1)
    )
    _logic: JoinLogic[int, str, IntervalJoinSnapshot[int, str]] = IntervalJoin[int, str](
        1, 1
    ).build()

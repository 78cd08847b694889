"""The per-key logic behind the as-of join and the temporal (versioned) table join.

Right events are *versions*: a sorted list of ``(time, value)`` with unique times (a second
right event at the same time replaces the first - the later arrival wins). A left event at
``t`` is looked up against them:

* ``backward``: the latest version with ``time <= t`` and ``time >= t - tolerance``;
* ``forward``: the earliest version with ``time >= t`` and ``time <= t + tolerance``;
* ``nearest``: whichever of the two is closer to ``t`` (a tie goes to ``backward``).

With tombstones (the table join) a ``None`` value is a deletion: if the version in force at
``t`` is a tombstone, there is no match - the lookup does not reach past it.

Emission. *Watermark mode* (default): left events wait in a pending buffer until no right
event can still change their answer - ``watermark > t`` for ``backward``, ``watermark > t +
tolerance`` for ``forward``/``nearest`` - and are emitted then, in event-time order. This is
final and correct for out-of-order right events (Flink event-time temporal join). *Eager
mode* (``backward`` only): a left event is answered on arrival from the versions seen so far
(Kafka Streams' versioned stream-table join without grace); a right event that arrives
later with a time in ``[match, t]`` does not revise it, and a left join may emit ``None``
where a later right event would have matched.

Retention. Let ``m`` be the oldest time that can still be looked up: ``watermark -
history`` or the oldest pending left event, whichever is smaller (future left events are
at or after the watermark). Kept: every version after ``m`` plus the one in force at ``m``
(dropped as well if it is a tombstone, or older than ``m - tolerance``). ``forward`` keeps
only versions at or after ``m``.

Bound: at most ``bound`` versions and ``bound`` pending left events per key. An overflowing
version evicts the oldest one; an overflowing pending left event flushes the oldest pending
one, answered from the versions known now (possibly premature, never lost). ``evicted``
counts both.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Final, Generic, NamedTuple

import msgspec

from riskstream.stream.joins.base import (
    NO_WATERMARK,
    NOTHING,
    Joined,
    L,
    Left,
    R,
    Right,
    Side,
    not_a_side,
)

__all__ = ["BACKWARD", "FORWARD", "NEAREST", "AsOfJoinLogic", "AsOfJoinSnapshot", "AsOfParams"]

BACKWARD: Final = 0
FORWARD: Final = 1
NEAREST: Final = 2


class AsOfParams(NamedTuple):
    """A definition's settings, computed once and shared by every key's logic."""

    direction: int  # BACKWARD, FORWARD or NEAREST
    tolerance: int | None  # None (unbounded) only with BACKWARD
    emit_unmatched: bool  # a left join
    eager: bool  # only with BACKWARD
    tombstones: bool  # a None right value deletes (table join)
    history: int  # extra retention behind the watermark, ms
    bound: int | None  # max versions and max pending left events per key


class AsOfJoinSnapshot(msgspec.Struct, Generic[L, R], frozen=True, array_like=True):
    """One key's versions and pending left events, as parallel tuples sorted by time."""

    right_times: tuple[int, ...] = ()
    right_values: tuple[R | None, ...] = ()
    pending_times: tuple[int, ...] = ()
    pending_values: tuple[L, ...] = ()
    watermark: int = NO_WATERMARK
    evicted: int = 0


class AsOfJoinLogic(Generic[L, R]):
    """One key's as-of / temporal join state (see the module docstring for the semantics)."""

    __slots__ = (
        "_bound",
        "_dir",
        "_eager",
        "_emit_unmatched",
        "_history",
        "_pt",
        "_pv",
        "_tol",
        "_tomb",
        "_vt",
        "_vv",
        "_wait",
        "_wm",
        "evicted",
    )

    def __init__(self, params: AsOfParams, snapshot: AsOfJoinSnapshot[L, R] | None) -> None:
        (
            self._dir,
            self._tol,
            self._emit_unmatched,
            self._eager,
            self._tomb,
            self._history,
            self._bound,
        ) = params
        tol = params.tolerance
        self._wait = 0 if params.direction == BACKWARD or tol is None else tol
        if snapshot is None:
            self._vt: list[int] = []
            self._vv: list[R | None] = []
            self._pt: list[int] = []
            self._pv: list[L] = []
            self._wm = NO_WATERMARK
            #: Versions evicted and pending left events flushed early as a buffer was full.
            self.evicted = 0
            return
        # Copies: the snapshot is immutable and these lists are mutated in place.
        self._vt = list(snapshot.right_times)
        self._vv = list(snapshot.right_values)
        self._pt = list(snapshot.pending_times)
        self._pv = list(snapshot.pending_values)
        self._wm = snapshot.watermark
        self.evicted = snapshot.evicted

    def on_event(self, event_time: int, value: Side[L, R | None]) -> Sequence[Joined[L, R]]:
        """Dispatch ``Left``/``Right`` to :meth:`on_left`/:meth:`on_right`."""
        if isinstance(value, Left):
            return self.on_left(event_time, value.value)
        if isinstance(value, Right):
            return self.on_right(event_time, value.value)
        raise not_a_side(value)

    def on_left(self, event_time: int, value: L) -> Sequence[Joined[L, R]]:
        """Answer now (eager) or hold until the watermark makes the answer final."""
        if self._eager:
            r = self._answer(event_time, value)
            return NOTHING if r is None else [r]
        pt = self._pt
        if not pt or event_time >= pt[-1]:
            pt.append(event_time)
            self._pv.append(value)
        else:
            k = bisect_right(pt, event_time)  # after equal times: arrival order is kept
            pt.insert(k, event_time)
            self._pv.insert(k, value)
        if self._bound is not None and len(pt) > self._bound:
            self.evicted += 1
            r = self._answer(pt.pop(0), self._pv.pop(0))
            return NOTHING if r is None else [r]
        return NOTHING

    def on_right(self, event_time: int, value: R | None) -> Sequence[Joined[L, R]]:
        """Record a version (``None`` is a tombstone in a table join); emits nothing."""
        vt = self._vt
        if not vt or event_time > vt[-1]:
            vt.append(event_time)
            self._vv.append(value)
        else:
            k = bisect_left(vt, event_time)
            if vt[k] == event_time:
                self._vv[k] = value
                return NOTHING
            vt.insert(k, event_time)
            self._vv.insert(k, value)
        if self._bound is not None and len(vt) > self._bound:
            self.evicted += 1
            del vt[0], self._vv[0]
        return NOTHING

    def on_watermark(self, watermark: int) -> Sequence[Joined[L, R]]:
        """Emit the pending left events the watermark made final; drop unreachable versions."""
        self._wm = max(self._wm, watermark)
        w = self._wm
        out: list[Joined[L, R]] = []
        pt = self._pt
        if pt and pt[0] + self._wait < w:
            k = bisect_left(pt, w - self._wait)
            pv, answer = self._pv, self._answer
            for i in range(k):
                r = answer(pt[i], pv[i])
                if r is not None:
                    out.append(r)
            del pt[:k], pv[:k]
        if self._vt:
            self._prune()
        return out or NOTHING

    def next_deadline(self) -> int | None:
        """The watermark at which a pending left event is final or a version can be dropped."""
        pt = self._pt
        d = pt[0] + self._wait + 1 if pt else None
        th = self._prune_threshold()
        # Pruning needs both ``watermark - history >= th`` and no older pending left event;
        # in the latter case the pending event's own deadline comes first.
        if th is not None and (not pt or pt[0] >= th):
            e = max(th + self._history, self._wm + 1)
            if d is None or e < d:
                d = e
        return d

    def snapshot(self) -> AsOfJoinSnapshot[L, R]:
        """Versions, pending left events (copied), the last watermark and the eviction count."""
        return AsOfJoinSnapshot(
            tuple(self._vt),
            tuple(self._vv),
            tuple(self._pt),
            tuple(self._pv),
            self._wm,
            self.evicted,
        )

    def is_empty(self) -> bool:
        """True when no version and no pending left event is held."""
        return not self._vt and not self._pt

    def _answer(self, t: int, value: L) -> Joined[L, R] | None:
        i = self._match(t)
        if i >= 0:
            return Joined(value, self._vv[i], t, self._vt[i])
        return Joined(value, None, t, None) if self._emit_unmatched else None

    def _match(self, t: int) -> int:
        """Index of the version that answers a lookup at ``t``, or -1."""
        vt = self._vt
        if not vt:
            return -1
        direction, tol = self._dir, self._tol
        b = -1
        if direction != FORWARD:
            b = bisect_right(vt, t) - 1
            if b >= 0 and (
                (tol is not None and vt[b] < t - tol) or (self._tomb and self._vv[b] is None)
            ):
                b = -1
            if direction == BACKWARD or (b >= 0 and vt[b] == t):
                return b
        f = bisect_left(vt, t)
        if f == len(vt) or (tol is not None and vt[f] > t + tol):
            f = -1
        if direction == FORWARD or b < 0:
            return f
        if f < 0:
            return b
        return f if vt[f] - t < t - vt[b] else b

    def _oldest_lookup(self) -> int:
        m = self._wm - self._history
        pt = self._pt
        return pt[0] if pt and pt[0] < m else m

    def _prune(self) -> None:
        vt, vv = self._vt, self._vv
        m = self._oldest_lookup()
        if self._dir == FORWARD:
            k = bisect_left(vt, m)
        else:
            k = bisect_right(vt, m) - 1  # the version in force at m
            if k < 0:
                return
            tol = self._tol
            if (self._tomb and vv[k] is None) or (tol is not None and vt[k] + tol < m):
                k += 1
        if k:
            del vt[:k], vv[:k]

    def _prune_threshold(self) -> int | None:
        """The smallest oldest-lookup time ``m`` at which :meth:`_prune` drops something."""
        vt = self._vt
        if not vt:
            return None
        if self._dir == FORWARD:
            return vt[0] + 1
        if self._tomb and self._vv[0] is None:
            return vt[0]
        th = vt[1] if len(vt) > 1 else None
        if self._tol is not None:
            expiry = vt[0] + self._tol + 1
            if th is None or expiry < th:
                th = expiry
        return th

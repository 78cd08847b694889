"""Stream-table join: each left event joins its key's table value (Kafka KStream-KTable).

The right input is a changelog: each right event sets the key's value, and a ``None`` value
is a tombstone that deletes it. Right events emit nothing.

* ``TableJoin()`` - *latest value*: a left event joins the value current **when it is
  processed** (arrival order, not event time; a table update arriving after the left event
  does not revise it) and emits ``Joined(left, value, t, value_time)``. With ``how="left"``
  a key without a value yields ``Joined(left, None, t, None)``; ``"inner"`` emits nothing.
  Its state is the one latest value, kept until a tombstone (or until a store TTL, if one
  is configured, evicts the quiet key).
* ``TableJoin(temporal=True)`` - *versioned*: a left event at ``t`` joins the value that was
  valid at event time ``t`` - the latest version with ``time <= t``, no match if that is a
  tombstone (Kafka Streams versioned stores, Flink ``FOR SYSTEM_TIME AS OF``). By default
  the left event is answered once ``watermark > t``, so a table update arriving out of order
  is still taken into account; ``eager=True`` answers on arrival from the versions seen so
  far. Versions are kept while a lookup can still reach them: the one in force at
  ``watermark - history_ms`` and all later ones. Since the executor only delivers left
  events at or after the watermark, ``history_ms=0`` is already exact for this join; a
  larger value only keeps older versions in the state (Kafka's history retention) for a
  reader of the snapshot. ``max_buffered`` bounds versions and pending left events per key
  (see :mod:`riskstream.stream.joins.versioned`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal

import msgspec

from riskstream.errors import ConfigError
from riskstream.stream.joins.base import (
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
from riskstream.stream.joins.versioned import BACKWARD, AsOfJoinLogic, AsOfJoinSnapshot, AsOfParams

__all__ = ["TableJoin", "TableJoinLogic", "TableJoinSnapshot"]

TableHow = Literal["inner", "left"]
DEFAULT_MAX_BUFFERED = 1_000


class TableJoinSnapshot(msgspec.Struct, Generic[R], frozen=True, array_like=True):
    """One key's current table value (``time is None``: no value)."""

    value: R | None = None
    time: int | None = None


@dataclass(frozen=True, init=False)
class TableJoin(Generic[L, R]):
    """Join each left event with its key's table value: latest, or as of its event time."""

    how: TableHow
    temporal: bool
    history_ms: int
    eager: bool
    max_buffered: int | None
    left_type: Any
    right_type: Any
    _params: AsOfParams = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        *,
        how: TableHow = "inner",
        temporal: bool = False,
        history_ms: int | timedelta = 0,
        eager: bool = False,
        max_buffered: int | None = DEFAULT_MAX_BUFFERED,
        left_type: Any = Any,
        right_type: Any = Any,
    ) -> None:
        check_choice(how, "how", ("inner", "left"))
        history = to_ms(history_ms, "history_ms")
        if not temporal and (history or eager):
            raise ConfigError("history_ms and eager apply to temporal=True only")
        init = object.__setattr__  # the dataclass is frozen; normalise once here
        init(self, "how", how)
        init(self, "temporal", bool(temporal))
        init(self, "history_ms", history)
        init(self, "eager", bool(eager))
        init(self, "max_buffered", check_bound(max_buffered))
        init(self, "left_type", left_type)
        init(self, "right_type", right_type)
        bound = self.max_buffered
        init(
            self, "_params", AsOfParams(BACKWARD, None, how == "left", eager, True, history, bound)
        )

    @property
    def snapshot_type(self) -> Any:
        """``TableJoinSnapshot[right_type]``, or ``AsOfJoinSnapshot[...]`` when temporal."""
        # Parametrised at runtime with the configured value types, which mypy cannot follow.
        if self.temporal:
            return AsOfJoinSnapshot[self.left_type, self.right_type]  # type: ignore[name-defined]
        return TableJoinSnapshot[self.right_type]  # type: ignore[name-defined]

    def build(
        self, snapshot: TableJoinSnapshot[R] | AsOfJoinSnapshot[L, R] | None = None
    ) -> TableJoinLogic[L, R] | AsOfJoinLogic[L, R]:
        """A fresh logic, or one restored from ``snapshot`` (of this definition's kind)."""
        if not self.temporal:
            if isinstance(snapshot, AsOfJoinSnapshot):
                raise ConfigError("a temporal table-join snapshot given to a latest-value join")
            return TableJoinLogic(snapshot, self.how == "left")
        if isinstance(snapshot, TableJoinSnapshot):
            raise ConfigError("a latest-value table-join snapshot given to a temporal join")
        return AsOfJoinLogic(self._params, snapshot)


class TableJoinLogic(Generic[L, R]):
    """One key's latest table value; left events are answered on arrival."""

    __slots__ = ("_emit_unmatched", "_time", "_value")

    def __init__(self, snapshot: TableJoinSnapshot[R] | None, emit_unmatched: bool) -> None:
        self._emit_unmatched = emit_unmatched
        self._value: R | None = None if snapshot is None else snapshot.value
        self._time: int | None = None if snapshot is None else snapshot.time

    def on_event(self, event_time: int, value: Side[L, R | None]) -> Sequence[Joined[L, R]]:
        """Dispatch ``Left``/``Right`` to :meth:`on_left`/:meth:`on_right`."""
        if isinstance(value, Left):
            return self.on_left(event_time, value.value)
        if isinstance(value, Right):
            return self.on_right(event_time, value.value)
        raise not_a_side(value)

    def on_left(self, event_time: int, value: L) -> Sequence[Joined[L, R]]:
        """Join with the current value (or emit ``None`` for a left join)."""
        if self._time is not None:
            return [Joined(value, self._value, event_time, self._time)]
        if self._emit_unmatched:
            return [Joined(value, None, event_time, None)]
        return NOTHING

    def on_right(self, event_time: int, value: R | None) -> Sequence[Joined[L, R]]:
        """Replace the value; ``None`` deletes it. Emits nothing."""
        self._value = value
        self._time = None if value is None else event_time
        return NOTHING

    def on_watermark(self, watermark: int) -> Sequence[Joined[L, R]]:
        """Nothing waits for event time here."""
        return NOTHING

    def next_deadline(self) -> int | None:
        """Never: this logic has no timers."""
        return None

    def snapshot(self) -> TableJoinSnapshot[R]:
        """The current value and its time."""
        return TableJoinSnapshot(self._value, self._time)

    def is_empty(self) -> bool:
        """True when the key has no value (never set, or deleted)."""
        return self._time is None


if TYPE_CHECKING:  # static proof that the classes meet the runtime contract
    from riskstream.stream.joins.base import JoinLogic
    from riskstream.stream.logic import Definition

    _check: Definition[
        Side[int, str | None],
        Joined[int, str],
        TableJoinSnapshot[str] | AsOfJoinSnapshot[int, str],
    ] = TableJoin[int, str]()
    _latest: JoinLogic[int, str, TableJoinSnapshot[str]] = TableJoinLogic[int, str](None, False)

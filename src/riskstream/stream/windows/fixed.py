"""Tumbling and hopping windows: fixed-size windows aligned to the epoch.

A hopping window of ``size_ms`` every ``hop_ms`` covers ``[k*hop, k*hop + size)`` for every
integer ``k``; an event at ``t`` belongs to each window with ``k*hop <= t < k*hop + size``
(``ceil(size/hop)`` or ``floor(size/hop)`` of them). A tumbling window is a hopping window
with ``hop == size``: every event is in exactly one window, ``[t - t % size, ... + size)``.

Out-of-order events simply land in their (still open) window. A window closes when the
watermark reaches its end (``end <= watermark``; allowed lateness is already folded into the
watermark by the executor, and ``on_event`` never sees an event older than the watermark,
so a closed window can never receive another event). With ``emit="update"`` each event
emits the updated result of every window it lands in (oldest window first, ``final=False``)
and a closed window is dropped silently; with ``emit="close"`` events emit nothing and each
window is emitted once, ``final=True``, when it closes (oldest first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Generic, TypeVar

import msgspec

from riskstream.errors import ConfigError
from riskstream.stream.windows._common import (
    NOTHING,
    Emit,
    check_aggregations,
    check_emit,
    to_ms,
)
from riskstream.stream.windows.aggregations import Aggregation
from riskstream.stream.windows.aggset import AggregationSet
from riskstream.stream.windows.result import WindowResult
from riskstream.stream.windows.types import AccData

__all__ = ["FixedLogic", "FixedSnapshot", "Hopping", "Tumbling"]

V = TypeVar("V")


class FixedSnapshot(msgspec.Struct, frozen=True, array_like=True):
    """A key's open windows: ``(start, accumulators)``, oldest first."""

    windows: list[tuple[int, list[AccData]]]


class _Fixed(Generic[V]):
    __slots__ = ("_set", "aggregations", "emit", "hop_ms", "size_ms", "value_type")

    def __init__(
        self,
        size_ms: int | timedelta,
        hop_ms: int | timedelta | None,
        aggregations: Mapping[str, Aggregation[V]],
        emit: Emit,
        value_type: type[V] | None,
    ) -> None:
        self.size_ms = to_ms(size_ms, "size_ms")
        self.hop_ms = self.size_ms if hop_ms is None else to_ms(hop_ms, "hop_ms")
        if self.hop_ms > self.size_ms:
            raise ConfigError(
                f"hop_ms ({self.hop_ms}) must not exceed size_ms ({self.size_ms}): "
                "events between windows would be lost"
            )
        self.emit = check_emit(emit)
        self.aggregations: Mapping[str, Aggregation[V]] = check_aggregations(aggregations)
        #: The event type, for static typing only: snapshots hold accumulators, never events.
        self.value_type = value_type
        self._set = AggregationSet(dict(self.aggregations))

    @property
    def snapshot_type(self) -> type[FixedSnapshot]:
        """The type ``msgspec`` decodes this definition's snapshots into."""
        return FixedSnapshot

    def build(self, snapshot: FixedSnapshot | None = None) -> FixedLogic[V]:
        """A fresh logic, or one restored from ``snapshot``."""
        return FixedLogic(self.size_ms, self.hop_ms, self.emit == "close", self._set, snapshot)


class Tumbling(_Fixed[V]):
    """Back-to-back windows of ``size_ms``: ``[k*size, (k+1)*size)``.

    ``aggregations`` maps result names to aggregations; ``emit`` is ``"update"`` (a result
    on every event) or ``"close"`` (one final result per window when the watermark passes
    its end). ``value_type`` only informs static typing.
    """

    __slots__ = ()

    def __init__(
        self,
        size_ms: int | timedelta,
        *,
        aggregations: Mapping[str, Aggregation[V]],
        emit: Emit = "update",
        value_type: type[V] | None = None,
    ) -> None:
        super().__init__(size_ms, None, aggregations, emit, value_type)

    def __repr__(self) -> str:
        return (
            f"Tumbling({self.size_ms}, aggregations={dict(self.aggregations)}, emit={self.emit!r})"
        )


class Hopping(_Fixed[V]):
    """Windows of ``size_ms`` starting every ``hop_ms`` (``hop_ms <= size_ms``), overlapping.

    Options as for :class:`Tumbling`. An event updates every window it falls in.
    """

    __slots__ = ()

    def __init__(
        self,
        size_ms: int | timedelta,
        hop_ms: int | timedelta,
        *,
        aggregations: Mapping[str, Aggregation[V]],
        emit: Emit = "update",
        value_type: type[V] | None = None,
    ) -> None:
        super().__init__(size_ms, hop_ms, aggregations, emit, value_type)

    def __repr__(self) -> str:
        return (
            f"Hopping({self.size_ms}, {self.hop_ms}, aggregations={dict(self.aggregations)}, "
            f"emit={self.emit!r})"
        )


class FixedLogic(Generic[V]):
    """One key's open tumbling or hopping windows."""

    __slots__ = ("_close", "_deadline", "_fold", "_hop", "_set", "_size", "_values", "_windows")

    def __init__(
        self,
        size: int,
        hop: int,
        close: bool,
        aggset: AggregationSet,
        snapshot: FixedSnapshot | None,
    ) -> None:
        self._size = size
        self._hop = hop
        self._close = close
        self._set = aggset
        self._fold, self._values = aggset.fold, aggset.values  # hoisted for the hot path
        self._windows: dict[int, list[Any]] = {}
        if snapshot is not None:
            for start, accs in snapshot.windows:
                self._windows[start] = aggset.load(accs)
        self._deadline = min(self._windows) + size if self._windows else None

    def on_event(self, event_time: int, value: V) -> Sequence[WindowResult]:
        size = self._size
        if self._hop != size:
            return self._hop_event(event_time, value)
        start = event_time - event_time % size
        accs = self._windows.get(start)
        if accs is None:
            accs = self._windows[start] = self._set.create()
            if self._deadline is None or start + size < self._deadline:
                self._deadline = start + size
        self._fold(accs, event_time, value)
        if self._close:
            return NOTHING
        return (WindowResult(start, start + size, self._values(accs), False),)

    def _hop_event(self, event_time: int, value: V) -> Sequence[WindowResult]:
        size, hop, aggset, windows = self._size, self._hop, self._set, self._windows
        xs = aggset.extract(value)  # once, for all the windows the event is in
        last = event_time - event_time % hop
        first = last - (size - 1 - (event_time - last)) // hop * hop
        out: list[WindowResult] = []
        for start in range(first, last + 1, hop):
            accs = windows.get(start)
            if accs is None:
                accs = windows[start] = aggset.create()
            aggset.add_inputs(accs, event_time, xs)
            if not self._close:
                out.append(WindowResult(start, start + size, aggset.values(accs), False))
        if self._deadline is None or first + size < self._deadline:
            self._deadline = first + size
        return out

    def on_watermark(self, watermark: int) -> Sequence[WindowResult]:
        if self._deadline is None or watermark < self._deadline:
            return NOTHING
        size, windows = self._size, self._windows
        closed = sorted(start for start in windows if start + size <= watermark)
        out: list[WindowResult] = []
        for start in closed:
            accs = windows.pop(start)
            if self._close:
                out.append(WindowResult(start, start + size, self._set.values(accs), True))
        self._deadline = min(windows) + size if windows else None
        return out or NOTHING

    def next_deadline(self) -> int | None:
        return self._deadline

    def snapshot(self) -> FixedSnapshot:
        dump = self._set.dump
        return FixedSnapshot(
            [(start, dump(self._windows[start])) for start in sorted(self._windows)]
        )

    def is_empty(self) -> bool:
        return not self._windows

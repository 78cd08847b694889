"""Custom processors: ``process(item, state, ctx)`` with explicit state and context."""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import msgspec

from riskstream.log.records import Headers
from riskstream.stream.item import Item

__all__ = ["Context", "KeyState", "Later", "Processor"]

V = TypeVar("V")


class KeyState(msgspec.Struct, Generic[V], eq=False):
    """The state value of one key for one step; changes are written back at commit.

    (A struct: one is made per value a custom processor receives; see :class:`Item`.)"""

    _value: V | None
    _changed: bool = False

    def get(self, default: V | None = None) -> V | None:
        return default if self._value is None else self._value

    def set(self, value: V) -> None:
        self._value = value
        self._changed = True

    def delete(self) -> None:
        self._value = None
        self._changed = True

    @property
    def changed(self) -> bool:
        return self._changed


class Context(Protocol):
    """What a processor may know and do besides its state."""

    @property
    def key(self) -> bytes | None: ...

    @property
    def event_time(self) -> int: ...

    @property
    def watermark(self) -> int: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    def now(self) -> int:
        """Processing time (the injected clock), epoch ms."""
        ...

    def forward(
        self, value: Any, *, key: bytes | None = None, event_time: int | None = None
    ) -> None:
        """Pass a value to the next steps of the topology."""
        ...

    def emit(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers = ()
    ) -> None:
        """Write a record straight to ``topic`` (a side output)."""
        ...

    def schedule(self, at: int, *, processing_time: bool = False) -> None:
        """Call ``on_timer`` for this key once event time (or processing time) reaches ``at``."""
        ...

    def later(self) -> Later:
        """A handle to forward this record's results from the processor's ``end_batch()``
        (a processor that has one is called after every batch): batch work, such as scoring
        many values in one call, with the ids of immediate outputs' determinism."""
        ...


class Later(Protocol):
    """Forwards one deferred value of a record (see :meth:`Context.later`)."""

    def now(self) -> int: ...

    def forward(self, value: Any, *, event_time: int) -> None: ...


@runtime_checkable
class Processor(Protocol):
    """A custom step. ``on_timer`` runs for timers scheduled through ``ctx.schedule``."""

    def process(self, item: Item, state: KeyState[Any], ctx: Context) -> None: ...

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None: ...

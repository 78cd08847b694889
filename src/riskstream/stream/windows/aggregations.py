"""Aggregations: what a window computes over the events it holds.

An aggregation reads one input from each event through its getter (:meth:`Aggregation.extract`)
and folds inputs into an *accumulator*: ``create`` an empty one, ``add`` an input, ``merge``
two (session windows merging), read the ``result``, and ``dump``/``load`` it as plain data for
snapshots. Exact sliding windows instead store the inputs and slide a
:class:`~riskstream.stream.windows.sweeps.Sweep` over them (:meth:`Aggregation.sweep`).

Getters are plain callables ``value -> number | None`` (for
:class:`~riskstream.stream.windows.distinct.DistinctCount`: ``value -> hashable | None``).
``None`` means "this event has no value here": the event is still counted by
:class:`Count` but is skipped by the other aggregations. A window whose
events all lack a value reports ``0`` for :class:`Sum` and ``None`` for :class:`Min`,
:class:`Max`, :class:`Mean` and :class:`Last`.

Accumulators may be mutated in place: ``add`` and ``merge`` return the accumulator to keep,
which may be the one passed in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from riskstream.errors import ConfigError
from riskstream.stream.windows.sweeps import (
    CountSweep,
    LastSweep,
    MaxSweep,
    MeanSweep,
    MinSweep,
    SumSweep,
    Sweep,
)
from riskstream.stream.windows.types import AccData, Input, Number, Result

__all__ = [
    "Aggregation",
    "Count",
    "Last",
    "Max",
    "Mean",
    "Min",
    "Sum",
]

V = TypeVar("V")


def _no_input(value: object) -> None:
    return None


def name_of(getter: Callable[..., object]) -> str:
    return getattr(getter, "__qualname__", None) or repr(getter)


class Aggregation(ABC, Generic[V]):
    """One aggregate of a window; subclasses define the accumulator."""

    __slots__ = ("extract",)

    #: The event's input for this aggregation (its getter, or a function around it).
    extract: Callable[[V], Input]

    @abstractmethod
    def create(self) -> Any:
        """An empty accumulator."""

    @abstractmethod
    def add(self, acc: Any, time: int, x: Input) -> Any:
        """``acc`` with the input ``x`` of an event at ``time`` added."""

    @abstractmethod
    def merge(self, a: Any, b: Any) -> Any:
        """The accumulator of both windows' events (``b`` is the later window)."""

    @abstractmethod
    def result(self, acc: Any) -> Result:
        """The aggregate value."""

    @abstractmethod
    def sweep(self) -> Sweep:
        """A fresh in-order sliding accumulator of this aggregation."""

    def dump(self, acc: Any) -> AccData:
        """``acc`` as plain data (a copy when ``acc`` is mutable)."""
        return acc  # type: ignore[no-any-return]  # numbers are immutable plain data

    def load(self, data: AccData) -> Any:
        """The accumulator ``dump`` returned ``data`` for (never aliases ``data``)."""
        return data


class Count(Aggregation[Any]):
    """Number of events in the window."""

    __slots__ = ()

    def __init__(self) -> None:
        self.extract = _no_input

    def __repr__(self) -> str:
        return "Count()"

    def create(self) -> int:
        return 0

    def add(self, acc: int, time: int, x: Input) -> int:
        return acc + 1

    def merge(self, a: int, b: int) -> int:
        return a + b

    def result(self, acc: int) -> int:
        return acc

    def sweep(self) -> Sweep:
        return CountSweep()


class _OfGetter(Aggregation[V]):
    __slots__ = ("getter",)

    def __init__(self, getter: Callable[[V], Number | None]) -> None:
        if not callable(getter):
            raise ConfigError(f"{type(self).__name__} needs a callable getter, got {getter!r}")
        self.getter = getter
        self.extract = getter

    def __repr__(self) -> str:
        return f"{type(self).__name__}({name_of(self.getter)})"


class Sum(_OfGetter[V]):
    """Sum of the getter's values (``0`` when there are none)."""

    __slots__ = ()

    def create(self) -> Number:
        return 0

    def add(self, acc: Number, time: int, x: Input) -> Number:
        return acc if x is None else acc + x

    def merge(self, a: Number, b: Number) -> Number:
        return a + b

    def result(self, acc: Number) -> Number:
        return acc

    def sweep(self) -> Sweep:
        return SumSweep()


class Min(_OfGetter[V]):
    """Smallest of the getter's values (``None`` when there are none)."""

    __slots__ = ()

    def create(self) -> Number | None:
        return None

    def add(self, acc: Number | None, time: int, x: Input) -> Number | None:
        if x is None:
            return acc
        return x if acc is None or x < acc else acc

    def merge(self, a: Number | None, b: Number | None) -> Number | None:
        return self.add(a, 0, b)

    def result(self, acc: Number | None) -> Result:
        return acc

    def sweep(self) -> Sweep:
        return MinSweep()


class Max(_OfGetter[V]):
    """Largest of the getter's values (``None`` when there are none)."""

    __slots__ = ()

    def create(self) -> Number | None:
        return None

    def add(self, acc: Number | None, time: int, x: Input) -> Number | None:
        if x is None:
            return acc
        return x if acc is None or x > acc else acc

    def merge(self, a: Number | None, b: Number | None) -> Number | None:
        return self.add(a, 0, b)

    def result(self, acc: Number | None) -> Result:
        return acc

    def sweep(self) -> Sweep:
        return MaxSweep()


class Mean(_OfGetter[V]):
    """Arithmetic mean of the getter's values (``None`` when there are none).

    The accumulator is ``[sum, n]``.
    """

    __slots__ = ()

    def create(self) -> list[Number]:
        return [0, 0]

    def add(self, acc: list[Number], time: int, x: Input) -> list[Number]:
        if x is not None:
            acc[0] += x
            acc[1] += 1
        return acc

    def merge(self, a: list[Number], b: list[Number]) -> list[Number]:
        a[0] += b[0]
        a[1] += b[1]
        return a

    def result(self, acc: list[Number]) -> Result:
        return acc[0] / acc[1] if acc[1] else None

    def sweep(self) -> Sweep:
        return MeanSweep()

    def dump(self, acc: list[Number]) -> AccData:
        return [acc[0], acc[1]]

    def load(self, data: AccData) -> list[Number]:
        if not isinstance(data, list):
            raise TypeError(f"a Mean accumulator is [sum, n], got {data!r}")
        return list(data)


class Last(_OfGetter[V]):
    """The getter's value of the latest event in event time (``None`` when there is none).

    Of events with the same time, the one that arrived last wins. The accumulator is
    ``[time, value]`` or ``None``.
    """

    __slots__ = ()

    def create(self) -> list[Number] | None:
        return None

    def add(self, acc: list[Number] | None, time: int, x: Input) -> list[Number] | None:
        if x is None:
            return acc
        if acc is None:
            return [time, x]
        if time >= acc[0]:
            acc[0] = time
            acc[1] = x
        return acc

    def merge(self, a: list[Number] | None, b: list[Number] | None) -> list[Number] | None:
        if a is None:
            return b
        if b is None:
            return a
        return b if b[0] >= a[0] else a

    def result(self, acc: list[Number] | None) -> Result:
        return None if acc is None else acc[1]

    def sweep(self) -> Sweep:
        return LastSweep()

    def dump(self, acc: list[Number] | None) -> AccData:
        return None if acc is None else [acc[0], acc[1]]

    def load(self, data: AccData) -> list[Number] | None:
        if data is not None and not isinstance(data, list):
            raise TypeError(f"a Last accumulator is [time, value] or None, got {data!r}")
        return None if data is None else list(data)

"""Type aliases shared by the window modules."""

from __future__ import annotations

from typing import TypeAlias

__all__ = ["AccData", "Input", "Number", "Result"]

Number: TypeAlias = int | float

#: What an aggregation takes from one event (its getter's number, a distinct value's hash,
#: or ``None`` when the event has no value for it). Exact sliding windows store these.
Input: TypeAlias = int | float | None

#: One aggregate value of a window result.
Result: TypeAlias = int | float | None

#: The plain (msgpack) form of an accumulator, as snapshots hold it.
AccData: TypeAlias = int | float | list[int | float] | None

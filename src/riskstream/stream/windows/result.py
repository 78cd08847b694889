"""What a window emits."""

from __future__ import annotations

import msgspec

from riskstream.stream.windows.types import Result

__all__ = ["WindowResult"]


# gc=False: results are built per emission and hold only ints, floats and a dict of numbers,
# so they never sit in a reference cycle; skipping GC tracking makes them cheaper.
class WindowResult(msgspec.Struct, frozen=True, gc=False):
    """One window's aggregates.

    The window covers the event times ``start <= t < end`` (int epoch ms, half-open for
    every window type: an exact sliding window ending at an event at ``t`` is reported as
    ``[t - size + 1, t + 1)``, i.e. ``(t - size, t]``). ``values`` maps each aggregation's
    name to its value. ``final`` is True when the result was emitted at window close
    (``emit="close"``): it is the last word on that window. Results emitted on update
    (``emit="update"``) are False and supersede earlier results of the same window.
    """

    start: int
    end: int
    values: dict[str, Result]
    final: bool = False

"""The per-event figures reader of a :class:`~riskstream.stream.windows.buckets.BucketList`,
compiled once per velocity definition.

Reading the figures is most of a velocity counter's per-event work: for each horizon, a
window start, a bisection and a few prefix-sum differences. As a loop over the horizons,
CPython spends as much on the loop (tuple unpacking, list appends, flag tests, converting the
lists to tuples) as on the work; unrolled for the definition's horizons, with its
granularities and horizons as constants and its tuples built directly, the read takes about
a third less. So :func:`compile_figures` generates that function from a fixed template whose
only inputs are ints and a choice of lines (as ``collections.namedtuple`` does).

The generated ``figures(logic, at)`` handles the common case - no bucket newer than ``at``'s
finest bucket, or no distinct values to count - and hands the other case (distinct values
counted from the bucket masks) to ``slow(logic, at, end)``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any

__all__ = ["compile_figures"]


def compile_figures(
    granularities: tuple[int, ...],
    horizons: tuple[int, ...],
    *,
    summing: bool,
    distinct: bool,
    make: Callable[..., Any],
    slow: Callable[[Any, int, int], Any],
) -> Callable[[Any, int], Any]:
    """``figures(logic, at)``: ``make(at, horizons, counts, sums, distinct, saturated)``."""
    n = len(horizons)
    every = range(n)
    lines = ["starts = logic._starts", "end = bisect_right(starts, at)"]
    if distinct:
        lines.append("if end < len(starts): return slow(logic, at, end)")
    # Prefix sums: count, high and low part of the sum, three entries per boundary.
    lines += ["pre = logic._pre", "e = 3 * end", "ce = pre[e]"]
    below = "end"
    for k, (g, h) in enumerate(zip(granularities, horizons, strict=True)):
        lines.append(f"w{k} = at - at % {g} - {h}")  # the window start of horizon k
        lines.append(f"l{k} = bisect_left(starts, w{k}, 0, {below})")  # windows nest
        lines.append(f"q{k} = 3 * l{k}")
        below = f"l{k}"
    counts = "(" + "".join(f"ce - pre[q{k}], " for k in every) + ")"
    sums = dist = sat = "None"
    if summing:
        lines += ["he = pre[e + 1]", "le = pre[e + 2]"]
        sums = "(" + "".join(f"(he - pre[q{k} + 1]) + (le - pre[q{k} + 2]), " for k in every) + ")"
    if distinct:
        lines += ["slots = logic._slots", "lasts = slots.lasts", "m = len(lasts)"]
        lines.append("u = slots.untracked")
        dist = "(" + "".join(f"m - bisect_left(lasts, w{k}), " for k in every) + ")"
        saturated = "(" + "".join(f"u >= w{k}, " for k in every) + ")"
        lines.append(f"sat = NOT_SATURATED if u is None else {saturated}")
        sat = "sat"
    lines.append(f"return make(at, HORIZONS, {counts}, {sums}, {dist}, {sat})")
    source = "def figures(logic, at):\n" + "".join(f"    {line}\n" for line in lines)
    env: dict[str, Any] = {
        "bisect_left": bisect_left,
        "bisect_right": bisect_right,
        "HORIZONS": horizons,
        "NOT_SATURATED": (False,) * n,
        "make": make,
        "slow": slow,
    }
    namespace: dict[str, Any] = {}
    exec(source, env, namespace)  # noqa: S102  # generated from ints and fixed lines only
    function: Callable[[Any, int], Any] = namespace["figures"]
    return function

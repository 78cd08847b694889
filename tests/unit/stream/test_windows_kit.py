"""A kit for the window and velocity tests: scripts, restart-checking runners, references.

A *script* is a list of operations on one key's logic: ``("e", time, value)`` an event,
``("w", watermark, None)`` a watermark. Scripts respect the executor's contract: events are
never older than the last watermark, watermarks never go back.

:func:`run` plays a script three ways and asserts they agree before returning the outputs:
straight through; restarting after every operation from a snapshot that went through
``msgspec.msgpack`` encode/decode into ``definition.snapshot_type`` (an empty logic is
dropped and rebuilt fresh, as the executor does); and calling ``on_watermark`` only when
the watermark reaches ``next_deadline()``, as the executor's timers do.

Values are ``(x, k)`` pairs: ``x`` a number or None (the getter's value), ``k`` a hashable
or None (the distinct key). :func:`reference` is a brute-force evaluation of the standard
aggregations over a list of events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from hypothesis import strategies as st

from riskstream.stream.windows import (
    Aggregation,
    Count,
    DistinctCount,
    Last,
    Max,
    Mean,
    Min,
    Sum,
)

Op = tuple[str, int, Any]
Value = tuple[int | None, int | None]
LIMIT = 3  # the DistinctCount limit of the standard aggregations


def x_of(value: Value) -> int | None:
    return value[0]


def k_of(value: Value) -> int | None:
    return value[1]


def standard() -> dict[str, Aggregation[Any]]:
    """One of every aggregation over ``(x, k)`` values."""
    return {
        "n": Count(),
        "sum": Sum(x_of),
        "min": Min(x_of),
        "max": Max(x_of),
        "mean": Mean(x_of),
        "distinct": DistinctCount(k_of, limit=LIMIT),
        "last": Last(x_of),
    }


def reference(events: Sequence[tuple[int, int, Value]]) -> dict[str, Any]:
    """The standard aggregations of ``(time, arrival, value)`` events, by brute force."""
    xs = [v[0] for _, _, v in events if v[0] is not None]
    keys = {v[1] for _, _, v in events if v[1] is not None}
    latest = max(((t, a, v[0]) for t, a, v in events if v[0] is not None), default=None)
    return {
        "n": len(events),
        "sum": sum(xs),
        "min": min(xs) if xs else None,
        "max": max(xs) if xs else None,
        "mean": sum(xs) / len(xs) if xs else None,
        "distinct": min(len(keys), LIMIT + 1),
        "last": None if latest is None else latest[2],
    }


def roundtrip(definition: Any, logic: Any) -> Any:
    """``logic`` rebuilt from its snapshot after a msgpack round trip."""
    data = msgspec.msgpack.encode(logic.snapshot())
    return definition.build(msgspec.msgpack.decode(data, type=definition.snapshot_type))


def play(definition: Any, script: Sequence[Op], *, restart: bool = False) -> list[list[Any]]:
    """Outputs per operation; ``restart``: rebuild from a snapshot after each operation."""
    logic = definition.build()
    outputs: list[list[Any]] = []
    for kind, t, value in script:
        out = logic.on_event(t, value) if kind == "e" else logic.on_watermark(t)
        outputs.append(list(out))
        if restart:
            logic = definition.build() if logic.is_empty() else roundtrip(definition, logic)
    return outputs


def play_by_deadline(definition: Any, script: Sequence[Op]) -> list[list[Any]]:
    """Outputs per operation, calling ``on_watermark`` only when a deadline is due."""
    logic = definition.build()
    outputs: list[list[Any]] = []
    for kind, t, value in script:
        if kind == "e":
            outputs.append(list(logic.on_event(t, value)))
            continue
        out: list[Any] = []
        deadline = logic.next_deadline()
        while deadline is not None and deadline <= t:
            out.extend(logic.on_watermark(t))
            after = logic.next_deadline()
            assert after is None or after > t, "a due deadline must move past the watermark"
            deadline = after
        outputs.append(out)
    return outputs


def run(definition: Any, script: Sequence[Op], *, by_deadline: bool = True) -> list[list[Any]]:
    """Outputs per operation, checked to be the same with restarts and (``by_deadline``)
    when watermarks only reach the logic at its deadlines."""
    straight = play(definition, script)
    assert play(definition, script, restart=True) == straight
    if by_deadline:
        assert flat(play_by_deadline(definition, script)) == flat(straight)
    return straight


def flat(outputs: list[list[Any]]) -> list[Any]:
    """All outputs in order."""
    return [o for out in outputs for o in out]


@st.composite
def scripts(
    draw: st.DrawFn,
    *,
    max_ops: int = 40,
    spread: int = 50,
    step: int = 30,
    x_none: bool = True,
    keys: int = 5,
) -> list[Op]:
    """Random scripts: events within ``spread`` ms after the watermark, watermark steps of
    up to ``step`` ms, values ``(x, k)`` with small ints (None sometimes)."""
    ops: list[Op] = []
    watermark = 1_000
    xs = st.integers(-5, 20) | st.none() if x_none else st.integers(-5, 20)
    for _ in range(draw(st.integers(1, max_ops))):
        if draw(st.integers(0, 3)) == 0:
            watermark += draw(st.integers(0, step))
            ops.append(("w", watermark, None))
        else:
            t = watermark + draw(st.integers(0, spread))
            k = draw(st.integers(0, keys - 1) | st.none())
            ops.append(("e", t, (draw(xs), k)))
    ops.append(("w", watermark + 10 * (spread + step) + 10_000, None))  # close everything
    return ops

"""A small kit for the pattern tests: readable event scripts, run with and without restarts.

A script is a string of tokens: ``a1`` is an event ``{"type": "a", "id": "a1"}`` one step
(1 s) after the previous one, ``a1@2500`` the same at time 2500, ``!4000`` a watermark.
:func:`run` plays a script against a fresh logic *and* against a logic that is snapshotted,
msgpack-encoded, decoded and rebuilt after every token (dropped when empty, as the executor
does), asserts both produce the same outputs and final state, and returns the outputs in
a compact form: ``"a1 b1"`` for a match, ``"timeout(a1)"``, ``"overflow(2)"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from riskstream.stream.patterns import (
    MatchContext,
    Overflow,
    Pattern,
    PatternDefinition,
    PatternLogic,
    PatternOutput,
    Timeout,
)

Event = dict[str, Any]
STEP = 1_000
_TOKEN = re.compile(r"^(?:!(?P<wm>-?\d+)|(?P<id>[a-z_]+\d*)(?:@(?P<t>-?\d+))?)$")


def ev(event_id: str, **fields: Any) -> Event:
    """``ev("a1")`` -> ``{"type": "a", "id": "a1"}`` plus ``fields``."""
    return {"type": event_id.rstrip("0123456789"), "id": event_id, **fields}


def is_(kind: str) -> Callable[[Event, MatchContext[Event]], bool]:
    """The condition "the event's type is ``kind``"."""

    def cond(event: Event, ctx: MatchContext[Event]) -> bool:
        return bool(event["type"] == kind)

    cond.__name__ = f"is_{kind}"
    return cond


def show(output: PatternOutput[Event]) -> str:
    """A compact, comparable form of one output."""
    if isinstance(output, Overflow):
        return f"overflow({output.dropped})"
    ids = " ".join(e["id"] for events in output.events.values() for e in events)
    return f"timeout({ids})" if isinstance(output, Timeout) else ids


Step = tuple[str, int, Event | None]


def parse(script: str, *, step: int = STEP) -> list[Step]:
    """Tokens as ("event", time, value) or ("watermark", time, None)."""
    steps: list[Step] = []
    now = 0
    for token in script.split():
        found = _TOKEN.match(token)
        if found is None:
            raise ValueError(f"bad token {token!r}")
        if found["wm"] is not None:
            steps.append(("watermark", int(found["wm"]), None))
            continue
        now = int(found["t"]) if found["t"] is not None else now + step
        steps.append(("event", now, ev(found["id"])))
    return steps


def apply(logic: PatternLogic[Any], kind: str, time: int, value: Any) -> list[Any]:
    """One step against one logic."""
    if kind == "event":
        return list(logic.on_event(time, value))
    return list(logic.on_watermark(time))


def roundtrip(definition: PatternDefinition[Any], logic: PatternLogic[Any]) -> PatternLogic[Any]:
    """What a restart does to a key: snapshot, encode, decode, rebuild (or drop if empty)."""
    if logic.is_empty():
        return definition.build()
    data = msgspec.msgpack.encode(logic.snapshot())
    return definition.build(msgspec.msgpack.decode(data, type=definition.snapshot_type))


def events(script: str) -> list[tuple[int, Event]]:
    """The events of an event-only script, as (time, value)."""
    return [(time, value) for _, time, value in parse(script) if value is not None]


def play(definition: PatternDefinition[Any], steps: Sequence[tuple[str, int, Any]]) -> list[Any]:
    """Outputs of ``steps``, checking that restarts after every step change nothing."""
    straight = definition.build()
    restarted = definition.build()
    outputs: list[Any] = []
    for kind, time, value in steps:
        expected = apply(straight, kind, time, value)
        assert apply(restarted, kind, time, value) == expected, (kind, time, value)
        assert restarted.next_deadline() == straight.next_deadline()
        outputs.extend(expected)
        restarted = roundtrip(definition, restarted)
    assert restarted.is_empty() == straight.is_empty()
    assert _runs_of(restarted) == _runs_of(straight)
    return outputs


def _runs_of(logic: PatternLogic[Any]) -> Any:
    """A logic's partial matches as plain data (the drop counter is not state worth keeping)."""
    snapshot = logic.snapshot()
    states = {name: (s.seq, s.nodes, s.runs) for name, s in snapshot.patterns.items() if s.runs}
    return msgspec.to_builtins(snapshot.events), states


def run(pattern: Pattern[Any] | dict[str, Pattern[Any]], script: str, **options: Any) -> list[str]:
    """Play ``script`` through a step of ``pattern`` (restart-checked); outputs in short form."""
    patterns = pattern if isinstance(pattern, dict) else {"p": pattern}
    definition: PatternDefinition[Any] = PatternDefinition(patterns, **options)
    return [show(o) for o in play(definition, parse(script))]


def matches(pattern: Pattern[Any], script: str, **options: Any) -> list[PatternOutput[Any]]:
    """The full output records of ``script`` (restart-checked)."""
    definition: PatternDefinition[Any] = PatternDefinition({"p": pattern}, **options)
    return play(definition, parse(script))

"""The executor through the test driver: wiring, state, time, late data, dead letters, restarts."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import msgspec
import pytest

from riskstream.log.records import Record
from riskstream.stream.item import Item
from riskstream.stream.joins import IntervalJoin, Left, Right
from riskstream.stream.patterns import Pattern, PatternDefinition
from riskstream.stream.processor import Context, KeyState
from riskstream.stream.render import describe, to_mermaid
from riskstream.stream.task import Task
from riskstream.stream.topology import Topology, TopologyError
from riskstream.testing import TestDriver
from riskstream.testing.driver import DictStore


class Bucket:
    """A minimal logic: counts a key's events per 10 s bucket, emits the count at bucket end."""

    __slots__ = ("counts",)

    def __init__(self, counts: dict[int, int]) -> None:
        self.counts = counts

    def on_event(self, event_time: int, value: Any) -> Sequence[Any]:
        start = event_time - event_time % 10_000
        self.counts[start] = self.counts.get(start, 0) + 1
        return [("running", start, self.counts[start])]

    def on_watermark(self, watermark: int) -> Sequence[Any]:
        closed = sorted(start for start in self.counts if start + 10_000 <= watermark)
        return [("closed", start, self.counts.pop(start)) for start in closed]

    def next_deadline(self) -> int | None:
        return min(self.counts) + 10_000 if self.counts else None

    def snapshot(self) -> dict[int, int]:
        return dict(self.counts)

    def is_empty(self) -> bool:
        return not self.counts


class BucketCount:
    snapshot_type = dict[int, int]

    def build(self, snapshot: dict[int, int] | None = None) -> Bucket:
        return Bucket(dict(snapshot or {}))


class Totals:
    """A custom processor keeping a per-key total and scheduling a reminder."""

    def process(self, item: Item, state: KeyState[Any], ctx: Context) -> None:
        total = (state.get(0) or 0) + item.value["amount"]
        state.set(total)
        ctx.forward({"user": item.key, "total": total})
        if total > 100:
            ctx.emit("alerts", item.key, b"big spender")
            ctx.schedule(item.event_time + 5_000)

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None:
        ctx.emit("reminders", ctx.key, str(at).encode())


def _decode(raw: bytes | None) -> Any:
    return msgspec.json.decode(raw or b"")


def _encode(value: Any) -> bytes:
    return msgspec.json.encode(value)


def _topology(**options: Any) -> Topology:
    topology = Topology("app", **options)
    source = topology.source("in", ["events"], decode=_decode, event_time=lambda v: v["t"])
    source.stateful("buckets", BucketCount()).to("buckets", encode=_encode)
    source.process("totals", Totals(), state_type=int).to("totals", encode=_encode)
    return topology


def _pipe(driver: TestDriver, user: str, t: int, amount: int = 1) -> None:
    driver.pipe("events", _encode({"t": t, "amount": amount}), key=user.encode(), timestamp=t)


def _values(outputs: Sequence[Any]) -> list[Any]:
    return [msgspec.json.decode(o.value) for o in outputs]


def test_stateful_logic_emits_on_events_and_at_watermark() -> None:
    driver = TestDriver(_topology())
    for t in (1_000, 2_000, 12_000):
        _pipe(driver, "u1", t)
    assert _values(driver.read("buckets")) == [
        ["running", 0, 1],
        ["running", 0, 2],
        ["running", 10_000, 1],
        ["closed", 0, 2],  # the 12 s event moved the watermark past the first bucket
    ]


def test_custom_processor_state_side_outputs_and_event_time_timers() -> None:
    driver = TestDriver(_topology())
    _pipe(driver, "u1", 1_000, 60)
    _pipe(driver, "u1", 2_000, 50)
    assert [v["total"] for v in _values(driver.read("totals"))] == [60, 110]
    assert driver.state("totals", b"u1") == 110
    assert [o.value for o in driver.read("alerts")] == [b"big spender"]
    _pipe(driver, "u2", 8_000)  # watermark 8 s passes the reminder due at 7 s
    assert [(o.key, o.value) for o in driver.read("reminders")] == [(b"u1", b"7000")]


def test_late_events_go_to_the_late_topic_with_the_reason() -> None:
    driver = TestDriver(_topology(allowed_lateness_ms=2_000))
    _pipe(driver, "u1", 10_000)  # watermark 8 s
    _pipe(driver, "u1", 8_500)  # late by the event time, but within lateness: processed
    _pipe(driver, "u1", 7_000)  # behind the watermark: late
    late = driver.late()
    assert len(late) == 1
    headers = dict(late[0].headers)
    assert headers["late.event_time"] == b"7000"
    assert headers["late.watermark"] == b"8000"
    assert b"allowed lateness 2000 ms" in headers["late.reason"]
    assert len(driver.read("totals")) == 2


def test_idle_partition_still_closes_windows() -> None:
    driver = TestDriver(_topology(idle_timeout_ms=5_000), start_time=1_000)
    _pipe(driver, "card", 1_000)
    driver.read("buckets")
    driver.advance_time(4_000)
    assert driver.read("buckets") == []  # not idle yet
    driver.advance_time(20_000)  # idle: event time follows processing time
    assert _values(driver.read("buckets")) == [["closed", 0, 1]]


def test_watermark_is_the_minimum_of_active_inputs() -> None:
    topology = Topology("app", idle_timeout_ms=60_000)
    both = topology.source("in", ["a", "b"], decode=_decode, event_time=lambda v: v["t"])
    both.stateful("buckets", BucketCount()).to("buckets", encode=_encode)
    driver = TestDriver(topology)
    driver.pipe("b", _encode({"t": 1_000}), key=b"k")
    driver.pipe("a", _encode({"t": 50_000}), key=b"k")
    assert driver.watermark() == 1_000  # b holds a back
    driver.advance_time(61_000)  # both idle now
    assert driver.watermark() >= 50_000


def test_decode_and_processing_failures_are_dead_lettered_and_processing_continues() -> None:
    driver = TestDriver(_topology())
    driver.pipe("events", b"{not json", key=b"u1", timestamp=1)
    driver.pipe("events", _encode({"t": 5, "amount": "x"}), key=b"u1", timestamp=5)
    _pipe(driver, "u1", 6, 3)
    letters = driver.dead_letters("events")
    assert [dict(o.headers)["dlq.step"] for o in letters] == [b"decode", b"totals"]
    assert letters[0].value == b"{not json"
    assert [v["total"] for v in _values(driver.read("totals"))] == [3]


def test_rekey_routes_through_the_repartition_topic() -> None:
    topology = Topology("app")
    source = topology.source("in", ["events"], decode=_decode, event_time=lambda v: v["t"])
    by_card = source.rekey("by-card", lambda v: v["card"].encode(), encode=_encode, decode=_decode)
    by_card.stateful("card-buckets", BucketCount()).to("card-buckets", encode=_encode)
    driver = TestDriver(topology, partitions=4)
    for user in ("u1", "u2", "u3"):
        driver.pipe(
            "events", _encode({"t": 1_000, "card": "c9"}), key=user.encode(), timestamp=1_000
        )
    outputs = driver.read("card-buckets")
    assert [o.key for o in outputs] == [b"c9"] * 3
    assert _values(outputs)[-1] == ["running", 0, 3]


def test_outputs_have_deterministic_ids() -> None:
    def run() -> list[str | None]:
        driver = TestDriver(_topology())
        for t in (1_000, 15_000):
            _pipe(driver, "u1", t)
        return [o.id for o in driver.read("buckets")]

    ids = run()
    assert ids == run()
    assert len(set(ids)) == len(ids) == 3
    assert ids[0] == "events/0/0/1"


def test_state_and_timers_survive_a_restart() -> None:
    driver = TestDriver(_topology())
    _pipe(driver, "u1", 1_000, 200)
    _pipe(driver, "u1", 2_000)
    driver.read("buckets")
    driver.restart()
    _pipe(driver, "u1", 3_000)
    assert _values(driver.read("buckets")) == [["running", 0, 3]]
    assert driver.state("totals", b"u1") == 202
    _pipe(driver, "u2", 30_000)
    assert ["closed", 0, 3] in _values(driver.read("buckets"))
    assert [o.value for o in driver.read("reminders")] == [b"6000", b"7000", b"8000"]


def test_topology_rejects_duplicate_and_dangling_steps_and_renders() -> None:
    topology = _topology()
    with pytest.raises(TopologyError):
        topology.source("in", ["other"])
    text = describe(topology)
    assert "stateful buckets: BucketCount [state: app-buckets-changelog]" in text
    assert "sink -> totals" in text
    assert to_mermaid(topology).startswith("flowchart LR")
    assert topology.input_topics() == ["events"]


def test_evicted_logic_reloads_from_the_store() -> None:
    driver = TestDriver(_topology())
    step = driver.tasks[0].stateful["buckets"]
    step.max_live = 1
    for t, user in ((1_000, "u1"), (1_100, "u2"), (1_200, "u3")):
        _pipe(driver, user, t)
    driver.tasks[0].flush_state()
    assert len(step._logics) == 1
    _pipe(driver, "u1", 1_300)
    _pipe(driver, "u2", 25_000)
    values = _values(driver.read("buckets"))
    assert ["running", 0, 2] in values
    assert ["closed", 0, 2] in values  # u1's bucket, reloaded and closed by the watermark


def test_an_input_that_has_not_delivered_yet_holds_the_watermark() -> None:
    topology = Topology("app", idle_timeout_ms=5_000)
    both = topology.source("in", ["a", "b"], decode=_decode, event_time=lambda v: v["t"])
    both.stateful("buckets", BucketCount()).to("buckets", encode=_encode)
    driver = TestDriver(topology)
    driver.pipe("b", _encode({"t": 50_000}), key=b"k")
    driver.pipe("a", _encode({"t": 1_000}), key=b"k")  # a backlog on a: not late
    assert driver.late() == []
    assert driver.watermark() == 1_000
    driver.advance_time(6_000)  # a went idle: b alone moves the watermark again
    assert driver.watermark() >= 50_000


def test_a_source_can_decode_each_topic_its_own_way() -> None:
    topology = Topology("app")
    both = topology.source(
        "in",
        ["json", "csv"],
        decode={
            "json": _decode,
            "csv": lambda raw: {"t": int((raw or b"0").split(b",")[0]), "amount": 1},
        },
        event_time=lambda v: v["t"],
    )
    both.process("totals", Totals(), state_type=int).to("totals", encode=_encode)
    driver = TestDriver(topology)
    driver.pipe("json", _encode({"t": 1, "amount": 5}), key=b"u")
    driver.pipe("csv", b"2,whatever", key=b"u")
    assert [v["total"] for v in _values(driver.read("totals"))] == [5, 6]
    with pytest.raises(TopologyError):
        Topology("x").source("in", ["a", "b"], decode={"a": _decode})


class _CountingStore(DictStore):
    def __init__(self) -> None:
        super().__init__()
        self.deletes: list[bytes] = []

    def delete(self, key: bytes) -> None:
        self.deletes.append(key)
        super().delete(key)


def test_a_key_that_empties_before_its_first_commit_writes_no_tombstone() -> None:
    stores: dict[str, _CountingStore] = defaultdict(_CountingStore)
    task = Task(_topology(), 0, stores=stores.__getitem__, clock=lambda: 0)

    def pipe(user: bytes, t: int, offset: int) -> None:
        value = _encode({"t": t, "amount": 1})
        task.process([Record("events", 0, offset, t, user, value)])

    pipe(b"u1", 1_000, 0)
    pipe(b"u2", 25_000, 1)  # closes u1's bucket: u1 is empty again
    task.flush_state()
    assert stores["buckets"].deletes == []
    assert set(stores["buckets"].data) == {b"u2"}
    pipe(b"u3", 50_000, 2)  # closes u2's bucket, which is stored
    task.flush_state()
    assert stores["buckets"].deletes == [b"u2"]
    assert set(stores["buckets"].data) == {b"u3"}


def test_logics_reused_after_their_key_emptied_behave_as_new_ones() -> None:
    """Commits release emptied keys' logics for reuse; flushing after every record must not
    change a single output."""
    topology = Topology("app")
    source = topology.source("in", ["events"], decode=_decode, event_time=lambda v: v["t"])
    lefts = source.filter("lefts", lambda v: v["side"] == "l")
    rights = source.filter("rights", lambda v: v["side"] == "r")
    join = IntervalJoin(3_000, 0, how="left")
    lefts.join("join", rights, join, wrap_left=Left, wrap_right=Right).to("joined", encode=_encode)
    pattern = (
        Pattern.begin("r", where=lambda e, _ctx: e["side"] == "r")
        .followed_by("l", where=lambda e, _ctx: e["side"] == "l")
        .within(3_000)
    )
    source.stateful("pattern", PatternDefinition({"rl": pattern})).to("matches", encode=_encode)
    rng = random.Random(7)
    records = [
        Record("events", 0, i, t, rng.choice([b"a", b"b", b"c", b"d"]), _encode(value))
        for i, t in enumerate(range(0, 200_000, 500))
        for value in [{"t": t, "side": rng.choice("lr")}]
    ]

    def run(flush_every_record: bool) -> list[tuple[str, bytes | None, bytes | None, str | None]]:
        task = Task(topology, 0, stores=lambda _step: DictStore(), clock=lambda: 0)
        out = []
        for record in records:
            task.process([record])
            if flush_every_record:
                task.flush_state()
            out += [(o.topic, o.key, o.value, o.id) for o in task.outputs]
            task.outputs = []
        return out

    flushed = run(flush_every_record=True)
    assert flushed == run(flush_every_record=False)
    assert {topic for topic, *_ in flushed} == {"joined", "matches"}


def _fields(logic: Any) -> dict[str, Any]:
    names = [n for cls in type(logic).__mro__ for n in getattr(cls, "__slots__", ())]
    out = {}
    for name in names:
        value = getattr(logic, name)
        if name == "_ctx":
            value = (value._node, value.event_time)
        out[name] = list(value) if isinstance(value, list | bytearray) else value
    return out


def test_reset_returns_a_logic_to_the_state_of_a_new_one() -> None:
    join = IntervalJoin(3_000, 0, how="outer", max_buffered=1)
    used = join.build()
    used.on_left(1_000, "a")
    used.on_left(1_500, "b")  # evicts "a"
    used.on_right(1_600, "x")
    used.on_watermark(10_000)
    assert used.is_empty() and used.evicted == 1
    used.reset()
    assert _fields(used) == _fields(join.build())
    pattern = (
        Pattern.begin("a", where=lambda e, _ctx: e == "a")
        .followed_by("b", where=lambda e, _ctx: e == "b")
        .within(10)
    )
    definition = PatternDefinition({"p": pattern}, max_partial_matches=1)
    matcher = definition.build()
    for t, event in enumerate(["a", "a", "b"]):
        matcher.on_event(t, event)  # the second "a" drops a partial match
    matcher.on_watermark(100)
    assert matcher.is_empty() and matcher.dropped
    matcher.reset()
    assert _fields(matcher) == _fields(definition.build())


class _Reminder:
    """Schedules a processing-time reminder per event; the reminder emits and forwards."""

    def process(self, item: Item, state: KeyState[Any], ctx: Context) -> None:
        ctx.emit("seen", item.key, b"")
        ctx.schedule(ctx.now() + 1_000, processing_time=True)

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None:
        ctx.emit("reminders", ctx.key, str(at).encode())
        ctx.forward({"reminded": at})


class _Origin:
    """Records the origin of the items it receives."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def process(self, item: Item, state: KeyState[Any], ctx: Context) -> None:
        self.seen.append((item.topic, item.offset))

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None:
        pass


def test_a_processing_time_timer_is_the_origin_of_what_it_emits() -> None:
    """Its outputs' ids and its items name the timer, whatever record came last."""
    topology = Topology("app")
    source = topology.source("in", ["events"], decode=_decode, event_time=lambda v: v["t"])
    origin = _Origin()
    source.process("remind", _Reminder()).process("origin", origin)
    driver = TestDriver(topology, start_time=5_000)
    _pipe(driver, "u1", 1_000)
    driver.advance_time(2_000)
    assert [o.id for o in driver.read("reminders")] == ["timer/0/remind/7531/6000/1"]
    assert [o.id for o in driver.read("seen")] == ["events/0/0/1"]
    assert origin.seen == [("remind", -1)]


def test_processor_values_beyond_max_live_are_evicted_and_read_back() -> None:
    driver = TestDriver(_topology())
    step = driver.tasks[0].processes["totals"]
    step.max_live = 3
    for number in range(10):
        _pipe(driver, f"u{number}", 1_000 + number, 10)
    assert len(step._values) == 10  # nothing is evicted between commits
    driver.tasks[0].flush_state()
    assert len(step._values) == 3  # the most recently loaded stay
    for number in range(10):
        _pipe(driver, f"u{number}", 2_000 + number, 5)
    assert [v["total"] for v in _values(driver.read("totals"))[-10:]] == [15] * 10


class BatchDoubler:
    """Defers every value to the end of its batch, then forwards them doubled together."""

    def __init__(self) -> None:
        self.pending: list[tuple[int, Any]] = []
        self.batches: list[int] = []

    def process(self, item: Item, state: KeyState[Any], ctx: Context) -> None:
        self.pending.append((item.value["amount"], ctx.later()))

    def end_batch(self) -> None:
        self.batches.append(len(self.pending))
        for amount, later in self.pending:
            later.forward(amount * 2, event_time=later.now())
        self.pending = []

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None:
        """No timers."""


def test_outputs_deferred_to_the_end_of_a_batch_keep_deterministic_ids() -> None:
    def run() -> tuple[list[Any], list[str | None], list[int]]:
        doubler = BatchDoubler()
        topology = Topology("batch")
        topology.source("in", ["events"], decode=_decode).process("double", doubler).to(
            "out", encode=_encode
        )
        task = Task(topology, 0, stores=lambda _: DictStore(), clock=lambda: 0)
        records = [
            Record("events", 0, offset, 1_000, b"k", _encode({"amount": offset}))
            for offset in range(5)
        ]
        task.process(records[:3])
        task.process(records[3:])
        return _values(task.outputs), [o.id for o in task.outputs], doubler.batches

    values, ids, batches = run()
    assert values == [0, 2, 4, 6, 8]
    assert batches == [3, 2]  # one end_batch per batch, with all its values
    assert ids == [f"events/0/{offset}/d1" for offset in range(5)]
    assert run()[1] == ids

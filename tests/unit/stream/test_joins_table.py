"""Stream-table join: latest value as of processing, tombstones, and the temporal (versioned)
join as of the left event's time; snapshot/restore mid-stream."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest

from riskstream.errors import ConfigError
from riskstream.stream.joins import (
    AsOfJoinLogic,
    AsOfJoinSnapshot,
    Joined,
    Left,
    Right,
    TableJoin,
    TableJoinLogic,
    TableJoinSnapshot,
)
from riskstream.stream.logic import Definition, Logic


def restore(join: TableJoin[Any, Any], logic: Any) -> Any:
    """The logic rebuilt from its snapshot after a msgpack round trip (as the store does)."""
    raw = msgspec.msgpack.encode(logic.snapshot())
    return join.build(msgspec.msgpack.decode(raw, type=join.snapshot_type))


class Account(msgspec.Struct, frozen=True):
    country: str
    risk: int


# -- latest value (KStream-KTable) -----------------------------------------------------------


def test_left_event_joins_the_current_value() -> None:
    logic = TableJoin().build()
    assert logic.on_event(5, Right(Account("FR", 1))) == ()  # table updates emit nothing
    assert logic.on_event(10, Left("checkout")) == [
        Joined("checkout", Account("FR", 1), left_time=10, right_time=5)
    ]


def test_no_value_inner_emits_nothing_left_emits_none() -> None:
    assert TableJoin().build().on_left(10, "c") == ()
    assert TableJoin(how="left").build().on_left(10, "c") == [Joined("c", None, 10, None)]


def test_updates_replace_and_the_join_is_as_of_processing_not_event_time() -> None:
    logic = TableJoin().build()
    logic.on_right(100, "v1")
    # A left event older than the value still joins it: latest when processed.
    assert logic.on_left(50, "c") == [Joined("c", "v1", 50, 100)]
    logic.on_right(20, "v2")  # arrival order wins, even with an older event time
    assert logic.on_left(200, "d") == [Joined("d", "v2", 200, 20)]


def test_tombstone_deletes_the_value_and_the_key_leaves_the_store() -> None:
    logic = TableJoin(how="left").build()
    logic.on_right(1, "v")
    assert not logic.is_empty()
    assert logic.on_right(2, None) == ()
    assert logic.is_empty()
    assert logic.on_left(3, "c") == [Joined("c", None, 3, None)]
    logic.on_right(4, "again")
    assert logic.on_left(5, "d") == [Joined("d", "again", 5, 4)]


def test_latest_value_join_has_no_timers() -> None:
    logic = TableJoin().build()
    logic.on_right(1, "v")
    assert logic.next_deadline() is None
    assert logic.on_watermark(10**12) == ()
    assert not logic.is_empty()  # a table value lives until its tombstone (or the store's TTL)


def test_latest_value_snapshot_round_trip_with_types() -> None:
    join = TableJoin(how="left", left_type=str, right_type=Account)
    assert join.snapshot_type == TableJoinSnapshot[Account]
    logic = join.build()
    logic.on_right(7, Account("DE", 3))
    restored = restore(join, logic)
    assert isinstance(restored, TableJoinLogic)
    assert restored.snapshot() == TableJoinSnapshot(Account("DE", 3), 7)
    assert restored.on_left(8, "c") == [Joined("c", Account("DE", 3), 8, 7)]
    empty = restore(join, join.build())
    assert empty.is_empty()
    assert empty.on_left(8, "c") == [Joined("c", None, 8, None)]


# -- temporal (versioned) --------------------------------------------------------------------


def temporal(**kwargs: Any) -> AsOfJoinLogic[Any, Any]:
    logic = TableJoin(temporal=True, **kwargs).build()
    assert isinstance(logic, AsOfJoinLogic)
    return logic


def test_temporal_joins_the_value_valid_at_the_left_event_time() -> None:
    logic = temporal()
    logic.on_right(10, "v10")
    logic.on_right(20, "v20")
    logic.on_right(30, "v30")
    logic.on_left(25, "c")
    assert logic.on_watermark(26) == [Joined("c", "v20", 25, 20)]


def test_temporal_waits_for_the_watermark_and_sees_out_of_order_updates() -> None:
    logic = temporal()
    logic.on_right(10, "v10")
    assert logic.on_left(25, "c") == ()
    assert logic.next_deadline() == 26
    logic.on_right(22, "v22 (arrived late, still before the watermark)")
    assert logic.on_watermark(25) == ()
    assert logic.on_watermark(26) == [
        Joined("c", "v22 (arrived late, still before the watermark)", 25, 22)
    ]


def test_temporal_eager_answers_from_the_versions_it_has() -> None:
    logic = temporal(eager=True)
    logic.on_right(10, "v10")
    assert logic.on_left(25, "c") == [Joined("c", "v10", 25, 10)]
    logic.on_right(22, "v22")  # not revised
    assert logic.on_watermark(100) == ()


def test_temporal_tombstone_means_no_value_at_that_time() -> None:
    logic = temporal(how="left", eager=True)
    logic.on_right(10, "v10")
    logic.on_right(20, None)
    logic.on_right(30, "v30")
    assert logic.on_left(15, "a") == [Joined("a", "v10", 15, 10)]
    assert logic.on_left(25, "b") == [Joined("b", None, 25, None)]  # does not reach v10
    assert logic.on_left(30, "c") == [Joined("c", "v30", 30, 30)]


def test_temporal_same_time_update_replaces_the_version() -> None:
    logic = temporal(eager=True)
    logic.on_right(10, "first")
    logic.on_right(10, "second")
    assert logic.on_left(10, "c") == [Joined("c", "second", 10, 10)]
    assert logic.snapshot().right_times == (10,)


def test_temporal_retention_keeps_the_version_in_force_and_later_ones() -> None:
    logic = temporal()
    for t in (10, 20, 30, 40):
        logic.on_right(t, f"v{t}")
    assert logic.next_deadline() == 20
    logic.on_watermark(35)
    assert logic.snapshot().right_times == (30, 40)  # 30 is in force at 35
    logic.on_left(35, "c")
    assert logic.on_watermark(36) == [Joined("c", "v30", 35, 30)]


def test_temporal_history_keeps_more_versions() -> None:
    logic = temporal(history_ms=timedelta(milliseconds=15))
    for t in (10, 20, 30, 40):
        logic.on_right(t, f"v{t}")
    assert logic.next_deadline() == 35  # 20 takes over at watermark - 15 >= 20
    logic.on_watermark(35)
    assert logic.snapshot().right_times == (20, 30, 40)


def test_temporal_tombstone_in_force_is_dropped_and_the_key_empties() -> None:
    logic = temporal()
    logic.on_right(10, "v")
    logic.on_right(20, None)
    logic.on_watermark(20)
    assert logic.is_empty()
    assert logic.next_deadline() is None


def test_temporal_bounded_versions() -> None:
    logic = temporal(max_buffered=3)
    for t in range(5):
        logic.on_right(t, t)
    assert logic.snapshot().right_times == (2, 3, 4)
    assert logic.evicted == 2


SCRIPT: list[tuple[str, int, str | None]] = [
    ("R", 10, "v10"),
    ("L", 12, "a"),
    ("R", 11, "v11"),
    ("W", 13, None),
    ("R", 20, None),
    ("L", 21, "b"),
    ("R", 15, "v15"),
    ("L", 16, "c"),
    ("W", 22, None),
    ("R", 30, "v30"),
    ("L", 40, "d"),
    ("W", 100, None),
]


def run(join: TableJoin[str, str], restore_at: int | None) -> list[Any]:
    logic = join.build()
    trace: list[Any] = []
    for step, (kind, t, v) in enumerate(SCRIPT):
        if step == restore_at:
            logic = restore(join, logic)
        if kind == "L":
            out = logic.on_event(t, Left(str(v)))
        elif kind == "R":
            out = logic.on_event(t, Right(v))
        else:
            out = logic.on_watermark(t)
        trace.append((list(out), logic.next_deadline(), logic.is_empty()))
    return trace


@pytest.mark.parametrize(
    "join",
    [
        TableJoin[str, str](how="left", left_type=str, right_type=str),
        TableJoin[str, str](how="left", temporal=True),
        TableJoin[str, str](temporal=True, eager=True, history_ms=5),
    ],
    ids=["latest", "temporal", "temporal-eager"],
)
@pytest.mark.parametrize("restore_at", range(len(SCRIPT)))
def test_restore_mid_stream_continues_identically(join: Any, restore_at: int) -> None:
    assert run(join, restore_at) == run(join, None)


def test_script_outputs() -> None:
    def flat(join: TableJoin[str, str]) -> list[Joined[str, str]]:
        return [o for out, _, _ in run(join, None) for o in out]

    assert flat(TableJoin(how="left")) == [
        Joined("a", "v10", 12, 10),
        Joined("b", None, 21, None),  # deleted at 20
        Joined("c", "v15", 16, 15),  # latest by arrival
        Joined("d", "v30", 40, 30),
    ]
    assert flat(TableJoin(how="left", temporal=True)) == [
        Joined("a", "v11", 12, 11),  # v11 arrived late but before the watermark
        Joined("c", "v15", 16, 15),
        Joined("b", None, 21, None),  # tombstone at 20
        Joined("d", "v30", 40, 30),
    ]


# -- configuration and the contract --------------------------------------------------------------


def test_definition_and_logic_meet_the_protocols() -> None:
    for join in (TableJoin(), TableJoin(temporal=True)):
        assert isinstance(join, Definition)
        assert isinstance(join.build(), Logic)
    assert (
        TableJoin(temporal=True, right_type=Account).snapshot_type == AsOfJoinSnapshot[Any, Account]
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"how": "outer"},
        {"history_ms": 10},
        {"eager": True},
        {"temporal": True, "history_ms": -1},
        {"temporal": True, "max_buffered": 0},
    ],
)
def test_bad_configuration_is_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        TableJoin(**kwargs)


def test_snapshot_of_the_other_kind_is_rejected() -> None:
    with pytest.raises(ConfigError):
        TableJoin(temporal=True).build(TableJoinSnapshot("v", 1))
    with pytest.raises(ConfigError):
        TableJoin().build(AsOfJoinSnapshot())

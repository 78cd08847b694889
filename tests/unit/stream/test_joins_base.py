"""What every join shares: the side wrappers, the Joined output, side dispatch."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from riskstream.stream.joins import AsOfJoin, IntervalJoin, Joined, Left, Right, TableJoin

JOINS: list[Any] = [
    IntervalJoin(10, 10, how="outer"),
    TableJoin(how="left"),
    TableJoin(how="left", temporal=True),
    AsOfJoin(10, how="left"),
    AsOfJoin(10, how="left", eager=True),
]
IDS = ["interval", "table", "temporal", "asof", "asof-eager"]


def test_side_wrappers_are_frozen_structs() -> None:
    left = Left({"user": "u"})
    with pytest.raises(AttributeError):
        left.value = {}  # type: ignore[misc]
    sides: list[object] = [Left(1), Left(1), Right(1)]
    assert sides[0] == sides[1] != sides[2]
    assert Left.__name__ == "Left"


def test_joined_is_frozen_and_encodable() -> None:
    joined = Joined("l", None, 5)
    assert joined.right_time is None
    with pytest.raises(AttributeError):
        joined.left = "x"  # type: ignore[misc]
    raw = msgspec.json.encode(joined)
    assert raw == b'{"left":"l","right":null,"left_time":5,"right_time":null}'
    assert msgspec.json.decode(raw, type=Joined[str, str]) == joined


@pytest.mark.parametrize("join", JOINS, ids=IDS)
def test_on_event_and_the_side_entry_points_agree(join: Any) -> None:
    script = [("R", 5, "r5"), ("L", 8, "l8"), ("R", 7, "r7"), ("L", 30, "l30"), ("W", 50, "")]
    wrapped, direct = join.build(), join.build()
    for kind, t, v in script:
        if kind == "W":
            assert wrapped.on_watermark(t) == direct.on_watermark(t)
        elif kind == "L":
            assert wrapped.on_event(t, Left(v)) == direct.on_left(t, v)
        else:
            assert wrapped.on_event(t, Right(v)) == direct.on_right(t, v)
        assert wrapped.snapshot() == direct.snapshot()


@pytest.mark.parametrize("join", JOINS, ids=IDS)
def test_unwrapped_values_are_a_type_error(join: Any) -> None:
    with pytest.raises(TypeError, match="Left"):
        join.build().on_event(1, ("L", "bare"))


@pytest.mark.parametrize("join", JOINS, ids=IDS)
def test_fresh_logic_is_empty_and_has_no_deadline(join: Any) -> None:
    logic = join.build()
    assert logic.is_empty()
    assert logic.next_deadline() is None
    assert logic.on_watermark(100) == ()

"""As-of join: each left event joins the right event closest in time before it (by default).

``AsOfJoin(tolerance_ms, how="inner"|"left", direction="backward")`` follows pandas
``merge_asof`` / Quix ``join_asof``: a left event at ``t`` joins the latest right event of
its key with ``t - tolerance_ms <= time <= t`` (both ends inclusive); ``direction="forward"``
takes the earliest one in ``[t, t + tolerance_ms]`` and ``"nearest"`` the closer of the two
(a tie goes backward). Two right events at the same time: the later arrival wins. The output
is ``Joined(left, right, t, right_time)``; with ``how="left"`` a left event without a match
emits ``Joined(left, None, t, None)``, with ``"inner"`` nothing. Right events emit nothing.

When (see :mod:`riskstream.stream.joins.versioned`): by default a left event is answered
once the watermark passes ``t`` (``t + tolerance_ms`` for forward/nearest), which is final
for out-of-order right events; ``eager=True`` (backward only) answers on arrival from the
right events seen so far - lower latency, but a right event arriving later is not taken
into account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal

from riskstream.errors import ConfigError
from riskstream.stream.joins.base import L, R, check_bound, check_choice, to_ms
from riskstream.stream.joins.versioned import (
    BACKWARD,
    FORWARD,
    NEAREST,
    AsOfJoinLogic,
    AsOfJoinSnapshot,
    AsOfParams,
)

__all__ = ["AsOfJoin"]

AsOfHow = Literal["inner", "left"]
Direction = Literal["backward", "forward", "nearest"]
_DIRECTIONS = {"backward": BACKWARD, "forward": FORWARD, "nearest": NEAREST}
DEFAULT_MAX_BUFFERED = 1_000


@dataclass(frozen=True, init=False)
class AsOfJoin(Generic[L, R]):
    """Join each left event with the right event nearest in time within ``tolerance_ms``.

    ``tolerance_ms=None`` (backward only) means no limit on how old the match may be.
    ``max_buffered`` bounds the right events and the pending left events kept per key.
    ``left_type``/``right_type`` type the snapshot.
    """

    tolerance_ms: int | None
    how: AsOfHow
    direction: Direction
    eager: bool
    max_buffered: int | None
    left_type: Any
    right_type: Any
    _params: AsOfParams = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        tolerance_ms: int | timedelta | None,
        *,
        how: AsOfHow = "inner",
        direction: Direction = "backward",
        eager: bool = False,
        max_buffered: int | None = DEFAULT_MAX_BUFFERED,
        left_type: Any = Any,
        right_type: Any = Any,
    ) -> None:
        check_choice(how, "how", ("inner", "left"))
        check_choice(direction, "direction", tuple(_DIRECTIONS))
        if direction != "backward":
            if tolerance_ms is None:
                raise ConfigError(f"a {direction} as-of join needs a tolerance_ms")
            if eager:
                raise ConfigError(
                    f"a {direction} as-of join waits for later right events; "
                    "eager=True is for backward only"
                )
        tolerance = None if tolerance_ms is None else to_ms(tolerance_ms, "tolerance_ms")
        init = object.__setattr__  # the dataclass is frozen; normalise once here
        init(self, "tolerance_ms", tolerance)
        init(self, "how", how)
        init(self, "direction", direction)
        init(self, "eager", bool(eager))
        init(self, "max_buffered", check_bound(max_buffered))
        init(self, "left_type", left_type)
        init(self, "right_type", right_type)
        init(
            self,
            "_params",
            AsOfParams(
                _DIRECTIONS[direction],
                tolerance,
                how == "left",
                bool(eager),
                False,
                0,
                max_buffered,
            ),
        )

    @property
    def snapshot_type(self) -> Any:
        """``AsOfJoinSnapshot[left_type, right_type]``."""
        # Parametrised at runtime with the configured value types, which mypy cannot follow.
        return AsOfJoinSnapshot[self.left_type, self.right_type]  # type: ignore[name-defined]

    def build(self, snapshot: AsOfJoinSnapshot[L, R] | None = None) -> AsOfJoinLogic[L, R]:
        """A fresh logic, or one restored from ``snapshot``."""
        return AsOfJoinLogic(self._params, snapshot)


if TYPE_CHECKING:  # static proof that the classes meet the runtime contract
    from riskstream.stream.joins.base import Joined, JoinLogic, Side
    from riskstream.stream.logic import Definition

    _check: Definition[Side[int, str], Joined[int, str], AsOfJoinSnapshot[int, str]] = AsOfJoin[
        int, str
    ](1)
    _logic: JoinLogic[int, str, AsOfJoinSnapshot[int, str]] = AsOfJoin[int, str](1).build()

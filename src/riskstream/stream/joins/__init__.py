"""Joins of two co-partitioned streams, per key: interval, stream-table (latest or temporal)
and as-of.

Each join is a definition (:mod:`riskstream.stream.logic`) whose per-key logic takes the
events of both inputs, each wrapped in its side - ``Left(value)`` or ``Right(value)`` - and
emits :class:`Joined` records::

    join = IntervalJoin(before_ms=30_000, after_ms=0, how="left")  # checkout x logins of 30 s
    logic = join.build()
    logic.on_event(1_000, Right(login))        # -> ()
    logic.on_event(20_000, Left(checkout))     # -> [Joined(checkout, login, 20_000, 1_000)]
    logic.on_watermark(20_001)                 # -> () (it matched: no left-only result)

* :class:`IntervalJoin` - stream-stream, right events in ``[t - before_ms, t + after_ms]``.
* :class:`TableJoin` - stream-table, the latest value per key (``temporal=True``: the value
  valid at the left event's time).
* :class:`AsOfJoin` - the right event nearest before (or after) the left one, within a
  tolerance.

Times are int epoch milliseconds; ``timedelta`` is accepted for durations.
"""

from riskstream.stream.joins.asof import AsOfJoin
from riskstream.stream.joins.base import NO_WATERMARK, Joined, JoinLogic, Left, Right, Side
from riskstream.stream.joins.interval import IntervalJoin, IntervalJoinLogic, IntervalJoinSnapshot
from riskstream.stream.joins.table import TableJoin, TableJoinLogic, TableJoinSnapshot
from riskstream.stream.joins.versioned import AsOfJoinLogic, AsOfJoinSnapshot

__all__ = [
    "NO_WATERMARK",
    "AsOfJoin",
    "AsOfJoinLogic",
    "AsOfJoinSnapshot",
    "IntervalJoin",
    "IntervalJoinLogic",
    "IntervalJoinSnapshot",
    "JoinLogic",
    "Joined",
    "Left",
    "Right",
    "Side",
    "TableJoin",
    "TableJoinLogic",
    "TableJoinSnapshot",
]

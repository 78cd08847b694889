"""Windowed aggregations per key: tumbling, hopping, exact sliding and session windows.

Each window type is an immutable definition (``Tumbling(60_000, aggregations={...})``) whose
``build(snapshot)`` makes the per-key logic of :mod:`riskstream.stream.logic`. Times are int
epoch milliseconds; every window is reported half-open, ``start <= t < end``, as a
:class:`WindowResult` holding one value per named aggregation.

A window *closes* when ``end <= watermark`` (allowed lateness is already in the watermark).
``emit="update"`` emits a window's current result on every event that changes it
(``final=False``); ``emit="close"`` emits each window once, when it closes (``final=True``).

==================  ==========================================  ============================
type                windows                                     state per key
==================  ==========================================  ============================
``Tumbling(s)``     ``[k*s, (k+1)*s)``                          one accumulator per open
                                                                window
``Hopping(s, h)``   ``[k*h, k*h + s)``, overlapping             ``ceil(s/h)`` open windows
``Sliding(s)``      ``(t - s, t]`` for each event time ``t``    the inputs of the events
                    (exact)                                     within ``s`` of the watermark
``Session(g)``      runs of events less than ``g`` apart,       one accumulator per open
                    ``[first, last + g)``, merging              session
==================  ==========================================  ============================

Aggregations: :class:`Count`, :class:`Sum`, :class:`Min`, :class:`Max`, :class:`Mean`,
:class:`DistinctCount` (exact up to a limit, then saturated) and :class:`Last`.
"""

from riskstream.stream.windows._common import Emit
from riskstream.stream.windows.aggregations import Aggregation, Count, Last, Max, Mean, Min, Sum
from riskstream.stream.windows.distinct import DEFAULT_DISTINCT_LIMIT, DistinctCount
from riskstream.stream.windows.fixed import FixedLogic, FixedSnapshot, Hopping, Tumbling
from riskstream.stream.windows.hashing import stable_hash
from riskstream.stream.windows.result import WindowResult
from riskstream.stream.windows.session import Session, SessionLogic, SessionSnapshot
from riskstream.stream.windows.sliding import Sliding, SlidingLogic, SlidingSnapshot

__all__ = [
    "DEFAULT_DISTINCT_LIMIT",
    "Aggregation",
    "Count",
    "DistinctCount",
    "Emit",
    "FixedLogic",
    "FixedSnapshot",
    "Hopping",
    "Last",
    "Max",
    "Mean",
    "Min",
    "Session",
    "SessionLogic",
    "SessionSnapshot",
    "Sliding",
    "SlidingLogic",
    "SlidingSnapshot",
    "Sum",
    "Tumbling",
    "WindowResult",
    "stable_hash",
]

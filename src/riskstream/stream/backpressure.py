"""Back-pressure: an input topic that runs ahead of its task's other inputs in time waits.

A task takes its inputs' records in timestamp order (see :mod:`riskstream.stream.ordering`),
so the records of a topic ahead of the others wait in the task's buffer; past a bound, their
partition is paused while the consumer keeps fetching the others.
"""

from __future__ import annotations

from collections.abc import Iterable

from riskstream.log.port import Consumer
from riskstream.stream.task_unit import TaskUnit

__all__ = ["hold_back"]


def hold_back(consumer: Consumer, units: Iterable[TaskUnit], max_buffered: int) -> bool:
    """Pause an input partition whose records wait in its task's buffer (its topic runs
    ahead of the task's others in time) beyond ``max_buffered``, and resume it once half of
    them went; the consumer keeps fetching the others. Returns whether some input partition
    stays paused."""
    waiting = {tp: n for unit in units for tp, n in unit.buffer.sizes()}
    paused = consumer.paused()
    held = set(consumer.assignment())
    stop = [
        tp for tp, n in waiting.items() if n >= max_buffered and tp not in paused and tp in held
    ]
    go = [tp for tp in paused if waiting.get(tp, 0) <= max_buffered // 2]
    if stop:
        consumer.pause(stop)
    if go:
        consumer.resume(go)
    return len(paused) + len(stop) > len(go)

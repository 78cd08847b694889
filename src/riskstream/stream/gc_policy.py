"""The garbage-collector policy of a worker process.

A worker allocates millions of short-lived objects (records, outputs) while its long-lived
ones (modules, topology, per-key state) barely change. CPython's default thresholds run a
young collection every 700 allocations and keep re-scanning the long-lived objects in the
older generations: measured on the runtime benchmark, collecting less often and freezing
what start-up made lifts the runner's throughput by about a tenth (benchmarks/runtime.py
``--tune-gc``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["STREAMING_THRESHOLDS", "streaming_gc", "tune_gc_for_streaming"]

STREAMING_THRESHOLDS = (50_000, 20, 100)


def tune_gc_for_streaming() -> tuple[int, int, int]:
    """Freeze what exists now (start-up objects) and collect less often; returns the
    thresholds before."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*STREAMING_THRESHOLDS)
    return before


@contextmanager
def streaming_gc(enabled: bool = True) -> Iterator[None]:
    """:func:`tune_gc_for_streaming` for the duration of a block (benchmarks, tests)."""
    if not enabled:
        yield
        return
    before = tune_gc_for_streaming()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()

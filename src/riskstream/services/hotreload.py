"""What the readers of published changes share: rejections and the newest-valid search.

A published value that cannot be applied (it does not decode, its rule set does not build, a
model fails validation) is *rejected*: the reader keeps what it had, and the rejection is
kept (the latest :data:`KEPT_REJECTIONS`), logged with ``logging.warning`` and counted in a
Prometheus counter. As in :mod:`riskstream.stream.metrics`, counters live in a registry the
caller owns (never the process-wide default); one counter per name and registry is shared by
every reader that reports to it.

Within one polled batch a reader applies the *newest valid* value of a key
(:func:`newest_valid`): replaying a topic that still holds a good value and a later broken
one ends with the good one applied and the broken one rejected - the same state as a
process that saw them arrive one by one.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from prometheus_client import CollectorRegistry, Counter

from riskstream.errors import RiskstreamError
from riskstream.services.compacted import Change

__all__ = [
    "KEPT_REJECTIONS",
    "Clock",
    "Rejected",
    "Rejection",
    "RejectionLog",
    "newest_valid",
    "rejection_counter",
    "wall_clock_ms",
]

_log = logging.getLogger(__name__)

KEPT_REJECTIONS: Final = 100

T = TypeVar("T")
Clock = Callable[[], int]
"""Epoch milliseconds now (injected, so tests can move time)."""

_counters: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, Counter]] = (
    weakref.WeakKeyDictionary()
)
_counters_lock = threading.Lock()


def wall_clock_ms() -> int:
    """The wall clock in epoch milliseconds."""
    return time.time_ns() // 1_000_000


class Rejected(RiskstreamError):
    """A published value that cannot be applied; ``errors`` says why, one line each."""

    def __init__(self, errors: Iterable[str], *, version: str | None = None) -> None:
        self.errors = tuple(errors)
        self.version = version
        super().__init__("; ".join(self.errors))


@dataclass(frozen=True, slots=True)
class Rejection:
    """A published value that was not applied: where it is, what it claimed to be, and why."""

    topic: str
    key: str
    version: str | None
    errors: tuple[str, ...]
    offset: int
    rejected_at: int


def rejection_counter(
    registry: CollectorRegistry, name: str, documentation: str, label: str
) -> Counter:
    """The counter ``name`` (labelled by ``label``) in ``registry``, created on first use."""
    with _counters_lock:
        known = _counters.setdefault(registry, {})
        counter = known.get(name)
        if counter is None:
            counter = known[name] = Counter(name, documentation, (label,), registry=registry)
        return counter


class RejectionLog:
    """The latest rejections of one reader (thread-safe); each one is logged."""

    def __init__(self, clock: Clock, *, keep: int = KEPT_REJECTIONS) -> None:
        self._clock = clock
        self._items: deque[Rejection] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def record(self, topic: str, change: Change, rejected: Rejected) -> Rejection:
        """Keep and log one rejection (callers count it first: seen here means counted)."""
        key = change.key.decode(errors="replace")
        rejection = Rejection(
            topic=topic,
            key=key,
            version=rejected.version,
            errors=rejected.errors,
            offset=change.offset,
            rejected_at=self._clock(),
        )
        with self._lock:
            self._items.append(rejection)
        _log.warning(
            "rejected %s %r version %s (offset %d), keeping what was there:\n  %s",
            topic,
            key,
            rejected.version or "?",
            change.offset,
            "\n  ".join(rejected.errors),
        )
        return rejection

    def all(self) -> tuple[Rejection, ...]:
        """The kept rejections, oldest first."""
        with self._lock:
            return tuple(self._items)


def newest_valid(
    changes: Sequence[Change],
    key: bytes,
    build: Callable[[bytes], T],
    reject: Callable[[Change, Rejected], object],
) -> tuple[Change, T | None] | None:
    """The newest change of ``key`` in ``changes`` that applies, built; see the module doc.

    Goes back from the newest change: a tombstone applies as ``(change, None)``; a value
    applies if ``build(value)`` returns. The values it rejects (by raising
    :class:`Rejected`) go to ``reject`` afterwards, in log order. ``None``: no change of
    ``key`` applies.
    """
    refused: list[tuple[Change, Rejected]] = []
    found: tuple[Change, T | None] | None = None
    for change in reversed(changes):
        if change.key != key:
            continue
        if change.value is None:
            found = change, None
            break
        try:
            found = change, build(change.value)
            break
        except Rejected as exc:
            refused.append((change, exc))
    for change, why in reversed(refused):
        reject(change, why)
    return found

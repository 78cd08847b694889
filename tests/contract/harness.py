"""One harness per backend, so every contract test runs unchanged against each of them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from riskstream.log import Consumer, EventLog, Record, TopicSpec


class _Maintained(Protocol):
    def maintain(self) -> None: ...


@dataclass
class LogHarness:
    """A log under test plus the few things contract tests need around it."""

    backend: str
    log: EventLog
    topics: list[str] = field(default_factory=list)

    def topic(self, partitions: int = 1, **spec: object) -> str:
        """Create a fresh, uniquely named topic."""
        name = f"t-{uuid.uuid4().hex[:12]}"
        self.log.admin.create_topics([TopicSpec(name=name, partitions=partitions, **spec)])  # type: ignore[arg-type]
        self.topics.append(name)
        return name

    def maintain(self) -> None:
        """Run retention/compaction now where the backend can (Kafka's broker runs its own)."""
        if hasattr(self.log, "maintain"):
            maintained: _Maintained = self.log  # type: ignore[assignment]
            maintained.maintain()

    def eventually(self, check: Callable[[], bool], timeout: float = 90.0) -> None:
        """Wait until ``check`` holds, running maintenance before each try."""
        deadline = time.monotonic() + timeout
        while True:
            self.maintain()
            if check():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not reached within {timeout}s on {self.backend}")
            time.sleep(0.5)


def drain(consumer: Consumer, count: int, timeout: float = 30.0) -> list[Record]:
    """Poll until ``count`` records arrived (fails on timeout); returns them in arrival order."""
    out: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"got {len(out)} of {count} records within {timeout}s")
        out.extend(consumer.poll(max_records=count - len(out), timeout=0.2))
    return out


def poll_until(
    consumers: list[Consumer], done: Callable[[], bool], timeout: float = 45.0
) -> Iterator[Record]:
    """Poll several consumers in turn until ``done()``; yields every record they return."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s")
        for consumer in consumers:
            yield from consumer.poll(max_records=500, timeout=0.05)

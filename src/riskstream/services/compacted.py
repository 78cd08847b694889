"""Follow a compacted topic: the latest value per key, kept current by a background thread.

What the fraud team changes while the engine runs (rule sets, block/allow lists, models)
lives on compacted topics: the key names the thing, the latest value is its state, and a
tombstone (``None`` value) deletes it. A :class:`CompactedFollower` reads such a topic from
the beginning on every partition, without a consumer group (nothing is committed, no group
ever sees it), and keeps reading, so a running worker picks up changes without a restart::

    follower = CompactedFollower(log, "risk.rules", on_change=reload)
    follower.wait_caught_up(timeout=30)     # everything published before it started is read
    follower.latest                         # {key: value} - tombstoned keys are absent
    follower.close()

``on_change`` runs on the follower's thread once per polled batch, with the batch's records
in log order (what was produced, not only the latest per key: a reader may want the newest
*valid* value). The batch that completes the catch-up says so (``caught_up``), even when it
is empty, so a reader can defer expensive rebuilds until then. The caught-up event is set
after that callback returned: a caller released by :meth:`wait_caught_up` sees its effects.

:func:`ensure_compacted_topics` creates such topics idempotently and :func:`put` writes
records and waits until every one is acknowledged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, NamedTuple

from riskstream.errors import LogClosedError, LogError, ProduceError, RiskstreamError
from riskstream.log.port import Consumer, EventLog
from riskstream.log.records import DeliveryReport, Record, TopicPartition, TopicSpec

__all__ = [
    "Change",
    "ChangeBatch",
    "CompactedFollower",
    "OnChange",
    "ensure_compacted_topics",
    "put",
    "read_compacted",
]

_log = logging.getLogger(__name__)

_POLL_TIMEOUT_S: Final = 0.2
_RETRY_S: Final = 1.0
_CLOSE_WAIT_S: Final = 30.0
_PUT_TIMEOUT_S: Final = 30.0


class Change(NamedTuple):
    """One record of a compacted topic: a new value for ``key`` or (``None``) its deletion."""

    key: bytes
    value: bytes | None
    offset: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """The records of one poll, in log order.

    ``caught_up``: the follower has now read everything the topic held when it started.
    """

    changes: tuple[Change, ...]
    caught_up: bool


OnChange = Callable[[ChangeBatch], None]


def ensure_compacted_topics(log: EventLog, *topics: str, partitions: int = 1) -> None:
    """Create each topic (compacted, ``partitions`` partitions) unless it exists already."""
    specs = [TopicSpec(name=t, partitions=partitions, compacted=True) for t in topics]
    log.admin.create_topics(specs, exist_ok=True)


def put(
    log: EventLog,
    topic: str,
    entries: Iterable[tuple[bytes, bytes | None]],
    *,
    timeout: float = _PUT_TIMEOUT_S,
) -> list[DeliveryReport]:
    """Produce ``(key, value)`` records (``None``: a tombstone) and wait for their reports.

    Raises :class:`ProduceError` unless every record was acknowledged.
    """
    reports: list[DeliveryReport] = []
    producer = log.producer(on_delivery=reports.append, linger_ms=0)
    sent = 0
    try:
        for key, value in entries:
            producer.produce(topic, value, key)
            sent += 1
        pending = producer.flush(timeout)
    finally:
        producer.close()
    failed = [r for r in reports if not r.ok]
    if pending or failed or len(reports) != sent:
        reason = failed[0].error if failed else "no delivery report"
        raise ProduceError(
            f"{sent - len(reports) + len(failed)} of {sent} records to {topic} were not "
            f"acknowledged ({reason})"
        )
    return reports


def read_compacted(log: EventLog, topic: str, *, timeout: float = 30.0) -> dict[bytes, bytes]:
    """The latest value per key of ``topic`` as of now (tombstoned keys are absent)."""
    with CompactedFollower(log, topic) as follower:
        if not follower.wait_caught_up(timeout):
            raise LogError(f"could not read {topic} to its end within {timeout}s")
        return follower.latest


class CompactedFollower:
    """Keeps the latest value per key of a compacted topic; see the module docstring.

    ``latest`` and :meth:`get` are safe from any thread. ``on_change`` runs on the follower's
    thread; an exception it raises is logged and the follower goes on with the next batch.
    Errors of the log are retried (a broker restart must not stop hot reload); only a closed
    log ends the thread.
    """

    def __init__(
        self,
        log: EventLog,
        topic: str,
        *,
        on_change: OnChange | None = None,
        poll_timeout: float = _POLL_TIMEOUT_S,
        max_records: int = 1000,
    ) -> None:
        self.topic = topic
        self._on_change = on_change
        self._poll_timeout = poll_timeout
        self._max_records = max_records
        self._latest: dict[bytes, bytes] = {}
        self._lock = threading.Lock()
        self._caught_up = threading.Event()
        self._stop = threading.Event()
        self._finished = threading.Event()
        self.error: BaseException | None = None
        partitions = log.admin.describe_topics([topic])[topic].partitions
        self._partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self._consumer: Consumer = log.consumer()  # no group: nothing committed, nobody sees it
        try:
            self._consumer.assign(self._partitions)
            # Caught up = read to the end offsets the topic had now (compaction may leave
            # gaps below them, so positions are compared, not the last record's offset).
            self._targets: dict[TopicPartition, int] = {}
            for tp in self._partitions:
                low, high = self._consumer.watermarks(tp)
                if high > low:
                    self._targets[tp] = high
        except BaseException:
            self._consumer.close()
            raise
        self._thread = threading.Thread(
            target=self._run, name=f"compacted-follower[{topic}]", daemon=True
        )
        self._thread.start()

    # -- reading -------------------------------------------------------------------------

    @property
    def latest(self) -> dict[bytes, bytes]:
        """A copy of the latest value per key (tombstoned keys are absent)."""
        with self._lock:
            return dict(self._latest)

    def get(self, key: bytes) -> bytes | None:
        """The latest value of ``key``, or ``None`` (never written, or deleted)."""
        with self._lock:
            return self._latest.get(key)

    @property
    def caught_up(self) -> bool:
        """Whether everything the topic held when the follower started has been read."""
        return self._caught_up.is_set()

    def wait_caught_up(self, timeout: float | None = None) -> bool:
        """Wait until :attr:`caught_up`; ``False`` if ``timeout`` seconds passed first.

        Raises :class:`LogError` if the follower stopped before catching up.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._caught_up.is_set():
            if self._finished.is_set():
                raise LogError(f"follower of {self.topic} stopped: {self.error!r}")
            remaining = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if remaining <= 0:
                return False
            self._caught_up.wait(remaining)
        return True

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            if not self._targets:  # empty topic: caught up without waiting for a poll
                self._apply([], finishing=True)
            while not self._stop.is_set():
                try:
                    records = self._consumer.poll(self._max_records, self._poll_timeout)
                    finishing = not self._caught_up.is_set() and self._reached_targets()
                except LogClosedError:
                    break
                except RiskstreamError as exc:
                    _log.warning("following %s: %s; retrying in %.0fs", self.topic, exc, _RETRY_S)
                    self._stop.wait(_RETRY_S)
                    continue
                self._apply(records, finishing=finishing)
        except BaseException as exc:
            self.error = exc
            _log.exception("follower of %s stopped", self.topic)
        finally:
            self._finished.set()

    def _reached_targets(self) -> bool:
        targets = self._targets
        if targets:
            at_end = self._consumer.at_end()
            for tp in list(targets):
                if tp in at_end or self._consumer.position(tp) >= targets[tp]:
                    del targets[tp]
        return not targets

    def _apply(self, records: list[Record], *, finishing: bool) -> None:
        changes = tuple(
            Change(r.key, r.value, r.offset, r.timestamp) for r in records if r.key is not None
        )
        if changes:
            with self._lock:
                latest = self._latest
                for change in changes:
                    if change.value is None:
                        latest.pop(change.key, None)
                    else:
                        latest[change.key] = change.value
        if (changes or finishing) and self._on_change is not None:
            batch = ChangeBatch(changes, caught_up=finishing or self._caught_up.is_set())
            try:
                self._on_change(batch)
            except Exception:
                # A reader's bug must not stop hot reload of everything else on this topic.
                _log.exception("on_change of the follower of %s failed", self.topic)
        if finishing:
            self._caught_up.set()

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Stop the thread (it finishes the batch in hand) and close the consumer."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(_CLOSE_WAIT_S)
        if self._thread.is_alive():
            # Its callback is stuck; closing the consumer under it would race its poll.
            _log.warning("follower of %s did not stop within %.0fs", self.topic, _CLOSE_WAIT_S)
            return
        self._consumer.close()

    def __enter__(self) -> CompactedFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "caught up" if self.caught_up else "catching up"
        return f"CompactedFollower({self.topic!r}, {state})"

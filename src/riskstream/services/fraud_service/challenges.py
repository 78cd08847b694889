"""Which challenges exist and whether they are still open: a follower of ``risk.transactions``.

An MFA answer names only its challenge; to put it on the log it needs the user (the
partition key) and the transaction. The :class:`ChallengeBook` reads the lifecycle events
the Fraud Service writes - without a consumer group, from ``retain_ms`` back - and keeps,
per challenge, its transaction, user, expiry and whether it was closed. It is a read side
of the service's own events, so it knows a challenge only once it was *issued*: an answer to
one that was not (yet) is refused, which is what a real MFA provider does, and on a miss the
book first reads the topic up to its current end (:meth:`sync`) so an answer that follows
the challenge's issue closely is not refused for the follower's lag.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from riskstream.errors import LogClosedError, LogError, RiskstreamError
from riskstream.events import (
    MfaChallengeIssued,
    TransactionCancelled,
    TransactionReleased,
)
from riskstream.log.port import EventLog
from riskstream.log.records import Record, TopicPartition
from riskstream.services.fraud_service.challenge import challenge_id_for
from riskstream.services.fraud_service.config import FraudServiceConfig
from riskstream.services.fraud_service.errors import ChallengeClosedError, UnknownChallengeError
from riskstream.services.fraud_service.topology import ensure_topics, transactions_codec
from riskstream.settings import Settings

__all__ = ["ChallengeBook", "ChallengeEntry"]

_log = logging.getLogger(__name__)

DAY_MS: Final = 86_400_000
_POLL_TIMEOUT_S: Final = 0.1
_RETRY_S: Final = 1.0
_PRUNE_EVERY_MS: Final = 60_000


@dataclass(frozen=True, slots=True)
class ChallengeEntry:
    """One issued challenge. ``closed`` is the reason its transaction was released or
    cancelled (``None`` while open); ``answered`` says an answer left from this process."""

    challenge_id: str
    transaction_id: str
    user_id: str
    channel: str
    expires_at: int
    closed: str | None = None
    answered: bool = False


class ChallengeBook:
    """The issued challenges, kept current by a background thread (see the module docstring).

    ``retain_ms``: how far back challenges are read and how long they are kept after their
    expiry (older ones are unknown). The service's topics are created if missing, with
    ``partitions`` (default: the settings'). Safe to use from any thread.
    """

    def __init__(
        self,
        log: EventLog,
        config: FraudServiceConfig | None = None,
        *,
        retain_ms: int = DAY_MS,
        partitions: int | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.config = config or FraudServiceConfig()
        self.retain_ms = retain_ms
        self._clock = clock or (lambda: int(time.time() * 1000))
        self._decode = transactions_codec(self.config.transactions_topic).decode
        self._entries: dict[str, ChallengeEntry] = {}
        self._cond = threading.Condition()
        # Progress of the thread's polls: how many began, and after the last one that ended
        # (the number it had) the partitions at their end and the next offset of the others.
        self._polls_begun = 0
        self._seen_poll = 0
        self._at_end: frozenset[TopicPartition] = frozenset()
        self._next: dict[TopicPartition, int] = {}
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._last_prune = 0
        topic = self.config.transactions_topic
        if partitions is None:
            partitions = Settings().partitions
        count = ensure_topics(log, self.config, partitions=partitions)
        self._partitions = [TopicPartition(topic, p) for p in range(count)]
        self._probe = log.consumer()  # never assigned: asks for end offsets without waiting
        self._probe_lock = threading.Lock()
        self._consumer = log.consumer()  # no group: nothing committed, nobody sees it
        try:
            self._consumer.assign(self._partitions)
            self._consumer.seek_to_timestamp(self._clock() - retain_ms, self._partitions)
        except BaseException:
            self._consumer.close()
            self._probe.close()
            raise
        self._thread = threading.Thread(
            target=self._run, name=f"challenge-book[{topic}]", daemon=True
        )
        self._thread.start()

    # -- reading ------------------------------------------------------------------------

    def get(self, challenge_id: str) -> ChallengeEntry | None:
        with self._cond:
            return self._entries.get(challenge_id)

    def __len__(self) -> int:
        with self._cond:
            return len(self._entries)

    def sync(self, timeout: float = 5.0) -> bool:
        """Wait until everything written to the topic before the call has been read;
        ``False`` if ``timeout`` seconds passed first. Raises :class:`LogError` if the
        follower stopped."""
        with self._probe_lock:
            ends = {tp: self._probe.watermarks(tp)[1] for tp in self._partitions}
        deadline = time.monotonic() + timeout
        with self._cond:
            after = self._polls_begun  # only a poll begun after the ends were taken counts
            while not (self._seen_poll > after and self._reached(ends)):
                if self.error is not None or self._stop.is_set():
                    raise LogError(f"the challenge book stopped: {self.error!r}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def _reached(self, ends: dict[TopicPartition, int]) -> bool:
        return all(tp in self._at_end or self._next.get(tp, 0) >= end for tp, end in ends.items())

    def claim(self, challenge_id: str, now: int) -> ChallengeEntry:
        """Mark an open, unexpired, unanswered challenge answered and return it; raises
        :class:`ChallengeClosedError` otherwise (:class:`UnknownChallengeError`: no such
        challenge)."""
        with self._cond:
            entry = self._entries.get(challenge_id)
            if entry is None:
                raise UnknownChallengeError(challenge_id)
            if entry.closed is not None:
                raise ChallengeClosedError(entry, f"the transaction was {entry.closed}")
            if entry.answered:
                raise ChallengeClosedError(entry, "the challenge was answered already")
            if now > entry.expires_at:
                raise ChallengeClosedError(entry, "the challenge expired")
            self._entries[challenge_id] = replace(entry, answered=True)
            return entry

    def unclaim(self, challenge_id: str) -> None:
        """Undo :meth:`claim` (the answer could not be written)."""
        with self._cond:
            entry = self._entries.get(challenge_id)
            if entry is not None and entry.closed is None:
                self._entries[challenge_id] = replace(entry, answered=False)

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with self._cond:
                    self._polls_begun += 1
                    number = self._polls_begun
                try:
                    records = self._consumer.poll(1000, _POLL_TIMEOUT_S)
                    at_end = self._consumer.at_end()
                except LogClosedError:
                    break
                except RiskstreamError as exc:
                    _log.warning("following the challenges: %s; retrying", exc)
                    self._stop.wait(_RETRY_S)
                    continue
                with self._cond:
                    self._apply(records)
                    self._seen_poll, self._at_end = number, at_end
                    self._prune()
                    self._cond.notify_all()
        except BaseException as exc:
            self.error = exc
            _log.exception("the challenge book stopped")
        finally:
            with self._cond:
                self._stop.set()
                self._cond.notify_all()

    def _apply(self, records: list[Record]) -> None:
        entries = self._entries
        for record in records:
            self._next[record.topic_partition] = record.offset + 1
            try:
                event = self._decode(record.value)
            except RiskstreamError as exc:  # not ours to dead-letter: the writer's records
                _log.warning(
                    "skipping %s[%d]@%d: %s", record.topic, record.partition, record.offset, exc
                )
                continue
            if isinstance(event, MfaChallengeIssued):
                if event.challenge_id not in entries:
                    entries[event.challenge_id] = ChallengeEntry(
                        event.challenge_id,
                        event.transaction_id,
                        event.user_id,
                        event.channel,
                        event.expires_at,
                    )
            elif isinstance(event, TransactionReleased | TransactionCancelled):
                challenge = challenge_id_for(event.transaction_id)
                entry = entries.get(challenge)
                if entry is not None and entry.closed is None:
                    outcome = "released" if isinstance(event, TransactionReleased) else "cancelled"
                    entries[challenge] = replace(entry, closed=f"{outcome} ({event.reason})")

    def _prune(self) -> None:
        now = self._clock()
        if now - self._last_prune < _PRUNE_EVERY_MS:
            return
        self._last_prune = now
        horizon = now - self.retain_ms
        stale = [cid for cid, entry in self._entries.items() if entry.expires_at < horizon]
        for challenge_id in stale:
            del self._entries[challenge_id]

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)
        if self._thread.is_alive():
            _log.warning("the challenge book's thread did not stop")
            return
        self._consumer.close()
        with self._probe_lock:
            self._probe.close()

    def __enter__(self) -> ChallengeBook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

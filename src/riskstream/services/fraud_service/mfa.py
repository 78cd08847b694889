"""Submitting an MFA answer: an ``MfaCompleted`` on ``events.label``, keyed by the user.

::

    with MfaSubmitter(log) as mfa:                    # follows the issued challenges
        receipt = mfa.submit("mfa-1f3a...", passed=True)
        receipt.transaction_id

    submit_mfa(log, challenge_id, passed=False)       # one-off (reads the challenges first)

The answer is accepted only for a challenge that was issued, is still open, unanswered
(by this process) and not expired (:class:`~riskstream.services.fraud_service.errors.
UnknownChallengeError`, :class:`~riskstream.services.fraud_service.errors.
ChallengeClosedError`), and returns once the log has acknowledged it. Its ``event_id`` is
the challenge's (``mfa/<challenge id>``): should two processes accept answers to the same
challenge at once, readers that deduplicate by id keep the first, as the Fraud Service does.
The same events are the labels training learns from
(:class:`~riskstream.services.labels.MfaOutcomes`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from riskstream.errors import ProduceError
from riskstream.events import MfaCompleted, codec_for
from riskstream.log.port import EventLog
from riskstream.log.records import DeliveryReport
from riskstream.services.fraud_service.challenges import ChallengeBook
from riskstream.services.fraud_service.config import FraudServiceConfig

__all__ = ["MfaSubmission", "MfaSubmitter", "submit_mfa"]

_SOURCE: Final = "mfa"
_ACK_TIMEOUT_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class MfaSubmission:
    """An accepted answer, as written."""

    challenge_id: str
    transaction_id: str
    user_id: str
    passed: bool
    event_id: str
    submitted_at: int


class MfaSubmitter:
    """Accepts MFA answers and writes them to the labels topic; safe from any thread.

    ``book`` defaults to a :class:`ChallengeBook` of its own (closed with the submitter);
    ``lookup_timeout`` bounds the wait for the book to read a challenge issued just now.
    """

    def __init__(
        self,
        log: EventLog,
        config: FraudServiceConfig | None = None,
        *,
        book: ChallengeBook | None = None,
        clock: Callable[[], int] | None = None,
        lookup_timeout: float = 5.0,
    ) -> None:
        self.config = config or FraudServiceConfig()
        self._clock = clock or (lambda: int(time.time() * 1000))
        self._owns_book = book is None
        self.book = book if book is not None else ChallengeBook(log, self.config, clock=clock)
        self.lookup_timeout = lookup_timeout
        self._encode = codec_for(MfaCompleted.topic).encode
        self._producer = log.producer(linger_ms=0)
        self._lock = threading.Lock()  # one answer at a time through the producer

    def submit(self, challenge_id: str, passed: bool, *, method: str = "otp") -> MfaSubmission:
        """Accept an answer; raises an :class:`~riskstream.services.fraud_service.errors.
        MfaError` if it cannot be, :class:`ProduceError` if the log did not take it."""
        if self.book.get(challenge_id) is None:
            self.book.sync(self.lookup_timeout)
        now = self._clock()
        entry = self.book.claim(challenge_id, now)  # raises for unknown and closed ones
        answer = MfaCompleted(
            event_id=f"mfa/{challenge_id}",
            user_id=entry.user_id,
            event_time=now,
            source=_SOURCE,
            transaction_id=entry.transaction_id,
            challenge_id=challenge_id,
            passed=passed,
            method=method,
        )
        try:
            self._write(answer)
        except BaseException:
            self.book.unclaim(challenge_id)
            raise
        return MfaSubmission(
            challenge_id=challenge_id,
            transaction_id=entry.transaction_id,
            user_id=entry.user_id,
            passed=passed,
            event_id=answer.event_id,
            submitted_at=now,
        )

    def _write(self, answer: MfaCompleted) -> None:
        reports: list[DeliveryReport] = []
        with self._lock:
            self._producer.produce(
                self.config.labels_topic,
                self._encode(answer),
                answer.key,
                timestamp=answer.event_time,
                on_delivery=reports.append,
            )
            self._producer.flush(_ACK_TIMEOUT_S)
        if not reports or not reports[0].ok:
            reason = reports[0].error if reports else "no delivery report"
            raise ProduceError(f"the answer to {answer.challenge_id} was not written: {reason}")

    def close(self) -> None:
        try:
            self._producer.close()
        finally:
            if self._owns_book:
                self.book.close()

    def __enter__(self) -> MfaSubmitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def submit_mfa(
    log: EventLog,
    challenge_id: str,
    passed: bool,
    *,
    method: str = "otp",
    config: FraudServiceConfig | None = None,
    book: ChallengeBook | None = None,
    clock: Callable[[], int] | None = None,
) -> MfaSubmission:
    """Accept one answer (see :class:`MfaSubmitter`); without ``book``, the challenges are
    read first, which takes a moment: a long-lived caller keeps an :class:`MfaSubmitter`."""
    with MfaSubmitter(log, config, book=book, clock=clock) as submitter:
        if book is None:  # a fresh book: read the closures too, not only the issue
            submitter.book.sync(submitter.lookup_timeout)
        return submitter.submit(challenge_id, passed, method=method)

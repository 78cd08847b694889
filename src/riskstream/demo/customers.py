"""Simulated customers answering the MFA challenges the Fraud Service sends them.

The Fraud Service's notifier appends each challenge to a file (the demo's SMS gateway);
this follower reads it, and after a short, random while the customer answers through
:class:`~riskstream.services.fraud_service.MfaSubmitter` - as the phone app would through
``POST /v1/mfa/{id}``: a genuine customer passes, a fraudster, who lacks the victim's
phone, fails. Only live transactions are answered (the ground truth says which is which;
the engine never sees it); a challenge of the history, or one answered too late, expires.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from riskstream.errors import EventDecodeError, RiskstreamError
from riskstream.events import MfaChallengeIssued, codec_for
from riskstream.log.port import EventLog
from riskstream.services.fraud_service import FraudServiceConfig, MfaError, MfaSubmitter
from riskstream.sim import GroundTruth

__all__ = ["SimulatedCustomers"]

logger = logging.getLogger(__name__)

_TICK_S: Final = 0.05


class SimulatedCustomers:
    """Answers challenges in a background thread until :meth:`close`."""

    def __init__(
        self,
        log: EventLog,
        config: FraudServiceConfig,
        notify_path: Path,
        truth: Mapping[str, GroundTruth],
        *,
        delay_s: tuple[float, float],
        seed: int,
    ) -> None:
        self.path = notify_path
        self.truth = truth
        self.delay_s = delay_s
        self.passed = 0
        self.failed = 0
        self.refused = 0  # answers the service no longer took (closed, expired)
        self.ignored = 0  # challenges of transactions that are not live
        self._rng = random.Random(seed)  # noqa: S311 - simulated think times, not secrets
        self._decode = codec_for(MfaChallengeIssued.topic).decode
        self._submitter = MfaSubmitter(log, config)
        self._seen: set[str] = set()
        self._due: list[tuple[float, str, bool]] = []  # (when, challenge id, passes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-customers", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Answers scheduled but not given yet."""
        return len(self._due)

    def _run(self) -> None:
        offset = 0
        partial = b""
        while not self._stop.is_set():
            if self.path.exists():
                with self.path.open("rb") as file:
                    file.seek(offset)
                    chunk = file.read()
                offset += len(chunk)
                lines = (partial + chunk).split(b"\n")
                partial = lines.pop()
                for line in lines:
                    self._received(line)
            self._answer_due()
            self._stop.wait(_TICK_S)

    def _received(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            challenge = self._decode(line)
        except EventDecodeError:
            logger.warning("an unreadable challenge notification: %r", line[:200])
            return
        if not isinstance(challenge, MfaChallengeIssued):
            return
        if challenge.challenge_id in self._seen:
            return  # delivery is at least once
        self._seen.add(challenge.challenge_id)
        truth = self.truth.get(challenge.transaction_id)
        if truth is None:
            self.ignored += 1
            return
        when = time.monotonic() + self._rng.uniform(*self.delay_s)
        heapq.heappush(self._due, (when, challenge.challenge_id, not truth.is_fraud))

    def _answer_due(self) -> None:
        now = time.monotonic()
        while self._due and self._due[0][0] <= now:
            _, challenge_id, passes = heapq.heappop(self._due)
            try:
                self._submitter.submit(challenge_id, passes)
            except MfaError:
                self.refused += 1
                continue
            except RiskstreamError:
                logger.exception("could not answer challenge %s", challenge_id)
                self.refused += 1
                continue
            if passes:
                self.passed += 1
            else:
                self.failed += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._submitter.close()

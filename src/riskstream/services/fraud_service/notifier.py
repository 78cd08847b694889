"""Delivering MFA challenges to users: a port, a file-writing default, an in-memory one.

A notifier is told each :class:`~riskstream.events.MfaChallengeIssued` as the service issues
it. Delivery is at least once: a service restarted after a crash replays what it had not
committed and may notify a challenge again - with the same content, since the challenge is
derived from the decision, so a delivery channel deduplicates by ``challenge_id``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from riskstream.events import MfaChallengeIssued, codec_for

__all__ = ["CollectingNotifier", "FileNotifier", "Notifier"]


@runtime_checkable
class Notifier(Protocol):
    """Sends a challenge to its user (SMS, push, e-mail...)."""

    def notify(self, challenge: MfaChallengeIssued) -> None: ...

    def close(self) -> None: ...


class FileNotifier:
    """Appends one JSON line per challenge (the event as on the log) to ``path``.

    Each line is one ``write`` to a file opened for appending, so processes sharing the
    file never interleave their lines.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._encode = codec_for(MfaChallengeIssued.topic).encode

    def notify(self, challenge: MfaChallengeIssued) -> None:
        line = self._encode(challenge) + b"\n"
        with self._lock:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(self._fd, line)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class CollectingNotifier:
    """Keeps the challenges in memory (embedding, demos, tests)."""

    def __init__(self) -> None:
        self.challenges: list[MfaChallengeIssued] = []

    def notify(self, challenge: MfaChallengeIssued) -> None:
        self.challenges.append(challenge)

    def close(self) -> None:
        """Nothing to release."""

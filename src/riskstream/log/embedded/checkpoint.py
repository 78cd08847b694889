"""Background WAL checkpoints, so that producers do not pay for them.

A commit appends pages to the topic's ``-wal`` file; a *checkpoint* copies them into the
database file and fsyncs it. SQLite normally runs it inside the commit that crosses a WAL
size threshold, which made fsyncs half of a producer's write time. Here a daemon thread
runs passive checkpoints (which never block writers, and during which the GIL is free)
over the topic files this process writes. Producers keep a larger automatic checkpoint as
a backstop: it finds most pages already copied, and after it the WAL starts over, so the
``-wal`` file stays bounded even though a checkpoint racing with writes never completes.
Durability does not depend on checkpoints: a committed transaction is in the WAL.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from riskstream.errors import LogError
from riskstream.log.embedded.db import connect
from riskstream.log.embedded.options import EmbeddedOptions

__all__ = ["BACKSTOP_WAL_BYTES", "Checkpointer"]

BACKSTOP_WAL_BYTES = 64 << 20
"""WAL size at which a producer's own commit checkpoints (SQLite's default is ~4 MiB)."""

_log = logging.getLogger(__name__)


class Checkpointer:
    """One daemon thread per log, started by the first producer's first write."""

    def __init__(self, options: EmbeddedOptions) -> None:
        self._options = options
        self._interval_s = options.checkpoint_interval_ms / 1000
        self._paths: set[Path] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self._interval_s > 0

    def watch(self, path: Path) -> None:
        """Checkpoint ``path`` from now on (thread-safe)."""
        if not self.enabled:
            return
        with self._lock:
            self._paths.add(path)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="riskstream-wal-checkpoint", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        conns: dict[Path, sqlite3.Connection] = {}
        try:
            while not self._stop.wait(self._interval_s):
                with self._lock:
                    paths = list(self._paths)
                for path in paths:
                    self._checkpoint(path, conns)
        finally:
            for conn in conns.values():
                conn.close()

    def _checkpoint(self, path: Path, conns: dict[Path, sqlite3.Connection]) -> None:
        if not path.exists():  # the topic was deleted
            with self._lock:
                self._paths.discard(path)
            stale = conns.pop(path, None)
            if stale is not None:
                stale.close()
            return
        try:
            conn = conns.get(path)
            if conn is None:
                conn = conns[path] = connect(path, self._options)
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except (sqlite3.Error, LogError) as exc:
            # Retried on the next round with a fresh connection.
            stale = conns.pop(path, None)
            if stale is not None:
                stale.close()
            _log.warning("WAL checkpoint of %s failed: %s", path, exc)

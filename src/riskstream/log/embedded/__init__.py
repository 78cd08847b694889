"""The embedded event log: durable on local disk, in-process, no server (SQLite in WAL mode).

Several processes on one machine may open the same directory at once: producers append
under SQLite's write lock (one per topic file), consumers read snapshots without blocking
writers, and consumer groups coordinate through ``meta.db`` (see ``groups``). A record is
acknowledged only after its batch committed to the WAL, which survives a killed process;
``options={"fsync": "always"}`` makes it survive power loss as well.

Topics honour ``retention_ms``/``retention_bytes`` and ``compacted``; producers start that
maintenance every ``maintenance_interval_ms`` (30 s by default) and run it in passing, in
short steps spread over their writes (see ``maintenance``); :meth:`EmbeddedLog.maintain`
runs it on demand.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from pathlib import Path

from riskstream.errors import LogClosedError
from riskstream.log.embedded.admin import EmbeddedAdmin
from riskstream.log.embedded.catalog import Catalog, bootstrap
from riskstream.log.embedded.checkpoint import Checkpointer
from riskstream.log.embedded.consumer import EmbeddedConsumer
from riskstream.log.embedded.db import write_tx
from riskstream.log.embedded.groups import expire_members, now_ms
from riskstream.log.embedded.maintenance import maintain_topic
from riskstream.log.embedded.options import EmbeddedOptions
from riskstream.log.embedded.producer import EmbeddedProducer
from riskstream.log.port import DeliveryCallback, OffsetReset

__all__ = [
    "EmbeddedAdmin",
    "EmbeddedConsumer",
    "EmbeddedLog",
    "EmbeddedOptions",
    "EmbeddedProducer",
]


class EmbeddedLog:
    """An event log in directory ``path`` (created if missing, repaired if interrupted)."""

    def __init__(self, path: Path, options: Mapping[str, str] | None = None) -> None:
        self._path = Path(path).resolve()
        self._options = EmbeddedOptions.parse(options)
        bootstrap(self._path, self._options)
        self._catalog = Catalog(self._path, self._options)
        with write_tx(self._catalog.conn) as conn:
            # Members of processes that died with nobody left to notice.
            expire_members(conn, None, now_ms())
        self._admin = EmbeddedAdmin(self._catalog)
        self._checkpointer = Checkpointer(self._options)
        self._children: weakref.WeakSet[EmbeddedProducer | EmbeddedConsumer] = weakref.WeakSet()
        self._closed = False

    @property
    def url(self) -> str:
        return f"embedded://{self._path}"

    @property
    def path(self) -> Path:
        return self._path

    @property
    def admin(self) -> EmbeddedAdmin:
        self._check_open()
        return self._admin

    def producer(
        self, *, on_delivery: DeliveryCallback | None = None, linger_ms: int = 5
    ) -> EmbeddedProducer:
        self._check_open()
        producer = EmbeddedProducer(
            Catalog(self._path, self._options),
            self._options,
            self._checkpointer,
            on_delivery=on_delivery,
            linger_ms=linger_ms,
        )
        self._children.add(producer)
        return producer

    def consumer(
        self,
        group_id: str | None = None,
        *,
        auto_offset_reset: OffsetReset = "earliest",
        session_timeout_ms: int = 10_000,
    ) -> EmbeddedConsumer:
        self._check_open()
        consumer = EmbeddedConsumer(
            Catalog(self._path, self._options),
            group_id=group_id,
            auto_offset_reset=auto_offset_reset,
            session_timeout_ms=session_timeout_ms,
        )
        self._children.add(consumer)
        return consumer

    def maintain(self) -> dict[str, int]:
        """Apply retention and compaction to every topic now; records removed per topic."""
        self._check_open()
        removed: dict[str, int] = {}
        now = now_ms()
        for info in self._admin.catalogued():
            store = self._catalog.open_store(info)
            try:
                removed[info.name] = maintain_topic(store, info.spec, now)
            finally:
                store.close()
        return removed

    def close(self) -> None:
        """Close the producers (flushing them) and consumers (leaving their groups) made here."""
        if self._closed:
            return
        self._closed = True
        try:
            for child in list(self._children):
                child.close()
        finally:
            self._checkpointer.close()
            self._catalog.close()

    def __enter__(self) -> EmbeddedLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EmbeddedLog({str(self._path)!r})"

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosedError("log is closed")

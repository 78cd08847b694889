"""The decision waiter: one consumer of ``risk.decisions`` for the whole API process.

A checkout request registers its transaction id (:meth:`DecisionWaiter.watch`) before its
checkout is produced and awaits the returned future. One consumer reads every partition of
the decisions topic, without a consumer group, from where the topic ended when the API
started; for each decision it peeks at the transaction id alone (a small decoder skips the
rest of the record), decodes in full only the ones someone watches, and resolves their
futures.

The consumer is polled by the event loop itself, without waiting: every
``busy_interval_s`` (1 ms, the resolution of the loop's timers: uvloop rounds shorter
delays down to zero and would spin) while a decision is awaited, again at once while records
keep coming, and every ``idle_interval_s`` (20 ms) when nobody waits (so overdue decisions
still reach the idempotency store and the position keeps up). An empty poll is a few
microseconds on either log (the Kafka client fetches in its own threads; the embedded log
compares high watermarks), far cheaper than handing every decision from a thread of its own
to the loop under the interpreter lock.

Memory is bounded: at most ``max_watched`` transactions are watched; beyond that the oldest
watch is dropped (its future cancelled), which only happens when that many decisions are
overdue at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import msgspec

from riskstream.fraud.decision import Decision, decode_decision
from riskstream.log.port import Consumer, EventLog
from riskstream.log.records import Record, TopicPartition
from riskstream.services.api.recovery import watermarks

__all__ = ["DecisionWaiter"]

logger = logging.getLogger(__name__)

_ERROR_BACKOFF_S: Final = 0.5


class _TransactionOnly(msgspec.Struct):
    transaction_id: str


_peek = msgspec.json.Decoder(_TransactionOnly).decode


class DecisionWaiter:
    """Futures of decisions, by transaction id, resolved by one consumer.

    Lifecycle: :meth:`assign` (from the end of the topic; returns where it starts, so a
    read of the history can stop there), then :meth:`start` on the event loop,
    :meth:`close` at the end. Everything runs on the event loop's thread.
    """

    def __init__(
        self,
        log: EventLog,
        topic: str,
        *,
        max_watched: int = 100_000,
        poll_records: int = 2_000,
        busy_interval_s: float = 0.001,
        idle_interval_s: float = 0.02,
    ) -> None:
        self.log = log
        self.topic = topic
        self.max_watched = max_watched
        self._poll_records = poll_records
        self._busy_interval_s = busy_interval_s
        self._idle_interval_s = idle_interval_s
        self._futures: dict[str, asyncio.Future[Decision]] = {}
        self._consumer: Consumer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tick: asyncio.Handle | None = None
        self._due = 0.0  # when the scheduled poll runs (loop time)
        self.seen = 0  # decisions read (any transaction)
        self.delivered = 0  # decisions handed to a watcher
        self.failures = 0  # polls or records that failed

    # -- lifecycle --------------------------------------------------------------------------

    def assign(self) -> dict[TopicPartition, int]:
        """Take every partition of the topic from its current end; returns those ends."""
        partitions = self.log.admin.describe_topics([self.topic])[self.topic].partitions
        consumer = self.log.consumer(None)
        tps = [TopicPartition(self.topic, number) for number in range(partitions)]
        consumer.assign(tps)
        ends = {}
        for tp in tps:
            ends[tp] = watermarks(consumer, tp)[1]
            consumer.seek(tp, ends[tp])
        self._consumer = consumer
        return ends

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start polling on ``loop``."""
        if self._consumer is None:
            self.assign()
        self._loop = loop
        self._schedule(0.0)

    @property
    def running(self) -> bool:
        return self._consumer is not None and self._tick is not None

    def close(self) -> None:
        """Stop polling and close the consumer; waiting futures are cancelled."""
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()

    # -- watching ---------------------------------------------------------------------------

    def watch(self, transaction_id: str) -> asyncio.Future[Decision]:
        """The future of the decision on ``transaction_id`` (the same one while watched)."""
        future = self._futures.get(transaction_id)
        if future is not None and not future.cancelled():
            return future
        # Before start() (recovery registers what it found), the running loop is the one.
        loop = self._loop or asyncio.get_running_loop()
        future = loop.create_future()
        self._futures[transaction_id] = future
        if len(self._futures) > self.max_watched:
            self.unwatch(next(iter(self._futures)))
        if self._tick is not None and self._due - loop.time() > self._busy_interval_s:
            self._schedule(self._busy_interval_s)  # someone waits now: poll tightly
        return future

    def watched(self, transaction_id: str) -> asyncio.Future[Decision] | None:
        return self._futures.get(transaction_id)

    def unwatch(self, transaction_id: str) -> None:
        """Stop waiting for ``transaction_id`` (a pending future is cancelled)."""
        future = self._futures.pop(transaction_id, None)
        if future is not None and not future.done():
            future.cancel()

    @property
    def watching(self) -> int:
        return len(self._futures)

    # -- polling ----------------------------------------------------------------------------

    def _schedule(self, delay: float) -> None:
        loop = self._loop
        if loop is None:
            return
        if self._tick is not None:
            self._tick.cancel()
        self._due = loop.time() + delay
        self._tick = loop.call_later(delay, self._poll) if delay else loop.call_soon(self._poll)

    def _poll(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        try:
            records = consumer.poll(self._poll_records, 0.0)
        except Exception:  # the consumer reports a broker or file problem; keep serving
            self.failures += 1
            logger.exception("decision waiter: poll failed; retrying")
            self._schedule(_ERROR_BACKOFF_S)
            return
        if records:
            self._resolve(records)
            self._schedule(0.0)  # more may be waiting: read on after other work had its turn
        elif self._futures:
            self._schedule(self._busy_interval_s)
        else:
            self._schedule(self._idle_interval_s)

    def _resolve(self, records: list[Record]) -> None:
        futures = self._futures
        self.seen += len(records)
        for record in records:
            value = record.value
            if value is None:
                continue
            try:
                future = futures.get(_peek(value).transaction_id)
                if future is None:
                    continue
                decision = decode_decision(value)
            except (msgspec.DecodeError, ValueError):
                self.failures += 1
                logger.warning(
                    "decision waiter: undecodable record at %s/%d@%d",
                    record.topic,
                    record.partition,
                    record.offset,
                )
                continue
            del futures[decision.transaction_id]
            if not future.done():
                future.set_result(decision)
                self.delivered += 1

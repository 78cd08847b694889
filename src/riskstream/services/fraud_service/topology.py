"""The Fraud Service as a stream topology: decisions and MFA answers in, lifecycle events out.

::

    risk.decisions + events.label (co-partitioned by user)
      └─ relevant   (challenge and block decisions, MfaCompleted; other labels are not ours)
          └─ lifecycle  (per user: a Ledger, folded from the events written; timers expire
              │          challenges; the notifier sends each challenge issued)
              └─ risk.transactions  (TransactionPaused, MfaChallengeIssued, released/cancelled)

Run by :class:`~riskstream.stream.Runner` in its own consumer group, the ledger is
changelogged with the input offsets, so a service killed at any moment restarts from its
last commit, replays the rest, and - the events being derived from the inputs alone - writes
what it would have written anyway.

Expiry uses a processing-time timer at the challenge's ``expires_at``. Before cancelling,
the step also waits until the inputs' event time has reached ``expires_at`` (or the inputs
went quiet): after a restart, an answer given in time but still unread in the backlog is
read first, instead of racing the timer. Dead letters go to
``<application>.dlq.<topic>``, apart from the fraud engine's, which reads the same labels.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from riskstream.errors import ConfigError
from riskstream.events import Event, MfaChallengeIssued, MfaCompleted, codec_for
from riskstream.events.codec import EventCodec
from riskstream.events.topics import TRANSACTION_EVENT_TYPES
from riskstream.log.port import EventLog
from riskstream.log.records import TopicSpec
from riskstream.services.fraud_service.config import FraudServiceConfig
from riskstream.services.fraud_service.lifecycle import (
    HOLDING_ACTIONS,
    DecisionFacts,
    Ledger,
    LifecycleEvent,
    Status,
    apply,
    decode_decision_facts,
    on_answer,
    on_decision,
    on_expiry,
)
from riskstream.services.fraud_service.notifier import Notifier
from riskstream.stream.item import Item
from riskstream.stream.processor import Context, KeyState
from riskstream.stream.topology import Topology

__all__ = [
    "LATENESS_MS",
    "LifecycleStage",
    "ensure_topics",
    "fraud_service_topology",
    "transactions_codec",
]

logger = logging.getLogger(__name__)

#: Never drop an input as late: a decision or answer is acted on whatever its time.
LATENESS_MS: Final = 400 * 86_400_000
#: An input silent this long stops holding event time back (see the expiry above).
_IDLE_MS: Final = 1_000
#: How soon an expiry held back by event time is looked at again.
_RECHECK_MS: Final = 500

_label_codec = codec_for(MfaCompleted.topic)


def transactions_codec(topic: str) -> EventCodec[Event]:
    """The codec of the lifecycle events, whatever their topic is called."""
    return EventCodec(topic, TRANSACTION_EVENT_TYPES)


class LifecycleStage:
    """The ``lifecycle`` step: one :class:`Ledger` per user (see the module docstring)."""

    def __init__(self, config: FraudServiceConfig, notifier: Notifier | None = None) -> None:
        self.config = config
        self.notifier = notifier

    def process(self, item: Item, state: KeyState[Any], ctx: Context) -> None:
        ledger: Ledger = state.get() or Ledger()
        value = item.value
        if isinstance(value, DecisionFacts):
            events = on_decision(ledger, value, self.config)
        elif isinstance(value, MfaCompleted):
            events = on_answer(ledger, value, self.config)
        else:
            return
        self._emit(ledger, events, state, ctx)

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None:
        ledger: Ledger | None = state.get()
        if ledger is None:
            return
        reached = ctx.watermark + LATENESS_MS  # how far the inputs' event time has come
        self._emit(ledger, on_expiry(ledger, min(at, reached), self.config), state, ctx)
        held_back = any(
            tx.status is Status.CHALLENGED
            and tx.expires_at is not None
            and reached < tx.expires_at <= at
            for tx in ledger.transactions.values()
        )
        if held_back:
            ctx.schedule(max(at, ctx.now()) + _RECHECK_MS, processing_time=True)

    def _emit(
        self, ledger: Ledger, events: list[LifecycleEvent], state: KeyState[Any], ctx: Context
    ) -> None:
        if not events:
            return
        for event in events:
            ledger = apply(ledger, event)
            ctx.forward(event, event_time=event.event_time)
            if isinstance(event, MfaChallengeIssued):
                ctx.schedule(event.expires_at, processing_time=True)
                self._notify(event)
        state.set(ledger)

    def _notify(self, challenge: MfaChallengeIssued) -> None:
        if self.notifier is None:
            return
        try:
            self.notifier.notify(challenge)
        except Exception:  # the challenge stands: unanswered, it expires like any other
            logger.exception("could not notify challenge %s", challenge.challenge_id)


def _decode_label(raw: bytes | None) -> Event:
    return _label_codec.decode(raw)


def _event_time(value: DecisionFacts | Event) -> int:
    # The decision's own processing time: expiries, answers and decisions share one clock.
    return value.decided_at if isinstance(value, DecisionFacts) else value.event_time


def _relevant(value: DecisionFacts | Event) -> bool:
    # Allow and review decisions hold nothing: they never load a user's ledger.
    if isinstance(value, DecisionFacts):
        return value.action in HOLDING_ACTIONS
    return isinstance(value, MfaCompleted)


def _user(event: Event) -> bytes:
    return event.key


def fraud_service_topology(
    config: FraudServiceConfig | None = None, *, notifier: Notifier | None = None
) -> Topology:
    """The Fraud Service's topology; ``notifier`` receives each challenge issued."""
    config = config or FraudServiceConfig()
    topology = Topology(
        config.application,
        allowed_lateness_ms=LATENESS_MS,
        idle_timeout_ms=_IDLE_MS,
        dlq_namespace=f"{config.application}.",
    )
    decode: dict[str, Any] = {
        config.decisions_topic: decode_decision_facts,
        config.labels_topic: _decode_label,
    }
    inputs = [config.decisions_topic, config.labels_topic]
    encode = transactions_codec(config.transactions_topic).encode
    (
        topology.source("inputs", inputs, decode=decode, event_time=_event_time)
        .filter("relevant", _relevant)
        .process("lifecycle", LifecycleStage(config, notifier), state_type=Ledger | None)
        .to(config.transactions_topic, encode=encode, key=_user)
    )
    return topology


def ensure_topics(
    log: EventLog, config: FraudServiceConfig | None = None, *, partitions: int
) -> int:
    """Create the service's topics that are missing, co-partitioned with those that exist
    (``partitions`` if none does); returns the partition count. :class:`ConfigError` if the
    two inputs exist with different counts: a user's decisions and answers would part."""
    config = config or FraudServiceConfig()
    names = [config.decisions_topic, config.labels_topic, config.transactions_topic]
    present = set(log.admin.list_topics())
    described = log.admin.describe_topics([name for name in names if name in present])
    inputs = {
        name: spec.partitions
        for name, spec in described.items()
        if name in (config.decisions_topic, config.labels_topic)
    }
    if len(set(inputs.values())) > 1:
        raise ConfigError(f"the Fraud Service's inputs are not co-partitioned: {inputs}")
    if inputs:
        partitions = next(iter(inputs.values()))
    elif config.transactions_topic in described:
        partitions = described[config.transactions_topic].partitions
    missing = [name for name in names if name not in present]
    if missing:
        specs = [TopicSpec(name=name, partitions=partitions) for name in missing]
        log.admin.create_topics(specs, exist_ok=True)
    return partitions

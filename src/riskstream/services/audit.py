"""The event-sourced audit trail: answers read from the log itself, the source of truth.

* :func:`user_history` — every event and decision that touched a user, in order. The user's
  records are all in one partition of each topic (keyed by user id), so only those
  partitions are read, by a consumer that is only *assigned* (no group, nothing committed).
* :func:`transaction_story` — why a transaction was decided as it was (the full decision
  record: rules with the feature values they read, model, versions) and everything that
  happened to it after: alert, pause, MFA challenge and outcome, release or cancel, labels.
* :func:`profile_as_of` — time travel: the user's profile as it stood at a past moment,
  recomputed from the log with the engine's own feature code. It replays the user's events
  up to that moment through the fraud topology
  (:func:`~riskstream.services.replay.replay_records`) followed by a *probe* checkout at
  that moment, and returns what that checkout would have seen: every feature value and the
  decision the policy would have made, plus the profile's known devices, countries, cards
  and last login. Entity features (device, card, IP and merchant aggregates) are computed
  from this user's events only, unless ``entities=True`` also replays every user who
  touched the probe's device, card, IP or merchant (which reads whole topics).

Order: by event time; a decision stands at its checkout's time, right after the checkout
(``decided_at`` is in its record); at equal times activity comes before decisions, alerts
and then the Fraud Service's lifecycle events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec

from riskstream.errors import EventDecodeError
from riskstream.events import (
    ACTIVITY_TOPICS,
    TRANSACTIONS_TOPIC,
    Checkout,
    Event,
    Login,
    codec_for,
)
from riskstream.fraud.decision import Decision
from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.features.profile import UserProfile, fold
from riskstream.fraud.policy import PolicySource
from riskstream.fraud.topology import ALERTS_TOPIC, DECISIONS_TOPIC
from riskstream.log.partitioner import partition_for
from riskstream.log.port import EventLog
from riskstream.log.records import Record, TopicPartition
from riskstream.services.projections.errors import ProjectionError
from riskstream.services.projections.facts import decode_fact
from riskstream.services.projections.topics import DEFAULT_TOPICS, TopicMap
from riskstream.services.projections.views.transactions import TransactionStatus
from riskstream.services.replay import replay_records

__all__ = [
    "DEFAULT_MAX_SCAN",
    "HISTORY_TOPICS",
    "Entry",
    "History",
    "HistoryLimitError",
    "ProbeCheckout",
    "ProfileAsOf",
    "TransactionStory",
    "profile_as_of",
    "transaction_story",
    "user_history",
]

HISTORY_TOPICS: Final = (*ACTIVITY_TOPICS, DECISIONS_TOPIC, ALERTS_TOPIC, TRANSACTIONS_TOPIC)
"""Every standard topic a user's history is read from."""

DEFAULT_MAX_SCAN: Final = 2_000_000
"""Records one answer may read from the log before it gives up (bounds the cost)."""

_RANK: Final = {DECISIONS_TOPIC: 1, ALERTS_TOPIC: 2, TRANSACTIONS_TOPIC: 3}
_PROBE: Final = "profile-probe"


class HistoryLimitError(ProjectionError):
    """Answering would read more of the log than allowed."""


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    """One event or decision in a history: its time, kind and the record as logged."""

    time: int  # event time; for a decision, its checkout's time
    kind: str  # the event's type tag ("login", "transaction_paused" …), "decision" or "alert"
    topic: str
    partition: int
    offset: int
    transaction_id: str | None = None
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    error: str | None = None  # a record of the user that does not decode (shown, not hidden)


class History(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    entries: list[Entry]
    truncated: bool  # more entries matched than ``limit``
    scanned: int  # records read to find them


class TransactionStory(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: str
    user_id: str
    status: TransactionStatus | None  # the read model's row, when one was given
    checkout: dict[str, Any] | None
    decision: dict[str, Any] | None  # the full decision record: why
    after: list[Entry]  # everything after the decision, in order


class ProbeCheckout(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Attributes of the probe checkout; those left out are taken from the user's last
    checkout before the moment (or last login), as a checkout then would likely look."""

    amount: float | None = None
    currency: str | None = None
    merchant_id: str | None = None
    device_id: str | None = None
    ip: str | None = None
    country: str | None = None
    instrument_fingerprint: str | None = None
    bin_country: str | None = None
    shipping_address_hash: str | None = None


class ProfileAsOf(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    as_of: int
    events: int  # events replayed (the user's, and with entities=True the others')
    entity_scope: str  # "user": entity aggregates from this user's events; "log": everyone's
    probe: dict[str, Any]  # the checkout the features were read for
    features: dict[str, Any]  # what a checkout at ``as_of`` would have seen
    action: str  # what the policy would have decided for it
    score: float
    rules: list[str]
    known: dict[str, Any]  # the profile itself: devices, countries, cards, last login …


# -- reading a user's partitions ----------------------------------------------------------------


def _user_partitions(
    log: EventLog, key: bytes, standards: Sequence[str], topics: TopicMap
) -> list[tuple[TopicPartition, str]]:
    """The user's partition of each existing topic, with the topic's standard name."""
    actual = {topics.actual(standard): standard for standard in standards}
    existing = set(log.admin.list_topics())
    described = log.admin.describe_topics([name for name in actual if name in existing])
    return [
        (TopicPartition(name, partition_for(key, spec.partitions)), actual[name])
        for name, spec in sorted(described.items())
    ]


def _scan(
    log: EventLog,
    partitions: Sequence[TopicPartition],
    *,
    max_scan: int,
    keep: Any,
    since: int | None = None,
) -> tuple[list[Record], int]:
    """Records of ``partitions`` up to their current ends for which ``keep(record)`` holds;
    from the first record logged at ``since`` or later when given."""
    if not partitions:
        return [], 0
    consumer = log.consumer()  # assigned only: no group, no commits
    probe = log.consumer()  # never fetches: its offset queries answer at once on Kafka
    try:
        consumer.assign(list(partitions))
        ends: dict[TopicPartition, int] = {}
        for tp in partitions:
            low, high = probe.watermarks(tp)
            if high > low:
                ends[tp] = high
                consumer.seek(tp, low)
        if since is not None and ends:
            consumer.seek_to_timestamp(since, list(ends))
            for tp in list(ends):
                if consumer.position(tp) >= ends[tp]:
                    del ends[tp]
        kept: list[Record] = []
        scanned = 0
        while ends:
            for record in consumer.poll(5_000, timeout=1.0):
                tp = TopicPartition(record.topic, record.partition)
                end = ends.get(tp)
                if end is None or record.offset >= end:
                    continue
                scanned += 1
                if scanned > max_scan:
                    raise HistoryLimitError(
                        f"more than {max_scan:,} records to read; narrow the time range"
                    )
                if keep(record):
                    kept.append(record)
                if record.offset + 1 >= end:
                    del ends[tp]
            for tp in list(ends):  # compaction may leave the last offsets empty
                if consumer.position(tp) >= ends[tp]:
                    del ends[tp]
        return kept, scanned
    finally:
        consumer.close()
        probe.close()


def _entry(record: Record, standard: str) -> Entry:
    try:
        fact = decode_fact(record, standard)
    except EventDecodeError as exc:
        return Entry(
            time=record.timestamp,
            kind="undecodable",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=str(exc),
        )
    value = fact.value
    if isinstance(value, Decision):
        return Entry(
            time=value.checkout_time,
            kind="decision" if standard == DECISIONS_TOPIC else "alert",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            transaction_id=value.transaction_id,
            data=msgspec.to_builtins(value),
        )
    return Entry(
        time=value.event_time,
        kind=str(type(value).__struct_config__.tag),
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        transaction_id=getattr(value, "transaction_id", None),
        data=msgspec.to_builtins(value),
    )


def _user_entries(
    log: EventLog,
    user_id: str,
    topics: TopicMap,
    *,
    max_scan: int,
    since: int | None = None,
) -> tuple[list[Entry], int]:
    key = user_id.encode()
    places = _user_partitions(log, key, HISTORY_TOPICS, topics)
    standard_of = {tp.topic: standard for tp, standard in places}
    records, scanned = _scan(
        log,
        [tp for tp, _ in places],
        max_scan=max_scan,
        keep=lambda record: record.key == key,
        since=since,
    )
    entries = [_entry(record, standard_of[record.topic]) for record in records]
    ranks = {tp.topic: _RANK.get(standard, 0) for tp, standard in places}
    entries.sort(key=lambda e: (e.time, ranks[e.topic], e.topic, e.partition, e.offset))
    return entries, scanned


# -- the answers --------------------------------------------------------------------------------


def user_history(
    log: EventLog,
    user_id: str,
    *,
    since: int | None = None,
    until: int | None = None,
    limit: int = 1_000,
    topics: TopicMap = DEFAULT_TOPICS,
    max_scan: int = DEFAULT_MAX_SCAN,
) -> History:
    """The user's events and decisions with times in ``[since, until]``, oldest first, at
    most ``limit`` of them (``truncated`` says whether more matched)."""
    # Records are logged at (about) their event time: start a day early for late arrivals.
    start = None if since is None else max(0, since - 86_400_000)
    entries, scanned = _user_entries(log, user_id, topics, max_scan=max_scan, since=start)
    chosen = [
        entry
        for entry in entries
        if (since is None or entry.time >= since) and (until is None or entry.time <= until)
    ]
    return History(
        user_id=user_id,
        entries=chosen[:limit],
        truncated=len(chosen) > limit,
        scanned=scanned,
    )


def transaction_story(
    log: EventLog,
    user_id: str,
    transaction_id: str,
    *,
    status: TransactionStatus | None = None,
    topics: TopicMap = DEFAULT_TOPICS,
    max_scan: int = DEFAULT_MAX_SCAN,
) -> TransactionStory | None:
    """The transaction's decision and what followed it; ``None`` if the log has neither its
    checkout nor its decision. ``user_id`` places it (the transactions read model knows it)."""
    entries, _ = _user_entries(log, user_id, topics, max_scan=max_scan)
    mine = [entry for entry in entries if entry.transaction_id == transaction_id]
    checkout = next((e.data for e in mine if e.kind == "checkout"), None)
    decision = next((e.data for e in mine if e.kind == "decision"), None)
    if checkout is None and decision is None:
        return None
    after = [e for e in mine if e.kind not in {"checkout", "decision"}]
    return TransactionStory(
        transaction_id=transaction_id,
        user_id=user_id,
        status=status,
        checkout=checkout,
        decision=decision,
        after=after,
    )


def profile_as_of(
    log: EventLog,
    user_id: str,
    as_of: int,
    *,
    probe: ProbeCheckout | None = None,
    entities: bool = False,
    engine: FeatureEngine | None = None,
    policy: PolicySource | None = None,
    topics: TopicMap = DEFAULT_TOPICS,
    max_scan: int = DEFAULT_MAX_SCAN,
) -> ProfileAsOf:
    """The user's profile at ``as_of`` (epoch ms; events at ``as_of`` included): see the
    module doc. ``engine`` and ``policy`` default to the shipped features and rules."""
    engine = engine or FeatureEngine()
    key = user_id.encode()
    places = _user_partitions(log, key, ACTIVITY_TOPICS, topics)
    standard_of = {topics.actual(standard): standard for standard in ACTIVITY_TOPICS}
    records, _ = _scan(
        log, [tp for tp, _ in places], max_scan=max_scan, keep=lambda r: r.key == key
    )
    events = _events_until(records, standard_of, as_of)
    checkout = _probe(user_id, as_of, [event for _, event in events], probe or ProbeCheckout())
    if entities:
        events = _with_entity_touches(log, checkout, standard_of, as_of, max_scan)
    # The fraud topology reads the standard topics, in one partition, in event-time order.
    replay = [
        Record(standard_of[record.topic], 0, number, event.event_time, record.key, record.value)
        for number, (record, event) in enumerate(events)
    ]
    probe_topic = Checkout.topic
    replay.append(
        Record(probe_topic, 0, len(replay), as_of, key, codec_for(probe_topic).encode(checkout))
    )
    decision = next(
        (
            found
            for found in replay_records(replay, engine=engine, policy=policy)
            if found.transaction_id == checkout.transaction_id
        ),
        None,
    )
    if decision is None:  # the topology decides every checkout it reads
        raise ProjectionError(f"the probe checkout of {user_id!r} was not decided")
    mine = [event for _, event in events if event.user_id == user_id]
    return ProfileAsOf(
        user_id=user_id,
        as_of=as_of,
        events=len(events),
        entity_scope="log" if entities else "user",
        probe=msgspec.to_builtins(checkout),
        features=decision.features,
        action=decision.action,
        score=decision.score,
        rules=[reason.rule for reason in decision.reasons],
        known=_known(mine, engine),
    )


def _events_until(
    records: Sequence[Record], standard_of: dict[str, str], as_of: int
) -> list[tuple[Record, Event]]:
    """The decodable events at or before ``as_of``, in the order replays use (event time,
    then topic, partition, offset)."""
    found: list[tuple[Record, Event]] = []
    for record in records:
        try:
            event = codec_for(standard_of.get(record.topic, record.topic)).decode(record.value)
        except EventDecodeError:
            continue  # the engine dead-letters it too: it is in no profile
        if event.event_time <= as_of:
            found.append((record, event))
    found.sort(
        key=lambda pair: (pair[1].event_time, pair[0].topic, pair[0].partition, pair[0].offset)
    )
    return found


def _probe(user_id: str, as_of: int, events: Sequence[Event], given: ProbeCheckout) -> Checkout:
    last = next((e for e in reversed(events) if isinstance(e, Checkout)), None)
    login = next((e for e in reversed(events) if isinstance(e, Login) and e.success), None)
    base: dict[str, Any] = {
        "amount": 0.0,
        "currency": "EUR",
        "merchant_id": "",
        "device_id": "",
        "ip": "",
        "country": "",
        "instrument_fingerprint": "",
        "bin_country": "",
        "shipping_address_hash": "",
        "item_count": 1,
        "bin": None,
    }
    if last is not None:
        base.update({name: getattr(last, name) for name in base})
    elif login is not None:
        base.update(device_id=login.device_id, ip=login.ip, country=login.country)
        base["bin_country"] = login.country
    base.update(msgspec.to_builtins(given))
    return Checkout(
        event_id=f"{_PROBE}:{user_id}:{as_of}",
        user_id=user_id,
        event_time=as_of,
        source=_PROBE,
        transaction_id=f"{_PROBE}:{user_id}:{as_of}",
        **base,
    )


def _touches(event: Event, checkout: Checkout) -> bool:
    """Whether ``event`` names one of the probe's device, IP, card or merchant."""
    wanted = {
        ("device_id", checkout.device_id),
        ("ip", checkout.ip),
        ("instrument_fingerprint", checkout.instrument_fingerprint),
        ("merchant_id", checkout.merchant_id),
    }
    return any(value and getattr(event, name, None) == value for name, value in wanted)


def _with_entity_touches(
    log: EventLog,
    checkout: Checkout,
    standard_of: dict[str, str],
    as_of: int,
    max_scan: int,
) -> list[tuple[Record, Event]]:
    """Every event, up to ``as_of``, of the probe's user and of each user who touched the
    probe's entities (their whole history: how they touch an entity depends on their profile)."""
    existing = set(log.admin.list_topics())
    described = log.admin.describe_topics([name for name in standard_of if name in existing])
    partitions = [
        TopicPartition(name, number)
        for name, spec in sorted(described.items())
        for number in range(spec.partitions)
    ]
    records, _ = _scan(log, partitions, max_scan=max_scan, keep=lambda _: True)
    everything = _events_until(records, standard_of, as_of)
    touching = {event.user_id for _, event in everything if _touches(event, checkout)}
    touching.add(checkout.user_id)
    return [(record, event) for record, event in everything if event.user_id in touching]


def _known(events: Sequence[Event], engine: FeatureEngine) -> dict[str, Any]:
    """The profile's remembered facts after folding ``events`` (the engine's fold)."""
    if not events:
        return {}
    profile = UserProfile(events[0].event_time, engine.aggregates["user"].new_state())
    for event in events:
        fold(profile, event)
    login = profile.login
    return {
        "first_seen": profile.first_seen,
        "devices": dict(profile.devices),
        "countries": dict(profile.countries),
        "instruments": dict(profile.instruments),
        "addresses": dict(profile.addresses),
        "last_login": None
        if login is None
        else {
            "time": login.time,
            "device": login.device,
            "country": login.country,
            "new_device": login.new_device,
            "new_country": login.new_country,
        },
        "address_changed_at": profile.address_changed_at,
        "profile_changed_at": profile.profile_changed_at,
        "transactions": len(profile.transactions),
    }

"""A hand-written story for the read-model and audit tests: two users, four transactions.

* ``u-legit``: logs in from d1 (DE), checkout tx1 → allow (no rule); later tx4 → challenge
  (promo_rush v2), paused, MFA passed, released; tx1 gets a chargeback long after.
* ``u-fraud``: logs in from d9 (DE), then from d10 (BR); checkout tx2 → challenge
  (new_device v1, promo_rush v2, shadow velocity v1), alert, paused, MFA failed, cancelled;
  tx3 → block (new_device v1), alert, paused, challenge still open; fraud reported on tx3.

Records carry their event time as timestamp, as every producer of the project does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from riskstream.events import (
    TRANSACTIONS_TOPIC,
    Chargeback,
    Checkout,
    Event,
    FraudReported,
    Login,
    MfaChallengeIssued,
    MfaCompleted,
    TransactionCancelled,
    TransactionPaused,
    TransactionReleased,
    codec_for,
)
from riskstream.fraud.decision import Decision, ModelVerdict, RuleReason, encode_decision
from riskstream.fraud.topology import ALERTS_TOPIC, DECISIONS_TOPIC
from riskstream.log import EventLog, TopicSpec
from riskstream.services.projections import Projector, QueryStore, TopicMap

T0: Final = 1_700_000_000_000
PARTITIONS: Final = 4
LEGIT: Final = "u-legit"
FRAUD: Final = "u-fraud"
STORY_TOPICS: Final = (
    "events.login",
    "events.checkout",
    "events.label",
    DECISIONS_TOPIC,
    ALERTS_TOPIC,
    TRANSACTIONS_TOPIC,
)


@dataclass(frozen=True)
class Logged:
    """One record of the story: its standard topic, key, value and time."""

    topic: str
    key: str
    value: bytes
    time: int


def login(user: str, at: int, device: str, country: str, *, lat: float = 52.5) -> Event:
    return Login(
        event_id=f"login-{user}-{at}",
        user_id=user,
        event_time=at,
        device_id=device,
        ip=f"10.0.0.{len(device)}",
        country=country,
        latitude=lat,
        longitude=13.4,
    )


def checkout(user: str, tx: str, at: int, device: str, country: str, amount: float) -> Checkout:
    return Checkout(
        event_id=f"checkout-{tx}",
        user_id=user,
        event_time=at,
        transaction_id=tx,
        amount=amount,
        currency="EUR",
        merchant_id="m-1",
        item_count=1,
        instrument_fingerprint=f"card-{user}",
        bin_country="DE",
        device_id=device,
        ip="10.0.0.2",
        country=country,
        shipping_address_hash=f"addr-{user}",
    )


def decision(
    user: str,
    tx: str,
    at: int,
    action: str,
    score: float,
    amount: float,
    rules: Sequence[tuple[str, int]] = (),
    shadow: Sequence[tuple[str, int]] = (),
) -> Decision:
    def reasons(hits: Sequence[tuple[str, int]]) -> list[RuleReason]:
        return [
            RuleReason(rule=rule, version=version, score=40.0, action=action, features={"x": 1})
            for rule, version in hits
        ]

    return Decision(
        transaction_id=tx,
        user_id=user,
        checkout_time=at,
        amount=amount,
        currency="EUR",
        merchant_id="m-1",
        action=action,
        score=score,
        rule_score=score,
        rule_action=action,
        reasons=reasons(rules),
        shadow=reasons(shadow),
        faults=[],
        model=ModelVerdict(version="m1", probability=0.01, contributions=[]),
        challenger=None,
        rules_version="r1",
        lists_version="l1",
        features_version="f1",
        features={"checkout.amount": amount},
        missing=[],
        decided_at=at + 7,
        latency_ms=7,
    )


def logged(event: Event) -> Logged:
    return Logged(
        event.topic, event.user_id, codec_for(event.topic).encode(event), event.event_time
    )


def _decision(topic: str, value: Decision) -> Logged:
    return Logged(topic, value.user_id, encode_decision(value), value.checkout_time)


def story() -> list[Logged]:
    """The whole story, in the order it is logged."""
    s = 1_000
    d1 = decision(LEGIT, "tx1", T0 + 10 * s, "allow", 2.0, 40.0)
    d2 = decision(
        FRAUD,
        "tx2",
        T0 + 70 * s,
        "challenge",
        75.0,
        900.0,
        rules=[("new_device", 1), ("promo_rush", 2)],
        shadow=[("velocity", 1)],
    )
    d3 = decision(FRAUD, "tx3", T0 + 200 * s, "block", 95.0, 1_200.0, rules=[("new_device", 1)])
    d4 = decision(LEGIT, "tx4", T0 + 300 * s, "challenge", 65.0, 80.0, rules=[("promo_rush", 2)])

    def lifecycle(user: str, tx: str, at: int, *, challenge: str) -> list[Logged]:
        return [
            logged(
                TransactionPaused(
                    event_id=f"paused-{tx}",
                    user_id=user,
                    event_time=at,
                    transaction_id=tx,
                    action="challenge",
                    score=70.0,
                )
            ),
            logged(
                MfaChallengeIssued(
                    event_id=f"issued-{tx}",
                    user_id=user,
                    event_time=at,
                    transaction_id=tx,
                    challenge_id=challenge,
                    channel="sms",
                    expires_at=at + 300 * s,
                )
            ),
        ]

    return [
        logged(login(LEGIT, T0, "d1", "DE")),
        logged(login(FRAUD, T0, "d9", "DE")),
        logged(checkout(LEGIT, "tx1", T0 + 10 * s, "d1", "DE", 40.0)),
        _decision(DECISIONS_TOPIC, d1),
        logged(login(FRAUD, T0 + 60 * s, "d10", "BR", lat=-23.5)),
        logged(checkout(FRAUD, "tx2", T0 + 70 * s, "d10", "BR", 900.0)),
        _decision(DECISIONS_TOPIC, d2),
        _decision(ALERTS_TOPIC, d2),
        *lifecycle(FRAUD, "tx2", T0 + 71 * s, challenge="ch2"),
        logged(
            MfaCompleted(
                event_id="mfa-tx2",
                user_id=FRAUD,
                event_time=T0 + 100 * s,
                transaction_id="tx2",
                challenge_id="ch2",
                passed=False,
            )
        ),
        logged(
            TransactionCancelled(
                event_id="cancelled-tx2",
                user_id=FRAUD,
                event_time=T0 + 100 * s,
                transaction_id="tx2",
                reason="mfa_failed",
            )
        ),
        logged(checkout(FRAUD, "tx3", T0 + 200 * s, "d10", "BR", 1_200.0)),
        _decision(DECISIONS_TOPIC, d3),
        _decision(ALERTS_TOPIC, d3),
        *lifecycle(FRAUD, "tx3", T0 + 201 * s, challenge="ch3"),
        logged(checkout(LEGIT, "tx4", T0 + 300 * s, "d1", "DE", 80.0)),
        _decision(DECISIONS_TOPIC, d4),
        *lifecycle(LEGIT, "tx4", T0 + 301 * s, challenge="ch4"),
        logged(
            MfaCompleted(
                event_id="mfa-tx4",
                user_id=LEGIT,
                event_time=T0 + 320 * s,
                transaction_id="tx4",
                challenge_id="ch4",
                passed=True,
            )
        ),
        logged(
            TransactionReleased(
                event_id="released-tx4",
                user_id=LEGIT,
                event_time=T0 + 320 * s,
                transaction_id="tx4",
                reason="mfa_passed",
            )
        ),
        logged(
            Chargeback(
                event_id="cb-tx1",
                user_id=LEGIT,
                event_time=T0 + 1_000 * s,
                transaction_id="tx1",
                amount=40.0,
            )
        ),
        logged(
            FraudReported(
                event_id="fr-tx3", user_id=FRAUD, event_time=T0 + 2_000 * s, transaction_id="tx3"
            )
        ),
    ]


def namespace() -> TopicMap:
    """Topics of their own (unique on a shared broker)."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    return TopicMap.prefixed(prefix, STORY_TOPICS)


def create_topics(log: EventLog, topics: TopicMap, partitions: int = PARTITIONS) -> list[str]:
    names = [topics.actual(topic) for topic in STORY_TOPICS]
    log.admin.create_topics(
        [TopicSpec(name=n, partitions=partitions) for n in names], exist_ok=True
    )
    return names


def produce(log: EventLog, topics: TopicMap, records: Iterable[Logged]) -> int:
    producer = log.producer()
    count = 0
    for record in records:
        producer.produce(
            topics.actual(record.topic), record.value, record.key.encode(), timestamp=record.time
        )
        count += 1
    assert producer.flush(30) == 0
    producer.close()
    return count


def project(store: QueryStore, log: EventLog, topics: TopicMap, **options: Any) -> Projector:
    """A started projector that has caught up with the log (close it when done)."""
    projector = Projector(store, log, topics=topics, **options)
    projector.start()
    projector.catch_up()
    return projector


def dump(store: QueryStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every live view table, sorted: two stores with equal dumps answer alike."""
    from riskstream.services.projections.view import LIVE, Tables  # noqa: PLC0415
    from riskstream.services.projections.views import VIEWS  # noqa: PLC0415

    out: dict[str, list[tuple[Any, ...]]] = {}
    with store.read() as tx:
        for view in VIEWS.values():
            for name in Tables.of(view, LIVE, "").names.values():
                rows = tx.execute(f"SELECT * FROM {name}")
                out[name] = sorted(rows, key=repr)
    return out

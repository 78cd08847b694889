"""The offers service through a real log, run by the runner as its own consumer group: on the
embedded backend and on the Kafka broker, across a restart, and as ``riskstream offers``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from riskstream.errors import ConfigError
from riskstream.events import (
    Checkout,
    Click,
    Event,
    TransactionPaused,
    TransactionReleased,
    codec_for,
)
from riskstream.fraud.decision import encode_decision
from riskstream.log import EventLog, TopicPartition, TopicSpec, open_log
from riskstream.services.history import read_topic
from riskstream.services.offers import (
    Offer,
    OffersConfig,
    decode_offer,
    ensure_offer_topics,
    offers_topology,
)
from riskstream.stream import Runner
from tests.unit.services.test_offers import decision

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 3
MINUTE = 60_000
IDLE = 10 * MINUTE


class Clock:
    """Processing time that moves when the test says so."""

    def __init__(self) -> None:
        self.now = int(time.time() * 1000)

    def __call__(self) -> int:
        return self.now


def _open(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> EventLog:
    if backend == "kafka":
        return open_log(f"kafka://{request.getfixturevalue('kafka_bootstrap')}")
    return open_log(f"embedded:{tmp_path / 'log'}")


def _config(backend: str) -> OffersConfig:
    if backend == "embedded":
        return OffersConfig(idle_ms=IDLE)
    run = uuid.uuid4().hex[:8]  # the broker is shared: topics of this run only
    base = OffersConfig()
    return OffersConfig(
        application=f"offers-{run}",
        activity_topics=tuple(f"{topic}-{run}" for topic in base.activity_topics),
        decisions_topic=f"decisions-{run}",
        transactions_topic=f"transactions-{run}",
        offers_topic=f"offers-{run}",
        idle_ms=IDLE,
    )


class Writer:
    """Produces events, decisions and lifecycle events to the config's topics."""

    def __init__(self, log: EventLog, config: OffersConfig) -> None:
        self.producer = log.producer()
        self.topics = dict(zip(OffersConfig().activity_topics, config.activity_topics, strict=True))
        self.config = config

    def event(self, event: Event) -> None:
        topic = self.topics.get(event.topic, self.config.transactions_topic)
        codec = codec_for(event.topic)
        self.producer.produce(topic, codec.encode(event), event.key, timestamp=event.event_time)

    def decision(self, user: str, txid: str, action: str, score: float, at: int) -> None:
        value = encode_decision(decision(txid, action, score, at, user))
        self.producer.produce(self.config.decisions_topic, value, user.encode(), timestamp=at)

    def flush(self) -> None:
        assert self.producer.flush(30) == 0


def _story(writer: Writer, now: int) -> None:
    """Five users, each with a cart left idle in session ``s-<user>``."""
    n = iter(range(1_000_000))

    def cart(user: str) -> None:
        for offset, page in ((-60_000, "/"), (-30_000, "/product/7"), (0, "/cart")):
            writer.event(
                Click(
                    event_id=f"ev-{next(n)}", user_id=user, event_time=now + offset,
                    session_id=f"s-{user}", page=page,
                )
            )  # fmt: skip

    def lifecycle(user: str, kind: type[TransactionPaused | TransactionReleased]) -> None:
        extra = (
            {"action": "challenge", "score": 70.0}
            if kind is TransactionPaused
            else {"reason": "mfa passed"}
        )
        writer.event(
            kind(
                event_id=f"ev-{next(n)}", user_id=user, event_time=now - 5 * MINUTE,
                transaction_id=f"tx-{user}", **extra,  # type: ignore[arg-type]
            )
        )  # fmt: skip

    writer.decision("legit", "tx-legit", "allow", 2.0, now - 86_400_000)
    cart("legit")
    writer.decision("flagged", "tx-flagged", "challenge", 72.0, now - 20 * MINUTE)
    cart("flagged")
    writer.decision("paused", "tx-paused", "challenge", 72.0, now - 20 * MINUTE)
    lifecycle("paused", TransactionPaused)
    cart("paused")
    writer.decision("released", "tx-released", "challenge", 72.0, now - 20 * MINUTE)
    lifecycle("released", TransactionPaused)
    lifecycle("released", TransactionReleased)
    cart("released")
    cart("buyer")
    writer.event(
        Checkout(
            event_id="ev-checkout", user_id="buyer", event_time=now + 1, transaction_id="tx-b",
            amount=40.0, currency="EUR", merchant_id="m-1", item_count=1,
            instrument_fingerprint="card-b", bin_country="DE", device_id="d-b", ip="10.0.0.2",
            country="DE", shipping_address_hash="addr-b", session_id="s-buyer",
        )
    )  # fmt: skip
    writer.flush()


def _offers(log: EventLog, topic: str) -> list[Offer]:
    return [decode_offer(record.value) for record in read_topic(log, [topic])]


def _drain(runner: Runner, rounds: int = 200) -> None:
    """Poll until every input was read to its end."""
    for _ in range(rounds):
        runner.poll_once(0.05)
        if runner.caught_up():
            return
    raise AssertionError("the runner never caught up with its inputs")


@pytest.mark.parametrize("backend", ["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
def test_offers_reach_only_low_risk_users_and_survive_a_restart(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    log = _open(backend, tmp_path, request)
    config = _config(backend)
    try:
        assert ensure_offer_topics(log, config, partitions=PARTITIONS) == PARTITIONS
        clock = Clock()
        writer = Writer(log, config)
        _story(writer, clock.now)

        first = Runner(offers_topology(config), log, state_dir=tmp_path / "state", clock=clock)
        first.start()
        _drain(first)
        clock.now += IDLE // 2
        _drain(first)
        first.close()  # the carts are armed, nothing is due yet: state and timers committed
        assert _offers(log, config.offers_topic) == []

        clock.now += IDLE // 2 + 1_000
        second = Runner(offers_topology(config), log, state_dir=tmp_path / "state", clock=clock)
        second.start()
        try:
            deadline = time.monotonic() + 60
            offers: list[Offer] = []
            while len(offers) < 2 and time.monotonic() < deadline:
                _drain(second)
                second.commit()
                offers = _offers(log, config.offers_topic)
            clock.now += 2 * IDLE  # later timers would have fired by now
            _drain(second)
            second.commit()
        finally:
            second.close()
        offers = _offers(log, config.offers_topic)
        assert sorted((o.user_id, o.session_id) for o in offers) == [
            ("legit", "s-legit"),
            ("released", "s-released"),
        ]
        assert len({o.offer_id for o in offers}) == 2
        # The service's own group is the only one that moved: nobody else's offsets.
        probe = log.consumer("riskstream-fraud")
        tps = [TopicPartition(t, p) for t in config.activity_topics for p in range(PARTITIONS)]
        assert set(probe.committed(tps).values()) == {None}
        probe.close()
    finally:
        if backend == "kafka":
            run = config.application.removeprefix("offers-")
            log.admin.delete_topics([t for t in log.admin.list_topics() if run in t])
        log.close()


def test_riskstream_offers_runs_until_sigterm(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    log = open_log(f"embedded:{log_dir}")
    config = OffersConfig()
    ensure_offer_topics(log, config, partitions=2)
    writer = Writer(log, config)
    now = int(time.time() * 1000)
    writer.event(
        Click(event_id="ev-1", user_id="u-1", event_time=now, session_id="s-1", page="/cart")
    )
    writer.flush()
    proc = subprocess.Popen(
        [
            sys.executable, "-c", "from riskstream.cli import main; main()", "offers",
            "--log", f"embedded:{log_dir}", "--state-dir", str(tmp_path / "state"),
            "--idle", "1s", "--session-gap", "10m", "--commit-interval-ms", "100",
        ],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        offers: list[Offer] = []
        while not offers and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if config.offers_topic in log.admin.list_topics():
                offers = _offers(log, config.offers_topic)
        assert [(o.user_id, o.session_id) for o in offers] == [("u-1", "s-1")]
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert "idle carts: offered 1" in stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        log.close()


def test_inputs_with_different_partition_counts_are_refused(tmp_path: Path) -> None:
    log = open_log(f"embedded:{tmp_path / 'log'}")
    config = OffersConfig()
    log.admin.create_topics(
        [
            TopicSpec(name="events.click", partitions=4),
            TopicSpec(name="risk.decisions", partitions=2),
        ]
    )
    with pytest.raises(ConfigError, match="not co-partitioned"):
        ensure_offer_topics(log, config, partitions=8)
    log.close()

"""Rules change under a running `riskstream worker`: added, changed, shadowed, removed - and
a broken set published behind the CLI's back leaves the previous set in force."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from riskstream.events import ACTIVITY_TOPICS, DEFAULT_PARTITIONS
from riskstream.events.codec import codec_for
from riskstream.fraud.decision import Decision, decode_decision
from riskstream.fraud.features.engine import FeatureEngine
from riskstream.fraud.rules import RuleSet, RuleSource
from riskstream.fraud.topology import DECISIONS_TOPIC
from riskstream.log import EventLog, TopicSpec, open_log
from riskstream.services.compacted import put
from riskstream.services.history import read_topic
from riskstream.services.rules_topic import (
    RULES_TOPIC,
    PublishedRuleSet,
    encode_published,
    publish_rules,
)
from tests.fraud_support.scenarios import START, checkout

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = FeatureEngine().catalogue

BIG = """
rule test.big_amount
  version {version}
  description "Large order"
  when checkout.amount >= {threshold}
  score 20
  action {action}
  {shadow}
"""
BASE = """
rule test.probe
  version 1
  description "Probe checkouts (amount 1) are reviewed: proves which set decided"
  when checkout.amount == 1
  score 1
  action review
"""


def _rules(text: str) -> RuleSet:
    return RuleSet.build([RuleSource("team.rules", text)], CATALOGUE)


def _worker(log_dir: Path, state_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from riskstream.cli import main; main()",
            "worker",
            "--log",
            f"embedded:{log_dir}",
            "--state-dir",
            str(state_dir),
            "--commit-interval-ms",
            "100",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


class Shop:
    """Sends checkouts and waits for their decisions."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.producer = log.producer()
        self.sent = 0

    def decide(self, amount: float, timeout: float = 60.0) -> Decision:
        self.sent += 1
        txid = f"tx-{self.sent}"
        event = checkout(f"user-{self.sent}", txid, START + self.sent * 1_000, "s", amount)
        topic = event.topic
        self.producer.produce(
            topic, codec_for(topic).encode(event), event.key, timestamp=event.event_time
        )
        assert self.producer.flush(10) == 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in read_topic(self.log, [DECISIONS_TOPIC]):
                decision = decode_decision(record.value)
                if decision.transaction_id == txid:
                    return decision
            time.sleep(0.1)
        raise AssertionError(f"no decision for {txid} within {timeout}s")

    def await_rules(self, version: str, timeout: float = 60.0) -> None:
        """Send probes until one is decided by the rule set ``version``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.decide(1).rules_version == version:
                return
        raise AssertionError(f"rule set {version} never took effect")


@pytest.mark.slow
def test_rules_hot_reload_on_a_running_worker(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    log = open_log(f"embedded:{log_dir}")
    log.admin.create_topics(
        [TopicSpec(name=t, partitions=DEFAULT_PARTITIONS) for t in ACTIVITY_TOPICS]
    )
    worker = _worker(log_dir, tmp_path / "state")
    shop = Shop(log)
    try:
        # Added: a new rule blocks large orders.
        added = _rules(BASE + BIG.format(version=1, threshold=1000, action="block", shadow=""))
        publish_rules(log, added)
        shop.await_rules(added.version)
        decision = shop.decide(1500)
        assert decision.action == "block"
        assert [(r.rule, r.version) for r in decision.reasons] == [("test.big_amount", 1)]
        assert decision.reasons[0].features == {"checkout.amount": 1500}

        # Changed: higher threshold, softer action, version bumped.
        changed = _rules(BASE + BIG.format(version=2, threshold=2000, action="review", shadow=""))
        publish_rules(log, changed)
        shop.await_rules(changed.version)
        assert shop.decide(1500).reasons == []
        decision = shop.decide(2500)
        assert decision.action == "review"
        assert [(r.rule, r.version) for r in decision.reasons] == [("test.big_amount", 2)]

        # Shadowed: evaluated and recorded, never enforced.
        shadowed = _rules(
            BASE + BIG.format(version=3, threshold=2000, action="block", shadow="shadow")
        )
        publish_rules(log, shadowed)
        shop.await_rules(shadowed.version)
        decision = shop.decide(2500)
        assert decision.action == "allow"
        assert decision.reasons == []
        assert [(r.rule, r.version) for r in decision.shadow] == [("test.big_amount", 3)]

        # Removed.
        removed = _rules(BASE)
        publish_rules(log, removed)
        shop.await_rules(removed.version)
        decision = shop.decide(2500)
        assert decision.reasons == [] and decision.shadow == []

        # A broken set (unknown feature) written straight to the topic: rejected, the
        # previous set stays in force - never a half-applied set.
        broken = PublishedRuleSet(
            name="default",
            source=BASE
            + "\nrule bad\n  version 1\n  when no.such_feature > 1\n  score 1\n  action block\n",
            source_name="broken.rules",
            version="broken",
            published_at=0,
            published_by="test",
        )
        put(log, RULES_TOPIC, [(b"default", encode_published(broken))])
        time.sleep(2)  # the worker has had time to see it
        decision = shop.decide(2500)
        assert decision.rules_version == removed.version
        assert shop.decide(1).reasons[0].rule == "test.probe"
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()
    assert worker.returncode == 0

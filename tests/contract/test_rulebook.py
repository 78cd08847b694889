"""Hot reload of rule sets, lists and models from compacted topics, on every log backend."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from riskstream.fraud.rules import EXPECTED_FEATURES, Action, RuleSet
from riskstream.services.compacted import put
from riskstream.services.hotreload import wall_clock_ms
from riskstream.services.lists import add_list_entry, parse_ttl, remove_list_entry
from riskstream.services.models_registry import (
    ModelBook,
    ModelMetadata,
    ModelSlot,
    publish_model,
    retire_challenger,
)
from riskstream.services.rulebook import ActiveRules, RuleBook
from riskstream.services.rules_topic import (
    PublishedRuleSet,
    RulesChange,
    encode_published,
    publish_rules,
    retire_rules,
)
from riskstream.testing import VirtualClock
from tests.contract.harness import LogHarness

FALLBACK = RuleSet.from_text(
    """
rule fallback.huge_amount
  version 1
  when checkout.amount >= 10000
  score 90
  action block
""",
    EXPECTED_FEATURES,
    name="fallback.rules",
)

V1 = """
rule promo.rush
  version 1
  when promo.value >= 50 and promo.seconds_after_first_click <= 30
  score 40
  action challenge

rule card.many_cards
  version 1
  when device.distinct_instruments_24h >= 4
  score 60
  action block

rule velocity.burst
  version 1
  when user.checkouts_1h >= 5
  score 20
  action review

rule lists.blocked_device
  version 1
  when device.id in blocklist.device
  score 100
  action block
"""

# promo.rush unchanged; card.many_cards changed (score, version 2); velocity.burst now in
# shadow (version 2); lists.blocked_device removed; ip.shared added.
V2 = """
rule promo.rush
  version 1
  when promo.value >= 50 and promo.seconds_after_first_click <= 30
  score 40
  action challenge

rule card.many_cards
  version 2
  when device.distinct_instruments_24h >= 4
  score 80
  action block

rule velocity.burst
  version 2
  when user.checkouts_1h >= 5
  score 20
  action review
  shadow

rule ip.shared
  version 1
  when ip.distinct_accounts_1h >= 10
  score 30
  action review
"""

BROKEN = """
rule promo.rush
  version 3
  when promo.valu >= 50
  score 40
  action challange
"""

LISTED = """
rule lists.blocked_device
  version 1
  when device.id in blocklist.device and not (instrument.id in allowlist.instrument)
  score 100
  action block
"""


def _rules(text: str, name: str = "team.rules") -> RuleSet:
    return RuleSet.from_text(text, EXPECTED_FEATURES, name=name)


def _eventually(check: Callable[[], bool], what: str, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s: {what}")
        time.sleep(0.02)


class _Topics:
    def __init__(self, harness: LogHarness) -> None:
        self.harness = harness
        self.rules = harness.topic(compacted=True)
        self.lists = harness.topic(compacted=True)
        self.models = harness.topic(compacted=True)

    @contextmanager
    def book(self, clock: VirtualClock | None = None) -> Iterator[RuleBook]:
        book = RuleBook(
            self.harness.log,
            EXPECTED_FEATURES,
            "default",
            FALLBACK,
            rules_topic=self.rules,
            lists_topic=self.lists,
            clock=clock.now if clock is not None else wall_clock_ms,
        )
        try:
            assert book.wait_caught_up(60)
            yield book
        finally:
            book.close()

    def add(
        self, list_name: str, kind: str, value: str, now: int, *, reason: str = "", **ttl: int
    ) -> None:
        add_list_entry(
            self.harness.log,
            list_name,
            kind,
            value,
            reason=reason,
            ttl_ms=ttl.get("ttl_ms"),
            now=now,
            topic=self.lists,
        )

    def publish(self, rules: RuleSet, name: str = "default") -> None:
        publish_rules(self.harness.log, rules, name=name, published_by="analyst", topic=self.rules)

    def wait_version(self, book: RuleBook, version: str) -> ActiveRules:
        _eventually(lambda: book.current().rules_version == version, f"rules version {version}")
        return book.current()


@pytest.fixture
def topics(harness: LogHarness) -> _Topics:
    return _Topics(harness)


def _rejected(book: RuleBook, rule_set: str = "default") -> float:
    value = book.registry.get_sample_value(
        "riskstream_rules_rejected_total", {"rule_set": rule_set}
    )
    return value or 0.0


def test_published_sets_hot_reload_with_their_diff(topics: _Topics) -> None:
    with topics.book() as book:
        start = book.current()
        assert start.rules is FALLBACK and start.published is None
        assert start.evaluate({"checkout.amount": 20_000}).action is Action.BLOCK

        v1, v2 = _rules(V1), _rules(V2)
        topics.publish(v1)
        first = topics.wait_version(book, v1.version)
        assert first.published is not None and first.published.published_by == "analyst"
        assert first.version.startswith(f"{v1.version}+")
        assert [rule.id for rule in first.rules] == [rule.id for rule in v1]
        assert first.evaluate({"checkout.amount": 20_000}).action is Action.ALLOW
        burst = {"user.checkouts_1h": 7}
        assert first.evaluate(burst).action is Action.REVIEW

        topics.publish(v2)
        second = topics.wait_version(book, v2.version)
        change = RulesChange.between(first.rules, second.rules)
        assert change.added == ("ip.shared",)
        assert change.removed == ("lists.blocked_device",)
        assert change.changed == ("card.many_cards", "velocity.burst")
        assert change.shadowed == ("velocity.burst",)
        assert change.enforced == () and change.unbumped == ()
        result = second.evaluate(burst)
        assert result.action is Action.ALLOW  # the burst rule went to shadow
        assert [hit.rule_id for hit in result.shadow_hits] == ["velocity.burst"]
        assert first.rules.version == v1.version  # snapshots never change under a reader

        retire_rules(topics.harness.log, "default", topic=topics.rules)
        _eventually(lambda: book.current().published is None, "retired set")
        assert book.current().rules is FALLBACK
        assert book.rejections == ()


def test_a_set_that_does_not_build_is_rejected_and_the_previous_stays(topics: _Topics) -> None:
    with topics.book() as book:
        good = _rules(V1)
        topics.publish(good)
        before = topics.wait_version(book, good.version)

        # Written straight to the topic, as a publisher that skipped the check would.
        broken = PublishedRuleSet(
            name="default",
            source=BROKEN,
            source_name="broken.rules",
            version="0123456789abcdef",
            published_at=1,
            published_by="someone",
        )
        put(topics.harness.log, topics.rules, [(b"default", encode_published(broken))])
        _eventually(lambda: len(book.rejections) == 1, "the broken set rejected")
        rejection = book.rejections[0]
        assert (rejection.topic, rejection.key, rejection.version) == (
            topics.rules,
            "default",
            "0123456789abcdef",
        )
        assert [e.split(" ")[:2] for e in rejection.errors] == [
            ["broken.rules:4:8:", "unknown-feature"],
            ["broken.rules:6:10:", "unknown-action"],
        ]
        assert book.current() is before  # not even a new snapshot

        # Neither bytes that are no rule set nor a set claiming another version get in.
        put(topics.harness.log, topics.rules, [(b"default", b"{not json")])
        forged = PublishedRuleSet(
            name="default",
            source=V2,
            source_name="team.rules",
            version=good.version,
            published_at=2,
        )
        put(topics.harness.log, topics.rules, [(b"default", encode_published(forged))])
        _eventually(lambda: len(book.rejections) == 3, "three rejections")
        assert "not a published rule set" in book.rejections[1].errors[0]
        assert "published as version" in book.rejections[2].errors[0]
        assert book.current() is before
        assert _rejected(book) == 3.0

        # Another rule set's key is none of this book's business.
        topics.publish(_rules(V2), name="experiments")
        fixed = _rules(V2)
        topics.publish(fixed)
        topics.wait_version(book, fixed.version)
        assert len(book.rejections) == 3


def test_lists_add_remove_and_expire(topics: _Topics) -> None:
    log = topics.harness.log
    clock = VirtualClock(1_700_000_000_000)
    rules = _rules(LISTED)
    topics.publish(rules)
    with topics.book(clock) as book:
        topics.wait_version(book, rules.version)
        assert book.current().lists["blocklist.device"] == frozenset()

        now = clock.now()
        topics.add("blocklist", "device", "d-1", now, reason="ring")
        topics.add("blocklist", "device", "d-2", now, ttl_ms=parse_ttl("1h"))
        topics.add("allowlist", "instrument", "card-ok", now)
        _eventually(
            lambda: (
                book.current().lists["blocklist.device"] == {"d-1", "d-2"}
                and book.current().lists["allowlist.instrument"] == {"card-ok"}
            ),
            "three entries",
        )
        active = book.current()
        assert active.valid_until == clock.now() + 3_600_000
        assert active.version == f"{rules.version}+{active.lists_version}"
        hit = {"device.id": "d-2", "instrument.id": "card-x"}
        assert active.evaluate(hit).action is Action.BLOCK
        trusted = {"device.id": "d-2", "instrument.id": "card-ok"}
        assert active.evaluate(trusted).action is Action.ALLOW

        remove_list_entry(log, "blocklist", "device", "d-1", topic=topics.lists)
        _eventually(lambda: book.current().lists["blocklist.device"] == {"d-2"}, "d-1 removed")

        clock.advance(3_600_000)  # d-2 expires: no record needed, the next read drops it
        expired = book.current()
        assert expired.lists["blocklist.device"] == frozenset()
        assert expired.valid_until is None and expired.lists_version != active.lists_version
        assert expired.evaluate(hit).action is Action.ALLOW
        assert book.current() is expired

        put(log, topics.lists, [(b"blocklist:device:d-9", b'{"list": "nope"}')])
        _eventually(lambda: len(book.rejections) == 1, "a bad entry rejected")
        assert book.rejections[0].topic == topics.lists
        assert book.current().lists["blocklist.device"] == frozenset()


def test_a_book_started_later_reads_the_same_state(topics: _Topics) -> None:
    log = topics.harness.log
    clock = VirtualClock(1_700_000_000_000)
    v1, v2 = _rules(V1), _rules(V2)
    with topics.book(clock) as first:
        topics.publish(v1)
        topics.publish(v2)
        for device in ("d-1", "d-2", "d-3"):
            topics.add("blocklist", "device", device, clock.now())
        remove_list_entry(log, "blocklist", "device", "d-2", topic=topics.lists)
        # Last, not the removal: the memory log's consumer does not move past a compacted
        # tail (Kafka never compacts its active segment, the embedded log skips the gap).
        topics.add("blocklist", "ip", "10.0.0.1", clock.now(), ttl_ms=60_000)
        _eventually(
            lambda: (
                first.current().lists["blocklist.device"] == {"d-1", "d-3"}
                and first.current().rules_version == v2.version
                and first.current().lists["blocklist.ip"] == {"10.0.0.1"}
            ),
            "the first book up to date",
        )
        state = first.current()

    topics.harness.maintain()  # compaction where the backend runs it on demand
    with topics.book(clock) as second:
        again = second.current()  # caught up: no waiting for anything else
        assert again.version == state.version
        assert again.rules_version == v2.version and dict(again.lists) == dict(state.lists)
        assert again.published == state.published

        # The newest valid set wins on replay too: a broken set published last is rejected,
        # by the running book and by a book started after it alike.
        broken = PublishedRuleSet(
            name="default", source=BROKEN, source_name="b.rules", version="x", published_at=3
        )
        put(log, topics.rules, [(b"default", encode_published(broken))])
        _eventually(lambda: len(second.rejections) == 1, "the broken set rejected")
    with topics.book(clock) as third:
        assert third.current().version == state.version
        assert [r.version for r in third.rejections] == ["x"]


def _load(artifact: bytes, metadata: ModelMetadata) -> str:
    if artifact.startswith(b"corrupt"):
        raise ValueError("not a model")
    if len(metadata.features) == 0:
        raise ValueError("a model reads features")
    return artifact.decode()


def _meta(version: str) -> ModelMetadata:
    return ModelMetadata(
        version=version,
        features=("checkout.amount", "device.age_ms"),
        trained_from=1_690_000_000_000,
        trained_to=1_700_000_000_000,
        metrics={"auc": 0.91, "rows": 120_000},
    )


def test_models_hot_reload_and_reject_what_does_not_validate(topics: _Topics) -> None:
    log = topics.harness.log
    book = ModelBook(log, _load, topic=topics.models)
    try:
        assert book.wait_caught_up(60)
        assert book.current_champion() is None and book.current_challenger() is None

        published = publish_model(log, "champion", b"model-one", _meta("m1"), topic=topics.models)
        assert published.metadata.created_at is not None
        publish_model(log, ModelSlot.CHALLENGER, b"model-two", _meta("m2"), topic=topics.models)
        _eventually(
            lambda: book.current_challenger() is not None and book.current_champion() is not None,
            "both slots filled",
        )
        champion = book.current_champion()
        assert champion is not None and champion.model == "model-one"
        assert champion.metadata.metrics == {"auc": 0.91, "rows": 120_000.0}
        assert champion.metadata.features == ("checkout.amount", "device.age_ms")

        publish_model(log, "champion", b"corrupt!", _meta("m3"), topic=topics.models)
        _eventually(lambda: len(book.rejections) == 1, "the corrupt model rejected")
        assert book.current_champion() is champion
        assert book.rejections[0].version == "m3"
        assert book.rejections[0].errors == ("ValueError: not a model",)

        put(log, topics.models, [(b"champion", None)])  # a champion is replaced, never removed
        _eventually(lambda: len(book.rejections) == 2, "the champion tombstone rejected")
        assert book.current_champion() is champion

        retire_challenger(log, topic=topics.models)
        _eventually(lambda: book.current_challenger() is None, "challenger retired")
        counted = book.registry.get_sample_value(
            "riskstream_models_rejected_total", {"slot": "champion"}
        )
        assert counted == 2.0

        publish_model(log, "champion", b"model-four", _meta("m4"), topic=topics.models)
        _eventually(lambda: book.current_champion() is not champion, "m4 installed")
        current = book.current_champion()
        assert current is not None and current.version == "m4"
    finally:
        book.close()

    with ModelBook(log, _load, topic=topics.models) as later:
        assert later.wait_caught_up(60)
        champion_later = later.current_champion()
        assert champion_later is not None and champion_later.model == "model-four"
        assert later.current_challenger() is None

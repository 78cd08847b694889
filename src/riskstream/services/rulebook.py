"""The rules a running worker applies, hot-reloaded from ``risk.rules`` and ``risk.lists``.

::

    book = RuleBook(log, engine_catalogue(), "default", fallback=default_rule_set())
    book.wait_caught_up(timeout=30)       # what was published before the worker started
    ...
    active = book.current()               # once per batch: one attribute load
    result = active.evaluate(features)    # = active.rules.evaluate(features, active.lists)
    active.version                        # "<rules version>+<lists version>", for decisions

A :class:`RuleBook` follows both compacted topics (:mod:`riskstream.services.compacted`).
Whenever the rule set it follows or a list changes, it builds a new immutable
:class:`ActiveRules` and swaps the reference under a lock, so a reader never sees half an
update and pays nothing for the machinery.

* A published set that does not build against the engine's catalogue, or does not decode,
  is **rejected**: the previous set stays active (never half-applied); the rejection is kept
  in :attr:`RuleBook.rejections`, logged as a warning and counted in
  ``riskstream_rules_rejected_total{rule_set}``. List entries that do not decode are
  rejected the same way (``riskstream_list_entries_rejected_total{topic}``).
* Until the topic holds the set, and after it is retired (a tombstone), ``fallback`` is
  active (no rules at all without one).
* An expired list entry stops counting the moment it expires: :meth:`RuleBook.current`
  rebuilds the lists when the snapshot's ``valid_until`` has passed (one clock read per call,
  only while some entry has an expiry).
* A book started later - after a restart, or after compaction - reads the topics from the
  start and ends in the same state: the newest valid set, the same lists, the same versions.
  One exception: when the newest record of the set is one that was rejected, compaction may
  already have dropped the valid one before it, and a book started then runs ``fallback``.
  ``riskstream rules publish`` checks a set before publishing it, so only a writer that
  bypasses it can get there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from riskstream.fraud.rules import Evaluation, FeatureCatalogue, RuleSet
from riskstream.log.port import EventLog
from riskstream.services.compacted import (
    Change,
    ChangeBatch,
    CompactedFollower,
    ensure_compacted_topics,
)
from riskstream.services.hotreload import (
    Clock,
    Rejected,
    Rejection,
    RejectionLog,
    newest_valid,
    rejection_counter,
    wall_clock_ms,
)
from riskstream.services.lists import LISTS_TOPIC, ListSnapshot, ListTable
from riskstream.services.rules_topic import (
    DEFAULT_RULE_SET_NAME,
    RULES_TOPIC,
    PublishedRuleSet,
    RulesChange,
    build_published,
    decode_published,
    engine_catalogue,
    publish_rules,
    retire_rules,
)

# The publishing side lives in rules_topic; re-exported so one import serves a worker.
__all__ = [
    "DEFAULT_RULE_SET_NAME",
    "LISTS_TOPIC",
    "RULES_TOPIC",
    "ActiveRules",
    "PublishedRuleSet",
    "RuleBook",
    "RulesChange",
    "engine_catalogue",
    "publish_rules",
    "retire_rules",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ActiveRules:
    """The rules and lists in force, as one immutable snapshot.

    ``lists`` is keyed like the rule language's lists (``"blocklist.device"``) and holds
    only unexpired entries; every list the catalogue names is present (maybe empty).
    ``published`` is the record the rules came from (``None``: the fallback).
    ``valid_until``: the first expiry among the lists' entries (epoch ms), if any.
    """

    rules: RuleSet
    lists: Mapping[str, frozenset[str]]
    version: str
    loaded_at: int
    published: PublishedRuleSet | None = None
    lists_version: str = ""
    valid_until: int | None = None

    @property
    def rules_version(self) -> str:
        """The rule set's version (a hash of its source)."""
        return self.rules.version

    def evaluate(self, features: Mapping[str, Any]) -> Evaluation:
        """Evaluate the rules against ``features`` and these lists."""
        return self.rules.evaluate(features, self.lists)


class RuleBook:
    """Follows the rule set ``rule_set_name`` and the lists; see the module docstring.

    ``clock`` (epoch ms) stamps snapshots and decides expiry; ``registry`` receives the
    rejection counters (a registry of its own by default, see :attr:`registry`). The topics
    are created if missing.
    """

    def __init__(
        self,
        log: EventLog,
        catalogue: FeatureCatalogue,
        rule_set_name: str = DEFAULT_RULE_SET_NAME,
        fallback: RuleSet | None = None,
        *,
        rules_topic: str = RULES_TOPIC,
        lists_topic: str = LISTS_TOPIC,
        clock: Clock = wall_clock_ms,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.name = rule_set_name
        self.rules_topic = rules_topic
        self.lists_topic = lists_topic
        self._key = rule_set_name.encode()
        self._catalogue = catalogue
        self._fallback = fallback if fallback is not None else RuleSet.empty()
        self._clock = clock
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._rules_rejected = rejection_counter(
            self.registry,
            "riskstream_rules_rejected",
            "Published rule sets that were not applied (the previous set stayed active).",
            "rule_set",
        ).labels(rule_set_name)
        self._entries_rejected = rejection_counter(
            self.registry,
            "riskstream_list_entries_rejected",
            "Published list entries that do not decode (ignored).",
            "topic",
        ).labels(lists_topic)
        self._rejections = RejectionLog(clock)
        # Everything below is guarded by _lock; _active is also read without it (one load).
        self._lock = threading.Lock()
        self._published: PublishedRuleSet | None = None
        self._rules = self._fallback
        self._lists = ListTable(catalogue.lists, clock)
        self._list_snapshot: ListSnapshot = self._lists.snapshot()
        self._lists_dirty = False
        self._active = self._compose()
        ensure_compacted_topics(log, rules_topic, lists_topic)
        self._rules_follower = CompactedFollower(log, rules_topic, on_change=self._rules_changed)
        try:
            self._lists_follower = CompactedFollower(
                log, lists_topic, on_change=self._lists_changed
            )
        except BaseException:
            self._rules_follower.close()
            raise

    # -- reading -------------------------------------------------------------------------

    def current(self) -> ActiveRules:
        """The rules and lists in force now."""
        active = self._active
        if active.valid_until is not None and self._clock() >= active.valid_until:
            return self._expire()
        return active

    @property
    def rejections(self) -> tuple[Rejection, ...]:
        """The latest rejected rule sets and list entries, oldest first."""
        return self._rejections.all()

    @property
    def caught_up(self) -> bool:
        """Whether everything published before the book started has been applied."""
        return self._rules_follower.caught_up and self._lists_follower.caught_up

    def wait_caught_up(self, timeout: float | None = None) -> bool:
        """Wait until :attr:`caught_up` (``False`` if ``timeout`` seconds passed first)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for follower in (self._rules_follower, self._lists_follower):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not follower.wait_caught_up(left):
                return False
        return True

    # -- following (on the followers' threads) -------------------------------------------

    def _rules_changed(self, batch: ChangeBatch) -> None:
        found = newest_valid(batch.changes, self._key, self._build, self._reject_rules)
        if found is None:
            return
        _, built = found
        with self._lock:
            previous = self._active
            if built is None:
                self._published, self._rules = None, self._fallback
            else:
                self._published, self._rules = built
            self._active = active = self._compose()
        self._report(previous, active)

    def _build(self, value: bytes) -> tuple[PublishedRuleSet, RuleSet]:
        published = decode_published(self._key, value)
        current = self._published  # written only by this thread, so no lock needed to read
        if (
            current is not None
            and current.version == published.version
            and current.source == published.source
            and current.source_name == published.source_name
        ):
            return published, self._rules  # republished as it was: nothing to rebuild
        return published, build_published(published, self._catalogue)

    def _reject_rules(self, change: Change, rejected: Rejected) -> None:
        self._rules_rejected.inc()  # first: whoever sees the rejection sees it counted
        self._rejections.record(self.rules_topic, change, rejected)

    def _reject_entry(self, change: Change, rejected: Rejected) -> None:
        self._entries_rejected.inc()
        self._rejections.record(self.lists_topic, change, rejected)

    def _lists_changed(self, batch: ChangeBatch) -> None:
        with self._lock:
            self._lists_dirty |= self._lists.apply(batch.changes, self._reject_entry)
            # While catching up, rebuilding the lists after every batch would be quadratic.
            if not (self._lists_dirty and batch.caught_up):
                return
            self._lists_dirty = False
            self._list_snapshot = self._lists.snapshot()
            self._active = active = self._compose()
        entries = sum(map(len, active.lists.values()))
        _log.info("lists: version %s (%d active entries)", active.lists_version, entries)

    def _expire(self) -> ActiveRules:
        with self._lock:
            active = self._active
            now = self._clock()
            if active.valid_until is not None and now >= active.valid_until:
                self._list_snapshot = self._lists.snapshot(now)
                self._active = active = self._compose()
            return active

    def _compose(self) -> ActiveRules:
        lists = self._list_snapshot
        return ActiveRules(
            rules=self._rules,
            lists=lists.lists,
            version=f"{self._rules.version}+{lists.version}",
            loaded_at=self._clock(),
            published=self._published,
            lists_version=lists.version,
            valid_until=lists.valid_until,
        )

    def _report(self, previous: ActiveRules, active: ActiveRules) -> None:
        if previous.rules is active.rules:
            return
        if active.published is None:
            _log.info(
                "rule set %r retired: the fallback (version %s) is active",
                self.name,
                active.rules_version,
            )
            return
        change = RulesChange.between(previous.rules, active.rules)
        _log.info(
            "rule set %r: version %s -> %s published by %s: %s",
            self.name,
            previous.rules_version,
            active.rules_version,
            active.published.published_by or "?",
            change.summary(),
        )

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Stop following (the last snapshot stays readable)."""
        try:
            self._rules_follower.close()
        finally:
            self._lists_follower.close()

    def __enter__(self) -> RuleBook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RuleBook({self.name!r}, version={self._active.version!r})"

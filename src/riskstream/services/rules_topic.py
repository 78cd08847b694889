"""Rule sets on the compacted topic ``risk.rules``: publish, retire, read back.

One record per rule set: the key is the set's name (``default``), the value a
:class:`PublishedRuleSet` as JSON - the rules file's text, the name it was checked under
(its error locations, and part of its version) and the :attr:`RuleSet.version` it builds to.
A tombstone retires the set. Readers rebuild the set from the text against their own
catalogue (:func:`build_published`), so a set that does not build where it runs is refused
there, whatever the publisher checked.

::

    rules = RuleSet.from_text(text, engine_catalogue(), name="team.rules")  # or RuleSetError
    publish_rules(log, rules, name="default")
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from typing import Final

import msgspec

from riskstream.fraud.rules import (
    FeatureCatalogue,
    RuleError,
    RuleSet,
    RuleSetError,
)
from riskstream.log.port import EventLog
from riskstream.services.compacted import ensure_compacted_topics, put, read_compacted
from riskstream.services.engine_config import engine_from
from riskstream.services.hotreload import Rejected, wall_clock_ms
from riskstream.settings import Settings

__all__ = [
    "DEFAULT_RULE_SET_NAME",
    "RULES_TOPIC",
    "PublishedRuleSet",
    "RulesChange",
    "build_published",
    "decode_published",
    "encode_published",
    "engine_catalogue",
    "format_rule_error",
    "publish_rules",
    "publisher_identity",
    "read_published_rules",
    "retire_rules",
]

RULES_TOPIC: Final = "risk.rules"
DEFAULT_RULE_SET_NAME: Final = "default"


def engine_catalogue() -> FeatureCatalogue:
    """The features the running engine provides: what published rules are checked against
    (the built-in profile features and the declared aggregates of the configured features
    file, ``RISKSTREAM_FEATURES_FILE``)."""
    return engine_from(Settings()).catalogue


class PublishedRuleSet(msgspec.Struct, frozen=True, kw_only=True):
    """A rule set as published: its text and who published which version when (epoch ms)."""

    name: str
    source: str
    source_name: str
    version: str
    published_at: int
    published_by: str = ""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(PublishedRuleSet)


@dataclass(frozen=True, slots=True)
class RulesChange:
    """What a new rule set changes, by rule id.

    ``changed`` includes the rules only switched to or from shadow; ``shadowed`` names the
    rules now in shadow that were enforced, ``enforced`` the ones leaving shadow;
    ``unbumped`` the changed rules whose version did not go up (decisions made by the old and
    new rule would cite the same version).
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    shadowed: tuple[str, ...] = ()
    enforced: tuple[str, ...] = ()
    unbumped: tuple[str, ...] = ()

    @classmethod
    def between(cls, old: RuleSet | None, new: RuleSet) -> RulesChange:
        """The change from ``old`` (``None``: nothing published) to ``new``."""
        if old is None:
            return cls(added=tuple(rule.id for rule in new))
        diff = old.diff(new)
        return cls(
            added=diff.added,
            removed=diff.removed,
            changed=diff.changed,
            shadowed=tuple(i for i in diff.changed if new[i].shadow and not old[i].shadow),
            enforced=tuple(i for i in diff.changed if old[i].shadow and not new[i].shadow),
            unbumped=diff.unbumped,
        )

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def as_dict(self) -> dict[str, list[str]]:
        """The change as JSON-ready lists."""
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
            "shadowed": list(self.shadowed),
            "enforced": list(self.enforced),
            "unbumped": list(self.unbumped),
        }

    def summary(self) -> str:
        """One line: ``"2 added (a, b), 1 changed (c)"`` or ``"no rule changed"``."""
        parts = [
            f"{len(ids)} {label} ({', '.join(ids)})"
            for label, ids in (
                ("added", self.added),
                ("changed", self.changed),
                ("removed", self.removed),
                ("shadowed", self.shadowed),
                ("enforced", self.enforced),
            )
            if ids
        ]
        return ", ".join(parts) or "no rule changed"


def format_rule_error(error: RuleError) -> str:
    """``"file:line:col: code message"``, as the CLI prints and rejections keep it."""
    return f"{error.file}:{error.line}:{error.column}: {error.code} {error.message}"


def publisher_identity() -> str:
    """``user@host`` of this process, for ``published_by``."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no USER/LOGNAME in the environment
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def decode_published(key: bytes, value: bytes) -> PublishedRuleSet:
    """The record's rule set; :class:`Rejected` if it does not decode or match its key."""
    try:
        published = _decoder.decode(value)
    except msgspec.DecodeError as exc:
        raise Rejected([f"not a published rule set: {exc}"]) from exc
    if published.name.encode() != key:
        shown = key.decode(errors="replace")
        raise Rejected(
            [f"rule set {published.name!r} published under the key {shown!r}"],
            version=published.version,
        )
    return published


def build_published(published: PublishedRuleSet, catalogue: FeatureCatalogue) -> RuleSet:
    """Build a published set against ``catalogue``; :class:`Rejected` with every error if
    it does not build, or builds to another version than it claims."""
    try:
        rules = RuleSet.from_text(published.source, catalogue, name=published.source_name)
    except RuleSetError as exc:
        raise Rejected(
            [format_rule_error(e) for e in exc.errors], version=published.version
        ) from exc
    if rules.version != published.version:
        raise Rejected(
            [f"published as version {published.version} but its source is {rules.version}"],
            version=published.version,
        )
    return rules


def publish_rules(
    log: EventLog,
    rules: RuleSet,
    *,
    name: str = DEFAULT_RULE_SET_NAME,
    published_by: str | None = None,
    now: int | None = None,
    topic: str = RULES_TOPIC,
) -> PublishedRuleSet:
    """Publish ``rules`` (built from one source) as the rule set ``name``; returns the record."""
    if len(rules.sources) != 1:
        raise ValueError(f"a published rule set has one source, not {len(rules.sources)}")
    if not name:
        raise ValueError("a published rule set needs a name")
    (source,) = rules.sources
    published = PublishedRuleSet(
        name=name,
        source=source.text,
        source_name=source.name,
        version=rules.version,
        published_at=wall_clock_ms() if now is None else now,
        published_by=publisher_identity() if published_by is None else published_by,
    )
    ensure_compacted_topics(log, topic)
    put(log, topic, [(name.encode(), _encoder.encode(published))])
    return published


def retire_rules(log: EventLog, name: str, *, topic: str = RULES_TOPIC) -> None:
    """Retire the rule set ``name`` (a tombstone): its readers fall back to their default."""
    ensure_compacted_topics(log, topic)
    put(log, topic, [(name.encode(), None)])


def read_published_rules(
    log: EventLog, *, topic: str = RULES_TOPIC, timeout: float = 30.0
) -> dict[str, PublishedRuleSet]:
    """The published rule sets by name; records that do not decode are left out."""
    ensure_compacted_topics(log, topic)
    found: dict[str, PublishedRuleSet] = {}
    for key, value in sorted(read_compacted(log, topic, timeout=timeout).items()):
        try:
            published = decode_published(key, value)
        except Rejected:
            continue
        found[published.name] = published
    return found


def encode_published(published: PublishedRuleSet) -> bytes:
    """The record value of a published set (for tools that write records themselves)."""
    return _encoder.encode(published)

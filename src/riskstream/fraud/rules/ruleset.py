"""Rule sets: built all-or-nothing, immutable, versioned by content; and their evaluation.

::

    rules = RuleSet.from_text(text, catalogue, name="fraud.rules")   # or RuleSetError
    result = rules.evaluate(features, lists)
    result.action, result.score, result.fired, result.shadow_hits

``RuleSet.build`` parses and type-checks every source, and only if *all* of them are clean
compiles them into a new rule set; otherwise it raises one :class:`RuleSetError` with every
problem, and nothing is half-applied. A rule set never changes after it is built: a reload
builds a new one and swaps the reference. Its ``version`` is a hash of its sources (names
and exact text), so a decision can cite the rule set it was made with.

``evaluate(features, lists)`` runs every rule's compiled condition against a features
mapping (dotted name → value; a missing name or ``None`` is null) and named lists (name →
a collection of ids, a ``set`` for speed; a missing list is empty). Rules fire when their
condition is true. Non-shadow hits add their scores to ``score`` and the strongest of their
actions (``block > challenge > review > allow``) becomes ``action`` (``allow`` when none
fired); shadow hits are recorded apart and change nothing. Each hit carries the value of
every feature its rule reads, for explanations. A rule whose evaluation raises (a feature
of the wrong type at run time) does not fire and is reported in ``faults``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from riskstream.fraud.rules.catalogue import Action, FeatureCatalogue
from riskstream.fraud.rules.checker import check_rules
from riskstream.fraud.rules.compiler import Predicate, compile_condition
from riskstream.fraud.rules.errors import RuleError, RuleSetError
from riskstream.fraud.rules.grammar import parse_file
from riskstream.fraud.rules.nodes import RuleDecl
from riskstream.fraud.rules.rule import Rule

__all__ = [
    "Evaluation",
    "RuleFault",
    "RuleHit",
    "RuleSet",
    "RuleSetDiff",
    "RuleSource",
    "check_sources",
]

_NO_LISTS: Mapping[str, Collection[Any]] = {}
# What a rule's closure may raise on features of the wrong run-time type.
_FAULTS = (TypeError, AttributeError, ValueError, ArithmeticError)


@dataclass(frozen=True, slots=True)
class RuleSource:
    """One rule file: its name (used in error locations) and its text."""

    name: str
    text: str


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that fired: what it is, what it asks for, and the feature values it read."""

    rule_id: str
    version: int
    score: int | float
    action: Action
    shadow: bool
    features: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RuleFault:
    """A rule whose evaluation raised (it did not fire): which, and why."""

    rule_id: str
    version: int
    shadow: bool
    error: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of one rule-set evaluation.

    ``fired`` holds the enforced (non-shadow) hits in rule order, ``shadow_hits`` the shadow
    ones; ``score`` sums the enforced hits' scores and ``action`` is the strongest of their
    actions (``allow`` when none fired).
    """

    ruleset_version: str
    fired: tuple[RuleHit, ...] = ()
    shadow_hits: tuple[RuleHit, ...] = ()
    score: int | float = 0
    action: Action = Action.ALLOW
    faults: tuple[RuleFault, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleSetDiff:
    """What changed from one rule set to the next, by rule id (for reload reports).

    ``unbumped`` lists the changed rules whose version did not go up - decisions made by the
    old and the new rule would cite the same version.
    """

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    unbumped: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def check_sources(
    sources: Iterable[RuleSource], catalogue: FeatureCatalogue
) -> tuple[list[Rule], list[RuleError]]:
    """Parse and check sources: the rules that passed and every error, in order."""
    decls: list[RuleDecl] = []
    syntax: list[RuleError] = []
    order: dict[str, int] = {}
    for source in sources:
        order.setdefault(source.name, len(order))
        parsed, errors = parse_file(source.text, file=source.name)
        decls.extend(parsed)
        syntax.extend(errors)
    rules, errors = check_rules(decls, catalogue)
    problems = sorted(
        [*syntax, *errors], key=lambda e: (order.get(e.file, len(order)), e.line, e.column)
    )
    return rules, problems


class RuleSet:
    """An immutable, compiled, versioned set of rules. Build it with :meth:`build`,
    :meth:`from_text` or :meth:`empty`."""

    __slots__ = ("_by_id", "_plan", "_quiet", "_rules", "_sources", "_version")

    _rules: tuple[Rule, ...]
    _sources: tuple[RuleSource, ...]
    _version: str
    _plan: tuple[tuple[Predicate, Rule], ...]
    _by_id: dict[str, Rule]
    _quiet: Evaluation

    def __init__(self, rules: Iterable[Rule], sources: Iterable[RuleSource]) -> None:
        """Compile already-checked ``rules`` (use :meth:`build` to check sources first)."""
        set_ = object.__setattr__
        set_(self, "_rules", tuple(rules))
        set_(self, "_sources", tuple(sources))
        digest = hashlib.sha256()
        for source in self._sources:
            for part in (source.name, source.text):
                data = part.encode()
                digest.update(len(data).to_bytes(8, "big"))
                digest.update(data)
        set_(self, "_version", digest.hexdigest()[:16])
        set_(self, "_plan", tuple((compile_condition(r.condition), r) for r in self._rules))
        set_(self, "_by_id", {r.id: r for r in self._rules})
        set_(self, "_quiet", Evaluation(ruleset_version=self._version))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"RuleSet is immutable (cannot set {name!r})")

    @classmethod
    def build(cls, sources: Iterable[RuleSource], catalogue: FeatureCatalogue) -> RuleSet:
        """Parse, check and compile ``sources``; raise :class:`RuleSetError` with every
        problem if any source has one (rule ids must be unique across sources)."""
        sources = tuple(sources)
        rules, errors = check_sources(sources, catalogue)
        if errors:
            raise RuleSetError(errors)
        return cls(rules, sources)

    @classmethod
    def from_text(cls, text: str, catalogue: FeatureCatalogue, *, name: str = "<rules>") -> RuleSet:
        """:meth:`build` from one file's text."""
        return cls.build([RuleSource(name, text)], catalogue)

    @classmethod
    def empty(cls) -> RuleSet:
        """A rule set without rules: every evaluation allows with score 0."""
        return cls((), ())

    # -- reading -------------------------------------------------------------------------

    @property
    def version(self) -> str:
        """16 hex digits of the SHA-256 of the sources (names and exact text)."""
        return self._version

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules, in source order."""
        return self._rules

    @property
    def sources(self) -> tuple[RuleSource, ...]:
        """The sources it was built from (what to publish to rebuild it)."""
        return self._sources

    @property
    def used_features(self) -> tuple[str, ...]:
        """Every feature some rule reads, in order of first use."""
        return tuple(dict.fromkeys(f for r in self._rules for f in r.used_features))

    def get(self, rule_id: str) -> Rule | None:
        """The rule with that id, if any."""
        return self._by_id.get(rule_id)

    def __getitem__(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._by_id

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def __repr__(self) -> str:
        return f"RuleSet(version={self._version!r}, rules={len(self._rules)})"

    def diff(self, newer: RuleSet) -> RuleSetDiff:
        """What ``newer`` adds, removes and changes relative to this rule set."""
        old, new = self._by_id, newer._by_id
        changed = tuple(i for i in new if i in old and new[i] != old[i])
        return RuleSetDiff(
            added=tuple(i for i in new if i not in old),
            removed=tuple(i for i in old if i not in new),
            changed=changed,
            unbumped=tuple(i for i in changed if new[i].version <= old[i].version),
        )

    # -- evaluating ----------------------------------------------------------------------

    def evaluate(
        self, features: Mapping[str, Any], lists: Mapping[str, Collection[Any]] = _NO_LISTS
    ) -> Evaluation:
        """Evaluate every rule against ``features`` and ``lists``."""
        hits: list[Rule] | None = None
        faults: list[RuleFault] | None = None
        for condition, rule in self._plan:
            try:
                if not condition(features, lists):
                    continue
            except _FAULTS as exc:
                if faults is None:
                    faults = []
                error = f"{type(exc).__name__}: {exc}"
                faults.append(RuleFault(rule.id, rule.version, rule.shadow, error))
                continue
            if hits is None:
                hits = [rule]
            else:
                hits.append(rule)
        if hits is None and faults is None:
            return self._quiet
        return self._outcome(hits or (), features, tuple(faults or ()))

    def _outcome(
        self, hits: Iterable[Rule], features: Mapping[str, Any], faults: tuple[RuleFault, ...]
    ) -> Evaluation:
        fired: list[RuleHit] = []
        shadow: list[RuleHit] = []
        score: int | float = 0
        action = Action.ALLOW
        for rule in hits:
            hit = RuleHit(
                rule.id,
                rule.version,
                rule.score,
                rule.action,
                rule.shadow,
                {name: features.get(name) for name in rule.used_features},
            )
            if rule.shadow:
                shadow.append(hit)
                continue
            fired.append(hit)
            score += rule.score
            if rule.action.severity > action.severity:
                action = rule.action
        return Evaluation(self._version, tuple(fired), tuple(shadow), score, action, faults)

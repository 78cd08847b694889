"""The rule language: safe, declarative fraud rules, checked and compiled.

A fraud analyst writes rules in a file; the file is parsed (LALR, :mod:`.grammar`) to an
AST (:mod:`.nodes`), type-checked against a :class:`FeatureCatalogue` (:mod:`.checker`),
and compiled to closures (:mod:`.compiler`) - nothing is ever passed to ``eval``/``exec``::

    rule ato.new_device_promo_rush
      version 3
      description "New device in an unusual country, high-value promo within 30 s"
      when login.new_device and login.new_country
           and promo.value >= 50 and promo.seconds_after_first_click <= 30
      score 60
      action challenge
      shadow            # optional: evaluated and recorded, never enforced

::

    from riskstream.fraud.rules import EXPECTED_FEATURES, RuleSet, RuleSetError

    try:
        rules = RuleSet.from_text(text, EXPECTED_FEATURES, name="team.rules")
    except RuleSetError as exc:
        for error in exc.errors:          # every problem: file, line, column, code, message
            print(error)
    result = rules.evaluate({"login.new_device": True, ...}, {"blocklist.device": {"d1"}})
    result.action, result.score, result.fired, result.shadow_hits, result.faults

Null: a feature that is missing (or ``None``) is null; arithmetic and functions on null
give null; a comparison with null is neither true nor false (so is its negation), and a rule
fires only when its condition is true - a missing value never fires a rule unless the rule
asks for it with ``is null`` or supplies a default with ``coalesce``.

The layer rule holds: this package does no I/O (the default rules are package data read
with :mod:`importlib.resources`); publishing, lists on a compacted topic and hot reload
build on :class:`RuleSet` (immutable, versioned by content, built all-or-nothing).
"""

from riskstream.fraud.rules.catalogue import (
    DEFAULT_LISTS,
    Action,
    Feature,
    FeatureCatalogue,
    ListKind,
    ValueType,
)
from riskstream.fraud.rules.checker import FUNCTIONS, check_expression, check_rules
from riskstream.fraud.rules.compiler import compile_condition, compile_value
from riskstream.fraud.rules.defaults import (
    DEFAULT_RULES_NAME,
    default_rule_set,
    default_rules_source,
)
from riskstream.fraud.rules.errors import ERROR_CODES, RuleError, RuleSetError
from riskstream.fraud.rules.expected import EXPECTED_FEATURES
from riskstream.fraud.rules.grammar import parse_expression, parse_file, parse_rules
from riskstream.fraud.rules.render import render
from riskstream.fraud.rules.rule import Rule
from riskstream.fraud.rules.ruleset import (
    Evaluation,
    RuleFault,
    RuleHit,
    RuleSet,
    RuleSetDiff,
    RuleSource,
    check_sources,
)

__all__ = [
    "DEFAULT_LISTS",
    "DEFAULT_RULES_NAME",
    "ERROR_CODES",
    "EXPECTED_FEATURES",
    "FUNCTIONS",
    "Action",
    "Evaluation",
    "Feature",
    "FeatureCatalogue",
    "ListKind",
    "Rule",
    "RuleError",
    "RuleFault",
    "RuleHit",
    "RuleSet",
    "RuleSetDiff",
    "RuleSetError",
    "RuleSource",
    "ValueType",
    "check_expression",
    "check_rules",
    "check_sources",
    "compile_condition",
    "compile_value",
    "default_rule_set",
    "default_rules_source",
    "parse_expression",
    "parse_file",
    "parse_rules",
    "render",
]

"""The default rule set, shipped as package data (``default.rules``)."""

from __future__ import annotations

from importlib import resources

from riskstream.fraud.rules.catalogue import FeatureCatalogue
from riskstream.fraud.rules.expected import EXPECTED_FEATURES
from riskstream.fraud.rules.ruleset import RuleSet, RuleSource

__all__ = ["DEFAULT_RULES_NAME", "default_rule_set", "default_rules_source"]

#: The file name of the default rules inside this package (and in error locations).
DEFAULT_RULES_NAME = "default.rules"


def default_rules_source() -> RuleSource:
    """The text of ``default.rules``."""
    text = resources.files(__package__).joinpath(DEFAULT_RULES_NAME).read_text("utf-8")
    return RuleSource(DEFAULT_RULES_NAME, text)


def default_rule_set(catalogue: FeatureCatalogue = EXPECTED_FEATURES) -> RuleSet:
    """The default rules, checked against ``catalogue`` (the expected features)."""
    return RuleSet.build([default_rules_source()], catalogue)

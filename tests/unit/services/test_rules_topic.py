"""Published rule sets: records, diffs, rebuilding, rejections and `riskstream rules check`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.fraud.rules import EXPECTED_FEATURES, RuleSet, RuleSource, default_rule_set
from riskstream.log import open_log
from riskstream.services.compacted import Change
from riskstream.services.hotreload import Rejected, newest_valid, rejection_counter
from riskstream.services.rulebook import RuleBook
from riskstream.services.rules_topic import (
    PublishedRuleSet,
    RulesChange,
    build_published,
    decode_published,
    encode_published,
    engine_catalogue,
    publish_rules,
    read_published_rules,
)

OLD = """
rule a
  version 1
  when checkout.amount > 10
  score 1
  action review

rule b
  version 1
  when checkout.amount > 20
  score 2
  action review
  shadow

rule c
  version 1
  when checkout.amount > 30
  score 3
  action block
"""

NEW = """
rule a
  version 1
  when checkout.amount > 11
  score 1
  action review

rule b
  version 2
  when checkout.amount > 20
  score 2
  action review

rule d
  version 1
  when checkout.amount > 40
  score 4
  action block
  shadow
"""


def _rules(text: str, name: str = "x.rules") -> RuleSet:
    return RuleSet.from_text(text, EXPECTED_FEATURES, name=name)


def _published(text: str, *, name: str = "default", version: str | None = None) -> PublishedRuleSet:
    return PublishedRuleSet(
        name=name,
        source=text,
        source_name="x.rules",
        version=version if version is not None else _rules(text).version,
        published_at=1,
        published_by="me",
    )


def test_rules_change_names_added_removed_changed_shadowed_and_unbumped() -> None:
    change = RulesChange.between(_rules(OLD), _rules(NEW))
    assert change.added == ("d",)
    assert change.removed == ("c",)
    assert change.changed == ("a", "b")
    assert change.enforced == ("b",) and change.shadowed == ()
    assert change.unbumped == ("a",)  # its condition changed but not its version
    assert change.summary() == "1 added (d), 2 changed (a, b), 1 removed (c), 1 enforced (b)"
    back = RulesChange.between(_rules(NEW), _rules(OLD))
    assert back.shadowed == ("b",)
    assert RulesChange.between(None, _rules(OLD)).added == ("a", "b", "c")
    assert not RulesChange.between(_rules(OLD), _rules(OLD + "\n# a comment\n"))


def test_records_round_trip_and_build_back_to_the_same_version() -> None:
    published = _published(OLD)
    assert decode_published(b"default", encode_published(published)) == published
    assert build_published(published, EXPECTED_FEATURES).version == published.version
    with pytest.raises(Rejected, match="published under the key"):
        decode_published(b"other", encode_published(published))
    with pytest.raises(Rejected, match="not a published rule set"):
        decode_published(b"default", b"[]")


def test_build_rejects_with_every_error_located_and_coded() -> None:
    broken = _published("rule a\n  version 1\n  when nope > 1\n  score x\n", version="v")
    with pytest.raises(Rejected) as caught:
        build_published(broken, EXPECTED_FEATURES)
    assert caught.value.version == "v"
    assert all(e.startswith("x.rules:") for e in caught.value.errors)
    assert caught.value.errors[0].split(" ")[:2] == ["x.rules:4:9:", "syntax"]
    forged = _published(OLD, version="0000000000000000")
    with pytest.raises(Rejected, match="published as version 0000000000000000"):
        build_published(forged, EXPECTED_FEATURES)


def test_publish_refuses_sets_it_could_not_rebuild() -> None:
    log = open_log("memory:")
    two = RuleSet.build([RuleSource("a.rules", OLD), RuleSource("b.rules", "")], EXPECTED_FEATURES)
    with pytest.raises(ValueError, match="one source"):
        publish_rules(log, two)
    with pytest.raises(ValueError, match="needs a name"):
        publish_rules(log, _rules(OLD), name="")
    record = publish_rules(log, _rules(OLD), published_by="me", now=5)
    assert read_published_rules(log) == {"default": record}
    assert (record.published_at, record.published_by, record.source_name) == (5, "me", "x.rules")
    log.close()


def test_newest_valid_goes_back_to_the_newest_value_that_builds() -> None:
    def build(value: bytes) -> str:
        if value.startswith(b"bad"):
            raise Rejected([value.decode()])
        return value.decode()

    refused: list[int] = []

    def changes(*values: bytes | None, key: bytes = b"k") -> list[Change]:
        return [Change(key, v, i, 0) for i, v in enumerate(values)]

    def search(batch: list[Change]) -> tuple[int, str | None] | None:
        refused.clear()
        found = newest_valid(batch, b"k", build, lambda c, _e: refused.append(c.offset))
        return None if found is None else (found[0].offset, found[1])

    assert search(changes(b"v1", b"v2", b"bad3", b"bad4")) == (1, "v2")
    assert refused == [2, 3]  # in log order
    assert search(changes(b"v1", None, b"bad3")) == (1, None)
    assert search(changes(b"bad1", b"bad2")) is None and refused == [0, 1]
    assert search(changes(b"v1", key=b"other")) is None and refused == []


def test_books_share_one_counter_per_registry() -> None:
    registry = CollectorRegistry()
    first = rejection_counter(registry, "riskstream_x_rejected", "doc", "l")
    assert rejection_counter(registry, "riskstream_x_rejected", "doc", "l") is first
    log = open_log("memory:")
    with (
        RuleBook(log, EXPECTED_FEATURES, "one", registry=registry) as one,
        RuleBook(log, EXPECTED_FEATURES, "two", registry=registry) as two,
    ):
        assert one.registry is two.registry is registry
        assert one.wait_caught_up(10) and two.wait_caught_up(10)
        assert len(one.current().rules) == 0  # no fallback: no rules
    log.close()


def test_engine_catalogue_checks_the_default_rules() -> None:
    assert len(default_rule_set(engine_catalogue())) > 0


def test_cli_check(tmp_path: Path) -> None:
    runner = CliRunner()
    good = tmp_path / "good.rules"
    good.write_text(OLD)
    result = runner.invoke(app, ["rules", "check", str(good), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["version"] == _rules(OLD, "good.rules").version
    assert [r["id"] for r in report["rules"]] == ["a", "b", "c"]

    bad = tmp_path / "bad.rules"
    bad.write_text('rule a\n  version 1\n  when checkout.amount > "x"\n  score 1\n')
    result = runner.invoke(app, ["rules", "check", str(bad), "--json"])
    assert result.exit_code == 2
    errors = json.loads(result.stdout)["errors"]
    assert errors[0]["file"] == str(bad) and errors[0]["code"] == "type-mismatch"
    assert f"{bad}:3:24: type-mismatch cannot compare" in result.stderr

    missing = runner.invoke(app, ["rules", "check", str(tmp_path / "none.rules")])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr

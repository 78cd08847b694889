"""`riskstream rules publish|list` as a user runs them, against a worker's RuleBook that
follows the same embedded log from another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from riskstream.fraud.rules import EXPECTED_FEATURES, RuleSet, default_rule_set
from riskstream.log import open_log
from riskstream.services.rulebook import RuleBook

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
rule promo.rush
  version 1
  when promo.value >= 50 and promo.seconds_after_first_click <= 30
  score 40
  action challenge

rule velocity.burst
  version 1
  when user.checkouts_1h >= 5
  score 20
  action review
"""

CHANGED = """
rule promo.rush
  version 2
  when promo.value >= 40 and promo.seconds_after_first_click <= 30
  score 40
  action challenge

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

BAD = """
rule promo.rush
  version 1
  when promo.valu >= 50
  score 40
  action challenge

rule velocity.burst
  version 1
  when user.checkouts_1h >= "five"
  score 20
  action review
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from riskstream.cli import main; main()", *args],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_publish_checks_first_and_workers_reload_what_it_publishes(tmp_path: Path) -> None:
    url = f"embedded:{tmp_path / 'log'}"
    bad, good, changed = tmp_path / "bad.rules", tmp_path / "team.rules", tmp_path / "v2.rules"
    bad.write_text(BAD)
    good.write_text(GOOD)
    changed.write_text(CHANGED)

    refused = _cli("rules", "publish", str(bad), "--log", url)
    assert refused.returncode == 2, refused.stderr
    assert f"{bad}:4:8: unknown-feature unknown feature 'promo.valu'" in refused.stderr
    assert f"{bad}:10:26: type-mismatch cannot compare" in refused.stderr
    assert "nothing published" in refused.stderr
    listed = _cli("rules", "list", "--log", url, "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["rule_sets"] == []

    log = open_log(url)
    fallback = default_rule_set()
    book = RuleBook(log, EXPECTED_FEATURES, "default", fallback)
    try:
        assert book.wait_caught_up(30) and book.current().rules is fallback

        published = _cli("rules", "publish", str(good), "--log", url, "--json", "--by", "ana")
        assert published.returncode == 0, published.stderr
        report = json.loads(published.stdout)
        version = RuleSet.from_text(GOOD, EXPECTED_FEATURES, name="team.rules").version
        assert (report["version"], report["published"], report["previous_version"]) == (
            version,
            True,
            None,
        )
        assert report["change"]["added"] == ["promo.rush", "velocity.burst"]

        listed = _cli("rules", "list", "--log", url, "--json")
        (rule_set,) = json.loads(listed.stdout)["rule_sets"]
        assert (rule_set["name"], rule_set["version"], rule_set["rule_count"]) == (
            "default",
            version,
            2,
        )
        assert rule_set["published_by"] == "ana" and rule_set["valid"]
        assert rule_set["rules"][1] == {
            "id": "velocity.burst",
            "version": 1,
            "action": "review",
            "score": 20,
            "shadow": False,
            "description": "",
        }

        _wait(lambda: book.current().rules_version == version)  # another process published it

        shown = _cli("rules", "publish", str(changed), "--log", url)
        assert shown.returncode == 0, shown.stderr
        assert f"(was {version})" in shown.stderr
        lines = [line.split() for line in shown.stderr.splitlines()]
        assert ["added", "ip.shared"] in lines
        assert ["changed", "promo.rush"] in lines and ["changed", "velocity.burst"] in lines
        assert ["shadowed", "velocity.burst"] in lines
        new_version = RuleSet.from_text(CHANGED, EXPECTED_FEATURES, name="v2.rules").version
        _wait(lambda: book.current().rules_version == new_version)

        again = _cli("rules", "publish", str(changed), "--log", url, "--json")
        assert json.loads(again.stdout)["published"] is False
        table = _cli("rules", "list", "--log", url)
        assert table.returncode == 0 and "ip.shared" in table.stdout
        assert book.rejections == ()
    finally:
        book.close()
        log.close()


def _wait(check: object, timeout: float = 30.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the worker's book did not reload"
        time.sleep(0.05)

"""Changelog topics: names, specs, creation and checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from riskstream.log import EventLog, TopicSpec, open_log
from riskstream.state import StateError, changelog_spec, changelog_topic, ensure_changelog
from riskstream.state.changelog import tombstone_retention_ms


@pytest.fixture(params=["memory", "embedded"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    event_log = open_log("memory:" if request.param == "memory" else f"embedded:{tmp_path}")
    try:
        yield event_log
    finally:
        event_log.close()


def test_names_and_spec() -> None:
    assert changelog_topic("fraud", "velocity") == "fraud-velocity-changelog"
    spec = changelog_spec("fraud", "velocity", 8)
    assert (spec.name, spec.partitions, spec.compacted) == ("fraud-velocity-changelog", 8, True)
    assert spec.config == {"delete.retention.ms": "86400000", "min.compaction.lag.ms": "60000"}
    tuned = changelog_spec("f", "v", 1, delete_retention_ms=5, min_compaction_lag_ms=0)
    assert tuned.config == {"delete.retention.ms": "5", "min.compaction.lag.ms": "0"}


def test_ensure_is_idempotent(log: EventLog) -> None:
    first = ensure_changelog(log.admin, "fraud", "velocity", 4)
    again = ensure_changelog(log.admin, "fraud", "velocity", 4)
    assert first == again and first.partitions == 4 and first.compacted
    assert tombstone_retention_ms(log.admin, first.name) == 86_400_000


def test_ensure_rejects_a_topic_that_does_not_line_up(log: EventLog) -> None:
    ensure_changelog(log.admin, "fraud", "velocity", 4)
    with pytest.raises(StateError, match="4 partitions"):
        ensure_changelog(log.admin, "fraud", "velocity", 8)
    log.admin.create_topics([TopicSpec(name="fraud-plain-changelog", partitions=2)])
    with pytest.raises(StateError, match="not compacted"):
        ensure_changelog(log.admin, "fraud", "plain", 2)
    assert tombstone_retention_ms(log.admin, "fraud-plain-changelog") == 0

"""The ``harness`` fixture: each contract test runs once per log backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from riskstream.log import open_log
from tests.contract.harness import LogHarness

BACKENDS = [
    pytest.param("memory", id="memory"),
    pytest.param("embedded", id="embedded"),
    pytest.param("kafka", id="kafka", marks=pytest.mark.kafka),
]


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogHarness]:
    yield from _harness(request.param, request, tmp_path)


@pytest.fixture(params=["memory", "embedded"])
def local_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogHarness]:
    """Backends that enforce retention themselves, record by record (Kafka drops whole segments)."""
    yield from _harness(request.param, request, tmp_path)


def _harness(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogHarness]:
    if backend == "memory":
        url = "memory:"
    elif backend == "embedded":
        url = f"embedded:{tmp_path / 'log'}"
    else:
        url = f"kafka://{request.getfixturevalue('kafka_bootstrap')}"
    log = open_log(url)
    h = LogHarness(backend, log)
    try:
        yield h
    finally:
        if h.topics and backend == "kafka":
            log.admin.delete_topics(h.topics)
        log.close()

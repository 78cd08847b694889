"""Shared test configuration: where the real Kafka broker and PostgreSQL server are."""

from __future__ import annotations

import os

import pytest

KAFKA_ENV = "RISKSTREAM_KAFKA_BOOTSTRAP"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap servers of the broker `scripts/kafka.sh start` runs; a missing broker fails."""
    bootstrap = os.environ.get(KAFKA_ENV)
    if not bootstrap:
        pytest.fail(
            f"{KAFKA_ENV} is not set: start the broker with `scripts/kafka.sh start` and export "
            f"its last line, or run `scripts/test.sh` which does both",
            pytrace=False,
        )
    return bootstrap


POSTGRES_ENV = "RISKSTREAM_POSTGRES_DSN"


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """DSN of the PostgreSQL server `scripts/postgres.sh start` runs; a missing server fails."""
    dsn = os.environ.get(POSTGRES_ENV)
    if not dsn:
        pytest.fail(
            f"{POSTGRES_ENV} is not set: start the server with `scripts/postgres.sh start` and "
            f"export its last line, or run `scripts/test.sh` which does both",
            pytrace=False,
        )
    return dsn

"""Shared simulations (module scope: each is deterministic and read-only to the tests)."""

from __future__ import annotations

import pytest

from tests.unit.sim.kit import Run, simulate


@pytest.fixture(scope="package")
def default_run() -> Run:
    """The default configuration: a realistic mix, about 1 % of checkouts fraudulent."""
    return simulate(300_000, seed=5)


@pytest.fixture(scope="package")
def fraud_run() -> Run:
    """Every scenario, at a high fraud rate and with short label delays, over a few weeks."""
    return simulate(250_000, seed=9, users=2_000, fraud_rate=0.2)

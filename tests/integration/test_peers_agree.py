"""benchmarks/peers.py on the real broker: every contender writes what the reference says.

A tiny input (4,000 events of 50 users, so that histories build up and the promo-rush check
fires) through riskstream, Quix Streams, Faust and the ceiling, each in its own process (the
peers in their virtualenvs under ``.bench/``, created on first use from PyPI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.kafka
def test_every_contender_flags_the_same_users(kafka_bootstrap: str) -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/peers.py", "--events", "4000", "--users", "50",
         "--runs", "1", "--no-fraud"],
        cwd=ROOT,
        env={**os.environ, "RISKSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap},
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    rates = {f["bench"]: f for f in figures if f["metric"] == "events_per_s"}
    assert set(rates) == {"peers.riskstream", "peers.quixstreams", "peers.faust", "peers.ceiling"}
    reference = rates["peers.riskstream"]["params"]["reference"]
    assert reference["alerts"] >= 1
    for name in ("riskstream", "quixstreams", "faust"):
        params = rates[f"peers.{name}"]["params"]
        assert params["matches_reference"], name
        assert params["outputs"] == {"velocity": 4000, "alerts": reference["alerts"]}, name
        assert params["alert_users"] == reference["alert_users"], name
    assert rates["peers.ceiling"]["params"]["runs"][0] > 0
    ratios = {f["metric"] for f in figures if f["bench"] == "peers.riskstream"}
    assert {"ratio_vs_quixstreams", "ratio_vs_faust", "ratio_vs_ceiling"} <= ratios

#!/usr/bin/env bash
# Set up and run the main job on a fresh embedded log (no server needed): simulated history,
# the fraud engine, a model trained on it, live traffic through the engine, the Fraud Service
# and the read models, and a report (about two minutes). Extra arguments go to
# `riskstream demo`, e.g. `scripts/demo.sh --duration 30 --json` or
# `scripts/demo.sh --log kafka://127.0.0.1:19092`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/riskstream demo "$@"

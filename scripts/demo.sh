#!/usr/bin/env bash
# Set up and run the main job on the embedded log (no server needed). Extra arguments go to
# `riskstream demo`, e.g. `scripts/demo.sh --events 500000 --json`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/riskstream demo "$@"

#!/usr/bin/env bash
# Create .venv and install riskstream with its dev tools; safe to run again (fast when done).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
"$PYTHON" - <<'PY' || { echo "setup.sh: riskstream needs Python >= 3.11" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

if [[ ! -x .venv/bin/python ]]; then
    echo "setup.sh: creating .venv" >&2
    "$PYTHON" -m venv .venv
fi
# Reinstall only when the declared dependencies changed since the last install.
stamp=.venv/.riskstream-installed
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
    echo "setup.sh: installing riskstream and its dependencies" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[dev]'
    touch "$stamp"
fi

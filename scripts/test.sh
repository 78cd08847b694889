#!/usr/bin/env bash
# Set up everything (virtualenv, dependencies, Kafka jars, a real KRaft broker, PostgreSQL) and
# run the whole test suite: lint, types, unit, contract (every backend) and integration tests.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k embedded`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

started_broker=0
if [[ -z "${RISKSTREAM_KAFKA_BOOTSTRAP:-}" ]]; then
    if ! bash scripts/kafka.sh status >/dev/null 2>&1; then
        started_broker=1
    fi
    RISKSTREAM_KAFKA_BOOTSTRAP="$(bash scripts/kafka.sh start | tail -n 1)"
    export RISKSTREAM_KAFKA_BOOTSTRAP
fi
started_postgres=0
cleanup() {
    if [[ "$started_postgres" == 1 ]]; then
        bash scripts/postgres.sh stop >&2 || true
    fi
    if [[ "$started_broker" == 1 ]]; then
        bash scripts/kafka.sh stop >&2 || true
    fi
}
trap cleanup EXIT
echo "test.sh: Kafka broker at $RISKSTREAM_KAFKA_BOOTSTRAP" >&2

# PostgreSQL for the query-store tests (installed on first use when missing).
if [[ -z "${RISKSTREAM_POSTGRES_DSN:-}" ]]; then
    if ! bash scripts/postgres.sh status >/dev/null 2>&1; then
        started_postgres=1
    fi
    RISKSTREAM_POSTGRES_DSN="$(bash scripts/postgres.sh start | tail -n 1)"
    export RISKSTREAM_POSTGRES_DSN
fi
echo "test.sh: PostgreSQL at $RISKSTREAM_POSTGRES_DSN" >&2

echo "test.sh: ruff" >&2
.venv/bin/ruff check src tests benchmarks
echo "test.sh: mypy --strict" >&2
.venv/bin/mypy

echo "test.sh: pytest" >&2
status=0
.venv/bin/pytest "$@" || status=$?
# Exit code 5 means a filtered run selected no tests: not a failure of the suite.
if [[ "$status" == 5 ]]; then
    echo "test.sh: no tests selected" >&2
    status=0
fi
exit "$status"

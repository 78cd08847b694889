#!/usr/bin/env bash
# Run the benchmark suite and print its summary table. Every benchmark prints one JSON line per
# figure (DESIGN.md §4); nothing here asserts on speed, but a benchmark that fails fails the run.
#
#   scripts/bench.sh [--quick] [NAME ...]      # NAME: log runtime fraud peers ... (default: all)
#
# Figures go to .riskstream/bench/<UTC time>/NAME.jsonl and each benchmark's stderr to NAME.log;
# `python benchmarks/report.py` renders the newest run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

quick=()
names=()
for arg in "$@"; do
    case "$arg" in
        --quick) quick=(--quick) ;;
        -*) echo "bench.sh: unknown option $arg" >&2; exit 2 ;;
        *) names+=("$arg") ;;
    esac
done
if [[ ${#names[@]} == 0 ]]; then
    names=(log runtime runtime_kafka rules features model fraud api peers)
fi
for name in "${names[@]}"; do
    [[ -f "benchmarks/$name.py" ]] || { echo "bench.sh: no benchmarks/$name.py" >&2; exit 2; }
done

bash scripts/setup.sh

started_broker=0
if [[ -z "${RISKSTREAM_KAFKA_BOOTSTRAP:-}" ]]; then
    if ! bash scripts/kafka.sh status >/dev/null 2>&1; then
        started_broker=1
    fi
    RISKSTREAM_KAFKA_BOOTSTRAP="$(bash scripts/kafka.sh start | tail -n 1)"
    export RISKSTREAM_KAFKA_BOOTSTRAP
fi
cleanup() {
    if [[ "$started_broker" == 1 ]]; then
        bash scripts/kafka.sh stop >&2 || true
    fi
}
trap cleanup EXIT

out=".riskstream/bench/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
failed=()
for name in "${names[@]}"; do
    echo "bench.sh: $name ${quick[*]}" >&2
    start=$SECONDS
    if ! .venv/bin/python "benchmarks/$name.py" "${quick[@]}" >"$out/$name.jsonl" 2>"$out/$name.log"; then
        failed+=("$name")
        tail -n 20 "$out/$name.log" >&2
    fi
    echo "bench.sh: $name took $((SECONDS - start)) s" >&2
done

status=0
.venv/bin/python benchmarks/report.py "$out" || status=$?
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "bench.sh: failed: ${failed[*]} (stderr in $out)" >&2
    status=1
fi
exit "$status"

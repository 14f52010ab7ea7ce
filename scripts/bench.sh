#!/usr/bin/env bash
# Benchmarks (release builds). Figures are reported next to the limit
# measured in the same run, since the machines are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
echo "== store: create a job for 100,000 things (rusqlite)"
cargo run --quiet --release -p fleetjobs-store --example bench_create_job -- "${THINGS:-100000}"
echo "== store: a sweeper pass over 1,000 vs 1,000,000 idle executions (rusqlite)"
cargo run --quiet --release -p fleetjobs-store --example bench_sweep -- 1000 "${IDLE_EXECUTIONS:-1000000}"

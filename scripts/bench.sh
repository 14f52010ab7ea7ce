#!/usr/bin/env bash
# Benchmarks (release builds). Figures are reported next to the limit
# measured in the same run, since the machines are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
echo "== store: create a job for 100,000 things (rusqlite)"
cargo run --quiet --release -p fleetjobs-store --example bench_create_job -- "${THINGS:-100000}"

#!/usr/bin/env bash
# Runs every check and test of fleetjobs. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

echo "== format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings

echo "== shared crates build for wasm32-wasip2 (nothing native-only creeps in)"
cargo build -p fleetjobs-core -p fleetjobs-store -p fleetjobs-api --target wasm32-wasip2
cargo clippy -p fleetjobs-core -p fleetjobs-store -p fleetjobs-api --target wasm32-wasip2 -- -D warnings

echo "== test components (wasm32-wasip2) for the host conformance tests"
tests/components/build.sh

echo "== unit, property, store and host conformance tests"
cargo test --workspace

#!/usr/bin/env bash
# Runs every check and test of fleetjobs. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

echo "== format and lints"
cargo fmt --all --check
cargo fmt --all --check --manifest-path components/Cargo.toml
cargo fmt --all --check --manifest-path tests/components/Cargo.toml
cargo clippy --workspace --all-targets -- -D warnings

echo "== shared crates build for wasm32-wasip2 (nothing native-only creeps in)"
cargo build -p fleetjobs-core -p fleetjobs-store -p fleetjobs-api --target wasm32-wasip2
cargo clippy -p fleetjobs-core -p fleetjobs-store -p fleetjobs-api --target wasm32-wasip2 -- -D warnings

echo "== the web console (console/, served by components/console)"
npm run lint --prefix console
npm run build --prefix console

echo "== fleetjobs components, and test components for the host conformance tests (wasm32-wasip2)"
cargo clippy --release --target wasm32-wasip2 --manifest-path components/Cargo.toml -- -D warnings
cargo build --release --target wasm32-wasip2 --manifest-path components/Cargo.toml
tests/components/build.sh

echo "== unit, property, store, host conformance and end-to-end API tests"
cargo test --workspace

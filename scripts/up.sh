#!/usr/bin/env bash
# Builds the components and starts fleetjobs with its local defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
# The host so far validates spin.toml and manages mosquitto; running the
# components on wasmtime is the rest of issue 4.
cargo run --quiet --release -p fleetjobs -- spin.toml
echo "fleetjobs up: serving the components on wasmtime is not built yet (issue 4)." >&2
exit 1

#!/usr/bin/env bash
# Builds the components and starts fleetjobs with its local defaults: SQLite
# under .fleetjobs/ and a managed mosquitto. Extra arguments go to `fleetjobs up`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --quiet --release -p fleetjobs
target/release/fleetjobs build --from spin.toml
exec target/release/fleetjobs up --from spin.toml "$@"

#!/usr/bin/env bash
# Builds the guest test components (wasm32-wasip2, release) and prints the .wasm paths.
# Usage: tests/components/build.sh   (from anywhere)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target=wasm32-wasip2

if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi

cargo build --release --target "$target" --manifest-path "$here/Cargo.toml"

out="$here/target/$target/release"
for crate in http-echo kv sqlite mqtt-publish variables chain spin-loop cron-counter mqtt-recorder clock tcp-connect redis-outbound pg; do
    wasm="$out/${crate//-/_}.wasm"
    if [[ ! -f "$wasm" ]]; then
        echo "missing: $wasm" >&2
        exit 1
    fi
    echo "$wasm"
done

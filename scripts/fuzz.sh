#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for SECONDS each (default 60):
# the device topic parser, device request payloads, control-plane bodies,
# path and query decoding. A crash leaves its input under
# fuzz/artifacts/<target>/; make it a regression test before fixing it.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
scripts/setup.sh
if ! command -v cargo-fuzz >/dev/null; then
  cargo install --locked cargo-fuzz
fi
# cargo fuzz wants nightly for its -Z flags; the stable toolchain allows them
# with RUSTC_BOOTSTRAP, and no sanitizer is needed for panics in safe Rust.
export RUSTC_BOOTSTRAP=1
cd fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
for target in "${targets[@]}"; do
  echo "== $target (${seconds} s)"
  cargo fuzz run "$target" --sanitizer none -- -max_total_time="$seconds" 2>&1 |
    grep -E '^#[0-9]+ +DONE|^Done|panicked|SUMMARY|Test unit written' || true
  if [ -n "$(ls -A "artifacts/$target" 2>/dev/null)" ]; then
    echo "$target found a crash: fuzz/artifacts/$target/" >&2
    exit 1
  fi
done

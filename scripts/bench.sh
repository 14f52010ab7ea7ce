#!/usr/bin/env bash
# Benchmarks (release builds), printed as one markdown table: each figure next
# to the limit it is compared with, measured in the same run on the same
# machine, since the machines are shared and noisy. A row that cannot be
# measured says why. Progress goes to stderr; the hosts' logs and the table
# to target/bench/.
#   THINGS=100000 IDLE_EXECUTIONS=1000000 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

things=${THINGS:-100000}
idle=${IDLE_EXECUTIONS:-1000000}
# The same wasmtime as the host's (Cargo.toml pins 48.0.8).
wasmtime=target/bench-tools/bin/wasmtime

scripts/setup.sh
echo "== building (release)" >&2
cargo build --release -p fleetjobs -p fleetjobs-bench
cargo build --release --target wasm32-wasip2 --manifest-path components/Cargo.toml
# spin.toml mounts the console's build (console/dist): the host loads it.
npm run build --prefix console >/dev/null
# Only the host-overhead and SQLite-interface rows need them; they say so if missing.
tests/components/build.sh >/dev/null || echo "could not build tests/components" >&2
if [ ! -x "$wasmtime" ]; then
  echo "== installing the wasmtime CLI into target/bench-tools (several minutes)" >&2
  cargo install --locked wasmtime-cli --version 48.0.8 --root target/bench-tools ||
    echo "could not install the wasmtime CLI" >&2
fi
mkdir -p target/bench

rows=()

# measured NAME COMMAND...: runs a fleetjobs-bench benchmark, which prints
# its row (with the reason when it could not measure); NAME's row with the
# failure when the command printed none.
measured() {
  local name=$1 row
  shift
  row=$("$@") || true
  rows+=("${row:-| $name | not measured: \`$*\` failed, see its output above | | |}")
}

# from_example NAME COMMAND...: runs a store example (they print prose) and
# keeps its output for the parsers below; NAME's row with the failure when
# the example fails.
example_output=
from_example() {
  local name=$1
  shift
  if ! example_output=$("$@"); then
    rows+=("| $name | not measured: \`$*\` failed, see its output above | | |")
    return 1
  fi
  echo "$example_output" >&2
}

bench=target/release/fleetjobs-bench

# thousands N: N rounded, with thousands separators, as fleetjobs-bench prints.
thousands() {
  awk -v n="$1" 'BEGIN { s = sprintf("%.0f", n); out = ""
    while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
    print s out }'
}

echo "== 1. device status updates through the whole stack" >&2
measured "device status updates through the whole stack" "$bench" updates

echo "== 1b. command round trips through the whole stack" >&2
measured "command round trips through the whole stack" "$bench" commands

echo "== 2. create a job for $(thousands "$things") things and notify all of them" >&2
measured "create a job for $(thousands "$things") things and notify all of them" "$bench" notify --things "$things"

echo "== 2b. the same job through the store alone" >&2
name="create a job for $(thousands "$things") things through the store alone (rusqlite: queue, count, write both notifications to the outbox; no WASM, no MQTT)"
if from_example "$name" cargo run --quiet --release -p fleetjobs-store --example bench_create_job -- "$things"; then
  # "… outbox): 5.50 s" / "  18100 executions/s = 0.03 of … now (550000 rows/s)"
  seconds=$(sed -n 's/^create job.*: \([0-9.]*\) s$/\1/p' <<<"$example_output")
  rate=$(sed -n 's/^ *\([0-9]*\) executions\/s.*/\1/p' <<<"$example_output")
  limit=$(sed -n 's/.*(\([0-9]*\) rows\/s)$/\1/p' <<<"$example_output")
  if [ -n "$seconds" ] && [ -n "$rate" ] && [ -n "$limit" ]; then
    ratio=$(awk -v r="$rate" -v l="$limit" 'BEGIN { printf "%.2f", r / l }')
    rows+=("| $name | $seconds s = $(thousands "$rate") executions/s | SQLite bulk insert of execution rows: $(thousands "$limit") rows/s | $ratio |")
  else
    rows+=("| $name | not measured: unexpected output of bench_create_job | | |")
  fi
fi

echo "== 3. a sweeper pass over 1,000 vs $(thousands "$idle") idle executions" >&2
name="a sweeper pass over $(thousands "$idle") idle executions vs over 1,000 (median of 30 passes; goal: ratio ≤ 2)"
if from_example "$name" cargo run --quiet --release -p fleetjobs-store --example bench_sweep -- 1000 "$idle"; then
  # "  1000 executions: 0.123 ms" / "  1000000 executions: 0.456 ms" / "  ratio 1.23 (…)"
  small=$(sed -n 's/^ *1000 executions: \([0-9.]*\) ms$/\1/p' <<<"$example_output")
  large=$(sed -n "s/^ *$idle executions: \([0-9.]*\) ms\$/\1/p" <<<"$example_output")
  ratio=$(sed -n 's/^ *ratio \([0-9.]*\) .*/\1/p' <<<"$example_output")
  if [ -n "$small" ] && [ -n "$large" ] && [ -n "$ratio" ]; then
    rows+=("| $name | $large ms per pass over $(thousands "$idle") executions | the same pass over 1,000 executions: $small ms | $ratio |")
  else
    rows+=("| $name | not measured: unexpected output of bench_sweep | | |")
  fi
fi

echo "== 3b. a sweeper pass with 10 vs 10,000 active, idle jobs" >&2
name="a sweeper pass with 10,000 active, idle jobs (CONTINUOUS, nothing due) vs with 10 (median of 30 passes; goal: ratio ≤ 2)"
if from_example "$name" cargo run --quiet --release -p fleetjobs-store --example bench_sweep -- jobs 10 10000; then
  small=$(sed -n 's/^ *10 jobs: \([0-9.]*\) ms$/\1/p' <<<"$example_output")
  large=$(sed -n 's/^ *10000 jobs: \([0-9.]*\) ms$/\1/p' <<<"$example_output")
  ratio=$(sed -n 's/^ *ratio \([0-9.]*\) .*/\1/p' <<<"$example_output")
  if [ -n "$small" ] && [ -n "$large" ] && [ -n "$ratio" ]; then
    rows+=("| $name | $large ms per pass with 10,000 jobs | the same pass with 10 jobs: $small ms | $ratio |")
  else
    rows+=("| $name | not measured: unexpected output of bench_sweep | | |")
  fi
fi

echo "== 4. the host on a trivial component vs wasmtime serve" >&2
measured "the host on a trivial component vs wasmtime serve" "$bench" host-overhead --wasmtime "$wasmtime"

echo "== 5. the host's SQLite interface vs rusqlite directly" >&2
measured "the host's SQLite interface vs rusqlite directly" "$bench" sqlite-interface

echo "== 6. the host's memory after many devices spoke once, and once they are quiet" >&2
measured "the host's RSS after 10,000 and 100,000 devices and once quiet" "$bench" rss

# The store on PostgreSQL (issue 18): one host, then three sharing the
# database and the first one's mosquitto (docs/scale-out.md), each row in a
# database of its own on this server (scripts/setup.sh makes it answer).
database_url=${FLEETJOBS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
for hosts in 1 3; do
  echo "== 7. device status updates on PostgreSQL, hosts: $hosts" >&2
  measured "device status updates through the whole stack on PostgreSQL, hosts: $hosts" \
    "$bench" updates --database-url "$database_url" --hosts "$hosts"
done
for hosts in 1 3; do
  echo "== 8. create a job for $(thousands "$things") things and notify all of them on PostgreSQL, hosts: $hosts" >&2
  measured "create a job for $(thousands "$things") things and notify all of them on PostgreSQL, hosts: $hosts" \
    "$bench" notify --things "$things" --database-url "$database_url" --hosts "$hosts"
done

{
  echo
  echo "| benchmark | figure | limit measured in the same run | ratio |"
  echo "|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee target/bench/table.md

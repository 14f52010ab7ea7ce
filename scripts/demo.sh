#!/usr/bin/env bash
# The demo: fleetjobs with 1,000 simulated devices (a few failing, rejecting
# or slow), a paced firmware update with an abort configuration, and its
# progress live — a bar per status — until the job completes.
#   scripts/demo.sh              (DEVICES=200 scripts/demo.sh for a smaller fleet)
set -euo pipefail
cd "$(dirname "$0")/.."

devices="${DEVICES:-1000}"
scripts/setup.sh
echo "building fleetjobs, the simulator and the components (release)…"
cargo build --quiet --release -p fleetjobs -p fleetjobs-simulator
target/release/fleetjobs build --from spin.toml >/dev/null
SECONDS=0

state="$(mktemp -d)"
# The simulated devices' own secrets, apart from the host's state.
devices_dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export DEMO_API="http://127.0.0.1:$port" DEMO_TOKEN="demo-$RANDOM$RANDOM"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$state" "$devices_dir"
}
trap cleanup EXIT

SPIN_VARIABLE_API_TOKEN="$DEMO_TOKEN" SPIN_VARIABLE_SWEEP_EVERY_SECONDS=1 \
  target/release/fleetjobs up --from spin.toml --listen "127.0.0.1:$port" --state-dir "$state" \
  >"$state/host.log" 2>&1 &
pids+=($!)
deadline=$((SECONDS + 60))
until curl -sf "$DEMO_API/.well-known/spin/health" >/dev/null; do
  if ((SECONDS > deadline)); then
    echo "fleetjobs did not start:" >&2
    cat "$state/host.log" >&2
    exit 1
  fi
  sleep 0.2
done
mqtt_url="$(awk '$1 == "MQTT" { print $2; exit }' "$state/host.log")"
echo "fleetjobs listens on $DEMO_API, its broker on $mqtt_url"
echo "watch it in the console: $DEMO_API/console/ (sign in with the API token $DEMO_TOKEN)"

api() {
  curl -sf -H "Authorization: Bearer $DEMO_TOKEN" -H "content-type: application/json" "$@"
}
export -f api

echo "registering $devices things in the group demo-fleet…"
api -X POST -d '{"thingGroupName": "demo-fleet"}' "$DEMO_API/api/v1/thing-groups" >/dev/null
# Each device logs in to the broker with its thing name and device token.
credentials="$devices_dir/credentials"
(umask 077 && : >"$credentials")
export credentials
seq 1 "$devices" | xargs -P 8 -I{} bash -c '
  token=$(api -X POST -d "{\"thingName\": \"demo-{}\"}" "$DEMO_API/api/v1/things" |
    sed -n "s/.*\"deviceToken\": *\"\([0-9a-f]*\)\".*/\1/p") &&
  echo "demo-{} $token" >>"$credentials" &&
  api -X PUT "$DEMO_API/api/v1/thing-groups/demo-fleet/things/demo-{}" >/dev/null'

echo "connecting $devices simulated devices (2% fail, 1% reject, 10% slow)…"
target/release/fleetjobs-sim run --mqtt-url "$mqtt_url" --credentials "$credentials" \
  --fail 0.02 --reject 0.01 --slow 0.1 >"$state/devices.log" 2>&1 &
pids+=($!)
deadline=$((SECONDS + 90))
until [ -s "$state/devices.log" ]; do
  if ((SECONDS > deadline)); then
    echo "the simulated devices did not connect" >&2
    exit 1
  fi
  sleep 0.2
done

rate=$(((devices * 6 + 9) / 10))
echo "creating the job: firmware 2.1.5 at $rate devices a minute, aborted if 10% fail"
api -X POST "$DEMO_API/api/v1/jobs" -d "{
  \"jobId\": \"demo-firmware\",
  \"targets\": {\"thingGroupNames\": [\"demo-fleet\"]},
  \"document\": {\"action\": \"updateFirmware\", \"params\": {\"version\": \"2.1.5\",
    \"url\": \"https://firmware.example.com/thermostat-v2.1.5.bin\"}},
  \"jobExecutionsRolloutConfig\": {\"maximumPerMinute\": $rate},
  \"abortConfig\": {\"criteriaList\": [{\"failureType\": \"FAILED\", \"action\": \"CANCEL\",
    \"thresholdPercentage\": 10, \"minNumberOfExecutedThings\": 100}]}
}" >/dev/null

echo "console: $DEMO_API/console/jobs/demo-firmware (API token $DEMO_TOKEN)"
target/release/fleetjobs-sim watch --api "$DEMO_API" --token "$DEMO_TOKEN" --job demo-firmware \
  --total "$devices"
echo "devices: $(tail -n 1 "$state/devices.log")"
echo "the demo ran for ${SECONDS} s after the build"

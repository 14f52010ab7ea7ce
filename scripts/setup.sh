#!/usr/bin/env bash
# Installs what building and testing fleetjobs needs on a fresh Debian machine:
# the wasm32-wasip2 Rust target and mosquitto. Safe to run again.
set -euo pipefail

if ! command -v cargo >/dev/null; then
  echo "fleetjobs needs Rust (rustup): https://rustup.rs" >&2
  exit 1
fi
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi

if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  echo "installing mosquitto (Debian package)"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq mosquitto >/dev/null
fi

# The end-to-end tests check the OpenAPI document with a real validator.
if ! python3 -c "import openapi_spec_validator" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check openapi-spec-validator
fi

# The end-to-end tests run schemathesis against the OpenAPI document.
if ! python3 -c "import schemathesis" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi

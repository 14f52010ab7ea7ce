#!/usr/bin/env bash
# Installs what building and testing fleetjobs needs on a fresh Debian machine:
# the wasm32-wasip2 Rust target, mosquitto, redis-server, Chromium, the
# console's npm packages (for its build and its browser tests) and a running
# PostgreSQL (scripts/postgres.sh). Safe to run again.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if ! command -v cargo >/dev/null; then
  echo "fleetjobs needs Rust (rustup): https://rustup.rs" >&2
  exit 1
fi
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
apt_updated=""
apt_install() {
  echo "installing $1 (Debian package)"
  if [ -z "$apt_updated" ]; then
    $sudo_cmd apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$1" >/dev/null
}

if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  apt_install mosquitto
fi

# The host's outbound Redis tests start a redis-server of their own.
if ! command -v redis-server >/dev/null && [ ! -x /usr/bin/redis-server ]; then
  apt_install redis-server
fi

# The console's browser tests drive Debian's Chromium (playwright-core, no
# browser download).
if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi

# The console is built with the machine's Node.js and npm, its packages as
# console/package-lock.json pins them (installed again when the lock changes).
if ! command -v npm >/dev/null; then
  echo "fleetjobs' console needs Node.js (>= 20.19) and npm" >&2
  exit 1
fi
if [ ! "$root/console/node_modules/.package-lock.json" -nt "$root/console/package-lock.json" ]; then
  echo "installing the console's npm packages (npm ci)"
  npm ci --prefix "$root/console" --no-audit --no-fund --loglevel=error
fi

# The end-to-end tests check the OpenAPI document with a real validator.
if ! python3 -c "import openapi_spec_validator" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check openapi-spec-validator
fi

# The end-to-end tests run schemathesis against the OpenAPI document.
if ! python3 -c "import schemathesis" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi

# The store's tests and the scale-out tests run against a real PostgreSQL:
# the one on 127.0.0.1:5432 when it answers, else Debian's, installed and
# started here (trust for local TCP logins, a database named `test`).
"$root/scripts/postgres.sh"

#!/usr/bin/env bash
# Makes sure a PostgreSQL answers at $FLEETJOBS_TEST_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/test): installs Debian's postgresql when
# there is none, creates and starts a cluster on port 5432, lets local TCP
# logins in without a password (a test machine's database) and creates the
# database. Safe to run again.
set -euo pipefail

url=${FLEETJOBS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
database=${url##*/}
database=${database%%\?*}
answers() { psql "$url" -Atqc 'SELECT 1' >/dev/null 2>&1; }

answers && exit 0

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

if ! command -v pg_lsclusters >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  echo "installing postgresql (Debian package)"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $3}' | grep -qx 5432; then
  $sudo_cmd pg_createcluster "$version" main --port 5432 >/dev/null
fi
cluster=$(pg_lsclusters -h | awk '$3 == 5432 {print $1 " " $2}')
hba=/etc/postgresql/${cluster// //}/pg_hba.conf
if ! $sudo_cmd grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
  # Trust first, so it wins over the package's password rules.
  $sudo_cmd sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
fi
$sudo_cmd pg_ctlcluster $cluster restart
for _ in $(seq 50); do
  psql "${url%/*}/postgres" -Atqc 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.2
done
psql "${url%/*}/postgres" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1 ||
  psql "${url%/*}/postgres" -qc "CREATE DATABASE \"$database\""
answers || { echo "PostgreSQL does not answer at $url" >&2; exit 1; }

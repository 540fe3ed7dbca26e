#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 for the store tests (trust auth for local test users).
# Idempotent: does nothing when one already answers. Installs Debian's postgresql when none is installed. Needs root.
set -euo pipefail
HOST=127.0.0.1
PORT="${ASSAY_TEST_PG_PORT:-5432}"

answers() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$HOST" -p "$PORT"; }

if answers; then
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "start-postgres.sh: no PostgreSQL on $HOST:$PORT and no apt-get to install it; start one by hand" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
fi
version="$(ls /etc/postgresql | sort -V | tail -1)"
if [ -z "$version" ]; then
  echo "start-postgres.sh: postgresql is installed but has no cluster under /etc/postgresql" >&2
  exit 1
fi
hba="/etc/postgresql/$version/main/pg_hba.conf"
if ! grep -q "^host all all 127.0.0.1/32 trust" "$hba"; then
  # a test machine: local connections without a password, as the tests connect (postgresql://postgres@127.0.0.1)
  sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
fi
pg_ctlcluster "$version" main start || pg_ctlcluster "$version" main restart
for _ in $(seq 1 60); do
  if answers; then
    exit 0
  fi
  sleep 0.5
done
echo "start-postgres.sh: PostgreSQL $version did not answer on $HOST:$PORT within 30 s" >&2
exit 1

#!/usr/bin/env sh
# Make sure commands the tests run are on PATH, installing their Debian packages when they are not:
#   scripts/install-debian.sh chromium:chromium prometheus:promtool
# Each argument is PACKAGE:COMMAND. Idempotent: does nothing when every command is there. Needs root (or sudo) on
# Debian/Ubuntu, as in CI.
set -eu

missing=""
for pair in "$@"; do
    package=${pair%%:*}
    command=${pair#*:}
    command -v "$command" >/dev/null 2>&1 || missing="$missing $package"
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-debian.sh: missing$missing and apt-get is unavailable; install them by hand" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-debian.sh: installing$missing needs root; rerun as root or install sudo" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
for pair in "$@"; do
    command=${pair#*:}
    if ! command -v "$command" >/dev/null 2>&1; then
        echo "install-debian.sh: apt-get installed ${pair%%:*} but $command is still not on PATH" >&2
        exit 1
    fi
done

#!/usr/bin/env sh
# Make sure a headless-capable `chromium` is on PATH; the HTML report tests open reports in it.
# Idempotent: does nothing when chromium is already installed. Needs root (or sudo) on Debian/Ubuntu, as in CI.
set -eu

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium.sh: chromium is not on PATH and apt-get is unavailable; install chromium by hand" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-chromium.sh: installing chromium needs root; rerun as root or install sudo" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq chromium >/dev/null

if ! command -v chromium >/dev/null 2>&1; then
    echo "install-chromium.sh: apt-get installed chromium but it is still not on PATH" >&2
    exit 1
fi

#!/usr/bin/env sh
# Make sure a headless-capable `chromium` is on PATH; the HTML report tests open reports in it.
set -eu
exec sh "$(dirname "$0")/install-debian.sh" chromium:chromium

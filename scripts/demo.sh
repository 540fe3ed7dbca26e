#!/usr/bin/env bash
# The README's first command: set up .venv and run the end-to-end demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/assay demo "$@"

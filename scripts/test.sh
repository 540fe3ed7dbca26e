#!/usr/bin/env bash
# The README's second command: set up .venv (Chromium for the report tests, promtool for the Prometheus tests,
# PostgreSQL for the store tests), lint, type-check, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
sh scripts/install-debian.sh chromium:chromium prometheus:promtool prometheus:prometheus prometheus-alertmanager:prometheus-alertmanager
bash scripts/start-postgres.sh
export ASSAY_TEST_PG="${ASSAY_TEST_PG:-postgresql://postgres@127.0.0.1:5432/postgres}"
.venv/bin/ruff check .
.venv/bin/mypy
export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-ci}"
exec .venv/bin/python -m pytest -n 2 -q "$@"

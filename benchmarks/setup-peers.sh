#!/usr/bin/env bash
# Create .venv-peers at the repository root: a separate environment for the benchmark peers whose pins clash with
# the project's own environment (Evidently needs pandas < 3). bench_drift.py runs its Evidently child with
# .venv-peers/bin/python; everything else runs in .venv.
#
#     bash benchmarks/setup-peers.sh            # idempotent: does nothing when the stamp matches
#     bash benchmarks/setup-peers.sh --force    # reinstall
#
# Needs the project's environment first (.venv with uv in it: `python -m venv .venv && .venv/bin/pip install uv`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV=.venv-peers
UV=.venv/bin/uv
# Evidently 0.7.x is the Report/Dataset/DataDefinition API; it fails to import with pandas 3
# ("cannot import name 'infer_dtype_from_object'"), hence pandas<3.
PACKAGES=(
    "evidently==0.7.23"
    "pandas>=2.2,<3"
    "pyarrow>=15"
    "scipy>=1.11"
    "numpy>=1.26"
)
STAMP="$VENV/.assay-peers-stamp"
WANT="$(printf '%s\n' "${PACKAGES[@]}")"

if [[ "${1:-}" != "--force" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$VENV/bin/python" ]]; then
    echo "$VENV is up to date ($(tr '\n' ' ' < "$STAMP"))"
    exit 0
fi

if [[ ! -x "$UV" ]]; then
    echo "error: $UV not found; create the project's environment first" >&2
    exit 1
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    "$UV" venv -p 3.11 "$VENV"
fi
VIRTUAL_ENV="$VENV" "$UV" pip install "${PACKAGES[@]}"
"$VENV/bin/python" -c "import evidently, pandas; from evidently.presets import DataDriftPreset; \
print('evidently', evidently.__version__, 'pandas', pandas.__version__)"
printf '%s\n' "${PACKAGES[@]}" > "$STAMP"
echo "$VENV ready"

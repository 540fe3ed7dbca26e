"""Comparing runs and opening the run store; the store itself is :mod:`assay.store._base` and its backends.

The names of :mod:`assay.store._base` this module used to define (``StoreError``, ``RunInfo``, ``check_run``, ...)
are re-exported here for code that imported them from ``assay.store.runs``; :mod:`assay.store` is their public home.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from assay.errors import message
from assay.store._base import (
    MIN_PREFIX,
    SCHEMA,
    Promotion,
    RunInfo,
    RunStore,
    StoreError,
    _short,
    check_run,
    current_git_commit,
)
from assay.store._sqlite import SQLiteStore

__all__ = [
    "MIN_PREFIX",
    "SCHEMA",
    "STORE_FILE",
    "Promotion",
    "RunInfo",
    "RunStore",
    "StoreError",
    "check_run",
    "current_git_commit",
    "diff",
    "open_store",
    "store_home",
]

STORE_FILE = "runs.sqlite"


# -- comparison ----------------------------------------------------------------------------------------------------


def diff(a: dict[str, Any], b: dict[str, Any], *, allow_different_data: bool = False) -> list[dict[str, Any]]:
    """Compare two runs metric by metric, for every metric present in both (in ``a``'s order).

    Each row is ``{metric, a, b, difference, higher_is_better, better}`` with ``difference = b - a`` and ``better``
    one of ``"a"``, ``"b"`` or ``"="``. The direction comes from the metric's ``higher_is_better`` in the
    documents (else the metric registry); when a value is undefined or the direction unknown, ``difference`` and
    ``better`` are None. Runs on different evaluation data (different dataset fingerprints) are refused with
    :class:`StoreError` unless ``allow_different_data``.

    >>> run = {"schema": "assay.run/1", "run_id": "a", "model": {}, "dataset": {"fingerprint": "sha256:0"},
    ...        "metrics": {"mae": {"value": 2.0, "higher_is_better": False}}}
    >>> diff(run, run | {"run_id": "b", "metrics": {"mae": {"value": 1.5, "higher_is_better": False}}})
    [{'metric': 'mae', 'a': 2.0, 'b': 1.5, 'difference': -0.5, 'higher_is_better': False, 'better': 'b'}]
    """
    check_run(a)
    check_run(b)
    fa, fb = a["dataset"]["fingerprint"], b["dataset"]["fingerprint"]
    if fa != fb and not allow_different_data:
        raise StoreError(message(
            where=f"runs {_short(a['run_id'])} and {_short(b['run_id'])}",
            expected="the same evaluation data (equal dataset fingerprints)",
            found=f"dataset {a['dataset'].get('name')!r} ({fa}) and dataset {b['dataset'].get('name')!r} ({fb})",
            fix="compare runs on the same data, or pass --allow-different-data (allow_different_data=True) to "
            "compare anyway",
        ))
    rows = []
    for name, ea in a["metrics"].items():
        eb = b["metrics"].get(name)
        if eb is None:
            continue
        va, vb = ea.get("value"), eb.get("value")
        hib = _direction(name, ea, eb, a.get("task") or b.get("task"))
        numeric = _number(va) and _number(vb)
        difference = vb - va if numeric else None
        better: str | None = None
        if numeric and hib is not None:
            better = "=" if va == vb else ("b" if (vb > va) == hib else "a")
        rows.append({"metric": name, "a": va, "b": vb, "difference": difference, "higher_is_better": hib,
                     "better": better})
    return rows


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _direction(name: str, ea: dict[str, Any], eb: dict[str, Any], task: Any) -> bool | None:
    for entry in (ea, eb):
        if isinstance(entry.get("higher_is_better"), bool):
            return bool(entry["higher_is_better"])
    from assay.metrics.registry import SPECS

    specs = SPECS.get(task, {}) if isinstance(task, str) else {}
    base = name.split("@", 1)[0]
    spec = specs.get(name) or specs.get(base)
    return spec.higher_is_better if spec is not None else None


# -- opening -------------------------------------------------------------------------------------------------------


def store_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The store's folder: ``home``, else ``$ASSAY_HOME``, else ``./.assay`` (not created here)."""
    if home is not None and str(home).strip():
        folder = Path(home).expanduser()
    elif os.environ.get("ASSAY_HOME", "").strip():
        folder = Path(os.environ["ASSAY_HOME"].strip()).expanduser()
    else:
        folder = Path.cwd() / ".assay"
    if folder.exists() and not folder.is_dir():
        raise StoreError(message(where=f"store folder {str(folder)!r}", expected="a folder", found="a file",
                                 fix="pass --home (or set ASSAY_HOME to) a folder"))
    return folder


def open_store(home: str | os.PathLike[str] | None = None) -> RunStore:
    """The SQLite run store at ``<home or $ASSAY_HOME or ./.assay>/runs.sqlite``, created at the first write.

    Reading a store that does not exist yet finds no runs and creates nothing.
    """
    return SQLiteStore(store_home(home) / STORE_FILE)

#!/usr/bin/env python
"""Statistical acceptance of ``assay.drift`` at large sizes: false alarms, power, and negligible shifts.

Run from the repository root::

    .venv/bin/python benchmarks/sim_drift.py            # the full simulation
    .venv/bin/python benchmarks/sim_drift.py --quick    # fewer repetitions, n up to 1M: a smoke run

Every cell is seeded from ``(SEED, case, n, repetition)``, so a cell gives the same answer whatever else runs. Each
repetition draws a fresh reference and current sample as numpy arrays (categorical columns as numpy string arrays)
and calls ``assay.drift(dict, dict)`` with its defaults (alpha 0.05, Holm across columns). Per-column cells call it
on a one-column table, so the Holm correction plays no part; the table-level cell calls it on 25 columns and counts
the runs whose ``drifted`` is true. The parent prints a table of rates with Clopper-Pearson 95% intervals and
PASS/FAIL against the targets, and writes ``benchmarks/results/drift-sim.json``.

Targets:

- identical distributions: the per-column and the table-level false-alarm rate is at most alpha = 0.05 (PASS while
  the alarm count is not significantly above what a level-0.05 test gives: P(Binomial(reps, 0.05) >= alarms) >= 0.05);
- a 0.2-sd mean shift and a 10-point change in one category's share: detected in at least 95% of the runs at
  n = 5,000 and n = 50,000 per side;
- a 0.01-sd mean shift at n = 10M per side: never flagged.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS_DIR = HERE / "results"
SEED = 20_240_612
ALPHA = 0.05
POWER_TARGET = 0.95
NULL_SIZES = (200, 5_000, 100_000, 1_000_000, 10_000_000)
POWER_SIZES = (5_000, 50_000)
LEVELS = ("a", "b", "c", "d")
SHARES = (0.4, 0.3, 0.2, 0.1)
SHARES_10_POINTS = (0.3, 0.3, 0.2, 0.2)  # "a" loses 10 points to "d"
TABLE_COLUMNS = 25


@dataclass(frozen=True)
class Cell:
    case: str  # false-alarm, table-false-alarm, detection, negligible
    column: str  # what is drawn: normal, lognormal, categorical, table-25, ...
    n: int
    reps: int
    target: str


def _draw(rng: Any, kind: str, n: int, current: bool) -> Any:
    """One column of one side. ``kind`` names the distribution and, for ``current``, the shift applied."""
    import numpy as np

    if kind == "normal":
        return rng.standard_normal(n)
    if kind == "lognormal":
        return rng.lognormal(0.0, 1.0, n)
    if kind in ("categorical", "category+10pt"):
        shares = SHARES_10_POINTS if current and kind == "category+10pt" else SHARES
        cdf = np.cumsum(shares)
        cdf[-1] = 1.0
        return np.asarray(LEVELS)[np.searchsorted(cdf, rng.random(n), side="right")]
    if kind == "mean+0.2sd":
        return rng.standard_normal(n) + (0.2 if current else 0.0)
    if kind == "mean+0.01sd":
        return rng.standard_normal(n) + (0.01 if current else 0.0)
    raise ValueError(kind)


def _table(rng: Any, n: int) -> dict[str, Any]:
    """25 columns of identical distributions on both sides: 10 normal, 10 lognormal, 5 categorical."""
    kinds = ["normal"] * 10 + ["lognormal"] * 10 + ["categorical"] * 5
    return {f"c{i:02d}": _draw(rng, k, n, False) for i, k in enumerate(kinds[:TABLE_COLUMNS])}


def run_cell(cell: Cell, case_id: int, drift: Callable[..., Any], progress: bool) -> dict[str, Any]:
    import numpy as np

    alarms = 0
    effects: list[float] = []
    methods: set[str] = set()
    t0 = time.perf_counter()
    for rep in range(cell.reps):
        rng = np.random.default_rng([SEED, case_id, cell.n, rep])
        if cell.column == "table-25":
            ref, cur = _table(rng, cell.n), _table(rng, cell.n)
            doc = drift(ref, cur).to_dict()
            alarms += bool(doc["drifted"])
        else:
            ref = {"x": _draw(rng, cell.column, cell.n, False)}
            cur = {"x": _draw(rng, cell.column, cell.n, True)}
            entry = drift(ref, cur).to_dict()["columns"]["x"]
            alarms += bool(entry["drifted"])
            if isinstance(entry.get("effect"), (int, float)):
                effects.append(float(entry["effect"]))
            methods.add(str(entry.get("method")))
        if progress and cell.reps >= 5 and (rep + 1) % max(cell.reps // 5, 1) == 0:
            print(".", end="", flush=True)
    seconds = time.perf_counter() - t0
    return {"alarms": alarms, "rate": alarms / cell.reps, "seconds": round(seconds, 2),
            "methods": sorted(methods), "median_effect": float(np.median(effects)) if effects else None}


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    from scipy import stats

    tail = (1 - level) / 2
    low = 0.0 if k == 0 else float(stats.beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - tail, k + 1, n - k))
    return low, high


def judge(cell: Cell, alarms: int) -> bool:
    from scipy import stats

    if cell.case in ("false-alarm", "table-false-alarm"):
        return bool(stats.binom.sf(alarms - 1, cell.reps, ALPHA) >= 0.05)  # P(X >= alarms) under rate alpha
    if cell.case == "detection":
        return alarms / cell.reps >= POWER_TARGET
    return alarms == 0  # negligible shift


def cells(args: argparse.Namespace) -> list[Cell]:
    def null_reps(n: int) -> int:
        return args.reps_10m if n >= 10_000_000 else args.reps_1m if n >= 1_000_000 else args.reps

    out = []
    for column in ("normal", "lognormal", "categorical"):
        for n in args.null_sizes:
            out.append(Cell("false-alarm", column, n, null_reps(n), f"<= {ALPHA}"))
    out.append(Cell("table-false-alarm", "table-25", args.table_n, args.table_reps, f"<= {ALPHA}"))
    for column in ("mean+0.2sd", "category+10pt"):
        for n in POWER_SIZES:
            out.append(Cell("detection", column, n, args.power_reps, f">= {POWER_TARGET}"))
    out.append(Cell("negligible", "mean+0.01sd", args.negligible_n, args.negligible_reps, "0 (never flagged)"))
    return out


def print_table(records: list[dict[str, Any]]) -> str:
    head = ["case", "column", "n per side", "reps", "flagged", "rate", "95% CI", "median effect", "target", "result"]
    rows = []
    for r in records:
        effect = r.get("median_effect")
        rows.append([r["case"], r["column"], f"{r['n']:,}", str(r["reps"]), str(r["alarms"]), f"{r['rate']:.3f}",
                     f"[{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]",
                     "—" if effect is None else f"{effect:.3g} ({','.join(r['methods'])})",
                     r["target"], "PASS" if r["pass"] else "FAIL"])
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    text = "\n".join(lines)
    print(text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: null sizes up to 1M, 50 repetitions (5 at 1M), power 50, negligible at 1M")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per false-alarm cell up to 100k (200)")
    parser.add_argument("--reps-1m", type=int, default=None, help="repetitions of the false-alarm cells at 1M (40)")
    parser.add_argument("--reps-10m", type=int, default=None, help="repetitions of the false-alarm cells at 10M (10)")
    parser.add_argument("--table-reps", type=int, default=None, help="repetitions of the 25-column table (200)")
    parser.add_argument("--power-reps", type=int, default=None, help="repetitions of each detection cell (200)")
    parser.add_argument("--negligible-reps", type=int, default=None, help="repetitions of the 0.01-sd cell (10)")
    parser.add_argument("--sizes", default=None,
                        help="comma-separated n of the false-alarm cells (default 200,5000,100000,1000000,10000000)")
    parser.add_argument("--only", default="",
                        help="comma-separated cases: false-alarm, table-false-alarm, detection, negligible")
    parser.add_argument("--out", default=None, help="JSON output path (default benchmarks/results/drift-sim.json)")
    args = parser.parse_args()

    quick = args.quick
    defaults = {"reps": (50, 200), "reps_1m": (5, 40), "reps_10m": (2, 10), "table_reps": (50, 200),
                "power_reps": (50, 200), "negligible_reps": (3, 10)}
    for key, (small, full) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, small if quick else full)
    sizes = args.sizes or ("200,5000,100000,1000000" if quick else ",".join(map(str, NULL_SIZES)))
    args.null_sizes = [int(s.replace("_", "")) for s in sizes.split(",") if s.strip()]
    args.table_n = 5_000
    args.negligible_n = 1_000_000 if quick else 10_000_000
    only = {s.strip() for s in args.only.split(",") if s.strip()}

    import assay

    drift = assay.drift
    started = datetime.now(UTC)
    print(f"assay drift simulation — {started:%Y-%m-%d %H:%M} UTC, python {platform.python_version()}, "
          f"{os.cpu_count()} cpus, seed {SEED}" + (" (--quick)" if quick else ""), flush=True)
    records = []
    t_all = time.perf_counter()
    for case_id, cell in enumerate(cells(args)):
        if only and cell.case not in only:
            continue
        print(f"[{cell.case}] {cell.column}, n = {cell.n:,}, {cell.reps} reps ", end="", flush=True)
        r = run_cell(cell, case_id, drift, progress=True)
        ok = judge(cell, r["alarms"])
        rec = {"case": cell.case, "column": cell.column, "n": cell.n, "reps": cell.reps, **r,
               "ci95": clopper_pearson(r["alarms"], cell.reps), "target": cell.target, "pass": ok}
        records.append(rec)
        print(f" {r['alarms']}/{cell.reps} flagged, {r['seconds']:.1f} s — {'PASS' if ok else 'FAIL'}", flush=True)
    total = round(time.perf_counter() - t_all, 1)
    print()
    table = print_table(records)
    print(f"\ntotal {total:.0f} s")
    if quick:
        print("(--quick: few repetitions; the rates are rough)")

    versions = {}
    for pkg in ("assay", "numpy", "scipy", "pyarrow"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    report = {
        "benchmark": "drift-sim", "started": started.isoformat(), "quick": quick, "seed": SEED, "alpha": ALPHA,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "versions": versions, "total_seconds": total, "cells": records, "table": table,
        "all_pass": all(r["pass"] for r in records),
    }
    out_path = Path(args.out) if args.out else RESULTS_DIR / ("drift-sim-quick.json" if quick else "drift-sim.json")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"figures written to {out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path}")
    return 0 if report["all_pass"] else 1


if __name__ == "__main__":
    sys.exit(main())

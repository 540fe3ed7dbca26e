#!/usr/bin/env python
"""Statistical acceptance of ``assay.watch.estimate`` (CBPE): coverage of the realized value, and concept shift.

Run from the repository root::

    .venv/bin/python benchmarks/sim_estimate.py                       # 300 replications, prints the tables
    .venv/bin/python benchmarks/sim_estimate.py --json out.json       # also writes the rows as JSON
    .venv/bin/python benchmarks/sim_estimate.py --reps 50             # a smoke run

The known model: three features ``x ~ N(0, I)``, ``y ~ Bernoulli(sigmoid(a·x + b))``, and the monitored model's
score ``sigmoid(1.4 (a·x + b) + 0.3)``: miscalibrated (over-confident, shifted up) but a monotone function of the true
logit, so ``P(y | score)`` is the same wherever ``x`` goes. Each replication (seeded from ``(SEED, replication)``)
draws a fresh reference of 50,000 labeled rows, fits a :class:`Calibrator` with its 20 bootstrap refits, and then
one window of each size under

- a pure covariate shift: ``x ~ N(mu, 1.2² I)``, ``P(y | x)`` kept; the 95% prediction interval should cover the
  window's realized metric in about 95% of the windows (target 0.90–0.98);
- a concept shift: ``x ~ N(0, I)`` as in the reference, but ``y ~ Bernoulli(sigmoid(a'·x + b))`` with other
  coefficients; the estimate should *not* follow the realized value (mean gap estimated − realized away from 0,
  the realized value outside the interval in most windows);
- the covariate shift again with a calibrator fitted on the reference's first 10,000 rows: smaller references make
  the isotonic fit optimistic (pulled towards 0 and 1 where the reference is sparse); the bootstrap sees about half
  of that bias, and the interval's ``|β|`` term is what keeps the larger windows near target (column
  "cov w/o |β|" scores the interval without it).

A fresh reference per replication makes the coverage average over the calibrator's error too (one fixed
calibrator would make its error a shared bias of every window). For ROC-AUC the run also scores Hanley and McNeil's
variance (with the expected class counts, plus the same calibrator terms) in place of the delta method, the
alternative the module rejects. "calib share" is the mean share of the interval's variance that comes from the
calibrator refits.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assay.watch.estimate import METRICS, Calibrator, EstimationState, _metrics  # noqa: E402

SEED = 20_250_301
REFERENCE_ROWS = 50_000
SMALL_REFERENCE_ROWS = 10_000
N_BOOT = 20
SIZES = (1_000, 2_000, 5_000, 10_000, 20_000)
A, B = np.array([1.0, -0.7, 0.5]), -0.8
A_CONCEPT = np.array([0.2, -0.9, 1.3])
SHIFT_MEAN, SHIFT_SD = np.array([0.6, -0.4, 0.3]), 1.2
Z = float(stats.norm.ppf(0.975))


def sigmoid(t: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-t))


def draw(rng: np.random.Generator, n: int, mean: np.ndarray, sd: float, coef: np.ndarray) -> tuple[Any, Any]:
    """Labels and the monitored model's scores for ``n`` rows with ``x ~ N(mean, sd² I)``, truth ``coef``."""
    x = mean + sd * rng.standard_normal((n, 3))
    y = (rng.uniform(size=n) < sigmoid(x @ coef + B)).astype(np.int64)
    return y, sigmoid(1.4 * (x @ A + B) + 0.3)


def realized(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, float | None]:
    """The window's metrics from its labels (None where undefined)."""
    d = s >= threshold
    tp, fp, fn = int((y & d).sum()), int(((1 - y) & d).sum()), int((y & ~d).sum())
    n_pos = int(y.sum())
    ranks = stats.rankdata(s)
    auc = (ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(y) - n_pos)) if 0 < n_pos < len(y) else None
    return {
        "accuracy": float((y == d).mean()),
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
        "roc_auc": None if auc is None else float(auc),
    }


def hanley_mcneil(auc: float, n_pos: float, n_neg: float) -> float:
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    return (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)


def replicate(rep: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng([SEED, rep])
    y_ref, s_ref = draw(rng, REFERENCE_ROWS, np.zeros(3), 1.0, A)
    full = Calibrator.fit(y_ref, s_ref, threshold=0.5, n_boot=N_BOOT, rng=rng)
    small = Calibrator.fit(y_ref[:SMALL_REFERENCE_ROWS], s_ref[:SMALL_REFERENCE_ROWS], n_boot=N_BOOT, rng=rng)
    rows = []
    for scenario, cal, mean, sd, coef in (("covariate", full, SHIFT_MEAN, SHIFT_SD, A),
                                          ("concept", full, np.zeros(3), 1.0, A_CONCEPT),
                                          ("small-reference", small, SHIFT_MEAN, SHIFT_SD, A)):
        for n in SIZES:
            y, s = draw(rng, n, mean, sd, coef)
            state = EstimationState.for_calibrator(cal).update(cal, s)
            est, real = state.compute(cal), realized(y, s, cal.threshold)
            parts = _metrics(state)
            for name in METRICS:
                e, r = est[name], real[name]
                if e["value"] is None or r is None:
                    continue
                values, var_s, _ = parts[name]
                var_c, bias = float(np.var(values[1:], ddof=1)), float(values[1:].mean() - values[0])
                plain = Z * np.sqrt(var_s + var_c)  # the interval without the calibrator-bias term |β|
                rows.append({"scenario": scenario, "metric": name, "n": n, "estimate": e["value"], "realized": r,
                             "low": e["ci_low"], "high": e["ci_high"], "calib_share": var_c / (var_s + var_c),
                             "inside_plain": abs(e["value"] - r) <= plain})
                if name == "roc_auc" and scenario == "covariate":
                    p_mass = float(state.pos[0].sum())
                    half = Z * np.sqrt(hanley_mcneil(e["value"], p_mass, n - p_mass) + var_c) + abs(bias)
                    rows.append({"scenario": scenario, "metric": "roc_auc (H-McN)", "n": n, "estimate": e["value"],
                                 "realized": r, "low": max(0.0, e["value"] - half), "high": min(1.0, e["value"] + half),
                                 "calib_share": var_c / (hanley_mcneil(e["value"], p_mass, n - p_mass) + var_c),
                                 "inside_plain": abs(e["value"] - r) <= half - abs(bias)})
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cells: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in rows:
        cells.setdefault((r["scenario"], r["metric"], r["n"]), []).append(r)
    out = []
    for (scenario, metric, n), rs in cells.items():
        inside = sum(r["low"] <= r["realized"] <= r["high"] for r in rs)
        ci = stats.binomtest(inside, len(rs)).proportion_ci(0.95, method="exact")
        gap = np.array([r["estimate"] - r["realized"] for r in rs])
        out.append({
            "scenario": scenario, "metric": metric, "n": n, "windows": len(rs), "coverage": inside / len(rs),
            "coverage_ci": [ci.low, ci.high], "mean_width": float(np.mean([r["high"] - r["low"] for r in rs])),
            "mean_gap": float(gap.mean()), "rmse_gap": float(np.sqrt((gap**2).mean())),
            "calib_share": float(np.mean([r["calib_share"] for r in rs])),
            "coverage_without_bias_term": float(np.mean([r["inside_plain"] for r in rs])),
        })
    return out


def table(summary: list[dict[str, Any]], scenario: str) -> str:
    head = (f"{'metric':<16} {'n':>6} {'windows':>7} {'coverage':>8} {'95% CI':>13} {'width':>7} {'gap':>8} "
            f"{'rmse':>7} {'calib share':>11} {'cov w/o |β|':>11}")
    lines = [head, "-" * len(head)]
    for r in summary:
        if r["scenario"] == scenario:
            lo, hi = r["coverage_ci"]
            lines.append(f"{r['metric']:<16} {r['n']:>6} {r['windows']:>7} {r['coverage']:>8.3f} "
                         f"{f'{lo:.3f}-{hi:.3f}':>13} {r['mean_width']:>7.4f} {r['mean_gap']:>+8.4f} "
                         f"{r['rmse_gap']:>7.4f} {r['calib_share']:>11.2f} {r['coverage_without_bias_term']:>11.3f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=300, help="replications (windows per cell), default 300")
    parser.add_argument("--json", type=Path, help="also write the summary as JSON to this path")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = [r for rep in range(args.reps) for r in replicate(rep)]
    order = {m: i for i, m in enumerate((*METRICS, "roc_auc (H-McN)"))}
    summary = sorted(summarise(rows), key=lambda r: (r["scenario"], order[r["metric"]], r["n"]))
    elapsed = time.perf_counter() - start
    print(f"CBPE simulation: {args.reps} replications, reference {REFERENCE_ROWS:,} rows, B = {N_BOOT}, seed {SEED}, "
          f"{elapsed:.0f} s")
    print("\nCovariate shift (P(y|x) kept): coverage of the realized value by the 95% prediction interval (target "
          "0.90-0.98)\n")
    print(table(summary, "covariate"))
    print("\nConcept shift (P(y|x) changed): the estimate should not follow; coverage = share of windows whose "
          "realized value is inside\n")
    print(table(summary, "concept"))
    print(f"\nCovariate shift again, the calibrator fitted on the first {SMALL_REFERENCE_ROWS:,} reference rows only: "
          "the isotonic fit's optimism shows in the gap\n")
    print(table(summary, "small-reference"))
    print("\ngap = mean (estimated - realized); rmse = its root mean square; width = mean interval width; calib share ="
          " mean share of V_c in V_s + V_c;\ncov w/o |β| = coverage of value ± z sqrt(V_s + V_c), the interval without "
          "the calibrator-bias term")
    if args.json:
        doc = {"seed": SEED, "reps": args.reps, "reference_rows": REFERENCE_ROWS, "n_boot": N_BOOT,
               "python": platform.python_version(), "numpy": np.__version__, "seconds": elapsed, "cells": summary}
        args.json.write_text(json.dumps(doc, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Coverage of assay's 95% intervals: how often the reported interval holds the population value.

Run from the repository root (``nice``: the machine is shared)::

    nice -n 10 .venv/bin/python benchmarks/coverage.py                  # 300 replications per cell (binary)
    nice -n 10 .venv/bin/python benchmarks/coverage.py --quick          # 60 replications, n in {50, 200}
    nice -n 10 .venv/bin/python benchmarks/coverage.py --reps 100 --only binary --out /tmp/cov.json
    nice -n 10 .venv/bin/python benchmarks/coverage.py --before benchmarks/results/coverage-before.json

Every replication (seeded from ``(--seed, task, quality, n, replication)``) draws ``n`` rows from a model whose
population metrics are known, runs :func:`assay.evaluate` on them exactly as a user would, and scores each metric's
``[ci_low, ci_high]`` against the population value. A cell of the table is the share of replications whose interval
covers; replications where a metric is undefined (no predicted positive, ...) are left out and counted apart.

The binary model: ``y ~ Bernoulli(0.3)``, a latent ``x | y ~ N(±d/2, 1)`` and the reported score
``sigmoid(1.3 (d x + logit 0.3) + 0.3)``: over-confident and shifted up, so that ECE is not zero. Its ROC-AUC is
``Phi(d / sqrt 2)`` exactly; the confusion cells at the threshold 0.5 are normal tail probabilities; average
precision, log loss, Brier and the ECE of the 10 equal-width bins are integrals over ``x``, taken on a fine grid
(``population_binary``). Model quality runs from weak (AUC 0.70) to near perfect (AUC 0.9999).

The "goal" is the issue's: at least 0.90 at nominal 0.95 for every metric (0.85 for ECE at n = 50). With ``R``
replications a cell's Monte Carlo standard error is about ``sqrt(0.95 * 0.05 / R)`` (0.013 at 300).

Writes the JSON of every cell (``--out``, default ``benchmarks/results/coverage-<date>.json``) and an HTML page
beside it with one coverage plot per metric (inline SVG; with ``--before``, the earlier run dashed).
"""

from __future__ import annotations

import argparse
import html
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special, stats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import assay  # noqa: E402

SEED = 20_261_207
SIZES = (50, 200, 1_000, 10_000)
QUICK_SIZES = (50, 200)
PREVALENCE = 0.3
GAMMA, SHIFT = 1.3, 0.3  # the score's miscalibration: sigmoid(GAMMA * true logit + SHIFT)
# separation d of the latent normals, by model quality: AUC = Phi(d / sqrt 2)
QUALITIES = {"weak": 0.74, "fair": 1.47, "good": 2.48, "near_perfect": 5.26}
GOAL, ECE_GOAL_50 = 0.90, 0.85

Population = dict[str, float]
Sample = Callable[[np.random.Generator, int], dict[str, np.ndarray]]


# -- binary -----------------------------------------------------------------------------------------------------
def _binary_logit(x: np.ndarray, d: float) -> np.ndarray:
    return GAMMA * (d * x + math.log(PREVALENCE / (1 - PREVALENCE))) + SHIFT


def sample_binary(d: float) -> Sample:
    def draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        y = (rng.random(n) < PREVALENCE).astype(np.int64)
        x = rng.normal(0.0, 1.0, n) + np.where(y == 1, d / 2, -d / 2)
        return {"y": y, "s": special.expit(_binary_logit(x, d))}

    return draw


def cell_metrics(tn: float, fp: float, fn: float, tp: float) -> Population:
    """The confusion metrics of cell probabilities (written out again here, independent of assay's)."""
    tpr, tnr = tp / (tp + fn), tn / (tn + fp)
    return {
        "accuracy": tp + tn, "precision": tp / (tp + fp), "recall": tpr, "specificity": tnr, "fpr": 1 - tnr,
        "fnr": 1 - tpr, "selection_rate": tp + fp, "f1": 2 * tp / (2 * tp + fp + fn),
        "balanced_accuracy": (tpr + tnr) / 2,
        "mcc": (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)),
    }


def population_binary(d: float, bins: int = 10, grid: int = 400_001) -> Population:
    """Population values of the binary model with separation ``d``: exact where a closed form exists, else
    integrals on a grid of ``x`` (trapezoid rule, error far below the Monte Carlo error of any cell)."""
    pi = PREVALENCE
    # threshold 0.5 on the score = a threshold x0 on x
    x0 = (-SHIFT / GAMMA - math.log(pi / (1 - pi))) / d
    tpr, fpr = stats.norm.sf(x0 - d / 2), stats.norm.sf(x0 + d / 2)
    out = cell_metrics((1 - pi) * (1 - fpr), (1 - pi) * fpr, pi * (1 - tpr), pi * tpr)
    out["roc_auc"] = float(stats.norm.cdf(d / math.sqrt(2)))
    x = np.linspace(-d / 2 - 12, d / 2 + 12, grid)
    f1, f0 = stats.norm.pdf(x - d / 2), stats.norm.pdf(x + d / 2)
    s1, s0 = stats.norm.sf(x - d / 2), stats.norm.sf(x + d / 2)
    logit = _binary_logit(x, d)
    s = special.expit(logit)

    def integral(f: np.ndarray) -> float:
        return float(np.trapezoid(f, x))

    precision = pi * s1 / (pi * s1 + (1 - pi) * s0)
    out["average_precision"] = integral(f1 * precision)
    eps = np.finfo(np.float64).eps
    # -log(s) and -log(1 - s) through log-sigmoid, clipped as scikit-learn (and assay) clip
    loss1 = np.minimum(np.logaddexp(0.0, -logit), -math.log(eps))
    loss0 = np.minimum(np.logaddexp(0.0, logit), -math.log(eps))
    out["log_loss"] = pi * integral(f1 * loss1) + (1 - pi) * integral(f0 * loss0)
    out["brier"] = pi * integral(f1 * (1 - s) ** 2) + (1 - pi) * integral(f0 * s**2)
    b = np.clip((s * bins).astype(np.int64), 0, bins - 1)
    ece = 0.0
    for k in range(bins):
        m = (b == k).astype(np.float64)
        mass1 = pi * integral(f1 * m)  # the positives in the bin: the sum of outcomes
        conf = pi * integral(f1 * m * s) + (1 - pi) * integral(f0 * m * s)
        ece += abs(mass1 - conf)
    out["ece"] = out["ece_debiased"] = ece
    return out


# -- regression ---------------------------------------------------------------------------------------------------
# The prediction p ~ 10 + N(0, 1) (labels far from 0, so MAPE is finite) and the label y = p + r, where the residual r
# comes from one of three error laws, from mild to skewed: what a squared loss sees at small n varies most with them.
# Residuals are clipped to ±5, so labels stay above 4 and MAPE has a population value (with an unbounded residual the
# label's density at 0 makes E|r / y| infinite, and no interval can cover it).
REGRESSION_ERRORS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "normal": lambda rng, n: np.clip(rng.normal(0.2, 1.0, n), -5, 5),
    "laplace": lambda rng, n: np.clip(rng.laplace(0.0, 1.0, n), -5, 5),
    "skewed": lambda rng, n: np.clip(rng.gamma(2.0, 1.0, n) - 1.5, -5, 5),
}


def sample_regression(error: Callable[[np.random.Generator, int], np.ndarray]) -> Sample:
    def draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        p = 10.0 + rng.normal(0.0, 1.0, n)
        return {"y": p + error(rng, n), "p": p}

    return draw


def population_regression(error: Callable[[np.random.Generator, int], np.ndarray], size: int = 4_000_000) -> Population:
    """Population values by a seeded Monte Carlo of ``size`` rows (plain NumPy, independent of assay); its error is
    about a fiftieth of the 95% half-width at n = 10,000."""
    rng = np.random.default_rng([SEED, 99])
    draw = sample_regression(error)(rng, size)
    y, p = draw["y"], draw["p"]
    r = y - p
    mse = float(np.mean(r * r))
    return {"mae": float(np.mean(np.abs(r))), "mse": mse, "rmse": math.sqrt(mse),
            "r2": 1.0 - mse / float(np.var(y)), "mape": float(np.mean(np.abs(r / y))),
            "median_absolute_error": float(np.median(np.abs(r)))}


# -- multiclass ---------------------------------------------------------------------------------------------------
# Three classes of prevalence 0.5, 0.3, 0.2; the logits are ``d`` on the true class plus N(0, 1) noise, the reported
# probabilities their softmax, the prediction its argmax. Qualities from weak to near perfect.
MULTICLASS_PRIOR = (0.5, 0.3, 0.2)
MULTICLASS_QUALITIES = {"weak": 1.0, "good": 3.0, "near_perfect": 7.0}


def sample_multiclass(d: float) -> Sample:
    def draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        y = rng.choice(3, size=n, p=MULTICLASS_PRIOR)
        logits = rng.normal(0.0, 1.0, (n, 3))
        logits[np.arange(n), y] += d
        proba = special.softmax(logits, axis=1)
        return {"y": y, **{f"p_{k}": proba[:, k] for k in range(3)}}

    return draw


def population_multiclass(d: float, size: int = 4_000_000) -> Population:
    """Population values by a seeded Monte Carlo of ``size`` rows, computed with scikit-learn (independent of assay)."""
    from sklearn import metrics as skm

    rng = np.random.default_rng([SEED, 98])
    draw = sample_multiclass(d)(rng, size)
    y = draw["y"]
    proba = np.column_stack([draw[f"p_{k}"] for k in range(3)])
    pred = proba.argmax(axis=1)
    out: Population = {"accuracy": float(np.mean(pred == y)),
                       "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred))}
    for avg in ("macro", "micro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y, pred, average=avg, zero_division=0)
        out.update({f"precision_{avg}": float(p), f"recall_{avg}": float(r), f"f1_{avg}": float(f)})
    out["log_loss"] = float(skm.log_loss(y, proba, labels=[0, 1, 2]))
    out["roc_auc_ovr"] = float(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    return out


# -- the scenarios ----------------------------------------------------------------------------------------------
def scenarios(only: set[str]) -> Iterator[tuple[str, str, Sample, Population, dict[str, Any]]]:
    """``(task, quality, sampler, population values, evaluate options)``."""
    if "binary" in only:
        for quality, d in QUALITIES.items():
            yield "binary", quality, sample_binary(d), population_binary(d), {"label": "y", "score": "s"}
    if "multiclass" in only:
        for quality, d in MULTICLASS_QUALITIES.items():
            yield ("multiclass", quality, sample_multiclass(d), population_multiclass(d),
                   {"label": "y", "proba_prefix": "p_"})
    if "regression" in only:
        for law, error in REGRESSION_ERRORS.items():
            yield ("regression", law, sample_regression(error), population_regression(error),
                   {"label": "y", "prediction": "p"})


def run_cell(task: str, sampler: Sample, population: Population, options: dict[str, Any], n: int, reps: int,
             seed: list[int]) -> dict[str, dict[str, Any]]:
    """Coverage, undefined count, collapsed (``ci_low == ci_high``) count and mean width of every metric."""
    tally: dict[str, dict[str, Any]] = {m: {"covered": 0, "defined": 0, "undefined": 0, "collapsed": 0,
                                            "width": 0.0, "whole": 0} for m in population}
    for rep in range(reps):
        rng = np.random.default_rng([*seed, rep])
        data = sampler(rng, n)
        run = assay.evaluate(data, task=task, **options)
        for name, truth in population.items():
            entry = run.metrics.get(name)
            t = tally[name]
            if entry is None or entry.get("value") is None or entry.get("ci_low") is None:
                t["undefined"] += 1
                continue
            lo, hi = float(entry["ci_low"]), float(entry["ci_high"])
            t["defined"] += 1
            t["covered"] += int(lo <= truth <= hi)
            t["collapsed"] += int(hi - lo <= 1e-12)
            t["width"] += hi - lo
    for t in tally.values():
        t["coverage"] = t["covered"] / t["defined"] if t["defined"] else None
        t["width"] = t["width"] / t["defined"] if t["defined"] else None
    return tally


def goal(metric: str, n: int) -> float:
    return ECE_GOAL_50 if metric.startswith("ece") and n < 200 else GOAL


# -- output -----------------------------------------------------------------------------------------------------
def table(cells: list[dict[str, Any]], task: str) -> str:
    rows = [c for c in cells if c["task"] == task]
    if not rows:
        return ""
    metrics = list(rows[0]["metrics"])
    head = ["model", "n", *metrics]
    body = []
    for c in rows:
        line = [c["quality"], f"{c['n']:,}"]
        for m in metrics:
            cov = c["metrics"][m]["coverage"]
            mark = "" if cov is None or cov >= goal(m, c["n"]) else "*"
            line.append("—" if cov is None else f"{cov:.2f}{mark}")
        body.append(line)
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def _svg(metric: str, task: str, cells: list[dict[str, Any]], before: list[dict[str, Any]]) -> str:
    w, h, left, right, top, bottom = 360, 220, 44, 100, 24, 30
    sizes = sorted({c["n"] for c in cells})
    lo_y = 0.0

    def px(n: int) -> float:
        if len(sizes) == 1:
            return left + (w - left - right) / 2
        span = math.log10(sizes[-1]) - math.log10(sizes[0])
        return left + (math.log10(n) - math.log10(sizes[0])) / span * (w - left - right)

    def py(v: float) -> float:
        return top + (1 - (v - lo_y) / (1 - lo_y)) * (h - top - bottom)

    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
             f'aria-label="coverage of {html.escape(metric)}">',
             f'<text x="{left}" y="14" font-size="12" font-weight="bold">{html.escape(task)} · '
             f'{html.escape(metric)}</text>']
    for v in (0.0, 0.5, 0.9, 0.95, 1.0):
        dash = ' stroke-dasharray="4 3"' if v in (0.9, 0.95) else ""
        colour = "#c00" if v == 0.9 else "#999"
        parts.append(f'<line x1="{left}" x2="{w - right}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="{colour}" '
                     f'stroke-width="0.7"{dash}/>')
        parts.append(f'<text x="{left - 4}" y="{py(v) + 3:.1f}" font-size="9" text-anchor="end">{v:g}</text>')
    for n in sizes:
        parts.append(f'<text x="{px(n):.1f}" y="{h - bottom + 14}" font-size="9" text-anchor="middle">{n:,}</text>')
    qualities = list(dict.fromkeys(c["quality"] for c in cells))
    for i, q in enumerate(qualities):
        colour = colours[i % len(colours)]
        for series, dash in ((before, ' stroke-dasharray="3 3" opacity="0.6"'), (cells, "")):
            pts = [(px(c["n"]), py(c["metrics"][metric]["coverage"])) for c in series
                   if c["task"] == task and c["quality"] == q and metric in c["metrics"]
                   and c["metrics"][metric]["coverage"] is not None]
            if not pts:
                continue
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.6"{dash}/>')
            if not dash:
                parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{colour}"/>' for x, y in pts]
        parts.append(f'<text x="{w - right + 6}" y="{top + 12 * i + 8}" font-size="10" fill="{colour}">'
                     f'{html.escape(q)}</text>')
    if before:
        parts.append(f'<text x="{w - right + 6}" y="{top + 12 * len(qualities) + 14}" font-size="9" '
                     'fill="#666">dashed: before</text>')
    parts.append("</svg>")
    return "".join(parts)


def html_page(report: dict[str, Any], before: list[dict[str, Any]]) -> str:
    cells = report["cells"]
    tasks = list(dict.fromkeys(c["task"] for c in cells))
    body = [f"<h1>assay interval coverage</h1><p>{html.escape(report['started'])} · {report['reps']} replications "
            f"per cell · seed {report['seed']} · nominal 0.95, goal 0.90 (red line; ECE 0.85 at n = 50) · "
            f"<code>{html.escape(report['command'])}</code></p>"]
    for task in tasks:
        body.append(f"<h2>{html.escape(task)}</h2><pre>{html.escape(table(cells, task))}</pre><div>")
        metrics = list(next(c for c in cells if c["task"] == task)["metrics"])
        body += [f'<figure style="display:inline-block;margin:4px">{_svg(m, task, cells, before)}</figure>'
                 for m in metrics]
        body.append("</div>")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>assay coverage</title>"
            "<style>body{font-family:sans-serif;margin:1em}pre{font-size:12px}</style></head><body>"
            + "".join(body) + "</body></html>\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 replications, n in {50, 200}")
    parser.add_argument("--reps", type=int, default=None, help="replications per cell (default 300; quick 60)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--sizes", default="", help="comma-separated sample sizes (default 50,200,1000,10000)")
    parser.add_argument("--only", default="binary", help="comma-separated tasks: binary, multiclass, regression")
    parser.add_argument("--out", default=None, help="JSON path (the HTML page goes beside it)")
    parser.add_argument("--before", default=None, help="an earlier JSON to draw dashed in the plots")
    args = parser.parse_args()
    reps = args.reps or (60 if args.quick else 300)
    sizes = tuple(int(s) for s in args.sizes.split(",") if s.strip()) or (QUICK_SIZES if args.quick else SIZES)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "benchmark": "coverage", "started": started.isoformat(), "reps": reps, "seed": args.seed,
        "sizes": list(sizes), "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "assay": assay.__version__, "cells": [],
    }
    print(f"assay coverage benchmark — {started:%Y-%m-%d %H:%M} UTC, {reps} replications per cell", flush=True)
    t0 = time.perf_counter()
    task_ids = {"binary": 0, "multiclass": 1, "regression": 2, "ranking": 3}
    for task, quality, sampler, population, options in scenarios(only):
        q_id = (list(QUALITIES).index(quality) if quality in QUALITIES and task != "multiclass"
                else list(MULTICLASS_QUALITIES).index(quality) if task == "multiclass"
                else list(REGRESSION_ERRORS).index(quality) if quality in REGRESSION_ERRORS else 0)
        for n in sizes:
            t = time.perf_counter()
            tally = run_cell(task, sampler, population, options, n, reps, [args.seed, task_ids[task], q_id, n])
            report["cells"].append({"task": task, "quality": quality, "n": n, "population": population,
                                    "metrics": tally, "seconds": round(time.perf_counter() - t, 2)})
            print(f"  {task} {quality} n={n:,}: {time.perf_counter() - t:.1f} s", flush=True)
    report["total_seconds"] = round(time.perf_counter() - t0, 1)
    print()
    for task in dict.fromkeys(c["task"] for c in report["cells"]):
        text = table(report["cells"], task)
        report.setdefault("tables", {})[task] = text
        print(f"{task} (coverage of the 95% interval; * below the goal)\n{text}\n")
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"coverage-{started:%Y-%m-%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    before = json.loads(Path(args.before).read_text())["cells"] if args.before else []
    out.with_suffix(".html").write_text(html_page(report, before))
    print(f"total {report['total_seconds']:.0f} s; written {out} and {out.with_suffix('.html')}")


if __name__ == "__main__":
    main()

"""Group fairness from per-group confusion counts, with fairlearn's definitions.

- ``demographic_parity_difference``: largest minus smallest selection rate across groups;
- ``demographic_parity_ratio``: smallest over largest selection rate;
- ``equalized_odds_difference``: the larger of the TPR difference and the FPR difference (fairlearn's default
  ``agg="worst_case"``);
- ``equalized_odds_ratio``: the smaller of the TPR ratio and the FPR ratio.

Intervals resample the cells, not the rows: each group's four confusion cells are drawn from a multinomial on the
group's effective sample size (groups are independent samples), the disparity recomputed on each replicate, and the
percentile interval taken (``seed`` fixes the draws). A disparity that needs a rate a group does not define (TPR of a
group without positives) is undefined, with a reason naming the group.

>>> from assay.metrics.confusion import ConfusionState
>>> s = ConfusionState.empty(2).update(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]),
...                                    codes=np.array([0, 0, 1, 1]), group_keys=("a", "b"))
>>> round(disparities(s, 1.96, seed=0)["demographic_parity_difference"]["value"], 3)
0.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.metrics._groups import stable_seed
from assay.metrics.classification import BINARY_CELL_METRICS
from assay.metrics.confusion import ConfusionState
from assay.metrics.estimate import _num
from assay.stats.intervals import kish_ess, two_sided_alpha

RATES = ("selection_rate", "tpr", "fpr", "accuracy")
DISPARITIES = ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
               "equalized_odds_ratio")


def _rates(c: np.ndarray) -> dict[str, np.ndarray]:
    """Rates from cells ``(..., 2, 2)``; NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return {rate: BINARY_CELL_METRICS[name](c) for rate, name in
                (("selection_rate", "selection_rate"), ("tpr", "recall"), ("fpr", "fpr"), ("accuracy", "accuracy"))}


def _disparity(rates: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Disparities over the last axis (groups)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        sr, tpr, fpr = rates["selection_rate"], rates["tpr"], rates["fpr"]

        def diff(x: np.ndarray) -> np.ndarray:
            return x.max(axis=-1) - x.min(axis=-1)

        def ratio(x: np.ndarray) -> np.ndarray:
            hi = x.max(axis=-1)
            return np.where(hi > 0, x.min(axis=-1) / np.where(hi > 0, hi, 1.0), np.nan)

        return {
            "demographic_parity_difference": diff(sr),
            "demographic_parity_ratio": ratio(sr),
            "equalized_odds_difference": np.maximum(diff(tpr), diff(fpr)),
            "equalized_odds_ratio": np.minimum(ratio(tpr), ratio(fpr)),
        }


def disparities(
    state: ConfusionState, z: float, *, seed: int = 0, frequency: bool = False, replicates: int = 2000
) -> dict[str, Any]:
    """The four disparity metrics of one sensitive attribute, each ``{value, ci_low, ci_high, se, n, ...}``."""
    counts = state.counts
    present = counts.sum(axis=(1, 2)) > 0
    keys = [k for k, p in zip(state.groups, present, strict=True) if p]
    c = counts[present]
    rates = _rates(c)
    point = _disparity(rates)
    n_rows = int(state.rows.sum())
    out: dict[str, Any] = {}
    reasons: dict[str, str | None] = {
        "demographic_parity_difference": None,
        "demographic_parity_ratio": None,
        "equalized_odds_difference": None,
        "equalized_odds_ratio": None,
    }
    if len(keys) < 2:
        for name in reasons:
            reasons[name] = f"needs at least two groups with rows, found {len(keys)}"
    else:
        no_pos = [str(k) for k, v in zip(keys, rates["tpr"], strict=True) if np.isnan(v)]
        no_neg = [str(k) for k, v in zip(keys, rates["fpr"], strict=True) if np.isnan(v)]
        if no_pos or no_neg:
            text = "; ".join(
                filter(None, [f"no positive labels in group(s) {', '.join(no_pos)}" if no_pos else "",
                              f"no negative labels in group(s) {', '.join(no_neg)}" if no_neg else ""])
            )
            reasons["equalized_odds_difference"] = reasons["equalized_odds_ratio"] = (
                f"{text}: true and false positive rates are undefined there"
            )
        if np.all(rates["selection_rate"] == 0):
            reasons["demographic_parity_ratio"] = "no group has a positive prediction: the ratio is 0/0"
    reps: dict[str, np.ndarray] = {}
    if len(keys) >= 2:
        sq = state.sq[present]
        totals = c.reshape(len(keys), 4).sum(axis=1)
        n_eff = totals if frequency else kish_ess(totals, sq.reshape(len(keys), 4).sum(axis=1))
        probs = c.reshape(len(keys), 4) / totals[:, None]
        # each group draws from its own generator, keyed by the seed and the group's value: the intervals do not
        # depend on the order in which groups were met
        draws = np.stack(
            [np.random.default_rng([seed, stable_seed(key)]).multinomial(max(round(float(n)), 1), p, size=replicates)
             for key, n, p in zip(keys, n_eff, probs, strict=True)],
            axis=1,
        ).astype(np.float64)  # (replicates, groups, 4)
        rep_rates = _rates(draws.reshape(replicates, len(keys), 2, 2))
        reps = _witness_replicates(rates, rep_rates)
    alpha = two_sided_alpha(z)
    for name in DISPARITIES:
        value = float(point[name]) if len(keys) >= 2 else float("nan")
        entry: dict[str, Any] = {"value": _num(value), "ci_low": None, "ci_high": None, "se": None, "n": n_rows,
                                 "method": "cell-bootstrap", "higher_is_better": name.endswith("ratio")}
        if reasons[name] is not None or entry["value"] is None:
            entry["value"] = None
            entry["reason"] = reasons[name] or "undefined on these rows"
        else:
            r = reps[name][np.isfinite(reps[name])]
            if r.size > 1:
                lo, hi = np.quantile(r, [alpha / 2, 1 - alpha / 2])
                if name.endswith("difference"):
                    lo, hi = max(float(lo), 0.0), max(float(hi), 0.0)
                else:
                    lo, hi = min(max(float(lo), 0.0), 1.0), min(max(float(hi), 0.0), 1.0)
                entry.update(ci_low=float(lo), ci_high=float(hi), se=float(r.std(ddof=1)))
        out[name] = entry
    return out


def _witness_replicates(rates: dict[str, np.ndarray], rep: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Replicates of each disparity on the pair of groups (and the rate) that attain it in the data.

    Resampling ``max - min`` itself gives a percentile interval biased upwards (the maximum of noisy rates), whose
    lower bound can exceed a near-zero observed disparity; following the observed pair keeps the interval centred on
    the estimate. Differences are then floored at 0 and ratios capped at 1 by the caller.
    """
    out: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):

        def pair(name: str) -> tuple[int, int]:
            r = np.where(np.isnan(rates[name]), -np.inf, rates[name])
            lo = np.where(np.isnan(rates[name]), np.inf, rates[name])
            return int(np.argmax(r)), int(np.argmin(lo))

        def diff(name: str) -> tuple[float, np.ndarray]:
            hi, lo = pair(name)
            return float(rates[name][hi] - rates[name][lo]), rep[name][:, hi] - rep[name][:, lo]

        def ratio(name: str) -> tuple[float, np.ndarray]:
            hi, lo = pair(name)
            point = rates[name][lo] / rates[name][hi] if rates[name][hi] > 0 else np.nan
            return float(point), rep[name][:, lo] / rep[name][:, hi]

        out["demographic_parity_difference"] = diff("selection_rate")[1]
        out["demographic_parity_ratio"] = ratio("selection_rate")[1]
        (dt, rt), (df, rf) = diff("tpr"), diff("fpr")
        out["equalized_odds_difference"] = rt if dt >= df else rf
        (qt, rtq), (qf, rfq) = ratio("tpr"), ratio("fpr")
        out["equalized_odds_ratio"] = rtq if (qt <= qf or np.isnan(qf)) else rfq
    return out

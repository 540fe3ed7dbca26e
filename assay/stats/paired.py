"""Paired comparisons of two models on the same items: intervals of the difference and tests.

- :func:`tango` — Tango's (1998) score interval for the difference of two paired proportions, the interval
  inverted from the score test, with :func:`mcnemar` (exact and asymptotic) beside it;
- :func:`paired_delong` — DeLong's covariance of two ROC-AUCs on the same items;
- :func:`joint_cell_bootstrap` — resampling of the joint confusion cells (label x candidate x baseline prediction)
  for precision, F1, MCC and the other functions of the confusion matrix;
- :func:`paired_mean` — the mean of per-item differences (log loss, Brier, absolute error, ...), influence-function
  interval.

All take the candidate first: a positive difference means the candidate scores higher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assay.stats.intervals import kish_ess, two_sided_alpha


@dataclass(frozen=True)
class Difference:
    """An estimate of ``candidate - baseline`` with its interval."""

    value: float
    low: float
    high: float
    se: float
    n: int
    method: str
    p_value: float | None = None  # a test of "no difference" where the method has one (McNemar)


def mcnemar(b: float, c: float, *, exact: bool = True, correction: bool = True) -> float:
    """McNemar's test p-value for discordant counts ``b`` and ``c`` (as statsmodels computes it).

    >>> round(mcnemar(19, 45), 5)
    0.00156
    """
    from scipy import stats  # here, not at import: scipy is most of assay's import time

    if b + c == 0:
        return 1.0
    if exact:
        return float(min(1.0, 2 * stats.binom.cdf(min(b, c), b + c, 0.5)))
    stat = (abs(b - c) - (1.0 if correction else 0.0)) ** 2 / (b + c)
    return float(stats.chi2.sf(stat, 1))


def _tango_stat(delta: float, n10: float, n01: float, n: float) -> float:
    a = 2 * n
    b = -(n10 + n01) + (2 * n - n10 + n01) * delta
    c = -n01 * delta * (1 - delta)
    disc = max(b * b - 4 * a * c, 0.0)
    p01 = (-b + np.sqrt(disc)) / (2 * a)
    var = n * (2 * p01 + delta * (1 - delta))
    if var <= 0:
        return 0.0 if n10 - n01 - n * delta == 0 else np.sign(n10 - n01 - n * delta) * np.inf
    return float((n10 - n01 - n * delta) / np.sqrt(var))


def tango(n11: float, n10: float, n01: float, n00: float, z: float) -> Difference:
    """Score interval of ``p1 - p2`` for paired proportions, ``p1 = (n11 + n10) / n``, ``p2 = (n11 + n01) / n``.

    ``n10`` counts items the first (candidate) gets right and the second (baseline) wrong. The p-value is McNemar's
    exact test.

    >>> d = tango(250, 4, 30, 116, 1.959963984540054)
    >>> round(d.value, 3), round(d.low, 4), round(d.high, 4)
    (-0.065, -0.0963, -0.0391)
    """
    n = n11 + n10 + n01 + n00
    if n <= 0:
        return Difference(float("nan"), float("nan"), float("nan"), float("nan"), 0, "paired-tango")
    est = (n10 - n01) / n
    lo_edge, hi_edge = -1.0 + 1e-12, 1.0 - 1e-12

    def root(target: float, a: float, b: float) -> float:
        from scipy import optimize  # here, not at import: scipy is most of assay's import time

        f = lambda d: _tango_stat(d, n10, n01, n) - target  # noqa: E731
        fa, fb = f(a), f(b)
        if np.sign(fa) == np.sign(fb):
            return a if abs(fa) < abs(fb) else b
        return float(optimize.brentq(f, a, b, xtol=1e-12))

    low = root(z, lo_edge, est) if est > lo_edge else -1.0
    high = root(-z, est, hi_edge) if est < hi_edge else 1.0
    p1, p2 = (n11 + n10) / n, (n11 + n01) / n
    cov = (n11 / n - p1 * p2) / n
    se = float(np.sqrt(max(p1 * (1 - p1) / n + p2 * (1 - p2) / n - 2 * cov, 0.0)))
    return Difference(float(est), float(low), float(high), se, round(n), "paired-tango",
                      mcnemar(n01, n10, exact=True))


def paired_mean(diff: np.ndarray, z: float, weight: np.ndarray | None = None) -> Difference:
    """Mean of per-item differences with a normal interval (Kish's effective size with weights)."""
    n = diff.shape[0]
    if n == 0:
        return Difference(float("nan"), float("nan"), float("nan"), float("nan"), 0, "paired-mean")
    w = np.ones(n) if weight is None else weight
    sw = w.sum()
    mean = float((w * diff).sum() / sw)
    n_eff = float(kish_ess(sw, (w * w).sum()))
    var = float((w * (diff - mean) ** 2).sum() / sw) * (n_eff / (n_eff - 1) if n_eff > 1 else np.nan)
    se = float(np.sqrt(var / n_eff)) if n_eff > 1 else float("nan")
    return Difference(mean, mean - z * se, mean + z * se, se, n, "paired-mean")


def _placements(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """DeLong placements: for positives the weighted share of negatives below (ties half), and vice versa.

    One sort of the scores; tie groups get their cumulative masses, then every item reads its group's.
    """
    order = np.argsort(s, kind="stable")
    ss = s[order]
    new = np.empty(ss.size, dtype=bool)
    new[0] = True
    np.not_equal(ss[1:], ss[:-1], out=new[1:])
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ys, ws = y[order], w[order]
    neg_g = np.add.reduceat(np.where(ys == 0, ws, 0.0), starts)
    pos_g = np.add.reduceat(np.where(ys == 1, ws, 0.0), starts)
    N, P = neg_g.sum(), pos_g.sum()
    neg_below = np.cumsum(neg_g) - neg_g
    pos_above = P - np.cumsum(pos_g)
    v10_g = (neg_below + 0.5 * neg_g) / N
    v01_g = (pos_above + 0.5 * pos_g) / P
    item_group = np.empty(s.size, dtype=np.int64)
    item_group[order] = group
    pos, neg = y == 1, y == 0
    v10 = v10_g[item_group[pos]]
    v01 = v01_g[item_group[neg]]
    auc = float((pos_g * v10_g).sum() / P)
    return v10, v01, auc


def paired_delong(y: np.ndarray, score_a: np.ndarray, score_b: np.ndarray, z: float,
                  weight: np.ndarray | None = None) -> Difference:
    """Difference of two ROC-AUCs on the same items with DeLong's paired variance."""
    w = np.ones(y.shape[0]) if weight is None else weight
    pos, neg = y == 1, y == 0
    if not pos.any() or not neg.any():
        return Difference(float("nan"), float("nan"), float("nan"), float("nan"), int(y.shape[0]), "paired-delong")
    v10a, v01a, auc_a = _placements(y, score_a, w)
    v10b, v01b, auc_b = _placements(y, score_b, w)
    wp, wn = w[pos], w[neg]
    m = float(kish_ess(wp.sum(), (wp * wp).sum()))
    n = float(kish_ess(wn.sum(), (wn * wn).sum()))

    def cov(x: np.ndarray, xm: float, u: np.ndarray, um: float, ww: np.ndarray, eff: float) -> float:
        return float((ww * (x - xm) * (u - um)).sum() / ww.sum() * eff / (eff - 1)) if eff > 1 else np.nan

    s10 = cov(v10a, auc_a, v10a, auc_a, wp, m) + cov(v10b, auc_b, v10b, auc_b, wp, m) \
        - 2 * cov(v10a, auc_a, v10b, auc_b, wp, m)
    s01 = cov(v01a, auc_a, v01a, auc_a, wn, n) + cov(v01b, auc_b, v01b, auc_b, wn, n) \
        - 2 * cov(v01a, auc_a, v01b, auc_b, wn, n)
    se = float(np.sqrt(max(s10 / m + s01 / n, 0.0)))
    d = auc_a - auc_b
    from scipy import special  # here, not at import: scipy is most of assay's import time

    p = float(2 * special.ndtr(-abs(d) / se)) if se > 0 else None  # twice the normal upper tail
    return Difference(d, d - z * se, d + z * se, se, int(y.shape[0]), "paired-delong", p)


def joint_cell_bootstrap(
    y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, metric: Callable[[np.ndarray], np.ndarray], z: float,
    *, weight: np.ndarray | None = None, seed: int = 0, replicates: int = 4000, k: float = 1.0,
) -> Difference:
    """Difference ``a - k b`` of a confusion-matrix metric, resampling the 8 joint cells (label x pred_a x pred_b).

    ``metric`` maps confusion counts ``(..., 2, 2)`` (``[true, predicted]``) to values ``(...)``; undefined
    replicates (0/0) are dropped from the percentile interval.
    """
    w = np.ones(y.shape[0]) if weight is None else weight
    cell = y.astype(np.int64) * 4 + pred_a.astype(np.int64) * 2 + pred_b.astype(np.int64)
    counts = np.bincount(cell, weights=w, minlength=8)
    total = counts.sum()

    def both(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = c.reshape(*c.shape[:-1], 2, 2, 2)  # [y, a, b]
        return metric(c.sum(axis=-1)), metric(c.sum(axis=-2))

    with np.errstate(divide="ignore", invalid="ignore"):
        va, vb = both(counts)
        d = float(va - k * vb)
        n_eff = round(float(kish_ess(total, (w * w).sum())))
        rng = np.random.default_rng(seed)
        draws = rng.multinomial(max(n_eff, 1), counts / total, size=replicates).astype(np.float64)
        ra, rb = both(draws)
        reps = ra - k * rb
    reps = reps[np.isfinite(reps)]
    alpha = two_sided_alpha(z)
    if reps.size < 2 or not np.isfinite(d):
        return Difference(d, float("nan"), float("nan"), float("nan"), int(y.shape[0]), "paired-cell-bootstrap")
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return Difference(d, float(lo), float(hi), float(reps.std(ddof=1)), int(y.shape[0]), "paired-cell-bootstrap")

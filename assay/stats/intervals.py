"""Confidence intervals computed from sufficient statistics, vectorised over a leading axis.

All functions take arrays (or scalars) and return arrays of the same shape; entries whose interval is undefined
(no data, zero denominator) come back as NaN, and the caller turns them into ``value: null`` with a reason.

Which interval serves which metric (the README's table follows this list):

- proportions (accuracy, precision, recall, ...): Wilson score interval on the effective sample size;
- ROC-AUC: DeLong's variance, normal interval clipped to [0, 1];
- average precision: the logit interval of Boyd, Eng and Page (2013);
- smooth functions of confusion cells (F1, MCC, balanced accuracy, macro averages): delta method on the multinomial
  cell proportions;
- means of per-row losses (log loss, Brier, MAE, MSE, MAPE) and of per-query values (ranking): normal interval with
  the influence-function standard error;
- quantiles (median absolute error): distribution-free order-statistic interval.
"""

from __future__ import annotations

import numpy as np

__all__ = ["kish_ess", "logit_normal", "normal", "two_sided_alpha", "wilson", "z_value"]


def z_value(confidence: float) -> float:
    """Two-sided standard normal quantile for a confidence level.

    >>> round(z_value(0.95), 4)
    1.96
    """
    from scipy import special  # here, not at import: scipy is most of assay's import time
    return float(special.ndtri(0.5 + confidence / 2.0))


def two_sided_alpha(z: float) -> float:
    """The two-sided level that a normal quantile ``z`` stands for (the inverse of :func:`z_value`).

    >>> round(two_sided_alpha(z_value(0.95)), 10)
    0.05
    """
    from scipy import special  # here, not at import: scipy is most of assay's import time
    return float(2 * special.ndtr(-z))


def kish_ess(sum_w: np.ndarray | float, sum_w2: np.ndarray | float) -> np.ndarray:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``; equals the count when all weights are 1.

    >>> float(kish_ess(4.0, 4.0)), float(kish_ess(4.0, 10.0))
    (4.0, 1.6)
    """
    sw = np.asarray(sum_w, dtype=np.float64)
    sw2 = np.asarray(sum_w2, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sw2 > 0, sw * sw / np.where(sw2 > 0, sw2, 1.0), 0.0)


def wilson(p: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion ``p`` observed on ``n`` (effective) trials.

    Returns ``(low, high, se)`` where ``se = sqrt(p (1 - p) / n)``.

    >>> lo, hi, se = wilson(np.array(0.5), np.array(100.0), 1.959963984540054)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.4038, 0.5962)
    """
    p = np.asarray(p, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_safe = np.where(n > 0, n, np.nan)
        z2 = z * z
        denom = 1.0 + z2 / n_safe
        centre = (p + z2 / (2.0 * n_safe)) / denom
        half = z * np.sqrt(np.maximum(p * (1.0 - p) / n_safe + z2 / (4.0 * n_safe * n_safe), 0.0)) / denom
        se = np.sqrt(np.maximum(p * (1.0 - p), 0.0) / n_safe)
    low = np.where(p <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(p >= 1, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high, se


def normal(
    value: np.ndarray, se: np.ndarray, z: float, lower: float = -np.inf, upper: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric normal interval ``value +- z se``, clipped to the metric's range.

    >>> lo, hi = normal(np.array(0.9), np.array(0.1), 2.0, 0.0, 1.0)
    >>> round(float(lo), 6), float(hi)
    (0.7, 1.0)
    """
    value = np.asarray(value, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    return np.clip(value - z * se, lower, upper), np.clip(value + z * se, lower, upper)


def logit_normal(value: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logit interval for a quantity in (0, 1) with variance ``v (1 - v) / n`` on the natural scale.

    Used for average precision (Boyd, Eng and Page 2013, "Area under the precision-recall curve: point estimates
    and confidence intervals"), where ``n`` is the effective number of positives. Returns ``(low, high, se)``.

    >>> lo, hi, se = logit_normal(np.array(0.8), np.array(100.0), 1.959963984540054)
    >>> round(float(lo), 4), round(float(hi), 4), round(float(se), 4)
    (0.7102, 0.8672, 0.04)
    """
    from scipy import special  # here, not at import: scipy is most of assay's import time
    v = np.asarray(value, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_safe = np.where(n > 0, n, np.nan)
        inner = np.clip(v, 1e-12, 1 - 1e-12)
        eta = np.log(inner / (1.0 - inner))
        tau = 1.0 / np.sqrt(n_safe * inner * (1.0 - inner))
        lo = special.expit(eta - z * tau)
        hi = special.expit(eta + z * tau)
        se = np.sqrt(np.maximum(v * (1.0 - v), 0.0) / n_safe)
    return lo, hi, se

"""Confidence intervals computed from sufficient statistics, vectorised over a leading axis.

All functions take arrays (or scalars) and return arrays of the same shape; entries whose interval is undefined
(no data, zero denominator) come back as NaN, and the caller turns them into ``value: null`` with a reason.

Every interval here holds its level near the boundary of the metric's range too (``benchmarks/coverage.py``
measures it): none collapses to a point on a finite sample. Which interval serves which metric (the README's table
follows this list):

- proportions (accuracy, precision, recall, ...): Wilson score interval on the effective sample size, with Brown,
  Cai and DasGupta's Poisson ends next to 0 and 1 (:func:`poisson_ends`);
- F1: the Wilson interval of the Jaccard index ``TP / (TP + FP + FN)`` mapped through ``F1 = 2J / (1 + J)``;
- balanced accuracy and other means of independent proportions: MOVER (:func:`mover_mean`) over Wilson intervals;
- MCC: the informedness and markedness intervals (MOVER-Wilson) combined through ``MCC^2 = inf x mk``;
- other smooth functions of confusion cells (macro and weighted averages): delta method on a transformed scale
  (:func:`transformed_delta`: logit) at the cells plus a pseudo-count;
- ROC-AUC: the score interval of Newcombe (2006) for the Mann-Whitney statistic (:func:`mann_whitney_score`), its
  variance raised to DeLong's where DeLong's is larger;
- average precision: Wilson-type score interval with Boyd, Eng and Page's (2013) variance ``AP (1 - AP) / n_pos``;
- means of per-row losses bounded in ``[0, 1]`` (Brier): the score interval :func:`bounded_mean_score` (Wilson's,
  with the sample variance); means of unbounded ones (log loss, MAE, MSE): Hall's (1992) skewness-corrected
  interval :func:`hall_skew` from the third moment; per-query values (ranking): normal interval;
- quantiles (median absolute error): distribution-free order-statistic interval.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "bounded_mean_score",
    "hall_skew",
    "kish_ess",
    "logit_normal",
    "mann_whitney_score",
    "mover_mean",
    "normal",
    "poisson_ends",
    "transformed_delta",
    "two_sided_alpha",
    "wilson",
    "z_value",
]


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
    x_max = np.where(n <= 50, 2.0, np.where(n <= 100, 3.0, 0.0))
    low, high = poisson_ends(low, high, p * n, n, z, x_max)
    return low, high, se


def poisson_ends(
    low: np.ndarray, high: np.ndarray, x: np.ndarray, n: np.ndarray, z: float, x_max: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Brown, Cai and DasGupta's (2001, "Interval estimation for a binomial proportion", section 4.1.1) modified
    Wilson ends: where ``0 < x <= x_max`` events were seen, the lower end is at most the one-sided Poisson bound
    ``gammaincinv(x, alpha) / n`` (``= chi2(2x).ppf(alpha) / 2n``), and symmetrically for the upper end with
    ``n - x``. It removes Wilson's coverage dips next to 0 and 1 (down to 0.84 at n = 50 otherwise).

    >>> lo, hi = poisson_ends(np.array(0.005), np.array(0.14), np.array(1.0), np.array(35.0), 1.96, 2.0)
    >>> round(float(lo), 5), float(hi)
    (0.00147, 0.14)
    """
    from scipy import special  # here, not at import: scipy is most of assay's import time

    alpha = two_sided_alpha(z)
    x = np.asarray(x, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rest = n - x
        few = (x > 1e-9) & (x <= x_max + 1e-9)
        few_rest = (rest > 1e-9) & (rest <= x_max + 1e-9)
        lo_p = special.gammaincinv(np.where(few, x, 1.0), alpha) / n
        hi_p = 1.0 - special.gammaincinv(np.where(few_rest, rest, 1.0), alpha) / n
    return np.where(few, np.fmin(low, lo_p), low), np.where(few_rest, np.fmax(high, hi_p), high)


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


def including(low: np.ndarray, high: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Widen ``[low, high]`` to hold ``value``: an interval centred on a pseudo-count estimate always holds the
    plug-in value too (as Wilson's holds ``p = 1`` at ``x = n``).

    >>> [float(a) for a in including(np.array(0.8), np.array(0.99), np.array(1.0))]
    [0.8, 1.0]
    """
    return np.fmin(low, value), np.fmax(high, value)


def mover_mean(
    values: list[np.ndarray], lows: list[np.ndarray], highs: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Interval for the mean of independent estimates from their own intervals: the MOVER of Zou and Donner (2008)
    (Newcombe's 1998 "method 10" for a difference of proportions, here for a mean of K of them).

    ``low = mean - sqrt(sum (v_k - l_k)^2) / K`` and ``high = mean + sqrt(sum (u_k - v_k)^2) / K``: each estimate
    brings its own asymmetry, so Wilson intervals at the boundary give a mean's interval that does not collapse.

    >>> lo, hi = mover_mean([np.array(1.0), np.array(1.0)], [np.array(0.9), np.array(0.8)], [np.array(1.0)] * 2)
    >>> round(float(lo), 4), float(hi)
    (0.8882, 1.0)
    """
    k = len(values)
    mean = sum(values[1:], start=values[0]) / k
    down = np.sqrt(sum(((v - lo) ** 2 for v, lo in zip(values, lows, strict=True)), start=np.zeros_like(mean)))
    up = np.sqrt(sum(((hi - v) ** 2 for v, hi in zip(values, highs, strict=True)), start=np.zeros_like(mean)))
    return mean - down / k, mean + up / k


def transformed_delta(
    value: np.ndarray, se: np.ndarray, z: float, scale: str
) -> tuple[np.ndarray, np.ndarray]:
    """Normal interval on a transformed scale, mapped back: ``logit`` for values in (0, 1), ``atanh`` (Fisher's z)
    for values in (-1, 1). ``value`` and ``se`` are the estimate and its delta-method standard error at the
    pseudo-count cells (strictly inside the range); the interval never leaves the range.

    >>> lo, hi = transformed_delta(np.array(0.9), np.array(0.05), 1.959963984540054, "logit")
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.7518, 0.9639)
    """
    from scipy import special  # here, not at import: scipy is most of assay's import time
    v = np.asarray(value, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if scale == "logit":
            inner = np.clip(v, 1e-300, 1 - 1e-16)
            eta, se_eta = special.logit(inner), se / (inner * (1.0 - inner))
            return special.expit(eta - z * se_eta), special.expit(eta + z * se_eta)
        inner = np.clip(v, -1 + 1e-16, 1 - 1e-16)
        eta, se_eta = np.arctanh(inner), se / (1.0 - inner * inner)
        return np.tanh(eta - z * se_eta), np.tanh(eta + z * se_eta)


def mann_whitney_score(
    auc: np.ndarray, n_pos: np.ndarray, n_neg: np.ndarray, z: float, delong_se: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Score interval for the Mann-Whitney AUC: the ``theta`` with ``(auc - theta)^2 <= z^2 V(theta)``.

    ``V`` is Hanley and McNeil's (1982) variance as a function of ``theta`` with both sample sizes replaced by
    their mean ``N = (m + n) / 2`` (Newcombe 2006, "Confidence intervals for an effect size measure based on the
    Mann-Whitney statistic. Part 2", method 5)::

        V(theta) = theta (1 - theta) [1 + (N - 1) ((1 - theta) / (2 - theta) + theta / (1 + theta))] / (m n)

    Being a score interval, it is not a point at AUC = 1 (DeLong's variance is 0 there). Where ``delong_se`` is
    given and DeLong's variance at the estimate is the larger, ``V`` is scaled up by that ratio, so that data
    noisier than Hanley and McNeil's model widen the interval as DeLong's would.

    >>> lo, hi = mann_whitney_score(np.array(1.0), np.array(15.0), np.array(35.0), 1.959963984540054)
    >>> round(float(lo), 4), float(hi)
    (0.9041, 1.0)
    """
    a = np.asarray(auc, dtype=np.float64)
    m = np.asarray(n_pos, dtype=np.float64)
    n = np.asarray(n_neg, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        big_n = (m + n) / 2.0

        def hm(t: np.ndarray) -> np.ndarray:
            return t * (1 - t) * (1 + (big_n - 1) * ((1 - t) / (2 - t) + t / (1 + t))) / (m * n)

        scale = np.ones_like(a)
        if delong_se is not None:
            ref = hm(np.clip(a, 0.0, 1.0))
            ratio = np.where(ref > 0, np.asarray(delong_se, dtype=np.float64) ** 2 / np.where(ref > 0, ref, 1.0), 1.0)
            scale = np.where(np.isfinite(ratio), np.maximum(ratio, 1.0), 1.0)
        z2 = z * z

        def f(t: np.ndarray) -> np.ndarray:
            return (a - t) ** 2 - z2 * scale * hm(t)

        ok = np.isfinite(a) & (m > 0) & (n > 0)
        start = np.where(ok, a, 0.5)
        # f(a) <= 0, f(0) = a^2 >= 0 and f(1) = (1 - a)^2 >= 0: bisect [0, a] and [a, 1] for the sign changes
        lo_out, lo_in = np.zeros_like(start), start.copy()
        hi_in, hi_out = start.copy(), np.ones_like(start)
        for _ in range(60):
            mid = 0.5 * (lo_out + lo_in)
            inside = f(mid) <= 0
            lo_out, lo_in = np.where(inside, lo_out, mid), np.where(inside, mid, lo_in)
            mid = 0.5 * (hi_in + hi_out)
            inside = f(mid) <= 0
            hi_in, hi_out = np.where(inside, mid, hi_in), np.where(inside, hi_out, mid)
    return np.where(ok, lo_out, np.nan), np.where(ok, hi_out, np.nan)


def bounded_mean_score(
    mean: np.ndarray, var: np.ndarray, n: np.ndarray, z: float, upper: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Score interval for the mean of a quantity bounded in ``[0, upper]``: the ``mu`` with
    ``(mean - mu)^2 <= z^2 V(mu) / n``, where ``V(mu) = var + (mu - mean)(upper - mu - mean)``.

    ``V`` equals the sample variance at ``mu = mean`` and moves as the largest variance a ``[0, upper]`` quantity of
    mean ``mu`` can have (the Bernoulli's, ``mu (upper - mu)``) moves: with 0/1 data it is Wilson's interval. Near 0
    it keeps Wilson's ``z^2 / n`` of room for the rare large losses a small sample may not show, which the normal
    interval on the sample variance (near 0 too) does not. Where the sum ``n mean / upper`` is at most 3 (a few
    large losses make the mean), the ends are also :func:`poisson_ends`' (at any ``n``: a quantity below the
    Bernoulli's variance shortens the score interval's arm towards 0, which the Poisson bound restores).

    >>> lo, hi = bounded_mean_score(np.array(0.0), np.array(0.0), np.array(50.0), 1.959963984540054)
    >>> float(lo), round(float(hi), 4)
    (0.0, 0.0713)
    """
    x = np.asarray(mean, dtype=np.float64) / upper
    v = np.asarray(var, dtype=np.float64) / (upper * upper)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = n / (z * z) + 1.0  # delta^2 c - delta (1 - 2x) - v = 0, delta = mu - mean
        b = 1.0 - 2.0 * x
        root = np.sqrt(b * b + 4.0 * c * np.maximum(v, 0.0))
        lo = x + (b - root) / (2.0 * c)
        hi = x + (b + root) / (2.0 * c)
    lo, hi = poisson_ends(np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0), x * n, n, z, 3.0)
    ok = n > 0
    return np.where(ok, lo * upper, np.nan), np.where(ok, hi * upper, np.nan)


def hall_skew(
    mean: np.ndarray, se: np.ndarray, skew: np.ndarray, n: np.ndarray, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """Skewness-corrected interval for a mean: Hall's (1992) cubic transformation of the studentised mean,
    ``g(t) = t + a t^2 / 3 + a^2 t^3 / 27 + a / 6`` with ``a = skew / sqrt(n)``, inverted in closed form.

    Right-skewed losses (a few large ones) get a longer upper arm than the normal interval; with ``skew = 0`` it is
    the normal interval. ``skew`` is the sample skewness ``m3 / m2^1.5`` (from the state's sums of cubes).

    >>> lo, hi = hall_skew(np.array(1.0), np.array(0.1), np.array(2.0), np.array(50.0), 1.959963984540054)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.8355, 1.2587)
    """
    mean = np.asarray(mean, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.asarray(skew, dtype=np.float64) / np.sqrt(np.asarray(n, dtype=np.float64))
    a = np.where(np.isfinite(a), a, 0.0)

    def inverse(u: float) -> np.ndarray:
        small = np.abs(a) < 1e-9
        safe = np.where(small, 1.0, a)
        t = 3.0 / safe * (np.cbrt(1.0 + safe * (u - safe / 6.0)) - 1.0)
        return np.where(small, u, t)

    # T = (mean - mu) / se has quantiles g^-1(+-z): mu in [mean - se g^-1(z), mean - se g^-1(-z)]
    return mean - se * inverse(z), mean - se * inverse(-z)

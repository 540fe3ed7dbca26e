"""Always-valid intervals for live comparisons: asymptotic confidence sequences for a difference of means.

A confidence interval computed at every look of a running comparison covers less than it says: looked at every 100
outcomes over a day, a 95% z-interval excludes the true difference of two identical versions about one time in five.
A *confidence sequence* covers the parameter at all looks at once, with probability ``1 - alpha``, so a team may look
as often as it likes and stop whenever the interval decides.

The sequence used here is the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas
("Time-uniform central limit theory and asymptotic confidence sequences", 2024): for the mean of ``t`` outcomes with
standard deviation ``sigma``, the two-sided radius is ``sigma * margin(t)`` with

    margin(t) = sqrt( 2 (t rho^2 + 1) / (t^2 rho^2) * log( sqrt(t rho^2 + 1) / (alpha / 2) ) )

(a Gaussian mixture boundary, the same family as the mixture SPRT), and ``rho^2`` chosen so that the radius is
smallest at ``t_star`` outcomes. The variance is estimated as data arrives (the "asymptotic" part).

Two independent arms of sizes ``n_c`` and ``n_t`` (a canary or an A/B test, any split) are one sequence of
``t = n_c + n_t`` outcomes whose difference estimate has variance ``V = s_c^2 / n_c + s_t^2 / n_t``: the radius is
``sqrt(t V) * margin(t)`` (the inverse-propensity form of the difference, whose per-outcome variance is ``t V``).
A paired comparison (shadow: both versions score the same requests) is the sequence of the per-request differences.

>>> lo, hi = difference_interval(0.90, 0.09, 5000, 0.87, 0.1131, 5000, alpha=0.05, t_star=5000)
>>> round(lo, 4), round(hi, 4)
(-0.0509, -0.0091)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from assay.errors import InputError


def rho2_for(t_star: float, alpha: float) -> float:
    """The mixture parameter whose two-sided sequence at level ``alpha`` is tightest near ``t_star`` outcomes
    (the closed-form approximation of the paper, which is within a few percent of the exact optimum)."""
    _check(alpha, t_star)
    a = alpha / 2
    return (-2 * math.log(a) + math.log(-2 * math.log(a) + 1)) / t_star


def margin(t: float, *, alpha: float, t_star: float) -> float:
    """The radius of the two-sided sequence for the mean of ``t`` unit-variance outcomes (``inf`` before any)."""
    if t <= 0:
        return math.inf
    r2 = rho2_for(t_star, alpha)
    a = alpha / 2
    return math.sqrt(2 * (t * r2 + 1) / (t * t * r2) * math.log(math.sqrt(t * r2 + 1) / a))


def margins(t: np.ndarray, *, alpha: float, t_star: float) -> np.ndarray:
    """:func:`margin` of many ``t`` at once (simulations look thousands of times)."""
    r2 = rho2_for(t_star, alpha)
    a = alpha / 2
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sqrt(2 * (t * r2 + 1) / (t * t * r2) * np.log(np.sqrt(t * r2 + 1) / a))
    return np.where(t > 0, out, np.inf)


def mean_interval(mean: float, var: float, n: float, *, alpha: float, t_star: float) -> tuple[float, float]:
    """The sequence interval of a mean (or of the mean of paired differences) after ``n`` outcomes."""
    if n <= 0:
        return -math.inf, math.inf
    r = math.sqrt(max(var, 0.0)) * margin(n, alpha=alpha, t_star=t_star)
    return mean - r, mean + r


def difference_interval(mean_c: float, var_c: float, n_c: float, mean_t: float, var_t: float, n_t: float, *,
                        alpha: float, t_star: float, scale_c: float = 1.0) -> tuple[float, float]:
    """The sequence interval of ``mean_t - scale_c * mean_c`` for two independent arms.

    ``t_star`` counts outcomes per arm (the sequence over both arms is tightest at ``2 * t_star``); ``scale_c``
    tests a relative margin (``(1 + r) * control - candidate``, as ``-(candidate - (1 + r) * control)``)."""
    if n_c <= 0 or n_t <= 0:
        return -math.inf, math.inf
    v = scale_c * scale_c * max(var_c, 0.0) / n_c + max(var_t, 0.0) / n_t
    t = n_c + n_t
    r = math.sqrt(t * v) * margin(t, alpha=alpha, t_star=2 * t_star)
    d = mean_t - scale_c * mean_c
    return d - r, d + r


def fixed_interval(mean_c: float, var_c: float, n_c: float, mean_t: float, var_t: float, n_t: float, *,
                   alpha: float) -> tuple[float, float]:
    """The ordinary (one-look) z-interval of the same difference: valid once, not at every look (the benchmark shows
    how often it errs when it is looked at repeatedly)."""
    if n_c <= 0 or n_t <= 0:
        return -math.inf, math.inf
    z = float(stats.norm.ppf(1 - alpha / 2))
    r = z * math.sqrt(max(var_c, 0.0) / n_c + max(var_t, 0.0) / n_t)
    d = mean_t - mean_c
    return d - r, d + r


def power_at(alpha: float, effect: float, sd: float, n: float) -> float:
    """The power of a one-look two-sided z-test at level ``alpha`` to see ``effect`` with ``n`` outcomes per arm
    of standard deviation ``sd`` (reported beside a split level ``alpha / k``)."""
    if n <= 0 or sd <= 0:
        return 0.0
    z = float(stats.norm.ppf(1 - alpha / 2))
    return float(stats.norm.sf(z - abs(effect) / (sd * math.sqrt(2 / n))))


@dataclass(frozen=True)
class Arm:
    """The sufficient statistics of one arm for one metric: outcomes, their mean and (sample) variance."""

    n: float
    mean: float
    var: float

    @classmethod
    def proportion(cls, successes: float, n: float) -> Arm:
        """A rate; its variance uses one pseudo-success and one pseudo-failure (``(x + 1) / (n + 2)``), so that
        an arm that has seen no error yet does not claim certainty."""
        if n <= 0:
            return cls(0.0, math.nan, math.nan)
        p = successes / n
        q = (successes + 1) / (n + 2)
        return cls(float(n), float(p), float(q * (1 - q)))

    @classmethod
    def moments(cls, n: float, mean: float, m2: float) -> Arm:
        """A mean from the count, mean and sum of squared deviations (Welford's M2)."""
        if n <= 0:
            return cls(0.0, math.nan, math.nan)
        return cls(float(n), float(mean), float(m2 / (n - 1)) if n > 1 else math.inf)

    @classmethod
    def sums(cls, n: float, s1: float, s2: float) -> Arm:
        """A mean from the count, the sum and the sum of squares."""
        if n <= 0:
            return cls(0.0, math.nan, math.nan)
        mean = s1 / n
        var = max(s2 - n * mean * mean, 0.0) / (n - 1) if n > 1 else math.inf
        return cls(float(n), float(mean), float(var))


def _check(alpha: float, t_star: float) -> None:
    if not 0 < alpha < 1:
        raise InputError(f"alpha: expected a level in (0, 1), found {alpha}. Fix: use e.g. 0.05")
    if not t_star > 0:
        raise InputError(f"t_star: expected a positive number of outcomes, found {t_star}. Fix: use e.g. 5000")

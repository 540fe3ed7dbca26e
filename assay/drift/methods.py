"""Per-column drift methods: pure functions that return a significance test *and* an effect size.

Every method returns a :class:`Test` with a p-value (is there any difference at all?) and an effect size (how large
is it?). A column drifts when both say so::

    verdict(test) = (test.p_value < alpha) and (test.effect >= min_effect)

The p-value alone flips with sample size (at 10M rows every column "drifts", at 500 none does); the effect alone
is noise at small sizes (plug-in divergences are biased upwards, e.g. ``E[PSI] ~ (k - 1)(1/n_ref + 1/n_cur)`` for
identical distributions). Together they give a verdict that holds at every size: a false alarm needs a significant
result, so its rate stays at most ``alpha``; a negligible shift stays below ``min_effect`` however large ``n``.

Default practical floors (:data:`DEFAULT_MIN_EFFECT`)
-----------------------------------------------------
The issue names a 0.2-standard-deviation mean shift *meaningful* (to be caught from n = 5,000) and a 0.01-sd shift
*negligible* (never flagged). Each floor is the effect that a **0.1-sd** location shift of a normal produces under
that method (binned methods on 10 reference-decile bins), rounded: half the meaningful shift, ten times the
negligible one. For counts and rates the floor is half of a 10-point change, i.e. 5 points.

==================  ===================================  ======  ============  ============
method              effect                               floor   at 0.1 sd     at 0.2 sd
==================  ===================================  ======  ============  ============
ks                  KS D (largest CDF gap)               0.04    0.040         0.080
cramer_von_mises    RMS gap of the two CDFs              0.03    0.030         0.061
wasserstein         W1 / reference sd                    0.1     0.100         0.200
psi                 PSI (nats)                           0.01    0.0096        0.038
jensen_shannon      JS distance (sqrt of JS in bits)     0.04    0.042         0.083
hellinger           Hellinger distance                   0.035   0.035         0.069
chi2                Cramér's V at equal sample sizes     0.05    0.049         0.098
z                   abs. difference in proportions       0.05
missing_rate        abs. difference in missing rate      0.05
==================  ===================================  ======  ============  ============

The conventional "PSI >= 0.1" or "D >= 0.1" would miss the 0.2-sd shift at any size (PSI ~ 0.04, D ~ 0.08 there):
they correspond to shifts of about 0.32 and 0.25 sd.

Where each p-value comes from
-----------------------------
Binned methods take two aligned count vectors (``ref_counts``, ``cur_counts``, same bins or categories); bins empty
on *both* sides carry no information and are dropped first, leaving ``k`` bins (``k - 1`` degrees of freedom).
Write ``p``, ``q`` for the two sides' proportions, ``m = (p + q) / 2`` and ``s = 1/n_ref + 1/n_cur``. Under H0
(one distribution ``π``), ``q - p`` is asymptotically normal with covariance ``s (diag π - π πᵀ)``, so
``X = Σ (q - p)² / π / s ~ χ²_{k-1}`` (the two-sample Pearson statistic), and each divergence is, to second order in
``q - p``, a multiple of ``Σ (q - p)² / m``:

- ``psi``: ``PSI = Σ (q - p) ln(q / p) ≈ Σ (q - p)² / m`` (``ln(q/p) ≈ (q - p)/m``), hence
  ``p_value = chi2.sf(PSI / s, k - 1)``. Proportions are smoothed with ``smoothing`` (α): α is added to every kept
  bin on both sides, ``p_i = (c_i + α) / (n + k α)``; α = 0 gives the raw PSI (infinite when a bin is empty on one
  side). Smoothing pulls both sides' shares towards uniform, so at comparable sizes it shrinks PSI and the test errs
  on the conservative side.
- ``jensen_shannon`` and ``hellinger``: the G-test (likelihood ratio) of the 2 × k table,
  ``G = 2 Σ O ln(O / E) = 2 (n_ref + n_cur) MI ~ χ²_{k-1}``, where MI is the mutual information between sample
  membership and bin, i.e. the JS divergence (nats) *weighted by the sample shares*. The effect is the usual
  equal-weight JS, ``JS_nats ≈ ⅛ Σ (q - p)² / m``, and ``H² = 1 - Σ √(p q) ≈ ⅛ Σ (q - p)² / m``, so
  ``G ≈ 8 JS_nats / s ≈ 8 H² / s ≈ X`` (the first exactly when ``n_ref = n_cur``). The G-test is the
  likelihood-ratio test of the same hypothesis, so it serves both. No smoothing is needed: both divergences are
  finite with empty bins.
- ``chi2``: Pearson's two-sample test of homogeneity on the 2 × k table (``scipy.stats.chi2_contingency``, no Yates
  correction, so on a 2 × 2 table it equals the square of :func:`z_proportions`'s pooled z). Never a
  goodness-of-fit against the reference as if its proportions were exact: that ignores the reference's own sampling
  noise (half the variance at equal sizes, where it doubles the statistic) and at alpha = 0.05 flags 17% of
  identical samples on 2 bins, 31% on 5 and 49% on 10.
- ``ks``: ``scipy.stats.ks_2samp`` (``method="auto"``: exact up to 10,000 per side, asymptotic beyond).
- ``cramer_von_mises``: ``scipy.stats.cramervonmises_2samp`` (``method="auto"``: exact up to 20 per side).
- ``wasserstein``: a permutation test (labels shuffled ``permutations`` times, ``p = (1 + #{W_b >= W}) / (B + 1)``),
  vectorised over permutations, on a random subsample of at most ``max_per_side`` values per side. The effect is
  exact on all values; the subsample only bounds the test's cost, and 5,000 per side resolve shifts far below the
  0.1-sd floor. With B = 200 the smallest p-value is 1/201 ≈ 0.005: under a Holm correction over m columns, raise
  ``permutations`` above ``m / alpha``.
- ``z_proportions``: pooled two-proportion z test, two-sided.
- ``missing_rate``: the same z test, or Fisher's exact test when an expected cell count of the 2 × 2 table is below
  5 (Cochran's rule); the note says which.

Raw-array methods leave NaN out (test it with :func:`missing_rate`) and say so in ``notes``. An empty side raises
:class:`~assay.errors.InputError`; two samples of one and the same constant give ``p = 1``, ``effect = 0``.

Across columns, :func:`holm` (family-wise error) and :func:`benjamini_hochberg` (false discovery rate) adjust the
p-values before the verdict.

>>> t = psi([50, 50], [40, 60], smoothing=0.0)
>>> round(t.statistic, 4), round(t.p_value, 4), verdict(t, alpha=0.05)
(0.0405, 0.1545, False)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

from assay.errors import ConfigError, InputError, message

__all__ = [
    "DEFAULT_MIN_EFFECT",
    "Test",
    "benjamini_hochberg",
    "chi2",
    "cramer_von_mises",
    "hellinger",
    "holm",
    "jensen_shannon",
    "ks",
    "missing_rate",
    "psi",
    "verdict",
    "wasserstein",
    "z_proportions",
]

DEFAULT_MIN_EFFECT: Final[Mapping[str, float]] = MappingProxyType({
    "ks": 0.04,
    "cramer_von_mises": 0.03,
    "wasserstein": 0.1,
    "psi": 0.01,
    "jensen_shannon": 0.04,
    "hellinger": 0.035,
    "chi2": 0.05,
    "z": 0.05,
    "missing_rate": 0.05,
})

_EFFECT_NAME: Final[Mapping[str, str]] = MappingProxyType({
    "ks": "ks_d",
    "cramer_von_mises": "cdf_rms_gap",
    "wasserstein": "wasserstein_per_sd",
    "psi": "psi",
    "jensen_shannon": "js_distance_bits",
    "hellinger": "hellinger_distance",
    "chi2": "cramers_v_balanced",
    "z": "abs_diff_proportion",
    "missing_rate": "abs_diff_missing_rate",
})


@dataclass(frozen=True)
class Test:
    """One drift test of one column: the statistic, its p-value, and the effect size the verdict compares.

    ``threshold`` is the method's default practical floor (:data:`DEFAULT_MIN_EFFECT`); ``n_reference`` and
    ``n_current`` count the values (or rows, for rates) the test used; ``notes`` say what was dropped or chosen.
    """

    __test__ = False  # a result, not a pytest test class

    method: str
    statistic: float
    p_value: float
    effect: float
    effect_name: str
    threshold: float
    n_reference: int
    n_current: int
    notes: tuple[str, ...] = ()


def _test(method: str, statistic: float, p_value: float, effect: float, n_reference: float, n_current: float,
          notes: list[str] | tuple[str, ...] = ()) -> Test:
    return Test(method, float(statistic), float(min(max(p_value, 0.0), 1.0)), float(effect), _EFFECT_NAME[method],
                DEFAULT_MIN_EFFECT[method], round(n_reference), round(n_current), tuple(notes))


# --- raw arrays -----------------------------------------------------------------------------------------------------

def _sample(values: npt.ArrayLike, side: str, method: str) -> tuple[np.ndarray, int]:
    """The non-missing values of one side as float64, and how many were missing."""
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(message(where=f"{side} sample ({method})", expected="numeric values",
                                 found=f"values that are not numbers ({exc})",
                                 fix="use chi2 or psi on category counts for non-numeric columns")) from None
    if x.ndim != 1:
        raise InputError(message(where=f"{side} sample ({method})", expected="a 1-D array",
                                 found=f"an array of shape {x.shape}", fix="pass one column at a time"))
    keep = ~np.isnan(x)
    missing = int(x.size - np.count_nonzero(keep))
    if missing == x.size:
        raise InputError(message(where=f"{side} sample ({method})", expected="at least one non-missing value",
                                 found=f"{x.size} values, all missing" if x.size else "an empty sample",
                                 fix="report the column as all-missing (missing_rate) instead of testing its values"))
    return x[keep], missing


def _samples(reference: npt.ArrayLike, current: npt.ArrayLike, method: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    ref, ref_missing = _sample(reference, "reference", method)
    cur, cur_missing = _sample(current, "current", method)
    notes = []
    if ref_missing or cur_missing:
        notes.append(f"left out missing values: {ref_missing} in reference, {cur_missing} in current "
                     "(test them with missing_rate)")
    return ref, cur, notes


def _one_constant(ref: np.ndarray, cur: np.ndarray) -> bool:
    """Both samples hold one and the same value."""
    return bool(ref.min() == ref.max() == cur.min() == cur.max())


def ks(reference: npt.ArrayLike, current: npt.ArrayLike) -> Test:
    """Two-sample Kolmogorov-Smirnov test; the effect is D, the largest gap between the two empirical CDFs.

    >>> t = ks(np.array([1.0, 2.0, 3.0, 4.0]), np.array([3.0, 4.0, 5.0, 6.0]))
    >>> t.effect, round(t.p_value, 4)
    (0.5, 0.7714)
    """
    ref, cur, notes = _samples(reference, current, "ks")
    if _one_constant(ref, cur):
        return _test("ks", 0.0, 1.0, 0.0, ref.size, cur.size, [*notes, "both samples are one constant"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from scipy import stats  # here, not at import: scipy.stats is most of assay's import time
        res = stats.ks_2samp(ref, cur, method="auto")
    notes += [f"scipy: {w.message}" for w in caught]  # e.g. the exact p-value fell back to the asymptotic one
    return _test("ks", res.statistic, res.pvalue, res.statistic, ref.size, cur.size, notes)


def _cdf_rms_gap(ref: np.ndarray, cur: np.ndarray) -> float:
    """``sqrt(mean over the pooled values z of (F_ref(z) - F_cur(z))²)``, empirical CDFs, exact with ties."""
    pooled = np.concatenate([ref, cur])
    f_ref = np.searchsorted(np.sort(ref), pooled, side="right") / ref.size
    f_cur = np.searchsorted(np.sort(cur), pooled, side="right") / cur.size
    return float(np.sqrt(np.mean((f_ref - f_cur) ** 2)))


def cramer_von_mises(reference: npt.ArrayLike, current: npt.ArrayLike) -> Test:
    """Two-sample Cramér-von Mises test; the effect is the root-mean-square gap between the two empirical CDFs.

    The statistic is scipy's ``T = (n m / N²) Σ_z (F_n(z) - G_m(z))²`` over the ``N = n + m`` pooled values, so the
    effect ``sqrt(mean_z (F_n - G_m)²) = sqrt(T (1/n + 1/m))`` (without ties) is a size-free number on the same
    scale as KS D: D is the largest CDF gap, this is the typical one (about ``1/sqrt(3)`` for large disjoint
    samples). Needs at least two values per side.

    >>> t = cramer_von_mises(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]))
    >>> round(t.effect, 4), round(t.p_value, 2)
    (0.5932, 0.1)
    """
    ref, cur, notes = _samples(reference, current, "cramer_von_mises")
    if _one_constant(ref, cur):
        return _test("cramer_von_mises", 0.0, 1.0, 0.0, ref.size, cur.size,
                     [*notes, "both samples are one constant"])
    if ref.size < 2 or cur.size < 2:
        raise InputError(message(where="cramer_von_mises", expected="at least 2 non-missing values per side",
                                 found=f"{ref.size} in reference and {cur.size} in current",
                                 fix="use ks, or gather more data"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from scipy import stats  # here, not at import: scipy.stats is most of assay's import time
        res = stats.cramervonmises_2samp(ref, cur, method="auto")
    notes += [f"scipy: {w.message}" for w in caught]
    return _test("cramer_von_mises", res.statistic, res.pvalue, _cdf_rms_gap(ref, cur), ref.size, cur.size, notes)


def _w1_from_labels(in_ref: np.ndarray, gaps: np.ndarray, n_ref: int, n_cur: int) -> np.ndarray:
    """W1 distances, one per row of membership flags over the sorted pooled sample (True = reference).

    ``W1 = Σ_i |F_ref(z_i) - F_cur(z_i)| (z_{i+1} - z_i)``; within ties the gap is 0, so ties need no care.
    """
    below = np.cumsum(in_ref[:, :-1], axis=1, dtype=np.float64)  # reference values among the first i + 1
    below *= 1.0 / n_ref + 1.0 / n_cur
    below -= np.arange(1, in_ref.shape[1], dtype=np.float64) / n_cur
    np.abs(below, out=below)
    return np.asarray(below @ gaps)


def _permutation_p(x: np.ndarray, y: np.ndarray, permutations: int, gen: np.random.Generator) -> float:
    pooled = np.concatenate([x, y])
    order = np.argsort(pooled, kind="stable")
    gaps = np.diff(pooled[order])
    observed = _w1_from_labels((order < x.size)[None, :], gaps, x.size, y.size)[0]
    exceed = 0
    block = max(1, 2_000_000 // pooled.size)  # about 16 MB per work array
    for start in range(0, permutations, block):
        rows = min(block, permutations - start)
        # a uniformly random set of x.size positions per row: the x.size smallest of i.i.d. uniform keys
        keys = gen.random((rows, pooled.size))
        kth = np.partition(keys, x.size - 1, axis=1)[:, x.size - 1 : x.size]
        exceed += int(np.count_nonzero(_w1_from_labels(keys <= kth, gaps, x.size, y.size) >= observed * (1 - 1e-9)))
    return (1 + exceed) / (permutations + 1)


def wasserstein(reference: npt.ArrayLike, current: npt.ArrayLike, *, rng: np.random.Generator | int = 0,
                permutations: int = 200, max_per_side: int = 5000) -> Test:
    """Wasserstein-1 distance in units of the reference's spread, with a permutation p-value.

    The statistic is ``scipy.stats.wasserstein_distance`` on all non-missing values; the effect divides it by the
    reference's standard deviation (``ddof=0``), so a location shift of ``δ`` sd gives ``δ``. A reference's IQR is
    zero whenever its sd is, so an IQR fallback cannot rescue a constant reference: then the pooled sample's sd is
    used, and the note says so. The p-value is a permutation test (see the module docstring) drawn from ``rng``
    (a ``numpy.random.Generator`` or a seed; the same seed gives the same p-value) on at most ``max_per_side``
    values per side. Infinite values are rejected: the distance would be undefined.

    >>> t = wasserstein(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 2.0, 3.0]) + 1.0)
    >>> t.statistic, round(t.effect, 4)
    (1.0, 0.8944)
    """
    for name, value in (("permutations", permutations), ("max_per_side", max_per_side)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(message(where=f"argument {name!r}", expected="an integer >= 1", found=repr(value)))
    ref, cur, notes = _samples(reference, current, "wasserstein")
    if not (np.isfinite(ref).all() and np.isfinite(cur).all()):
        raise InputError(message(where="wasserstein", expected="finite values",
                                 found=f"{np.isinf(ref).sum()} infinite in reference, {np.isinf(cur).sum()} in current",
                                 fix="drop or clip infinite values, or use ks"))
    if _one_constant(ref, cur):
        return _test("wasserstein", 0.0, 1.0, 0.0, ref.size, cur.size, [*notes, "both samples are one constant"])
    from scipy import stats  # here, not at import: scipy.stats is most of assay's import time
    distance = float(stats.wasserstein_distance(ref, cur))
    scale = float(ref.std())
    if scale == 0.0:
        scale = float(np.concatenate([ref, cur]).std())
        notes.append("the reference is constant: distance divided by the pooled standard deviation")
    gen = np.random.default_rng(rng)
    x = ref if ref.size <= max_per_side else gen.choice(ref, max_per_side, replace=False)
    y = cur if cur.size <= max_per_side else gen.choice(cur, max_per_side, replace=False)
    if x.size < ref.size or y.size < cur.size:
        notes.append(f"permutation test on a random subsample of {x.size} reference and {y.size} current values")
    p_value = _permutation_p(x, y, permutations, gen)
    if scale > 0:
        effect = distance / scale
    else:  # both spreads underflow (values a few ulps apart)
        effect = np.inf if distance > 0 else 0.0
        notes.append("the spread of the values is too small to represent: the effect is not scaled")
    return _test("wasserstein", distance, p_value, effect, ref.size, cur.size, notes)


# --- counts ---------------------------------------------------------------------------------------------------------

def _counts(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated count vectors with the bins empty on both sides dropped."""
    try:
        r = np.asarray(ref_counts, dtype=np.float64)
        c = np.asarray(cur_counts, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(message(where=f"counts ({method})", expected="numeric counts",
                                 found=f"values that are not numbers ({exc})")) from None
    if r.ndim != 1 or r.shape != c.shape:
        raise InputError(message(where=f"counts ({method})", expected="two 1-D count vectors over the same bins",
                                 found=f"shapes {r.shape} (reference) and {c.shape} (current)",
                                 fix="count both sides on the reference's bins or categories"))
    for side, v in (("reference", r), ("current", c)):
        if not np.isfinite(v).all() or (v < 0).any():
            raise InputError(message(where=f"{side} counts ({method})", expected="finite counts >= 0",
                                     found="negative, infinite or NaN counts"))
        if v.sum() == 0:
            raise InputError(message(where=f"{side} counts ({method})", expected="at least one counted value",
                                     found="all counts zero (an empty sample)",
                                     fix="check that the column has non-missing values in this table"))
    keep = (r + c) > 0
    return r[keep], c[keep]


def _g_test(r: np.ndarray, c: np.ndarray) -> tuple[float, float]:
    """G statistic of the 2 × k table ``[r; c]`` (no empty columns) and its chi-square p-value on k - 1 df."""
    from scipy import special  # here, not at import: scipy is most of assay's import time
    table = np.vstack([r, c])
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    g = max(float(2.0 * special.xlogy(table, table / expected).sum()), 0.0)
    return g, float(special.chdtrc(r.size - 1, g))


def psi(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike, *, smoothing: float = 0.5) -> Test:
    """Population stability index ``Σ (q - p) ln(q / p)`` with additive smoothing, and its chi-square p-value.

    ``smoothing`` (α) is a pseudo-count added to every bin kept (non-empty on at least one side) of both samples;
    ``p_value = chi2.sf(PSI / (1/n_ref + 1/n_cur), k - 1)`` (see the module docstring).

    >>> t = psi([50, 50], [40, 60], smoothing=0.5)
    >>> round(t.effect, 4)
    0.0397
    """
    from scipy import special  # here, not at import: scipy is most of assay's import time
    if not np.isfinite(smoothing) or smoothing < 0:
        raise ConfigError(message(where="argument 'smoothing'", expected="a pseudo-count >= 0",
                                  found=repr(smoothing)))
    r, c = _counts(ref_counts, cur_counts, "psi")
    n_r, n_c, k = r.sum(), c.sum(), r.size
    notes = [f"smoothing: {smoothing:g} added to each of {k} bins on both sides"]
    if k < 2:
        return _test("psi", 0.0, 1.0, 0.0, n_r, n_c, [*notes, "one bin holds every value"])
    p = (r + smoothing) / (n_r + k * smoothing)
    q = (c + smoothing) / (n_c + k * smoothing)
    with np.errstate(divide="ignore"):
        value = float(np.sum((q - p) * (np.log(q) - np.log(p))))
    if np.isinf(value):
        notes.append("a bin is empty on one side only: PSI is infinite without smoothing")
    p_value = float(special.chdtrc(k - 1, value / (1.0 / n_r + 1.0 / n_c)))
    return _test("psi", value, p_value, value, n_r, n_c, notes)


def jensen_shannon(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> Test:
    """Jensen-Shannon divergence in bits (equal weights, in [0, 1]); effect = JS distance; p from the G-test.

    >>> t = jensen_shannon([10, 0], [0, 10])
    >>> t.statistic, t.effect, t.p_value < 1e-6
    (1.0, 1.0, True)
    """
    from scipy import special  # here, not at import: scipy is most of assay's import time
    r, c = _counts(ref_counts, cur_counts, "jensen_shannon")
    n_r, n_c = r.sum(), c.sum()
    if r.size < 2:
        return _test("jensen_shannon", 0.0, 1.0, 0.0, n_r, n_c, ["one bin holds every value"])
    p, q = r / n_r, c / n_c
    m = (p + q) / 2.0
    js = float(np.clip(0.5 * special.xlogy(p, p / m).sum() + 0.5 * special.xlogy(q, q / m).sum(), 0.0, None))
    js_bits = min(js / np.log(2.0), 1.0)
    g, p_value = _g_test(r, c)
    return _test("jensen_shannon", js_bits, p_value, np.sqrt(js_bits), n_r, n_c,
                 [f"p-value from the G-test: G = {g:.6g} on {r.size - 1} df"])


def hellinger(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> Test:
    """Hellinger distance ``sqrt(½ Σ (√p - √q)²) = sqrt(1 - Σ √(p q))`` (in [0, 1]); p from the G-test.

    The statistic and the effect are both the distance, computed from the first form (exactly 0 for equal shares).

    >>> round(hellinger([50, 50], [0, 100]).effect, 4)
    0.5412
    """
    r, c = _counts(ref_counts, cur_counts, "hellinger")
    n_r, n_c = r.sum(), c.sum()
    if r.size < 2:
        return _test("hellinger", 0.0, 1.0, 0.0, n_r, n_c, ["one bin holds every value"])
    distance = float(np.sqrt(0.5 * np.sum((np.sqrt(r / n_r) - np.sqrt(c / n_c)) ** 2)))
    g, p_value = _g_test(r, c)
    return _test("hellinger", distance, p_value, distance, n_r, n_c,
                 [f"p-value from the G-test: G = {g:.6g} on {r.size - 1} df"])


def chi2(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> Test:
    """Pearson's two-sample chi-square test of the 2 × k table; effect = Cramér's V at equal sample sizes.

    Cramér's V of a 2 × k table, ``sqrt(X² / N)``, shrinks towards 0 when one side is much larger than the other
    (``V² ≈ (n_ref n_cur / N²) Σ (q - p)² / π``), so a small current window against a large reference would never
    look large. The effect is V with the two sides weighted equally, ``sqrt(¼ Σ (q - p)² / m)``, which equals
    Cramér's V whenever ``n_ref = n_cur`` and lies in [0, 1]; the raw V is in the notes.

    >>> t = chi2([50, 50], [60, 40])
    >>> round(t.statistic, 4), round(t.effect, 4)
    (2.0202, 0.1005)
    """
    r, c = _counts(ref_counts, cur_counts, "chi2")
    n_r, n_c = r.sum(), c.sum()
    if r.size < 2:
        return _test("chi2", 0.0, 1.0, 0.0, n_r, n_c, ["one bin holds every value"])
    from scipy import stats  # here, not at import: scipy.stats is most of assay's import time
    res = stats.chi2_contingency(np.vstack([r, c]), correction=False)
    p, q = r / n_r, c / n_c
    effect = float(np.sqrt(0.25 * np.sum((q - p) ** 2 / ((p + q) / 2.0))))
    notes = [f"Cramér's V at the observed sizes: {np.sqrt(res.statistic / (n_r + n_c)):.6g}"]
    if res.expected_freq.min() < 5:
        notes.append(f"smallest expected count {res.expected_freq.min():.3g} < 5: the chi-square p-value is rough")
    return _test("chi2", res.statistic, res.pvalue, effect, n_r, n_c, notes)


# --- proportions ----------------------------------------------------------------------------------------------------

def _proportions(success: tuple[float, float, float, float], method: str, what: str) -> tuple[float, ...]:
    s1, n1, s2, n2 = (float(v) for v in success)
    for side, s, n in (("reference", s1, n1), ("current", s2, n2)):
        if not (np.isfinite(s) and np.isfinite(n)) or n <= 0 or not 0 <= s <= n:
            raise InputError(message(where=f"{side} ({method})", expected=f"0 <= {what} <= n and n > 0",
                                     found=f"{what} = {s:g}, n = {n:g}",
                                     fix="pass counts of rows; an empty table cannot be tested"))
    return s1, n1, s2, n2


def _pooled_z(s1: float, n1: float, s2: float, n2: float) -> tuple[float, float]:
    from scipy import special  # here, not at import: scipy is most of assay's import time
    pooled = (s1 + s2) / (n1 + n2)
    var = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if var <= 0:
        return 0.0, 1.0  # both sides all successes or all failures
    z = (s2 / n2 - s1 / n1) / np.sqrt(var)
    return float(z), float(2.0 * special.ndtr(-abs(z)))


def z_proportions(ref_success: float, ref_n: float, cur_success: float, cur_n: float) -> Test:
    """Pooled two-proportion z test (two-sided); the statistic is z, the effect ``|cur share - ref share|``.

    >>> t = z_proportions(50, 100, 60, 100)
    >>> round(t.statistic, 4), round(t.effect, 2)
    (1.4213, 0.1)
    """
    s1, n1, s2, n2 = _proportions((ref_success, ref_n, cur_success, cur_n), "z", "success")
    z, p_value = _pooled_z(s1, n1, s2, n2)
    return _test("z", z, p_value, abs(s2 / n2 - s1 / n1), n1, n2)


def missing_rate(ref_missing: float, ref_n: float, cur_missing: float, cur_n: float) -> Test:
    """Change in a column's missing rate: the pooled z test, or Fisher's exact test when counts are small.

    ``ref_n`` and ``cur_n`` count all rows, missing or not. Fisher's exact test is used when an expected count of
    the 2 × 2 table (missing / present × reference / current) is below 5. The statistic is the pooled z either way.

    >>> t = missing_rate(0, 1000, 200, 1000)
    >>> t.effect, t.p_value < 1e-12, verdict(t, alpha=0.05)
    (0.2, True, True)
    """
    m1, n1, m2, n2 = _proportions((ref_missing, ref_n, cur_missing, cur_n), "missing_rate", "missing")
    z, p_value = _pooled_z(m1, n1, m2, n2)
    table = np.array([[m1, n1 - m1], [m2, n2 - m2]])
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    if m1 + m2 > 0 and expected.min() < 5:
        from scipy import stats  # here, not at import: scipy.stats is most of assay's import time
        p_value = float(stats.fisher_exact(np.rint(table).astype(np.int64)).pvalue)
        notes = ["p-value from Fisher's exact test (an expected count is below 5)"]
    else:
        notes = ["p-value from the pooled two-proportion z test"]
    return _test("missing_rate", z, p_value, abs(m2 / n2 - m1 / n1), n1, n2, notes)


# --- verdicts and multiple testing ----------------------------------------------------------------------------------

def verdict(test: Test, *, alpha: float = 0.05, min_effect: float | None = None) -> bool:
    """Drifted: significant at ``alpha`` *and* at least ``min_effect`` (default: the test's ``threshold``).

    Pass p-values adjusted by :func:`holm` or :func:`benjamini_hochberg` (``dataclasses.replace``) when testing
    many columns.

    >>> t = Test("ks", 0.05, 0.001, 0.05, "ks_d", 0.04, 10_000, 10_000)
    >>> verdict(t, alpha=0.05), verdict(t, alpha=0.05, min_effect=0.1)
    (True, False)
    """
    if not 0.0 < alpha < 1.0:
        raise ConfigError(message(where="argument 'alpha'", expected="a level in (0, 1)", found=repr(alpha)))
    floor = test.threshold if min_effect is None else min_effect
    return bool(test.p_value < alpha and test.effect >= floor)


def _pvalues(pvalues: npt.ArrayLike) -> np.ndarray:
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1 or np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise InputError(message(where="p-values", expected="a 1-D array of numbers in [0, 1]",
                                 found=f"shape {p.shape}" if p.ndim != 1 else "NaN or values outside [0, 1]",
                                 fix="leave untestable columns out before adjusting"))
    return p


def holm(pvalues: npt.ArrayLike) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error rate), in the input's order.

    >>> holm(np.array([0.01, 0.04, 0.03]))
    array([0.03, 0.06, 0.06])
    """
    p = _pvalues(pvalues)
    order = np.argsort(p, kind="stable")
    steps = np.arange(p.size, 0, -1, dtype=np.float64)
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(steps * p[order]), 1.0)
    return adjusted


def benjamini_hochberg(pvalues: npt.ArrayLike) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input's order.

    >>> benjamini_hochberg(np.array([0.01, 0.04, 0.03]))
    array([0.03, 0.04, 0.04])
    """
    p = _pvalues(pvalues)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * p.size / np.arange(1, p.size + 1, dtype=np.float64)
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return adjusted

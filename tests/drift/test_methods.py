"""Drift methods and bins: agreement with scipy and statsmodels, calibration and power by seeded simulation, laws."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from random import Random
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon as scipy_js
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from assay.drift import (
    DEFAULT_MIN_EFFECT,
    Test,
    benjamini_hochberg,
    bin_counts,
    chi2,
    cramer_von_mises,
    fine_grid,
    hellinger,
    holm,
    jensen_shannon,
    ks,
    missing_rate,
    psi,
    quantile_edges,
    verdict,
    wasserstein,
    z_proportions,
)
from assay.errors import ConfigError, InputError

RAW = [ks, cramer_von_mises, wasserstein]
BINNED = [psi, jensen_shannon, hellinger, chi2]


def binomial_margin(rate: float, reps: int) -> float:
    """The largest false-alarm share a level-``rate`` test may show in ``reps`` replications (3 binomial sd)."""
    return rate + 3 * np.sqrt(rate * (1 - rate) / reps)


def decile_counts(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = quantile_edges(reference, bins=10)
    return bin_counts(reference, edges), bin_counts(current, edges)


def test_public_names_are_sorted_and_complete() -> None:
    package = importlib.import_module("assay.drift")  # ``assay.drift`` itself is the function
    assert package.__all__ == sorted(package.__all__)
    public = {name for name in vars(package) if not name.startswith("_")}
    assert public - {"binning", "methods", "states", "text", "profile", "compare", "run", "simulate",
                     "multivariate"} == set(package.__all__)
    assert set(DEFAULT_MIN_EFFECT) == {"ks", "cramer_von_mises", "wasserstein", "psi", "jensen_shannon", "hellinger",
                                      "chi2", "z", "missing_rate"}


# --- bins -----------------------------------------------------------------------------------------------------------

def test_quantile_edges_make_equal_frequency_bins_from_the_reference() -> None:
    ref = np.random.default_rng(0).normal(size=10_000)
    edges = quantile_edges(ref, bins=10)
    assert edges.shape == (9,)
    np.testing.assert_allclose(edges, np.quantile(ref, np.arange(1, 10) / 10))
    np.testing.assert_array_equal(bin_counts(ref, edges), np.full(10, 1000))


def test_tied_quantiles_collapse_and_a_point_mass_stays_in_one_bin() -> None:
    ref = np.concatenate([np.zeros(500), np.arange(1.0, 501.0)])  # half the reference is exactly 0
    edges = quantile_edges(ref, bins=10)
    assert edges.size == len(set(edges.tolist())) < 9
    counts = bin_counts(ref, edges)
    assert counts[0] == 500 and counts.sum() == 1000
    assert quantile_edges(np.full(50, 3.0)).tolist() == [3.0]
    assert quantile_edges(np.arange(5.0), bins=1).size == 0


def test_bin_counts_are_right_closed_leave_out_nan_and_put_infinities_outside() -> None:
    edges = np.array([0.0, 1.0, 2.0])
    values = np.array([-np.inf, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, np.inf, np.nan])
    np.testing.assert_array_equal(bin_counts(values, edges), [3, 2, 2, 2])
    x = np.random.default_rng(1).normal(size=500)
    brute = np.array([(edges < v).sum() for v in x])  # bin index = number of edges strictly below the value
    np.testing.assert_array_equal(bin_counts(x, edges), np.bincount(brute, minlength=4))


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=300), st.lists(st.floats(-2e6, 2e6), max_size=300))
def test_decile_counts_are_sums_of_fine_grid_counts(ref: list[float], cur: list[float]) -> None:
    reference, current = np.array(ref), np.array(cur)
    coarse, fine = quantile_edges(reference, bins=10), fine_grid(reference, bins=200)
    assert np.isin(coarse, fine).all()
    fine_counts = bin_counts(current, fine)
    coarse_of_fine = np.searchsorted(coarse, np.append(fine, np.inf), side="left")  # coarse bin of each fine bin
    np.testing.assert_array_equal(np.bincount(coarse_of_fine, weights=fine_counts, minlength=coarse.size + 1),
                                  bin_counts(current, coarse))
    assert fine_counts[0] == (current < reference.min()).sum()
    assert fine_counts[-1] == (current > reference.max()).sum()


def test_bins_reject_bad_input() -> None:
    with pytest.raises(InputError, match="none finite"):
        quantile_edges(np.array([np.nan, np.nan]))
    with pytest.raises(InputError, match="none finite"):
        fine_grid(np.array([]))
    with pytest.raises(ConfigError, match="'bins'"):
        quantile_edges(np.arange(3.0), bins=0)
    with pytest.raises(ConfigError, match="strictly increasing"):
        bin_counts(np.arange(3.0), np.array([1.0, 0.0]))
    with pytest.raises(InputError, match="numeric"):
        bin_counts(np.array(["a", "b"]), np.array([0.0]))


# --- agreement with scipy -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("n", "m", "shift"), [(40, 25, 0.0), (300, 500, 0.3), (3000, 2000, 0.05)])
def test_ks_and_cramer_von_mises_agree_with_scipy(n: int, m: int, shift: float) -> None:
    rng = np.random.default_rng(n)
    ref, cur = rng.normal(size=n), rng.normal(size=m) + shift
    t, res = ks(ref, cur), stats.ks_2samp(ref, cur)
    assert (t.statistic, t.p_value, t.effect) == (res.statistic, res.pvalue, res.statistic)
    c, cres = cramer_von_mises(ref, cur), stats.cramervonmises_2samp(ref, cur)
    assert c.statistic == pytest.approx(cres.statistic) and c.p_value == pytest.approx(cres.pvalue)
    # without ties, the RMS CDF gap is sqrt(T (1/n + 1/m))
    assert c.effect == pytest.approx(np.sqrt(cres.statistic * (1 / n + 1 / m)), rel=1e-9)
    assert (t.n_reference, t.n_current) == (n, m)


def test_chi2_is_scipys_contingency_test_with_empty_columns_dropped() -> None:
    ref, cur = np.array([30, 0, 12, 50, 8]), np.array([25, 0, 20, 41, 0])
    t = chi2(ref, cur)
    res = stats.chi2_contingency(np.array([[30, 12, 50, 8], [25, 20, 41, 0]]), correction=False)
    assert t.statistic == pytest.approx(res.statistic) and t.p_value == pytest.approx(res.pvalue)
    # equal sizes: the effect is scipy's Cramér's V
    a, b = np.array([40, 35, 25]), np.array([30, 30, 40])
    v = stats.contingency.association(np.vstack([a, b]), method="cramer")
    assert chi2(a, b).effect == pytest.approx(v)


def test_chi2_on_a_two_by_two_table_is_the_squared_pooled_z() -> None:
    t, z = chi2([120, 380], [90, 210]), z_proportions(120, 500, 90, 300)
    assert t.statistic == pytest.approx(z.statistic**2) and t.p_value == pytest.approx(z.p_value)


def test_cramers_v_effect_does_not_shrink_with_a_larger_reference() -> None:
    small, large = chi2([50, 50], [60, 40]), chi2([5000, 5000], [60, 40])
    assert small.effect == pytest.approx(large.effect)
    raw = np.sqrt(stats.chi2_contingency(np.array([[5000, 5000], [60, 40]]), correction=False).statistic / 10_100)
    assert raw < large.effect / 5 and f"observed sizes: {raw:.6g}" in large.notes[0]


def test_jensen_shannon_and_hellinger_values_and_their_g_test() -> None:
    ref, cur = np.array([30, 0, 12, 50, 8]), np.array([25, 3, 20, 41, 0])
    t = jensen_shannon(ref, cur)
    assert t.effect == pytest.approx(scipy_js(ref / ref.sum(), cur / cur.sum(), base=2))
    assert t.statistic == pytest.approx(t.effect**2)
    res = stats.chi2_contingency(np.vstack([ref, cur]), correction=False, lambda_="log-likelihood")
    assert t.p_value == pytest.approx(res.pvalue)
    # G = 2 N MI, the mutual information of sample membership and bin
    table = np.vstack([ref, cur]) / (ref.sum() + cur.sum())
    outer = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True)
    mi = np.sum(np.where(table > 0, table * np.log(np.where(table > 0, table, 1) / outer), 0.0))
    assert f"G = {2 * (ref.sum() + cur.sum()) * mi:.6g}" in t.notes[0]
    h = hellinger(ref, cur)
    p, q = ref / ref.sum(), cur / cur.sum()
    assert h.effect == pytest.approx(np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)))
    assert h.p_value == t.p_value


def test_psi_matches_a_hand_computation() -> None:
    # no smoothing: shares 0.5/0.5 against 0.4/0.6
    t = psi([50, 50], [40, 60], smoothing=0.0)
    assert t.statistic == pytest.approx(-0.1 * np.log(0.8) + 0.1 * np.log(1.2))  # = 0.1 ln 1.5
    assert t.p_value == pytest.approx(stats.chi2.sf(0.1 * np.log(1.5) / (1 / 100 + 1 / 100), 1))
    # smoothing 0.5 on three bins, one empty in current: ref 10, 20, 70 -> (10.5, 20.5, 70.5) / 101.5
    t = psi([10, 20, 70], [0, 30, 20], smoothing=0.5)
    p = np.array([10.5, 20.5, 70.5]) / 101.5
    q = np.array([0.5, 30.5, 20.5]) / 51.5
    assert t.statistic == pytest.approx(np.sum((q - p) * np.log(q / p)))
    assert t.effect == t.statistic and t.threshold == DEFAULT_MIN_EFFECT["psi"]
    assert t.p_value == pytest.approx(stats.chi2.sf(t.statistic / (1 / 100 + 1 / 50), 2))
    # bins empty on both sides are dropped before smoothing
    assert psi([10, 0, 20, 70], [0, 0, 30, 20]).statistic == pytest.approx(t.statistic)


def test_psi_without_smoothing_is_infinite_when_a_bin_empties() -> None:
    t = psi([10, 20, 70], [0, 30, 20], smoothing=0.0)
    assert t.effect == np.inf and t.p_value == 0.0 and "infinite" in t.notes[-1]
    with pytest.raises(ConfigError, match="smoothing"):
        psi([1, 2], [2, 1], smoothing=-0.5)


def test_wasserstein_is_scipys_distance_over_the_reference_sd() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(2.0, 3.0, size=800), rng.normal(2.6, 3.0, size=600)
    t = wasserstein(ref, cur, rng=1)
    assert t.statistic == pytest.approx(stats.wasserstein_distance(ref, cur))
    assert t.effect == pytest.approx(t.statistic / ref.std())
    assert t.p_value == pytest.approx(1 / 201)  # 0.2 sd at these sizes: no permutation comes close
    assert wasserstein(ref, cur, rng=np.random.default_rng(5)).p_value == wasserstein(ref, cur, rng=5).p_value


def test_wasserstein_subsamples_only_the_permutation_test() -> None:
    rng = np.random.default_rng(4)
    ref, cur = rng.normal(size=3000), rng.normal(size=2500)
    t = wasserstein(ref, cur, rng=0, max_per_side=1000, permutations=50)
    assert t.statistic == pytest.approx(stats.wasserstein_distance(ref, cur))
    assert "1000 reference and 1000 current" in t.notes[-1]
    assert 1 / 51 <= t.p_value <= 1
    with pytest.raises(ConfigError, match="permutations"):
        wasserstein(ref, cur, permutations=0)
    with pytest.raises(InputError, match="infinite"):
        wasserstein(np.array([1.0, np.inf]), cur)


def test_a_constant_reference_scales_wasserstein_by_the_pooled_spread() -> None:
    t = wasserstein(np.full(100, 1.0), np.full(100, 2.0))
    assert t.effect == pytest.approx(2.0) and "pooled" in t.notes[-1]


def test_proportion_tests_agree_with_statsmodels_and_fisher() -> None:
    t = z_proportions(120, 500, 90, 300)
    z, p = proportions_ztest([90, 120], [300, 500])
    assert t.statistic == pytest.approx(z) and t.p_value == pytest.approx(p)
    assert t.effect == pytest.approx(0.06)
    small = missing_rate(0, 200, 4, 150)  # expected missing counts below 5: Fisher's exact test
    assert small.p_value == pytest.approx(stats.fisher_exact([[0, 200], [4, 146]]).pvalue)
    assert "Fisher" in small.notes[0]
    large = missing_rate(100, 10_000, 2_000, 10_000)
    assert "z test" in large.notes[0] and large.effect == pytest.approx(0.19) and verdict(large)


# --- degenerate input -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", RAW)
def test_raw_methods_refuse_an_empty_side_and_leave_out_nan(method: Callable[..., Test]) -> None:
    with pytest.raises(InputError, match=r"reference sample.*empty sample"):
        method(np.array([]), np.arange(5.0))
    with pytest.raises(InputError, match=r"current sample.*all missing"):
        method(np.arange(5.0), np.array([np.nan, np.nan]))
    t = method(np.array([0.0, 1.0, 2.0, np.nan]), np.array([0.5, 1.5, 2.5, np.nan, np.nan]))
    assert (t.n_reference, t.n_current) == (3, 3)
    assert "1 in reference, 2 in current" in t.notes[0]


@pytest.mark.parametrize("method", RAW)
def test_raw_methods_give_no_drift_for_one_shared_constant(method: Callable[..., Test]) -> None:
    t = method(np.full(7, 4.2), np.full(3, 4.2))
    assert (t.p_value, t.effect) == (1.0, 0.0)


def test_cramer_von_mises_needs_two_values_per_side() -> None:
    with pytest.raises(InputError, match="at least 2"):
        cramer_von_mises(np.array([1.0]), np.array([1.0, 2.0]))


@pytest.mark.parametrize("method", BINNED)
def test_binned_methods_on_degenerate_counts(method: Callable[..., Test]) -> None:
    with pytest.raises(InputError, match=r"current counts.*all counts zero"):
        method([3, 4], [0, 0])
    with pytest.raises(InputError, match="same bins"):
        method([3, 4], [1, 2, 3])
    with pytest.raises(InputError, match="finite counts >= 0"):
        method([3, -1], [1, 2])
    t = method([0, 40, 0], [0, 7, 0])  # every value in one bin on both sides
    assert (t.p_value, t.effect) == (1.0, 0.0)


def test_proportion_tests_on_degenerate_input() -> None:
    for method in (z_proportions, missing_rate):
        with pytest.raises(InputError, match="n > 0"):
            method(0, 0, 1, 10)
        with pytest.raises(InputError, match="n > 0"):
            method(11, 10, 1, 10)
        assert (method(0, 50, 0, 80).p_value, method(0, 50, 0, 80).effect) == (1.0, 0.0)
        assert method(50, 50, 80, 80).p_value == 1.0


# --- laws -----------------------------------------------------------------------------------------------------------

samples = st.lists(st.one_of(st.floats(-1e6, 1e6), st.integers(-3, 3).map(float)), min_size=1, max_size=60)


@given(samples)
def test_a_sample_against_itself_does_not_drift(values: list[float]) -> None:
    x = np.array(values)
    for method in RAW:
        if method is cramer_von_mises and x.size < 2 and x.min() != x.max():
            continue
        t = method(x, x)
        assert t.effect == 0.0 and t.p_value >= 0.99, method.__name__
        assert not verdict(t)


@given(st.lists(st.integers(0, 500), min_size=1, max_size=30).filter(lambda c: sum(c) > 0), st.integers(1, 5))
def test_counts_against_themselves_do_not_drift(counts: list[int], times: int) -> None:
    c = np.array(counts)
    for method in BINNED:
        t = method(c, c)
        assert t.effect == 0.0 and t.p_value == 1.0, method.__name__
    for method in (jensen_shannon, hellinger, chi2):  # the same shares at another size
        t = method(c, times * c)
        assert t.effect == pytest.approx(0.0, abs=1e-7) and t.p_value >= 0.99, method.__name__


@given(st.integers(1, 1000), st.data())
def test_rates_against_themselves_do_not_drift(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n))
    for method in (z_proportions, missing_rate):
        t = method(k, n, k, n)
        assert t.effect == 0.0 and t.p_value >= 0.99


@given(samples, samples, st.randoms(use_true_random=False))
def test_order_of_rows_and_sides_changes_nothing(a: list[float], b: list[float], random: Random) -> None:
    x, y = np.array(a), np.array(b)
    shuffled = list(a)
    random.shuffle(shuffled)
    xs = np.array(shuffled)
    for method in (ks, wasserstein):
        assert method(xs, y).statistic == pytest.approx(method(x, y).statistic, rel=1e-9, abs=1e-12)
        assert method(y, x).statistic == pytest.approx(method(x, y).statistic, rel=1e-9, abs=1e-12)


@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 300)), min_size=1, max_size=20)
       .filter(lambda rows: sum(r for r, _ in rows) > 0 and sum(c for _, c in rows) > 0))
def test_symmetric_count_methods_ignore_which_side_is_which(rows: list[tuple[int, int]]) -> None:
    r, c = np.array(rows).T
    for method in (jensen_shannon, hellinger, chi2):
        ab, ba = method(r, c), method(c, r)
        assert ab.effect == pytest.approx(ba.effect) and ab.p_value == pytest.approx(ba.p_value)


# --- multiple testing -----------------------------------------------------------------------------------------------

pvalue_lists = st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.01, 0.05, 1.0])), min_size=1, max_size=40)


@given(pvalue_lists)
def test_holm_and_benjamini_hochberg_agree_with_statsmodels(pvalues: list[float]) -> None:
    p = np.array(pvalues)
    with mock.patch("gc.collect"):  # statsmodels' Holm runs a full garbage collection (~0.1 s) on every call
        expected = multipletests(p, method="holm")[1]
    np.testing.assert_allclose(holm(p), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1], rtol=1e-12, atol=1e-15)


def test_adjustments_reject_bad_p_values_and_accept_none() -> None:
    assert holm(np.array([])).size == 0 and benjamini_hochberg(np.array([])).size == 0
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        holm(np.array([0.2, 1.5]))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        benjamini_hochberg(np.array([np.nan]))


def test_verdict_needs_significance_and_a_practical_effect() -> None:
    t = Test("psi", 0.2, 0.01, 0.2, "psi", 0.01, 100, 100)
    assert verdict(t) and not verdict(t, alpha=0.01) and not verdict(t, min_effect=0.25)
    assert not verdict(Test("psi", 0.005, 1e-9, 0.005, "psi", 0.01, 10**7, 10**7))
    with pytest.raises(ConfigError, match="alpha"):
        verdict(t, alpha=0.0)


# --- calibration and power (seeded simulations) ---------------------------------------------------------------------

@pytest.mark.parametrize("n", [200, 2000])
def test_false_alarm_rate_of_identical_distributions_is_at_most_alpha(n: int) -> None:
    """Identical normals, 300 replications, 10 reference-decile bins: every p-value is calibrated."""
    rng, reps = np.random.default_rng(20_240_603 + n), 300
    alarms = dict.fromkeys(["ks", "cramer_von_mises", "psi", "jensen_shannon", "hellinger", "chi2"], 0)
    for _ in range(reps):
        ref, cur = rng.normal(size=n), rng.normal(size=n)
        r, c = decile_counts(ref, cur)
        for t in (ks(ref, cur), cramer_von_mises(ref, cur), psi(r, c), jensen_shannon(r, c), hellinger(r, c),
                  chi2(r, c)):
            alarms[t.method] += t.p_value < 0.05
    rates = {name: count / reps for name, count in alarms.items()}
    assert all(rate <= binomial_margin(0.05, reps) for rate in rates.values()), rates


def test_false_alarm_rate_of_the_permutation_and_proportion_tests() -> None:
    rng, reps = np.random.default_rng(7), 300
    alarms = {"wasserstein": 0, "z": 0, "missing_rate": 0}
    for _ in range(reps):
        t = wasserstein(rng.exponential(size=150), rng.exponential(size=150), rng=rng)
        alarms["wasserstein"] += t.p_value < 0.05
        alarms["z"] += z_proportions(rng.binomial(400, 0.3), 400, rng.binomial(300, 0.3), 300).p_value < 0.05
        missing = missing_rate(rng.binomial(500, 0.01), 500, rng.binomial(500, 0.01), 500)
        alarms["missing_rate"] += missing.p_value < 0.05
    rates = {name: count / reps for name, count in alarms.items()}
    assert all(rate <= binomial_margin(0.05, reps) for rate in rates.values()), rates


def test_the_chi2_goodness_of_fit_shortcut_would_raise_false_alarms() -> None:
    """Why chi2 is a two-sample test: treating the reference's shares as exact flags far more than 5%."""
    rng, reps, wrong, right = np.random.default_rng(11), 300, 0, 0
    for _ in range(reps):
        r, c = rng.multinomial(2000, np.full(10, 0.1)), rng.multinomial(2000, np.full(10, 0.1))
        wrong += stats.chisquare(c, r / r.sum() * c.sum()).pvalue < 0.05
        right += chi2(r, c).p_value < 0.05
    assert wrong / reps > 0.15 and right / reps <= binomial_margin(0.05, reps)


def test_a_practical_shift_is_detected_from_n_5000() -> None:
    """A 0.2-sd mean shift at n = 5,000 per side: drifted, with the default floors, in at least 95 of 100 runs."""
    rng, reps = np.random.default_rng(5_000), 100
    hits = dict.fromkeys(["ks", "cramer_von_mises", "psi", "jensen_shannon", "hellinger", "chi2"], 0)
    for _ in range(reps):
        ref, cur = rng.normal(size=5000), rng.normal(0.2, 1.0, size=5000)
        r, c = decile_counts(ref, cur)
        for t in (ks(ref, cur), cramer_von_mises(ref, cur), psi(r, c), jensen_shannon(r, c), hellinger(r, c),
                  chi2(r, c)):
            hits[t.method] += verdict(t)
    wass = [verdict(wasserstein(rng.normal(size=5000), rng.normal(0.2, 1.0, size=5000), rng=rng)) for _ in range(5)]
    assert all(count >= 95 for count in hits.values()) and all(wass), hits


@pytest.mark.parametrize("shift", [0.01, 0.03])
def test_a_negligible_shift_is_not_flagged_however_large_n(shift: float) -> None:
    """At n = 200,000 per side a 0.01- or 0.03-sd shift may be significant, but it is never practically large."""
    rng = np.random.default_rng(200_000)
    for _ in range(2):
        ref, cur = rng.normal(size=200_000), rng.normal(shift, 1.0, size=200_000)
        r, c = decile_counts(ref, cur)
        tests = [ks(ref, cur), cramer_von_mises(ref, cur), wasserstein(ref, cur, rng=rng), psi(r, c),
                 jensen_shannon(r, c), hellinger(r, c), chi2(r, c)]
        assert not any(verdict(t) for t in tests), [(t.method, t.p_value, t.effect) for t in tests]
        assert all(t.effect < t.threshold / 2 for t in tests)
        if shift == 0.03:
            assert tests[0].p_value < 1e-4  # significance alone would call this drift

"""Paired statistics against statsmodels, brute force and a direct paired bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import f1_score, roc_auc_score
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from assay.stats.paired import _tango_stat, joint_cell_bootstrap, mcnemar, paired_delong, paired_mean, tango

Z = 1.959963984540054


@pytest.mark.parametrize(("b", "c"), [(19, 45), (0, 0), (3, 3), (0, 7), (120, 80), (1, 30)])
@pytest.mark.parametrize("exact", [True, False])
def test_mcnemar_matches_statsmodels(b: int, c: int, exact: bool) -> None:
    if b + c == 0:
        assert mcnemar(b, c, exact=exact) == 1.0
        return
    ref = sm_mcnemar([[10, b], [c, 10]], exact=exact, correction=True).pvalue
    assert mcnemar(b, c, exact=exact) == pytest.approx(ref, rel=1e-12)


@given(st.integers(0, 60), st.integers(0, 30), st.integers(0, 30), st.integers(0, 60))
def test_tango_interval_is_the_inverted_score_test(n11: int, n10: int, n01: int, n00: int) -> None:
    n = n11 + n10 + n01 + n00
    if n == 0:
        return
    d = tango(n11, n10, n01, n00, Z)
    assert d.low <= d.value <= d.high
    assert -1 <= d.low and d.high <= 1
    # duality: at an interior bound the score statistic equals the critical value
    if d.low > -1 + 1e-9:
        assert abs(_tango_stat(d.low, n10, n01, n)) == pytest.approx(Z, abs=1e-6)
    if d.high < 1 - 1e-9:
        assert abs(_tango_stat(d.high, n10, n01, n)) == pytest.approx(Z, abs=1e-6)


@given(st.integers(1, 60), st.integers(0, 30), st.integers(0, 30), st.integers(0, 60))
def test_tango_bounds_are_monotone_in_the_candidate(n11: int, n10: int, n01: int, n00: int) -> None:
    """Turning one of the candidate's wrong items right never lowers either bound."""
    base = tango(n11, n10, n01, n00, Z)
    if n01 > 0:
        better = tango(n11 + 1, n10, n01 - 1, n00, Z)
        assert better.low >= base.low - 1e-9 and better.high >= base.high - 1e-9
    if n00 > 0:
        better = tango(n11, n10 + 1, n01, n00 - 1, Z)
        assert better.low >= base.low - 1e-9 and better.high >= base.high - 1e-9


def test_tango_agrees_with_the_fixture_readme() -> None:
    """Inspect fixture: b = 45 (baseline right only), c = 19; the README's paired 95% CI is [-0.1037, -0.0263]."""
    d = tango(400 - 45 - 19 - 100, 19, 45, 100, Z)
    assert d.value == pytest.approx(-0.065)
    assert d.low == pytest.approx(-0.1037, abs=0.003) and d.high == pytest.approx(-0.0263, abs=0.003)
    assert d.p_value == pytest.approx(0.00156, abs=1e-5)


def _delong_bruteforce(y: np.ndarray, sa: np.ndarray, sb: np.ndarray) -> tuple[float, float]:
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)

    def psi(s: np.ndarray) -> np.ndarray:
        d = s[pos][:, None] - s[neg][None, :]
        return (d > 0) + 0.5 * (d == 0)

    pa, pb = psi(sa), psi(sb)
    v10 = np.stack([pa.mean(axis=1), pb.mean(axis=1)])
    v01 = np.stack([pa.mean(axis=0), pb.mean(axis=0)])
    s10, s01 = np.cov(v10), np.cov(v01)
    s = s10 / len(pos) + s01 / len(neg)
    return float(pa.mean() - pb.mean()), float(np.sqrt(s[0, 0] + s[1, 1] - 2 * s[0, 1]))


def test_paired_delong_matches_a_direct_implementation() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    sa = np.round(y * 0.8 + rng.normal(0, 0.6, 300), 1)  # rounding makes ties
    sb = np.round(y * 0.6 + rng.normal(0, 0.6, 300), 1)
    d = paired_delong(y, sa, sb, Z)
    ref_d, ref_se = _delong_bruteforce(y, sa, sb)
    assert d.value == pytest.approx(roc_auc_score(y, sa) - roc_auc_score(y, sb), abs=1e-12)
    assert d.value == pytest.approx(ref_d, abs=1e-12)
    assert d.se == pytest.approx(ref_se, rel=1e-9)


def test_joint_cell_bootstrap_agrees_with_a_direct_paired_bootstrap() -> None:
    rng = np.random.default_rng(1)
    n = 600
    y = rng.integers(0, 2, n)
    pa = np.where(rng.random(n) < 0.85, y, 1 - y)
    pb = np.where(rng.random(n) < 0.8, y, 1 - y)

    def f1(c: np.ndarray) -> np.ndarray:
        tp, fp, fn = c[..., 1, 1], c[..., 0, 1], c[..., 1, 0]
        return 2 * tp / (2 * tp + fp + fn)

    d = joint_cell_bootstrap(y, pa, pb, f1, Z, seed=0)
    assert d.value == pytest.approx(f1_score(y, pa) - f1_score(y, pb), abs=1e-12)
    reps = []
    for _ in range(1500):
        i = rng.integers(0, n, n)
        reps.append(f1_score(y[i], pa[i]) - f1_score(y[i], pb[i]))
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert d.low == pytest.approx(lo, abs=0.01) and d.high == pytest.approx(hi, abs=0.01)
    assert d.se == pytest.approx(np.std(reps), rel=0.1)


def test_paired_mean_is_the_mean_of_differences() -> None:
    diff = np.array([0.1, -0.2, 0.3, 0.0])
    d = paired_mean(diff, Z)
    assert d.value == pytest.approx(0.05)
    assert d.se == pytest.approx(np.std(diff, ddof=1) / 2)

"""CBPE estimation states: against independent references, the merge laws, the bad paths and the coverage."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from assay.errors import ColumnError, ConfigError, InputError, StateError
from assay.watch.estimate import METRICS, MIN_REFERENCE_ROWS, Calibrator, EstimationState, _metrics

Z95 = float(stats.norm.ppf(0.975))


def sigmoid(t: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-t))


def reference(rng: np.random.Generator, n: int, decimals: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Labels from a known logit and a miscalibrated monotone score of it (rounded for ties when asked)."""
    eta = rng.standard_normal(n) - 0.5
    y = (rng.uniform(size=n) < sigmoid(eta)).astype(np.int64)
    s = sigmoid(1.5 * eta + 0.3)
    return y, (np.round(s, decimals) if decimals is not None else s)


@cache
def calibrator(n_boot: int = 5, threshold: float = 0.5) -> Calibrator:
    y, s = reference(np.random.default_rng(7), 3_000)
    return Calibrator.fit(y, s, threshold=threshold, n_boot=n_boot, rng=np.random.default_rng(8))


def state_of(scores: np.ndarray | list[float], cal: Calibrator | None = None, grid: int = 50) -> EstimationState:
    cal = cal or calibrator()
    return EstimationState.for_calibrator(cal, grid=grid).update(cal, np.asarray(scores, dtype=np.float64))


ARRAYS = ("cells", "rows", "pos", "var")


def assert_states_close(a: EstimationState, b: EstimationState, tol: float = 1e-9) -> None:
    assert a._config() == b._config()
    assert (a.n, a.n_pred_pos) == (b.n, b.n_pred_pos)
    for name in ARRAYS:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=tol, atol=tol, err_msg=name)
    np.testing.assert_array_equal(a.lo, b.lo)
    np.testing.assert_array_equal(a.hi, b.hi)


def assert_states_equal(a: EstimationState, b: EstimationState) -> None:
    assert a._config() == b._config() and (a.n, a.n_pred_pos) == (b.n, b.n_pred_pos)
    for name in (*ARRAYS, "lo", "hi"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


# -- against independent references --------------------------------------------------------------------------------
@pytest.mark.parametrize("decimals", [None, 2])
def test_isotonic_main_fit_equals_sklearn_on_fitted_and_new_points(decimals: int | None) -> None:
    rng = np.random.default_rng(1)
    y, s = reference(rng, 4_000, decimals)
    cal = Calibrator.fit(y, s, n_boot=3, rng=rng)
    ref = IsotonicRegression(out_of_bounds="clip").fit(s, y)
    np.testing.assert_allclose(cal.predict(s), ref.predict(s), rtol=0, atol=1e-9)
    new = np.r_[rng.uniform(size=1_000), 0.0, 1.0, s.min() / 2, (1 + s.max()) / 2]
    np.testing.assert_allclose(cal.predict(new), ref.predict(new), rtol=0, atol=1e-9)


def test_bootstrap_refits_are_isotonic_fits_of_resamples_drawn_from_rng() -> None:
    y, s = reference(np.random.default_rng(2), 1_000, decimals=3)
    cal = Calibrator.fit(y, s, n_boot=3, rng=np.random.default_rng(5))
    rng = np.random.default_rng(5)
    probe = np.linspace(0, 1, 301)
    for b in range(1, 4):
        draws = np.bincount(rng.integers(0, len(s), size=len(s)), minlength=len(s))
        keep = draws > 0
        ref = IsotonicRegression(out_of_bounds="clip").fit(s[keep], y[keep], sample_weight=draws[keep])
        np.testing.assert_allclose(np.interp(probe, cal.knots, cal.values[b]), ref.predict(probe), atol=1e-9)


def test_expected_cells_and_metrics_equal_a_direct_numpy_computation() -> None:
    cal = calibrator()
    w = np.random.default_rng(3).beta(2, 2, 700)
    state = state_of(w, cal)
    d = w >= cal.threshold
    for b in range(cal.n_boot + 1):
        p = np.interp(w, cal.knots, cal.values[b])
        expected = [np.sum(p * d), np.sum(p * ~d), np.sum(p * (1 - p) * d), np.sum(p * (1 - p) * ~d)]
        np.testing.assert_allclose(state.cells[b], expected, rtol=1e-12)
    p = cal.predict(w)
    tp, fp, fn, tn = np.sum(p * d), np.sum((1 - p) * d), np.sum(p * ~d), np.sum((1 - p) * ~d)
    out = state.compute(cal)
    assert out["accuracy"]["value"] == pytest.approx((tp + tn) / len(w), abs=1e-12)
    assert out["precision"]["value"] == pytest.approx(tp / (tp + fp), abs=1e-12)
    assert out["recall"]["value"] == pytest.approx(tp / (tp + fn), abs=1e-12)
    assert out["f1"]["value"] == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=1e-12)
    assert all(out[m]["n"] == len(w) for m in METRICS)


def exact_expected_auc(s: np.ndarray, p: np.ndarray) -> float:
    """Σ_{i≠j} p_i (1 - p_j) H(s_i - s_j) / Σ_{i≠j} p_i (1 - p_j), by brute force."""
    mass = p[:, None] * (1 - p)[None, :]
    h = (s[:, None] > s[None, :]) + 0.5 * (s[:, None] == s[None, :])
    off = ~np.eye(len(s), dtype=bool)
    return float((mass * h)[off].sum() / mass[off].sum())


@given(
    st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.3, 0.31, 0.5, 0.999, 1.0])), min_size=2, max_size=60),
    st.sampled_from([1, 3, 10, 100, 1000]),
)
def test_grid_auc_is_within_its_stated_bound_of_the_exact_expected_auc(scores: list[float], grid: int) -> None:
    cal = calibrator()
    s = np.array(scores)
    p = cal.predict(s)
    out = state_of(s, cal, grid=grid).compute(cal)["roc_auc"]
    if out["value"] is None:
        assert (p * (1 - p)).sum() == pytest.approx(p.sum() * (1 - p).sum(), abs=1e-12)  # no pair of two classes
        return
    err = abs(out["value"] - exact_expected_auc(s, p))
    assert err <= out["error_bound"] + 1e-12
    bins = np.minimum((s * grid).astype(int), grid - 1)
    pos, neg = np.bincount(bins, weights=p, minlength=grid), np.bincount(bins, weights=1 - p, minlength=grid)
    assert out["error_bound"] <= 0.5 * min(pos.max() / pos.sum(), neg.max() / neg.sum()) + 1e-12  # the a-priori bound


def test_grid_auc_is_exact_when_distinct_scores_have_bins_of_their_own_and_close_on_a_fine_grid() -> None:
    cal = calibrator()
    rng = np.random.default_rng(4)
    discrete = rng.choice([0.05, 0.2, 0.45, 0.5, 0.7, 0.95], size=300)
    out = state_of(discrete, cal, grid=20).compute(cal)["roc_auc"]
    assert out["error_bound"] == 0.0
    p = cal.predict(discrete)
    assert out["value"] == pytest.approx(exact_expected_auc(discrete, p), abs=1e-12)
    # scikit-learn's weighted AUC of each row as a positive of weight p and a negative of weight 1 - p counts the
    # self-pairs too: P N pairs, of which Σ p (1 - p) are self-pairs scored ½
    big_p, big_n, self_pairs = p.sum(), (1 - p).sum(), (p * (1 - p)).sum()
    labels, weights = np.r_[np.ones(300), np.zeros(300)], np.r_[p, 1 - p]
    weighted = roc_auc_score(labels, np.r_[discrete, discrete], sample_weight=weights)
    expected = (weighted * big_p * big_n - 0.5 * self_pairs) / (big_p * big_n - self_pairs)
    assert out["value"] == pytest.approx(expected, abs=1e-12)
    fine = rng.uniform(size=400)
    out = state_of(fine, cal, grid=1000).compute(cal)["roc_auc"]
    assert 0 < out["error_bound"] < 5e-3
    assert abs(out["value"] - exact_expected_auc(fine, cal.predict(fine))) <= out["error_bound"]


def test_interval_widths_match_the_monte_carlo_spread_of_the_realized_metrics() -> None:
    """With no calibrator refits the half-width / z is the model's sd of the realized value given p."""
    y, s = reference(np.random.default_rng(11), 3_000)
    cal = Calibrator.fit(y, s, n_boot=0, rng=np.random.default_rng(0))
    w = sigmoid(1.5 * (np.random.default_rng(12).standard_normal(600) * 1.2) + 0.3)
    out = state_of(w, cal, grid=1000).compute(cal)
    p, d = cal.predict(w), w >= cal.threshold
    labels = (np.random.default_rng(13).uniform(size=(4_000, len(w))) < p).astype(float)
    tp, fn = labels @ d, labels @ ~d
    n_pos, ranks = labels.sum(axis=1), stats.rankdata(w)
    realized = {
        "accuracy": (tp + (~d).sum() - fn) / len(w),
        "precision": tp / d.sum(),
        "recall": tp / (tp + fn),
        "f1": 2 * tp / (tp + fn + d.sum()),
        "roc_auc": (labels @ ranks - n_pos * (n_pos + 1) / 2) / (n_pos * (len(w) - n_pos)),
    }
    for name in METRICS:
        assert 0.0 < out[name]["ci_low"] and out[name]["ci_high"] < 1.0, name  # not clipped
        model_sd = (out[name]["ci_high"] - out[name]["ci_low"]) / (2 * Z95)
        assert model_sd == pytest.approx(realized[name].std(), rel=0.08), name
        assert out[name]["value"] == pytest.approx(realized[name].mean(), abs=0.25 * model_sd), name


def test_calibrator_terms_do_not_shrink_with_the_window() -> None:
    """Repeating a window 100 times divides the sampling variance by 100 and keeps the calibrator's terms.

    Exact for the cell metrics; the AUC moves a little, as the copies of a row tie with each other.
    """
    cal = calibrator()
    w = np.random.default_rng(5).uniform(size=500)
    one, many = state_of(w, cal), state_of(np.tile(w, 100), cal)
    no_boot = Calibrator(cal.knots, cal.values[:1], cal.threshold)
    one0, many0 = state_of(w, no_boot).compute(no_boot), state_of(np.tile(w, 100), no_boot).compute(no_boot)
    parts = _metrics(one)
    for name in METRICS:
        rel = 1e-2 if name == "roc_auc" else 1e-9
        half0 = (one0[name]["ci_high"] - one0[name]["ci_low"]) / 2
        assert (many0[name]["ci_high"] - many0[name]["ci_low"]) / 2 == pytest.approx(half0 / 10, rel=rel), name
        values, var_s, _ = parts[name]
        assert var_s == pytest.approx((half0 / Z95) ** 2, rel=1e-9), name
        var_c, bias = np.var(values[1:], ddof=1), values[1:].mean() - values[0]
        assert var_c > 0, name
        out = many.compute(cal)[name]
        expected = Z95 * np.sqrt(var_s / 100 + var_c) + abs(bias)
        assert (out["ci_high"] - out["ci_low"]) / 2 == pytest.approx(expected, rel=rel), name


# -- laws ----------------------------------------------------------------------------------------------------------
SCORES = st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.02, 0.5, 0.98, 1.0])), max_size=80)


@given(SCORES, st.integers(0, 80), st.integers(0, 80))
def test_merge_of_any_split_equals_update_on_the_whole(scores: list[float], i: int, j: int) -> None:
    i, j = sorted((min(i, len(scores)), min(j, len(scores))))
    whole = state_of(scores)
    parts = [state_of(scores[:i]), state_of(scores[i:j]), state_of(scores[j:])]
    assert_states_close(parts[0].merge(parts[1]).merge(parts[2]), whole)
    cal = calibrator()
    stepwise = EstimationState.for_calibrator(cal, grid=50).update(cal, scores[:i]).update(cal, scores[i:])
    assert_states_close(stepwise, whole)


@given(SCORES, SCORES, SCORES)
def test_merge_is_commutative_and_associative_and_empty_is_its_identity(x: list[float], y: list[float],
                                                                         z: list[float]) -> None:
    a, b, c = state_of(x), state_of(y), state_of(z)
    assert_states_equal(a.merge(b), b.merge(a))
    assert_states_close(a.merge(b).merge(c), a.merge(b.merge(c)))
    empty = EstimationState.for_calibrator(calibrator(), grid=50)
    assert_states_equal(empty.merge(a), a)
    assert_states_equal(a.merge(empty), a)


@given(SCORES)
def test_state_bytes_round_trip(scores: list[float]) -> None:
    a = state_of(scores)
    back = EstimationState.from_bytes(a.to_bytes())
    assert_states_equal(back, a)
    assert back.compute() == a.compute()


def test_calibrator_bytes_round_trip() -> None:
    cal = calibrator()
    back = Calibrator.from_bytes(cal.to_bytes())
    assert back.id == cal.id and back.n_boot == cal.n_boot and back.n_reference == cal.n_reference
    w = np.linspace(0, 1, 101)
    np.testing.assert_array_equal(back._all(w), cal._all(w))


@given(SCORES, st.sampled_from([0.5, 0.8, 0.99]))
def test_compute_gives_numbers_in_range_or_none_with_a_reason_never_nan(scores: list[float], confidence: float) -> None:
    out = state_of(scores).compute(calibrator(), confidence)
    assert set(out) == set(METRICS)
    for name, m in out.items():
        if m["value"] is None:
            assert m["reason"] and m["ci_low"] is None and m["ci_high"] is None, name
        else:
            assert 0.0 <= m["ci_low"] <= m["value"] <= m["ci_high"] <= 1.0, (name, m)
            assert all(math.isfinite(v) for v in (m["value"], m["ci_low"], m["ci_high"]))


# -- undefined and bad paths ---------------------------------------------------------------------------------------
def test_empty_window_and_no_predicted_positives_are_undefined_with_reasons() -> None:
    cal = calibrator()
    out = EstimationState.for_calibrator(cal).compute(cal)
    assert all(m["value"] is None and m["reason"] == "no rows in the window" and m["n"] == 0 for m in out.values())
    out = state_of([0.1, 0.2, 0.3], cal).compute(cal)
    assert out["precision"]["value"] is None and "predicted positive" in out["precision"]["reason"]
    assert out["accuracy"]["value"] is not None and out["recall"]["value"] == 0.0


def test_window_where_the_calibrator_expects_no_positive() -> None:
    y = np.r_[np.zeros(100), np.ones(60), np.zeros(40)]
    s = np.r_[np.full(100, 0.1), np.full(100, 0.9)]
    cal = Calibrator.fit(y, s, n_boot=2, rng=np.random.default_rng(0))
    out = state_of([0.05, 0.1, 0.1], cal).compute(cal)
    assert out["accuracy"]["value"] == 1.0
    for name, text in [("precision", "predicted positive"), ("recall", "expect no positive"),
                       ("f1", "none is expected positive"), ("roc_auc", "one class")]:
        assert out[name]["value"] is None and text in out[name]["reason"], name


def fit(y: object, s: object, **kw: object) -> Calibrator:
    return Calibrator.fit(y, s, rng=np.random.default_rng(0), **kw)  # type: ignore[arg-type]


def test_reference_with_one_class_is_rejected() -> None:
    with pytest.raises(InputError, match=r"reference y_true: expected both classes, found only label 0 in 500 rows"):
        fit(np.zeros(500), np.random.default_rng(0).uniform(size=500))


@pytest.mark.parametrize(("bad", "text"), [(np.nan, "nan"), (1.5, "1.5"), (-0.1, "-0.1")])
def test_bad_scores_are_rejected_naming_the_row(bad: float, text: str) -> None:
    y, s = reference(np.random.default_rng(0), 300)
    s[17] = bad
    expected = rf"reference y_score, row 17: expected finite scores in \[0, 1\], found {text}"
    with pytest.raises(ColumnError, match=expected):
        fit(y, s)
    cal = calibrator()
    with pytest.raises(ColumnError, match=r"window y_score, row 1: expected finite scores"):
        EstimationState.for_calibrator(cal).update(cal, np.array([0.2, bad, 0.3]))


def test_small_mismatched_or_non_binary_references_are_rejected() -> None:
    y, s = reference(np.random.default_rng(0), 300)
    with pytest.raises(InputError, match=rf"expected at least {MIN_REFERENCE_ROWS} labeled rows, found 99 rows"):
        fit(y[:99], s[:99])
    with pytest.raises(InputError, match=r"expected one label per score \(300 rows\), found shape \(299,\)"):
        fit(y[:299], s)
    with pytest.raises(ColumnError, match=r"expected 0/1 labels, found values \[2\]"):
        fit(np.where(y == 1, 2, 0), s)
    with pytest.raises(ConfigError, match="argument method"):
        fit(y, s, method="platt")
    with pytest.raises(ConfigError, match="argument n_boot"):
        fit(y, s, n_boot=1)
    with pytest.raises(ConfigError, match="argument confidence"):
        state_of([0.5]).compute(confidence=1.0)


def test_merging_states_of_different_configuration_names_both() -> None:
    a = state_of([0.2, 0.7])
    other = calibrator(n_boot=5, threshold=0.4)
    for b in (state_of([0.3], grid=100), state_of([0.3], other)):
        with pytest.raises(StateError, match="estimation merge: expected states of one configuration") as info:
            a.merge(b)
        assert a._config() in str(info.value) and b._config() in str(info.value)


def test_a_state_refuses_another_calibrator() -> None:
    a, other = state_of([0.2, 0.7]), calibrator(n_boot=3)
    with pytest.raises(StateError, match=rf"estimation update: .* found calibrator {other.id}"):
        a.update(other, [0.5])
    with pytest.raises(StateError, match="estimation compute"):
        a.compute(other)


def test_bytes_of_another_kind_do_not_decode() -> None:
    with pytest.raises(StateError, match="expected a estimation state"):
        EstimationState.from_bytes(calibrator().to_bytes())
    with pytest.raises(StateError):
        Calibrator.from_bytes(b"not a state")


# -- coverage ------------------------------------------------------------------------------------------------------
def test_prediction_interval_covers_the_realized_value_under_covariate_shift() -> None:
    """200 seeded windows of 2,000 rows, each with a fresh 20,000-row reference; the truth P(y | x) is known and kept.

    The scores are a miscalibrated monotone function of the true logit, so P(y | score) survives the shift of x.
    Pass while the coverage count is not implausibly low for a true coverage of 0.90 (P < 1e-4).
    """
    reps, n_ref, n = 200, 20_000, 2_000
    covered = dict.fromkeys(METRICS, 0)
    defined = dict.fromkeys(METRICS, 0)
    for rep in range(reps):
        rng = np.random.default_rng([2024, rep])
        y_ref, s_ref = reference(rng, n_ref)
        cal = Calibrator.fit(y_ref, s_ref, n_boot=10, rng=rng)
        eta = 1.2 * rng.standard_normal(n) + 0.3  # shifted and wider than the reference's N(-0.5, 1)
        y, s = (rng.uniform(size=n) < sigmoid(eta)).astype(bool), sigmoid(1.5 * eta + 0.3)
        out = EstimationState.for_calibrator(cal).update(cal, s).compute(cal)
        d = s >= cal.threshold
        tp, fp, fn = (y & d).sum(), (~y & d).sum(), (y & ~d).sum()
        ranks = stats.rankdata(s)
        realized = {"accuracy": (y == d).mean(), "precision": tp / (tp + fp), "recall": tp / (tp + fn),
                    "f1": 2 * tp / (2 * tp + fp + fn),
                    "roc_auc": (ranks[y].sum() - y.sum() * (y.sum() + 1) / 2) / (y.sum() * (~y).sum())}
        for name in METRICS:
            defined[name] += 1
            covered[name] += out[name]["ci_low"] <= realized[name] <= out[name]["ci_high"]
    for name in METRICS:
        floor = stats.binom.ppf(1e-4, defined[name], 0.90)
        assert covered[name] >= floor, (name, covered[name], defined[name], floor)

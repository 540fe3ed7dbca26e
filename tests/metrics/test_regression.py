"""The regression state: scikit-learn agreement, the R² interval against a two-pass influence function, the
laws of a mergeable state (any split, commutative, associative, identity, bytes, groups, order), and the sample
weight invariances (``None`` = ones, integer weight = repetition, zero weight = removal).
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    max_error,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    median_absolute_error,
    r2_score,
)

import assay
from assay.metrics._groups import OVERALL
from assay.metrics.regression import RegressionState
from assay.stats.intervals import z_value

LAWS = settings(max_examples=25, deadline=None, derandomize=True)
Z = z_value(0.95)
KEYS = ("x", "y", 3)
NAMES = ("mae", "mse", "rmse", "r2", "mape", "median_absolute_error", "max_error")
TOL = {"abs": 1e-9, "rel": 1e-9}

# labels and predictions on a quarter grid: ties, zeros and sums that are exact in float64
grid = st.integers(-40, 40).map(lambda i: i / 4)
positive_weights = st.sampled_from([0.5, 1.0, 2.0, 3.0]) | st.floats(0.05, 8.0)


@st.composite
def rows_st(draw: Any, *, min_size: int = 0, max_size: int = 30, weighted: bool | None = None,
            zero_weights: bool = False) -> dict[str, Any]:
    n = draw(st.integers(min_size, max_size))
    y = np.array(draw(st.lists(grid, min_size=n, max_size=n)))
    p = np.array(draw(st.lists(grid, min_size=n, max_size=n)))
    code = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=np.int64)
    if weighted is None:
        weighted = draw(st.booleans())
    w = None
    if weighted:
        ws = positive_weights | st.just(0.0) if zero_weights else positive_weights
        w = np.array(draw(st.lists(ws, min_size=n, max_size=n)), dtype=np.float64)
    return {"y": y, "p": p, "w": w, "code": code}


def take(rows: dict[str, Any], idx: np.ndarray) -> dict[str, Any]:
    return {k: (None if v is None else v[idx]) for k, v in rows.items()}


def build(rows: dict[str, Any], keys: tuple[Any, ...] = KEYS, perm: tuple[int, ...] = (0, 1, 2)) -> RegressionState:
    ordered = tuple(keys[i] for i in perm)
    codes = np.argsort(np.array(perm))[rows["code"]]
    return RegressionState.empty().update(rows["y"], rows["p"], rows["w"], codes=codes, group_keys=ordered)


def computed(state: RegressionState, frequency: bool = False) -> dict[Any, np.ndarray]:
    """(value, se, low, high) of every metric by group key; no interval where there is no value, as in a run."""
    ests = state.metrics(Z, frequency=frequency)
    out = {}
    for i, k in enumerate(state.groups):
        table = np.array([[ests[n].value[i], ests[n].se[i], ests[n].low[i], ests[n].high[i]] for n in NAMES])
        table[np.isnan(table[:, 0]), 1:] = np.nan
        out[k] = table
    return out


def assert_same(a: dict[Any, np.ndarray], b: dict[Any, np.ndarray], *, exact: bool = False) -> None:
    """Values to 1e-9; standard errors and bounds to 1e-6 absolute, since an influence-function variance that is
    0 in exact arithmetic comes out of one-pass sums as a rounding residue whose square root is ~1e-8."""
    assert set(a) == set(b)
    for key in a:
        if exact:
            np.testing.assert_array_equal(a[key], b[key], err_msg=str(key))
            continue
        np.testing.assert_allclose(a[key][:, 0], b[key][:, 0], rtol=1e-9, atol=1e-9, err_msg=str(key))
        np.testing.assert_allclose(a[key][:, 1:], b[key][:, 1:], rtol=1e-9, atol=1e-6, err_msg=str(key))


def quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --- references ------------------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None, derandomize=True)
@given(rows=rows_st(min_size=1))
def test_metrics_agree_with_scikit_learn_where_defined(rows: dict[str, Any]) -> None:
    y, p, w = rows["y"], rows["p"], rows["w"]
    est = RegressionState.empty().update(y, p, w).metrics(Z)
    value = {name: float(e.value[0]) for name, e in est.items()}
    assert value["mae"] == pytest.approx(mean_absolute_error(y, p, sample_weight=w), **TOL)
    assert value["mse"] == pytest.approx(mean_squared_error(y, p, sample_weight=w), **TOL)
    assert value["rmse"] == pytest.approx(math.sqrt(mean_squared_error(y, p, sample_weight=w)), **TOL)
    assert value["max_error"] == max_error(y, p)
    assert value["median_absolute_error"] == pytest.approx(median_absolute_error(y, p, sample_weight=w), **TOL)
    if np.any(y == 0):
        assert math.isnan(value["mape"]) and "0" in est["mape"].reasons[0]
    else:
        assert value["mape"] == pytest.approx(mean_absolute_percentage_error(y, p, sample_weight=w), **TOL)
    if np.ptp(y) == 0:
        assert math.isnan(value["r2"]) and "constant" in est["r2"].reasons[0]
        sk = quiet(r2_score, y, p, sample_weight=w)
        assert sk in (0.0, 1.0) or (len(y) < 2 and math.isnan(sk))  # scikit-learn's force_finite stand-ins
    else:
        assert value["r2"] == pytest.approx(r2_score(y, p, sample_weight=w), **TOL)


def r2_two_pass(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float]:
    """R² and the standard error of its influence function, from centred data (two passes)."""
    w = np.ones_like(y) if w is None else w
    W = w.sum()
    e2 = (p - y) ** 2
    d2 = (y - np.average(y, weights=w)) ** 2
    A, B = np.average(e2, weights=w), np.average(d2, weights=w)
    infl = -(e2 - A) / B + A * (d2 - B) / B**2
    n_eff = W * W / (w * w).sum()
    var = np.average(infl**2, weights=w) * n_eff / (n_eff - 1)
    return 1 - A / B, math.sqrt(var / n_eff)


@pytest.mark.parametrize("shift", [0.0, 1e6, 1e8])
@pytest.mark.parametrize("weighted", [False, True])
def test_r2_and_its_standard_error_stay_exact_far_from_zero(shift: float, weighted: bool) -> None:
    """Labels with a large mean and a unit spread, updated in chunks whose anchors differ: R² and its se match the
    two-pass computation (a one-pass sum of squares around 0 would lose every digit at 1e8)."""
    rng = np.random.default_rng(11)
    n = 600
    y = shift + np.sort(rng.normal(0.0, 1.0, n))  # sorted: each chunk's anchor is far from the overall mean
    p = y + rng.normal(0.0, 0.6, n)
    w = rng.uniform(0.2, 2.0, n) if weighted else None
    r2, se = r2_two_pass(y, p, w)
    assert r2 == pytest.approx(r2_score(y, p, sample_weight=w), rel=1e-12)
    state = RegressionState.empty()
    for i in range(0, n, 37):
        state = state.update(y[i : i + 37], p[i : i + 37], None if w is None else w[i : i + 37])
    for s in (state, RegressionState.empty().update(y, p, w)):
        est = s.metrics(Z)["r2"]
        assert float(est.value[0]) == pytest.approx(r2, **TOL)
        assert float(est.se[0]) == pytest.approx(se, rel=1e-7)
        assert float(est.low[0]) == pytest.approx(r2 - Z * se, rel=1e-7)


def test_r2_standard_error_survives_merging_states_of_different_anchors() -> None:
    """States built apart (windows, machines) have different anchors; merging re-expands the label power sums.
    The merged R² interval must be the interval of the rows together."""
    y = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.5])
    p = np.array([0.5, 0.0, -0.5, 0.0, 0.0, 0.5, 0.0, 1.0, 1.0, 1.0])
    r2, se = r2_two_pass(y, p)
    low = RegressionState.empty().update(y[:5], p[:5])  # anchor 0
    high = RegressionState.empty().update(y[5:], p[5:])  # anchor 0.7
    assert low.anchor != high.anchor
    for merged in (low.merge(high), high.merge(low)):
        est = merged.metrics(Z)["r2"]
        assert float(est.value[0]) == pytest.approx(r2, **TOL)
        assert float(est.se[0]) == pytest.approx(se, rel=1e-9)


@pytest.mark.parametrize("label", [0.1, 1 / 3, 1.1, 7.3])
def test_r2_of_a_group_with_constant_labels_is_undefined(label: float) -> None:
    """A segment whose labels are all equal has no R²; rounding in 18,000 summed squares must not turn its zero
    variance into a tiny positive one (and R² into -1e15)."""
    rng = np.random.default_rng(5)
    n = 20_000
    code = (np.arange(n) >= 2_000).astype(np.int64)  # group "spread" first: it sets the anchor
    y = np.where(code == 0, rng.normal(0.0, 3.0, n), label)
    p = y + rng.normal(0.0, 0.5, n)
    est = RegressionState.empty().update(y, p, codes=code, group_keys=("spread", "constant")).metrics(Z)["r2"]
    assert math.isnan(est.value[1]) and "constant" in est.reasons[1]
    doc = assay.evaluate({"y": y, "p": p, "seg": np.array(["spread", "constant"])[code]}, task="regression",
                         label="y", prediction="p", segments=["seg"]).to_dict()
    entry = doc["slices"]["seg"]["constant"]["metrics"]["r2"]
    assert entry["value"] is None and "constant" in entry["reason"]


def _hall_reference(loss: np.ndarray) -> tuple[float, float]:
    """Hall's (1992) skewness-corrected interval written out again: the studentised mean's quantiles are the roots
    of g(t) = t + a t²/3 + a² t³/27 + a/6 = ±z (found by Brent's method), a = skewness / sqrt(n)."""
    from scipy.optimize import brentq

    n = loss.size
    mean, se = loss.mean(), loss.std(ddof=1) / math.sqrt(n)
    a = float(np.mean((loss - mean) ** 3) / loss.var() ** 1.5) / math.sqrt(n)

    def root(u: float) -> float:
        return float(brentq(lambda t: t + a * t * t / 3 + a * a * t**3 / 27 + a / 6 - u, -50, 50))

    return mean - se * root(Z), mean - se * root(-Z)


def test_mean_error_intervals_are_hall_skew_intervals_with_the_sample_variance() -> None:
    rng = np.random.default_rng(12)
    y, p = rng.normal(size=50), rng.normal(size=50) + rng.exponential(size=50)  # right-skewed errors
    est = RegressionState.empty().update(y, p).metrics(Z)
    e = p - y
    for name, loss in (("mae", np.abs(e)), ("mse", e * e), ("mape", np.abs(e) / np.abs(y))):
        se = loss.std(ddof=1) / math.sqrt(50)
        assert (est[name].value[0], est[name].se[0]) == (pytest.approx(loss.mean()), pytest.approx(se, rel=1e-9))
        lo, hi = _hall_reference(loss)
        assert (est[name].low[0], est[name].high[0]) == (pytest.approx(max(lo, 0.0), rel=1e-9),
                                                         pytest.approx(hi, rel=1e-9)), name
        assert hi - loss.mean() > loss.mean() - lo  # the upper arm is the longer one
        assert est[name].method == "hall-skew"
    assert est["rmse"].high[0] == pytest.approx(math.sqrt(est["mse"].high[0]))


def test_a_version_1_state_still_loads_with_normal_intervals() -> None:
    from assay.metrics import _serial
    from assay.metrics.regression import N_SUMS_V1

    rng = np.random.default_rng(4)
    y, p = rng.normal(size=80), rng.normal(size=80)
    state = RegressionState.empty().update(y, p)
    arrays = {"rows": state.rows, "sw": state.sw, "sw2": state.sw2, "sums": state.sums[:, :N_SUMS_V1],
              "zero": state.zero_labels, "max": state.max_error,
              "table": np.frombuffer(state.abs_errors.to_bytes(), np.uint8), "y_min": state.y_min, "y_max": state.y_max}
    old = RegressionState.from_bytes(_serial.dump("regression", 1, {"groups": list(state.groups),
                                                                    "anchor": state.anchor}, arrays))
    est = old.merge(state).metrics(Z)  # a merge with a new state keeps the missing moments missing
    ae = np.abs(p - y)
    mean = ae.mean()  # the merge doubles every row: the same mean, and a symmetric (normal) interval around it
    assert est["mae"].value[0] == pytest.approx(mean) and est["mae"].se[0] > 0
    half = Z * est["mae"].se[0]
    assert (est["mae"].low[0], est["mae"].high[0]) == (pytest.approx(mean - half), pytest.approx(mean + half))
    assert RegressionState.from_bytes(state.to_bytes()).metrics(Z)["mae"].high[0] == state.metrics(Z)["mae"].high[0]
    assert est["median_absolute_error"].low[0] <= est["median_absolute_error"].value[0] <= (
        est["median_absolute_error"].high[0])


# --- laws --------------------------------------------------------------------------------------------------------


@st.composite
def split_st(draw: Any, n: int, parts: int | None = None) -> list[tuple[np.ndarray, tuple[int, ...]]]:
    order = np.array(draw(st.permutations(range(n))), dtype=np.int64)
    k = parts if parts is not None else draw(st.integers(1, 4))
    cuts = sorted(draw(st.lists(st.integers(0, n), min_size=k - 1, max_size=k - 1)))
    bounds = [0, *cuts, n]
    return [(order[a:b], tuple(draw(st.permutations(range(3))))) for a, b in itertools.pairwise(bounds)]


@LAWS
@given(data=st.data())
def test_merge_of_any_split_equals_the_whole(data: st.DataObject) -> None:
    rows = data.draw(rows_st())
    split = data.draw(split_st(len(rows["y"])))
    whole = build(rows)
    parts = functools.reduce(lambda a, b: a.merge(b), (build(take(rows, idx), perm=perm) for idx, perm in split))
    assert_same(computed(parts), computed(whole))
    assert dict(zip(parts.groups, parts.rows.tolist())) == dict(zip(whole.groups, whole.rows.tolist()))


@LAWS
@given(data=st.data())
def test_merge_is_commutative_and_associative_with_empty_as_identity(data: st.DataObject) -> None:
    rows = data.draw(rows_st())
    (ia, pa), (ib, pb), (ic, pc) = data.draw(split_st(len(rows["y"]), parts=3))
    a, b, c = (build(take(rows, i), perm=p) for i, p in ((ia, pa), (ib, pb), (ic, pc)))
    assert_same(computed(a.merge(b)), computed(b.merge(a)), exact=True)
    assert_same(computed(a.merge(b).merge(c)), computed(a.merge(b.merge(c))))
    e = RegressionState.empty()
    assert_same(computed(e.merge(a)), computed(a), exact=True)
    assert_same(computed(a.merge(e)), computed(a), exact=True)
    assert computed(e) == {}  # an empty fold computes to nothing, without a crash


@LAWS
@given(rows=rows_st())
def test_bytes_round_trip(rows: dict[str, Any]) -> None:
    for state in (RegressionState.empty(), build(rows), build(rows, perm=(2, 1, 0))):
        back = RegressionState.from_bytes(state.to_bytes())
        assert back.groups == state.groups
        assert back.anchor == state.anchor or (math.isnan(back.anchor) and math.isnan(state.anchor))
        assert_same(computed(back), computed(state), exact=True)


@LAWS
@given(rows=rows_st())
def test_grouped_update_equals_separate_updates_per_group(rows: dict[str, Any]) -> None:
    grouped = computed(build(rows))
    for code, key in enumerate(KEYS):
        part = take(rows, np.flatnonzero(rows["code"] == code))
        alone = RegressionState.empty().update(part["y"], part["p"], part["w"], group_keys=OVERALL)
        assert_same({key: grouped[key]}, {key: computed(alone)[None]})


@LAWS
@given(data=st.data())
def test_row_order_does_not_matter(data: st.DataObject) -> None:
    rows = data.draw(rows_st())
    order = np.array(data.draw(st.permutations(range(len(rows["y"])))), dtype=np.int64)
    assert_same(computed(build(take(rows, order))), computed(build(rows)))


@LAWS
@given(rows=rows_st(weighted=False))
def test_weights_none_equal_weights_one(rows: dict[str, Any]) -> None:
    ones = {**rows, "w": np.ones(len(rows["y"]))}
    for frequency in (False, True):
        assert_same(computed(build(ones), frequency), computed(build(rows), frequency), exact=True)


@LAWS
@given(rows=rows_st(weighted=False), data=st.data())
def test_integer_frequency_weights_equal_repeated_rows(rows: dict[str, Any], data: st.DataObject) -> None:
    n = len(rows["y"])
    w = np.array(data.draw(st.lists(st.integers(1, 4), min_size=n, max_size=n)), dtype=np.int64)
    weighted = build({**rows, "w": w.astype(np.float64)})
    repeated = build(take(rows, np.repeat(np.arange(n), w)))
    assert_same(computed(weighted, frequency=True), computed(repeated))


@LAWS
@given(rows=rows_st(weighted=True, zero_weights=True))
def test_zero_weight_equals_removing_the_row(rows: dict[str, Any]) -> None:
    """Every metric but ``max_error`` and ``mape`` (each has its own test below); and not a batch whose weights
    are all 0 (see test_a_first_batch_of_zero_total_weight_is_no_error)."""
    w = rows["w"]
    assume(w.sum() > 0)
    kept = np.flatnonzero(w > 0)
    with_zeros, removed = computed(build(rows)), computed(build(take(rows, kept)))
    skip = [NAMES.index("max_error"), NAMES.index("mape")]
    for key in with_zeros:
        a = np.delete(with_zeros[key], skip, axis=0)
        b = np.delete(removed[key], skip, axis=0) if key in removed else np.full_like(a, np.nan)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, err_msg=str(key))


def test_max_error_ignores_rows_of_weight_zero() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([101.0, 2.5, 3.0, 3.0])
    w = np.array([0.0, 1.0, 1.0, 1.0])
    est = RegressionState.empty().update(y, p, w).metrics(Z)
    assert est["max_error"].value[0] == max_error(y[1:], p[1:]) == 1.0
    assert est["mae"].value[0] == pytest.approx(mean_absolute_error(y, p, sample_weight=w))


def test_mape_ignores_a_zero_label_of_weight_zero() -> None:
    y = np.array([0.0, 2.0, 4.0])
    p = np.array([1.0, 2.5, 3.0])
    w = np.array([0.0, 1.0, 1.0])
    est = RegressionState.empty().update(y, p, w).metrics(Z)
    assert est["mape"].reasons[0] is None
    assert est["mape"].value[0] == pytest.approx(mean_absolute_percentage_error(y[1:], p[1:]), **TOL)


def test_a_first_batch_of_zero_total_weight_is_no_error() -> None:
    """A chunk whose weights are all 0 (rows switched off) must not end the evaluation: it adds nothing."""
    y = np.array([1.0, 2.0, 3.0, 4.0, 6.0])
    p = np.array([1.5, 2.0, 3.0, 5.0, 5.0])
    w = np.array([0.0, 0.0, 1.0, 1.0, 2.0])
    state = RegressionState.empty().update(y[:2], p[:2], w[:2]).update(y[2:], p[2:], w[2:])
    assert state.metrics(Z)["mae"].value[0] == pytest.approx(mean_absolute_error(y, p, sample_weight=w))
    doc = assay.evaluate({"y": y, "p": p, "w": w}, task="regression", label="y", prediction="p", weight="w",
                         chunk_rows=2).to_dict()
    assert doc["metrics"]["mae"]["value"] == pytest.approx(mean_absolute_error(y, p, sample_weight=w))

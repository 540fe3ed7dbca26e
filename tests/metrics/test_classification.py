"""Threshold metrics (``classification``) and ranking metrics (``roc``) from their states: scikit-learn agreement on
any small data, undefined cases with reasons, Wilson and DeLong intervals against closed forms computed here, and
a seeded coverage simulation of the 95% intervals.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.stats import chi2, norm
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)

import assay
from assay.metrics.classification import binary_metrics, multiclass_metrics
from assay.metrics.confusion import ConfusionState
from assay.metrics.roc import rank_metrics
from assay.metrics.table import SortedTable
from assay.stats.intervals import wilson, z_value

REFERENCE = settings(max_examples=60, deadline=None, derandomize=True)
Z = z_value(0.95)
TOL = {"abs": 1e-9, "rel": 1e-9}


def quiet(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --- scikit-learn agreement on the state -----------------------------------------------------------------------


@st.composite
def binary_rows(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 30))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    pred = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    w = None
    if draw(st.booleans()):
        w = np.array(draw(st.lists(st.sampled_from([0.5, 1.0, 2.0]) | st.floats(0.05, 5.0), min_size=n,
                                   max_size=n)))
    return y, pred, w


@REFERENCE
@given(rows=binary_rows())
def test_binary_metrics_agree_with_scikit_learn_where_defined(rows) -> None:  # type: ignore[no-untyped-def]
    y, pred, w = rows
    est = binary_metrics(ConfusionState.empty(2).update(y, pred, w), Z, False)
    (tn, fp), (fn, tp) = quiet(lambda: np.bincount(2 * y + pred, weights=w, minlength=4).reshape(2, 2))
    sk = {
        "accuracy": accuracy_score(y, pred, sample_weight=w),
        "precision": quiet(precision_score, y, pred, sample_weight=w, zero_division=np.nan),
        "recall": quiet(recall_score, y, pred, sample_weight=w, zero_division=np.nan),
        "specificity": quiet(recall_score, y, pred, pos_label=0, sample_weight=w, zero_division=np.nan),
        "f1": quiet(f1_score, y, pred, sample_weight=w, zero_division=np.nan),
        "mcc": quiet(matthews_corrcoef, y, pred, sample_weight=w),
        "balanced_accuracy": quiet(balanced_accuracy_score, y, pred, sample_weight=w),
        "selection_rate": float(np.average(pred, weights=w)),
        "fpr": fp / (fp + tn) if fp + tn > 0 else math.nan,
        "fnr": fn / (fn + tp) if fn + tp > 0 else math.nan,
    }
    margins = min(tp + fp, tp + fn, tn + fp, tn + fn)
    for name, value in sk.items():
        e = est[name]
        found = float(e.value[0])
        one_class = (tp + fn == 0) or (tn + fp == 0)
        if math.isnan(found):  # undefined: a reason, and scikit-learn's stand-in value
            assert e.reasons[0], name
            assert math.isnan(value) or value == 0.0 or (name == "balanced_accuracy" and one_class), (name, value)
            continue
        assert e.reasons[0] is None
        assert found == pytest.approx(value, **TOL), name
        assert e.low[0] - 1e-12 <= found <= e.high[0] + 1e-12, name
    assert math.isnan(est["mcc"].value[0]) == (margins <= 0)
    assert math.isnan(est["balanced_accuracy"].value[0]) == one_class


@REFERENCE
@given(data=st.data())
def test_multiclass_metrics_agree_with_scikit_learn_where_defined(data: st.DataObject) -> None:
    k = data.draw(st.integers(2, 4))
    n = data.draw(st.integers(1, 40))
    y = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    pred = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    w = np.array(data.draw(st.lists(st.floats(0.1, 4.0), min_size=n, max_size=n))) if data.draw(st.booleans()) else None
    classes = [f"c{i}" for i in range(k)]
    est = multiclass_metrics(ConfusionState.empty(k).update(y, pred, w), classes, Z, False)
    sk = {"accuracy": accuracy_score(y, pred, sample_weight=w),
          "balanced_accuracy": quiet(balanced_accuracy_score, y, pred, sample_weight=w)}
    for avg in ("macro", "micro", "weighted"):
        for metric, fn in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score)):
            sk[f"{metric}_{avg}"] = quiet(fn, y, pred, average=avg, sample_weight=w, zero_division=0.0)
    never_predicted = set(y) - set(pred)
    never_true = set(pred) - set(y)
    for name, value in sk.items():
        e = est[name]
        found = float(e.value[0])
        if math.isnan(found):
            assert e.reasons[0], name
            continue
        assert found == pytest.approx(value, **TOL), name
    assert math.isnan(est["precision_macro"].value[0]) == bool(never_predicted | (never_true - set(pred)))
    assert math.isnan(est["recall_macro"].value[0]) == bool(never_true)
    if never_predicted:
        assert f"'c{min(never_predicted)}'" in est["precision_macro"].reasons[0]


def test_undefined_threshold_metrics_carry_reasons() -> None:
    y = np.array([0, 1, 1, 0])
    est = binary_metrics(ConfusionState.empty(2).update(y, np.zeros(4, np.int64)), Z, False)
    for name in ("precision", "mcc"):
        assert math.isnan(est[name].value[0]) and "predicted positive" in est[name].reasons[0]
    assert quiet(precision_score, y, np.zeros(4)) == 0.0  # scikit-learn's zero_division stand-in
    assert est["recall"].value[0] == 0.0 and est["f1"].value[0] == 0.0

    one = binary_metrics(ConfusionState.empty(2).update(np.ones(3, np.int64), np.array([1, 0, 1])), Z, False)
    for name in ("balanced_accuracy", "mcc", "specificity", "fpr"):
        assert math.isnan(one[name].value[0]) and "negative label" in one[name].reasons[0]

    empty = binary_metrics(ConfusionState.empty(2).update(np.zeros(0, np.int64), np.zeros(0, np.int64)), Z, False)
    assert all(math.isnan(e.value[0]) and e.reasons[0] for e in empty.values())

    multi = multiclass_metrics(ConfusionState.empty(3).update(np.array([0, 1, 2]), np.array([0, 1, 1])),
                               ["x", "y", "z"], Z, False)
    assert math.isnan(multi["precision_macro"].value[0]) and "'z'" in multi["precision_macro"].reasons[0]
    assert multi["recall_macro"].value[0] == pytest.approx(2 / 3)


# --- Wilson ----------------------------------------------------------------------------------------------------


def wilson_closed_form(k: float, n: float, z: float) -> tuple[float, float]:
    """Wilson's interval with Brown, Cai and DasGupta's (2001) modified ends: for ``0 < k <= k*`` (``k* = 2`` up to
    n = 50, 3 up to 100, none above) the lower end is at most the one-sided Poisson bound ``chi2(2k).ppf(alpha) / 2n``,
    and symmetrically for the upper end with ``n - k``."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo, hi = max(centre - half, 0.0), min(centre + half, 1.0)
    alpha = 2 * norm.sf(z)
    k_max = 2 if n <= 50 else 3 if n <= 100 else 0
    if 0 < k <= k_max:
        lo = min(lo, chi2.ppf(alpha, 2 * k) / (2 * n))
    if 0 < n - k <= k_max:
        hi = max(hi, 1 - chi2.ppf(alpha, 2 * (n - k)) / (2 * n))
    return lo, hi


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
@pytest.mark.parametrize(("correct", "n"), [(0, 7), (1, 7), (3, 7), (7, 7), (45, 50), (120, 400), (399, 400)])
def test_wilson_interval_matches_the_closed_form(correct: int, n: int, confidence: float) -> None:
    y = np.ones(n, np.int64)
    s = np.where(np.arange(n) < correct, 0.9, 0.1)
    doc = assay.evaluate({"y": y, "s": s}, task="binary", label="y", score="s", confidence=confidence).to_dict()
    acc = doc["metrics"]["accuracy"]
    lo, hi = wilson_closed_form(correct, n, norm.ppf(0.5 + confidence / 2))
    assert (acc["value"], acc["ci_low"], acc["ci_high"]) == (pytest.approx(correct / n, **TOL),
                                                             pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))
    assert acc["method"] == "wilson" and acc["n"] == n
    assert acc["se"] == pytest.approx(math.sqrt(correct / n * (1 - correct / n) / n), abs=1e-12)


def test_wilson_interval_uses_kish_effective_size_for_analytic_weights() -> None:
    rng = np.random.default_rng(4)
    n = 60
    y = rng.integers(0, 2, n)
    pred = np.where(rng.uniform(size=n) < 0.8, y, 1 - y)
    w = rng.uniform(0.2, 3.0, n)
    est = binary_metrics(ConfusionState.empty(2).update(y, pred, w), Z, False)
    right = y == pred
    p = w[right].sum() / w.sum()
    n_eff = w.sum() ** 2 / (w * w).sum()
    lo, hi = wilson_closed_form(p * n_eff, n_eff, Z)
    assert (est["accuracy"].low[0], est["accuracy"].high[0]) == (pytest.approx(lo, abs=1e-12),
                                                                 pytest.approx(hi, abs=1e-12))
    pos = y == 1
    p = w[pos & right].sum() / w[pos].sum()
    n_eff = w[pos].sum() ** 2 / (w[pos] ** 2).sum()
    lo, hi = wilson_closed_form(p * n_eff, n_eff, Z)
    assert (est["recall"].low[0], est["recall"].high[0]) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))


@pytest.mark.parametrize("n", [1, 3, 7, 10, 50, 137, 400, 1000])
def test_wilson_interval_contains_a_rate_of_zero_or_one(n: int) -> None:
    """At p = 0 the lower Wilson bound is exactly 0 (and at p = 1 the upper is exactly 1); an interval that
    excludes its own point estimate tells a gate that an observed 0% is significantly above 0%."""
    lo, hi, _ = wilson(np.array([0.0, 1.0]), np.array([float(n), float(n)]), Z)
    assert lo[0] == 0.0 and hi[1] == 1.0
    assert lo[0] <= 0.0 <= hi[0] and lo[1] <= 1.0 <= hi[1]


# --- DeLong ----------------------------------------------------------------------------------------------------


def delong_direct(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """AUC and DeLong's standard error from the structural components, pair by pair (O(m n))."""
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    auc = float(psi.mean())
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    m, n = pos.size, neg.size
    s10 = ((v10 - auc) ** 2).sum() / (m - 1)
    s01 = ((v01 - auc) ** 2).sum() / (n - 1)
    return auc, math.sqrt(s10 / m + s01 / n)


@REFERENCE
@given(pos=st.lists(st.integers(0, 5) | st.floats(-3, 3), min_size=2, max_size=25),
       neg=st.lists(st.integers(0, 5) | st.floats(-3, 3), min_size=2, max_size=25))
def test_delong_standard_error_matches_the_pairwise_definition(pos: list[float], neg: list[float]) -> None:
    p, q = np.array(pos, np.float64), np.array(neg, np.float64)
    auc, se = delong_direct(p, q)
    values = np.concatenate([p, q])
    labels = np.concatenate([np.ones(p.size, np.int64), np.zeros(q.size, np.int64)])
    order = np.random.default_rng(len(pos)).permutation(values.size)
    r = rank_metrics(SortedTable.empty(2).update(values[order], labels[order]))
    assert r.auc[0] == pytest.approx(auc, abs=1e-12)
    assert r.auc[0] == pytest.approx(roc_auc_score(labels, values), abs=1e-12)
    assert r.auc_se[0] == pytest.approx(se, abs=1e-12)


def test_delong_interval_through_evaluate_with_ties() -> None:
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 90)
    s = np.clip(rng.integers(0, 6, 90) + 2 * y, 0, 8) / 8  # nine levels: many ties
    auc, se = delong_direct(s[y == 1], s[y == 0])
    e = assay.evaluate({"y": y, "s": s}, task="binary", label="y", score="s").to_dict()["metrics"]["roc_auc"]
    assert (e["value"], e["se"]) == (pytest.approx(auc, abs=1e-12), pytest.approx(se, abs=1e-12))
    # the interval: Newcombe's score interval, Hanley-McNeil's variance (sizes replaced by their mean) scaled up
    # to DeLong's where DeLong's is larger; solved here independently with brentq
    m, n = float((y == 1).sum()), float((y == 0).sum())
    big_n = (m + n) / 2

    def hm(t: float) -> float:
        return t * (1 - t) * (1 + (big_n - 1) * ((1 - t) / (2 - t) + t / (1 + t))) / (m * n)

    scale = max(se**2 / hm(auc), 1.0)

    def f(t: float) -> float:
        return (auc - t) ** 2 - Z * Z * scale * hm(t)

    assert (e["ci_low"], e["ci_high"]) == (pytest.approx(brentq(f, 0.0, auc), abs=1e-9),
                                           pytest.approx(brentq(f, auc, 1.0), abs=1e-9))
    assert e["method"] == "score-newcombe" and e["n"] == 90


def test_rank_metrics_of_a_group_do_not_depend_on_the_other_groups() -> None:
    """A group's AUC and AP are functions of its own rows. Summing every group's masses in one running total and
    differencing it (roc._within) lets a heavy group's rounding swamp a light one."""
    rng = np.random.default_rng(1)
    heavy_s, heavy_y = rng.uniform(size=2000), rng.integers(0, 2, 2000)
    light_s = np.array([0.1, 0.35, 0.4, 0.8, 0.65, 0.2, 0.9])
    light_y = np.array([0, 1, 0, 1, 0, 0, 1])
    light_w = np.array([1.0, 2.0, 0.5, 1.0, 1.5, 1.0, 0.7])
    values = np.concatenate([heavy_s, light_s])
    labels = np.concatenate([heavy_y, light_y])
    weights = np.concatenate([np.full(2000, 1e12), light_w])
    codes = np.concatenate([np.zeros(2000, np.int64), np.ones(7, np.int64)])
    table = SortedTable.empty(2).update(values, labels, weights, codes=codes, group_keys=("heavy", "light"))
    both = rank_metrics(table)
    alone = rank_metrics(SortedTable.empty(2).update(light_s, light_y, light_w))
    assert both.positives[1] == pytest.approx(alone.positives[0], rel=1e-12)
    assert both.auc[1] == pytest.approx(roc_auc_score(light_y, light_s, sample_weight=light_w), **TOL)
    assert both.auc[1] == pytest.approx(alone.auc[0], **TOL)
    assert both.average_precision[1] == pytest.approx(alone.average_precision[0], **TOL)
    assert both.auc_se[1] == pytest.approx(alone.auc_se[0], **TOL)


# --- coverage ----------------------------------------------------------------------------------------------------


def test_95_percent_intervals_cover_the_truth_at_their_rate() -> None:
    """200 seeded replications of n = 400: AUC (DeLong), accuracy (Wilson), F1 and balanced accuracy (delta
    method) each cover the true value in 90% to 99% of them (95% nominal; binomial sd 1.5 points)."""
    reps, n = 200, 400
    mu = 1.0
    truth = {
        "auc": float(norm.cdf(mu / math.sqrt(2))),
        "accuracy": 0.85,
        "f1": 2 * 0.3 * 0.85 / (2 * 0.3 * 0.85 + 0.7 * 0.15 + 0.3 * 0.15),
        "balanced_accuracy": 0.85,
    }
    hits = dict.fromkeys(truth, 0)
    rng = np.random.default_rng(2024)
    for _ in range(reps):
        y = (rng.uniform(size=n) < 0.3).astype(np.int64)
        score = rng.normal(size=n) + mu * y
        pred = np.where(rng.uniform(size=n) < 0.85, y, 1 - y)
        r = rank_metrics(SortedTable.empty(2).update(score, y))
        lo, hi = r.auc[0] - Z * r.auc_se[0], r.auc[0] + Z * r.auc_se[0]
        hits["auc"] += lo <= truth["auc"] <= hi
        est = binary_metrics(ConfusionState.empty(2).update(y, pred), Z, False)
        for name in ("accuracy", "f1", "balanced_accuracy"):
            hits[name] += est[name].low[0] <= truth[name] <= est[name].high[0]
    rates = {name: h / reps for name, h in hits.items()}
    assert all(0.90 <= rate <= 0.99 for rate in rates.values()), rates

"""``assay.evaluate`` against independent references (scikit-learn, a ``numpy.histogram`` ECE), on random and edge
data, with and without sample weights, and the same run through every input format and through a chunked Parquet
file. Undefined metrics are checked as assay's deliberate deviation from scikit-learn's zero-division values.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    matthews_corrcoef,
    max_error,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    median_absolute_error,
    precision_recall_curve,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    roc_curve,
    root_mean_squared_error,
)

import assay

TOL = {"abs": 1e-9, "rel": 1e-9}
SAME = {"abs": 1e-12, "rel": 1e-12}
FIELDS = ("value", "ci_low", "ci_high", "se", "n")


def ref(x: float) -> Any:
    return pytest.approx(float(x), **TOL)


# --- data ------------------------------------------------------------------------------------------------------

BINARY_KINDS = ("random", "ties", "threshold", "extremes")


def binary_data(kind: str, seed: int, *, n: int = 240, weighted: bool = False) -> dict[str, np.ndarray]:
    """Labels, scores and groups; ``kind`` picks the edge the scores exercise.

    - ``ties``: scores on a grid of tenths (many ties, 0.0, 0.5 and 1.0 among them);
    - ``threshold``: a third of the scores exactly at the 0.5 threshold (which counts as positive);
    - ``extremes``: scores exactly 0 and 1, some on the wrong side of the label (log loss clips them).
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    if kind == "random":
        s = np.clip(0.3 * y + rng.uniform(0.0, 0.7, n), 0.0, 1.0)
    elif kind == "ties":
        s = np.clip(rng.integers(0, 8, n) + 3 * y, 0, 10) / 10
    elif kind == "threshold":
        s = np.where(rng.uniform(size=n) < 1 / 3, 0.5, np.clip(0.2 * y + rng.uniform(0.1, 0.9, n), 0.0, 1.0))
    else:
        s = rng.choice([0.0, 1.0, 0.5, 0.25, 0.75], n)
        s = np.where(rng.uniform(size=n) < 0.5, y.astype(np.float64), s)
    out = {"y": y, "s": s, "seg": rng.choice(["north", "south", "east"], n), "grp": rng.choice(["a", "b"], n)}
    if weighted:
        out["w"] = rng.uniform(0.1, 3.0, n)
    return out


def multiclass_data(
    seed: int, *, k: int = 3, n: int = 240, weighted: bool = False, extremes: bool = False, prediction: bool = False
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """A table with ``p_<class>`` columns (classes a, b, c, ... in sorted order); returns (table, y index, proba)."""
    rng = np.random.default_rng(seed)
    classes = np.array(list("abcdef"[:k]))
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.2 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if extremes:  # one-hot rows, right and wrong: probabilities exactly 0 and 1
        hot = rng.uniform(size=n) < 0.3
        which = np.where(rng.uniform(size=n) < 0.7, y, rng.integers(0, k, n))
        proba = np.where(hot[:, None], np.eye(k)[which], proba)
    table: dict[str, np.ndarray] = {"label": classes[y]}
    for j, c in enumerate(classes):
        table[f"p_{c}"] = proba[:, j]
    if prediction:  # a hard prediction of its own, right 60% of the time
        table["pred"] = classes[np.where(rng.uniform(size=n) < 0.6, y, rng.integers(0, k, n))]
    if weighted:
        table["w"] = rng.uniform(0.1, 3.0, n)
    table["seg"] = rng.choice(["x", "y"], n)
    return table, y, proba


REGRESSION_KINDS = ("random", "large_mean", "ties")


def regression_data(kind: str, seed: int, *, n: int = 240, weighted: bool = False) -> dict[str, np.ndarray]:
    """``large_mean``: labels around 1e8 with a spread of 1, where a one-pass variance loses R² entirely;
    ``ties``: small integers, so absolute errors tie and the median falls between two values."""
    rng = np.random.default_rng(seed)
    if kind == "random":
        y = rng.normal(3.0, 2.0, n)
        p = y + rng.normal(0.0, 1.0, n)
    elif kind == "large_mean":
        y = 1e8 + rng.normal(0.0, 1.0, n)
        p = y + rng.normal(0.0, 0.5, n)
    else:
        y = rng.integers(1, 6, n).astype(np.float64)
        p = rng.integers(1, 6, n).astype(np.float64)
    out = {"y": y, "p": p, "seg": rng.choice(["x", "y", "z"], n)}
    if weighted:
        out["w"] = rng.integers(1, 4, n).astype(np.float64) if kind == "ties" else rng.uniform(0.1, 3.0, n)
    return out


# --- references ------------------------------------------------------------------------------------------------


def ece_reference(confidence: np.ndarray, outcome: np.ndarray, w: np.ndarray | None, bins: int = 10) -> float:
    """ECE from ``numpy.histogram``: ``sum_b (W_b / W) |mean outcome_b - mean confidence_b|``."""
    w = np.ones_like(confidence) if w is None else w
    kw = {"bins": bins, "range": (0.0, 1.0)}
    mass, _ = np.histogram(confidence, weights=w, **kw)
    conf, _ = np.histogram(confidence, weights=w * confidence, **kw)
    hits, _ = np.histogram(confidence, weights=w * outcome, **kw)
    full = mass > 0
    return float(np.sum(mass[full] / mass.sum() * np.abs(hits[full] / mass[full] - conf[full] / mass[full])))


def sk_binary(y: np.ndarray, s: np.ndarray, w: np.ndarray | None, threshold: float = 0.5) -> dict[str, float]:
    pred = (s >= threshold).astype(np.int64)
    (tn, fp), (fn, tp) = confusion_matrix(y, pred, labels=[0, 1], sample_weight=w)
    return {
        "accuracy": accuracy_score(y, pred, sample_weight=w),
        "balanced_accuracy": balanced_accuracy_score(y, pred, sample_weight=w),
        "precision": precision_score(y, pred, sample_weight=w),
        "recall": recall_score(y, pred, sample_weight=w),
        "f1": f1_score(y, pred, sample_weight=w),
        "specificity": recall_score(y, pred, pos_label=0, sample_weight=w),
        "fpr": fp / (fp + tn),
        "fnr": fn / (fn + tp),
        "mcc": matthews_corrcoef(y, pred, sample_weight=w),
        "selection_rate": float(np.average(pred, weights=w)),
        "roc_auc": roc_auc_score(y, s, sample_weight=w),
        "average_precision": average_precision_score(y, s, sample_weight=w),
        "log_loss": log_loss(y, s, labels=[0, 1], sample_weight=w),
        "brier": brier_score_loss(y, s, sample_weight=w),
        "ece": ece_reference(s, y.astype(np.float64), w),
    }


def sk_multiclass(y: np.ndarray, proba: np.ndarray, pred: np.ndarray, w: np.ndarray | None) -> dict[str, float]:
    k = proba.shape[1]
    out = {
        "accuracy": accuracy_score(y, pred, sample_weight=w),
        "balanced_accuracy": balanced_accuracy_score(y, pred, sample_weight=w),
        "log_loss": log_loss(y, proba, labels=list(range(k)), sample_weight=w),
        "roc_auc_ovr": roc_auc_score(y, proba, multi_class="ovr", labels=list(range(k)), sample_weight=w),
        "ece": ece_reference(proba.max(axis=1), (proba.argmax(axis=1) == y).astype(np.float64), w),
    }
    for average in ("macro", "micro", "weighted"):
        out[f"precision_{average}"] = precision_score(y, pred, average=average, sample_weight=w)
        out[f"recall_{average}"] = recall_score(y, pred, average=average, sample_weight=w)
        out[f"f1_{average}"] = f1_score(y, pred, average=average, sample_weight=w)
    return out


def sk_regression(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> dict[str, float]:
    kept = np.ones(y.size, bool) if w is None else w > 0
    return {
        "mae": mean_absolute_error(y, p, sample_weight=w),
        "mse": mean_squared_error(y, p, sample_weight=w),
        "rmse": root_mean_squared_error(y, p, sample_weight=w),
        "r2": r2_score(y, p, sample_weight=w),
        "mape": mean_absolute_percentage_error(y, p, sample_weight=w),
        "median_absolute_error": median_absolute_error(y, p, sample_weight=w),
        "max_error": max_error(y[kept], p[kept]),  # scikit-learn's max_error takes no weights
    }


def values(entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {name: e["value"] for name, e in entries.items()}


def assert_matches(found: dict[str, dict[str, Any]], expected: dict[str, float]) -> None:
    got = {name: found[name]["value"] for name in expected}
    assert got == {name: ref(v) for name, v in expected.items()}


# --- binary ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("kind", BINARY_KINDS)
def test_binary_metrics_match_scikit_learn(kind: str, weighted: bool) -> None:
    data = binary_data(kind, seed=BINARY_KINDS.index(kind), weighted=weighted)
    y, s, w = data["y"], data["s"], data.get("w")
    doc = assay.evaluate(data, task="binary", label="y", score="s", weight="w" if weighted else None,
                         segments=["seg"]).to_dict()

    assert_matches(doc["metrics"], sk_binary(y, s, w))
    pred = (s >= 0.5).astype(np.int64)
    matrix = confusion_matrix(y, pred, labels=[0, 1], sample_weight=w)
    assert doc["confusion_matrix"]["labels"] == [0, 1]
    assert np.asarray(doc["confusion_matrix"]["matrix"], dtype=np.float64) == pytest.approx(matrix, **TOL)
    for group, entry in doc["slices"]["seg"].items():
        mask = data["seg"] == group
        assert_matches(entry["metrics"], sk_binary(y[mask], s[mask], None if w is None else w[mask]))
        assert entry["n"] == int(mask.sum())


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("kind", BINARY_KINDS)
def test_binary_calibration_and_curves_match_references(kind: str, weighted: bool) -> None:
    data = binary_data(kind, seed=10 + BINARY_KINDS.index(kind), weighted=weighted)
    y, s = data["y"], data["s"]
    w = data.get("w")
    doc = assay.evaluate(data, task="binary", label="y", score="s", weight="w" if weighted else None).to_dict()

    ww = np.ones_like(s) if w is None else w
    kw = {"bins": 10, "range": (0.0, 1.0)}
    rows, edges = np.histogram(s, **kw)
    mass, _ = np.histogram(s, weights=ww, **kw)
    conf, _ = np.histogram(s, weights=ww * s, **kw)
    hits, _ = np.histogram(s, weights=ww * y, **kw)
    bins = doc["calibration"]["bins"]
    assert [b["n"] for b in bins] == rows.tolist()
    assert [b["lower"] for b in bins] == pytest.approx(edges[:-1], **TOL)
    assert [b["weight"] for b in bins] == pytest.approx(mass, **TOL)
    for b, m, c, h in zip(bins, mass, conf, hits, strict=True):
        if m > 0:
            assert (b["mean_predicted"], b["observed"]) == (ref(c / m), ref(h / m))
            assert b["ci_low"] <= b["observed"] <= b["ci_high"]
        else:
            assert b["mean_predicted"] is None and b["observed"] is None
    assert doc["calibration"]["ece"] == ref(ece_reference(s, y, w))

    # every curve point is scikit-learn's point at the same threshold (curves of many scores are downsampled)
    fpr, tpr, roc_thresholds = roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    precision, recall, pr_thresholds = precision_recall_curve(y, s, sample_weight=w)
    curves = doc["curves"]
    assert curves["roc"]["threshold"][0] is None and (curves["roc"]["fpr"][0], curves["roc"]["tpr"][0]) == (0, 0)
    assert (curves["pr"]["recall"][0], curves["pr"]["precision"][0]) == (0.0, 1.0)
    at = {t: i for i, t in enumerate(roc_thresholds)}
    points = list(zip(curves["roc"]["threshold"][1:], curves["roc"]["fpr"][1:], curves["roc"]["tpr"][1:], strict=True))
    assert len(points) == min(200, len(np.unique(s)))
    assert [(f, t) for _, f, t in points] == [(ref(fpr[at[th]]), ref(tpr[at[th]])) for th, _, _ in points]
    at = {t: i for i, t in enumerate(pr_thresholds)}
    points = list(zip(curves["pr"]["threshold"][1:], curves["pr"]["recall"][1:], curves["pr"]["precision"][1:],
                      strict=True))
    assert [(r, p) for _, r, p in points] == [(ref(recall[at[th]]), ref(precision[at[th]])) for th, _, _ in points]
    assert points[-1][1] == 1.0  # the lowest threshold recalls every positive
    assert curves["pr"]["prevalence"] == ref(np.average(y, weights=w))
    assert curves["roc"]["auc"] == doc["metrics"]["roc_auc"]["value"]


def test_binary_threshold_score_exactly_at_threshold_is_positive() -> None:
    data = {"y": np.array([0, 1, 0, 1]), "s": np.array([0.5, 0.5, 0.2, 0.7])}
    doc = assay.evaluate(data, task="binary", label="y", score="s").to_dict()
    assert doc["confusion_matrix"]["matrix"] == [[1, 1], [0, 2]]
    assert doc["metrics"]["selection_rate"]["value"] == 0.75

    custom = assay.evaluate(data, task="binary", label="y", score="s", threshold=0.7).to_dict()
    assert custom["confusion_matrix"]["matrix"] == [[2, 0], [1, 1]]
    assert custom["config"]["threshold"] == 0.7
    assert_matches(custom["metrics"], sk_binary(data["y"], data["s"], None, threshold=0.7))


def test_binary_log_loss_clips_exact_zero_and_one_like_scikit_learn() -> None:
    y = np.array([1, 0, 1, 0, 1])
    s = np.array([0.0, 1.0, 1.0, 0.0, 0.5])  # two confidently wrong rows, two confidently right ones
    doc = assay.evaluate({"y": y, "s": s}, task="binary", label="y", score="s").to_dict()
    expected = log_loss(y, s, labels=[0, 1])
    assert math.isfinite(expected)
    assert doc["metrics"]["log_loss"]["value"] == ref(expected)
    assert doc["metrics"]["brier"]["value"] == ref(brier_score_loss(y, s))


# --- multiclass ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "weighted", "extremes", "prediction"),
    [
        (3, False, False, False),
        (3, True, False, False),
        (3, False, True, False),
        (3, True, True, False),
        (4, False, False, True),
        (4, True, True, True),
    ],
)
def test_multiclass_metrics_match_scikit_learn(k: int, weighted: bool, extremes: bool, prediction: bool) -> None:
    table, y, proba = multiclass_data(k + 2 * weighted + extremes, k=k, weighted=weighted, extremes=extremes,
                                      prediction=prediction)
    w = table.get("w")
    doc = assay.evaluate(table, task="multiclass", label="label", proba_prefix="p_",
                         prediction="pred" if prediction else None, weight="w" if weighted else None,
                         segments=["seg"]).to_dict()
    classes = list("abcdef"[:k])
    pred = np.searchsorted(classes, table["pred"]) if prediction else proba.argmax(axis=1)
    assert doc["config"]["classes"] == classes
    assert_matches(doc["metrics"], sk_multiclass(y, proba, pred, w))
    matrix = confusion_matrix(y, pred, labels=list(range(k)), sample_weight=w)
    assert np.asarray(doc["confusion_matrix"]["matrix"], dtype=np.float64) == pytest.approx(matrix, **TOL)
    for group, entry in doc["slices"]["seg"].items():
        m = table["seg"] == group
        assert_matches(entry["metrics"], sk_multiclass(y[m], proba[m], pred[m], None if w is None else w[m]))


def test_multiclass_hard_predictions_without_probabilities() -> None:
    table, y, _ = multiclass_data(7, k=3, prediction=True)
    del table["p_a"], table["p_b"], table["p_c"]
    doc = assay.evaluate(table, task="multiclass", label="label", prediction="pred").to_dict()
    pred = np.searchsorted(list("abc"), table["pred"])
    expected = {name: v for name, v in sk_multiclass(y, np.eye(3)[pred], pred, None).items()
                if name not in ("log_loss", "roc_auc_ovr", "ece")}
    assert_matches(doc["metrics"], expected)
    for name in ("log_loss", "roc_auc_ovr", "ece"):
        assert doc["metrics"][name]["value"] is None and doc["metrics"][name]["reason"]


# --- regression ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("kind", REGRESSION_KINDS)
def test_regression_metrics_match_scikit_learn(kind: str, weighted: bool) -> None:
    data = regression_data(kind, seed=20 + REGRESSION_KINDS.index(kind), weighted=weighted)
    y, p, w = data["y"], data["p"], data.get("w")
    doc = assay.evaluate(data, task="regression", label="y", prediction="p", weight="w" if weighted else None,
                         segments=["seg"]).to_dict()
    assert_matches(doc["metrics"], sk_regression(y, p, w))
    for group, entry in doc["slices"]["seg"].items():
        m = data["seg"] == group
        assert_matches(entry["metrics"], sk_regression(y[m], p[m], None if w is None else w[m]))


def test_regression_r2_with_large_mean_and_small_spread_in_chunks() -> None:
    """R² of labels around 1e8 with unit spread, read in chunks of 37 rows (each chunk its own anchor)."""
    data = regression_data("large_mean", seed=3, n=500)
    expected = r2_score(data["y"], data["p"])
    assert 0.5 < expected < 0.95
    for chunk_rows in (37, 1_000_000):
        doc = assay.evaluate(data, task="regression", label="y", prediction="p", chunk_rows=chunk_rows).to_dict()
        assert doc["metrics"]["r2"]["value"] == ref(expected)
        assert doc["metrics"]["r2"]["ci_low"] < expected < doc["metrics"]["r2"]["ci_high"]


# --- input formats and chunked files ----------------------------------------------------------------------------


def entries(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every metric entry of a run as (where, metric name, entry)."""
    for name, e in doc["metrics"].items():
        yield "metrics", name, e
    for column, groups in doc["slices"].items():
        for group, body in groups.items():
            for name, e in body["metrics"].items():
                yield f"slices.{column}.{group}", name, e
    for column, body in doc["fairness"].items():
        for group, rates in body["groups"].items():
            for name, e in rates.items():
                if isinstance(e, dict):
                    yield f"fairness.{column}.{group}", name, e
        for name, e in body.items():
            if name != "groups":
                yield f"fairness.{column}", name, e


def close(a: Any, b: Any, exact: bool = False) -> bool:
    """Nested JSON values equal: numbers to 1e-12 (or exactly), everything else exactly."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], exact) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, z, exact) for x, z in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float | int) and not exact:
        return a == pytest.approx(b, **SAME)
    return a == b


def assert_same_run(found: dict[str, Any], expected: dict[str, Any], exact: set[str]) -> None:
    """Metric entries equal: ``exact`` names with ``==``, others to 1e-12; plus the confusion matrix, the
    calibration bins and the curves."""
    got = {(where, name): e for where, name, e in entries(found)}
    want = {(where, name): e for where, name, e in entries(expected)}
    assert got.keys() == want.keys()
    for key, e in want.items():
        for field in FIELDS:
            a, b = got[key].get(field), e.get(field)
            if key[1] in exact or a is None or b is None or field == "n":
                assert a == b, (key, field)
            elif field != "value" and e["method"] == "delta":
                # the delta method's gradient is a central difference of step 1e-6, which magnifies the rounding
                # of the weighted cell sums about a millionfold: its se and bounds agree to ~1e-10, not 1e-12
                assert a == pytest.approx(b, abs=1e-9, rel=1e-9), (key, field)
            else:
                assert a == pytest.approx(b, **SAME), (key, field)
        assert got[key].get("reason") == e.get("reason"), key
    for section in ("confusion_matrix", "calibration", "curves"):
        assert close(found.get(section), expected.get(section), exact=False), section
    assert found["dataset"]["rows"] == expected["dataset"]["rows"]


COUNTING = {
    "binary": {"accuracy", "balanced_accuracy", "precision", "recall", "f1", "specificity", "fpr", "fnr", "mcc",
               "selection_rate", "roc_auc", "average_precision", "tpr", "demographic_parity_difference",
               "demographic_parity_ratio", "equalized_odds_difference", "equalized_odds_ratio"},
    "multiclass": {"accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro", "precision_micro",
                   "recall_micro", "f1_micro", "precision_weighted", "recall_weighted", "f1_weighted",
                   "roc_auc_ovr"},
    "regression": {"max_error", "median_absolute_error"},
}


def task_case(task: str, weighted: bool) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    w = {"weight": "w"} if weighted else {}
    if task == "binary":
        data = binary_data("ties", seed=31, n=400, weighted=weighted)
        return data, {"task": "binary", "label": "y", "score": "s", "segments": ["seg"], "sensitive": ["grp"], **w}
    if task == "multiclass":
        data, _, _ = multiclass_data(32, n=400, weighted=weighted)
        return data, {"task": "multiclass", "label": "label", "proba_prefix": "p_", "segments": ["seg"], **w}
    data = regression_data("random", seed=33, n=400, weighted=weighted)
    return data, {"task": "regression", "label": "y", "prediction": "p", "segments": ["seg"], **w}


def as_format(data: dict[str, np.ndarray], fmt: str, tmp_path: Any) -> Any:
    if fmt == "dict":
        return data
    if fmt == "pandas":
        return pd.DataFrame(data)
    if fmt == "polars":
        return pl.DataFrame(data)
    if fmt == "arrow":
        return pa.table(data)
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table(data), path, row_group_size=100)
    return str(path)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_input_format_and_chunked_parquet_give_the_in_memory_run(task: str, weighted: bool,
                                                                       tmp_path: Any) -> None:
    data, options = task_case(task, weighted)
    expected = assay.evaluate(data, **options).to_dict()
    exact = COUNTING[task] if not weighted else set()
    for fmt in ("dict", "pandas", "polars", "arrow", "parquet"):
        for chunk_rows in (1_000_000, 37):
            if fmt != "parquet" and fmt != "dict" and chunk_rows != 1_000_000:
                continue
            found = assay.evaluate(as_format(data, fmt, tmp_path), chunk_rows=chunk_rows, **options).to_dict()
            assert_same_run(found, expected, exact)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_row_order_does_not_change_the_run(task: str) -> None:
    """The rows reversed (groups and segments met in another order): the same run, intervals included."""
    data, options = task_case(task, weighted=False)
    reverse = {k: v[::-1] for k, v in data.items()}
    expected = assay.evaluate(data, **options).to_dict()
    assert_same_run(assay.evaluate(reverse, **options).to_dict(), expected, COUNTING[task])


def test_chunked_parquet_of_binary_matches_scikit_learn(tmp_path: Any) -> None:
    data = binary_data("random", seed=34, n=300, weighted=True)
    path = tmp_path / "scores.parquet"
    pq.write_table(pa.table(data), path)
    doc = assay.evaluate(str(path), task="binary", label="y", score="s", weight="w", chunk_rows=37).to_dict()
    assert_matches(doc["metrics"], sk_binary(data["y"], data["s"], data["w"]))


# --- frequency weights, and options that cannot work ------------------------------------------------------------


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_integer_frequency_weights_equal_repeated_rows(task: str) -> None:
    """``weight_kind="frequency"`` with integer weights is the evaluation of the rows repeated: values and
    intervals (every n_eff is the weight total). ``n`` stays the count of rows read."""
    data, options = task_case(task, weighted=False)
    rng = np.random.default_rng(36)
    w = rng.integers(1, 4, len(data["seg"]))
    repeated = {k: np.repeat(v, w) for k, v in data.items()}
    weighted = {**data, "w": w.astype(np.float64)}
    expected = assay.evaluate(repeated, **options).to_dict()
    found = assay.evaluate(weighted, weight="w", weight_kind="frequency", **options).to_dict()
    got = {(where, name): e for where, name, e in entries(found)}
    for where, name, e in entries(expected):
        for field in ("value", "ci_low", "ci_high", "se"):
            a, b = got[(where, name)].get(field), e.get(field)
            assert (a is None) == (b is None), (where, name, field)
            if a is not None:
                assert a == pytest.approx(b, abs=1e-9, rel=1e-9), (where, name, field)
    assert found["dataset"]["rows"] == len(data["seg"]) and expected["dataset"]["rows"] == int(w.sum())


def test_a_cap_on_distinct_scores_below_two_is_rejected(tmp_path: Any) -> None:
    """``max_distinct_scores`` of -1, or of 1 with margins of both signs, cannot be met by coarsening: evaluate
    must reject it with a ConfigError (it used to coarsen forever; now it shifts the keys by their whole width
    and reports a table over its cap)."""
    path = tmp_path / "margins.parquet"
    pq.write_table(pa.table({"y": [0, 1, 1, 0], "s": [-1.0, 2.0, 0.5, -0.2]}), path)
    for cap in (-1, 1):
        with pytest.raises(assay.ConfigError):
            assay.evaluate(str(path), task="binary", label="y", score="s", score_kind="margin",
                           max_distinct_scores=cap, chunk_rows=2)


# --- undefined metrics -----------------------------------------------------------------------------------------


def assert_undefined(entry: dict[str, Any]) -> None:
    assert entry["value"] is None
    assert isinstance(entry.get("reason"), str) and entry["reason"].strip()
    assert entry["ci_low"] is None and entry["ci_high"] is None and entry["se"] is None


def sklearn_quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_precision_and_mcc_without_predicted_positives_are_undefined() -> None:
    y = np.array([0, 1, 1, 0, 1, 0])
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.45, 0.05])  # nothing reaches 0.5
    m = assay.evaluate({"y": y, "s": s}, task="binary", label="y", score="s").to_dict()["metrics"]
    pred = (s >= 0.5).astype(int)
    assert sklearn_quiet(precision_score, y, pred) == 0.0  # scikit-learn's zero_division default
    assert sklearn_quiet(matthews_corrcoef, y, pred) == 0.0
    assert_undefined(m["precision"])
    assert_undefined(m["mcc"])
    assert m["recall"]["value"] == 0.0  # defined: there are positive labels
    assert m["roc_auc"]["value"] == ref(roc_auc_score(y, s))


def test_mcc_with_an_empty_label_margin_is_undefined() -> None:
    y = np.zeros(6, np.int64)
    s = np.array([0.1, 0.7, 0.3, 0.9, 0.45, 0.05])
    m = assay.evaluate({"y": y, "s": s}, task="binary", label="y", score="s").to_dict()["metrics"]
    assert sklearn_quiet(matthews_corrcoef, y, (s >= 0.5).astype(int)) == 0.0
    assert_undefined(m["mcc"])
    assert_undefined(m["roc_auc"])
    assert_undefined(m["average_precision"])
    assert_undefined(m["recall"])
    assert m["fpr"]["value"] == ref(2 / 6)


def test_roc_auc_with_one_class_is_undefined() -> None:
    y = np.ones(5, np.int64)
    s = np.array([0.2, 0.4, 0.6, 0.8, 0.9])
    m = assay.evaluate({"y": y, "s": s}, task="binary", label="y", score="s").to_dict()["metrics"]
    assert math.isnan(sklearn_quiet(roc_auc_score, y, s))
    assert_undefined(m["roc_auc"])
    assert m["average_precision"]["value"] == 1.0


def test_mape_with_a_zero_label_and_r2_with_constant_labels_are_undefined() -> None:
    y = np.array([0.0, 1.0, 2.0, 4.0])
    p = np.array([0.5, 1.0, 2.5, 3.0])
    m = assay.evaluate({"y": y, "p": p}, task="regression", label="y", prediction="p").to_dict()["metrics"]
    assert sklearn_quiet(mean_absolute_percentage_error, y, p) > 1e14  # divides by machine epsilon
    assert_undefined(m["mape"])
    assert m["mae"]["value"] == ref(mean_absolute_error(y, p))

    y = np.full(5, 3.0)
    for p in (np.array([3.0, 3.5, 2.0, 3.0, 4.0]), y.copy()):
        m = assay.evaluate({"y": y, "p": p}, task="regression", label="y", prediction="p").to_dict()["metrics"]
        assert sklearn_quiet(r2_score, y, p) in (0.0, 1.0)  # scikit-learn's force_finite values
        assert_undefined(m["r2"])
        assert m["mse"]["value"] == ref(mean_squared_error(y, p))

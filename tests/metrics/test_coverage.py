"""Coverage of the binary and regression intervals at small n (issue 14), on the seeded models of
``benchmarks/coverage.py``.

Each cell runs 200 seeded replications and asserts that the number of intervals covering the population value is
at least the 0.001 quantile of Binomial(200, goal): a method whose true coverage is the goal fails with probability
0.001, and one near 0.95 practically never; the seeds make every run the same. Plus: no interval is a point on
perfectly separated data, and the values are scikit-learn's.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy.stats import binom
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    matthews_corrcoef,
    roc_auc_score,
)

import assay

REPS = 200
METRICS = ("f1", "mcc", "balanced_accuracy", "roc_auc", "average_precision", "brier", "ece", "ece_debiased",
           "accuracy", "precision", "specificity")


def _benchmark() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "coverage.py"
    spec = importlib.util.spec_from_file_location("assay_coverage_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


COVERAGE = _benchmark()


@pytest.mark.parametrize(("quality", "n"), [("near_perfect", 50), ("good", 50)])
def test_binary_intervals_cover_at_small_n(quality: str, n: int) -> None:
    d = COVERAGE.QUALITIES[quality]
    population = {m: v for m, v in COVERAGE.population_binary(d).items() if m in METRICS}
    tally = COVERAGE.run_cell("binary", COVERAGE.sample_binary(d), population, {"label": "y", "score": "s"}, n,
                              REPS, [7, 0, list(COVERAGE.QUALITIES).index(quality), n])
    for metric, t in tally.items():
        goal = COVERAGE.goal(metric, n)
        assert t["defined"] >= 0.9 * REPS, (metric, t)
        floor = binom.ppf(0.001, t["defined"], goal)
        assert t["covered"] >= floor, (metric, t["covered"], t["defined"], goal)
        assert t["collapsed"] == 0, (metric, t)


@pytest.mark.parametrize("law", ["laplace", "skewed"])
def test_regression_intervals_cover_at_n_50(law: str) -> None:
    """MAE, MSE, RMSE and MAPE (Hall's skewness-corrected intervals), R² and the median at n = 50 under heavy-tailed
    and skewed errors; the population values come from the benchmark's own NumPy Monte Carlo, not from assay."""
    error = COVERAGE.REGRESSION_ERRORS[law]
    tally = COVERAGE.run_cell("regression", COVERAGE.sample_regression(error), COVERAGE.population_regression(
        error, size=1_000_000), {"label": "y", "prediction": "p"}, 50, REPS,
        [7, 2, list(COVERAGE.REGRESSION_ERRORS).index(law), 50])
    assert set(tally) == {"mae", "mse", "rmse", "r2", "mape", "median_absolute_error"}
    for metric, t in tally.items():
        assert t["defined"] == REPS, (metric, t)
        assert t["covered"] >= binom.ppf(0.001, REPS, COVERAGE.GOAL), (metric, t["covered"])
        assert t["collapsed"] == 0, (metric, t)


def test_one_vs_rest_auc_covers_for_a_weak_multiclass_model() -> None:
    """The classes' one-vs-rest AUCs are positively correlated: combined as independent the interval covered about
    0.81 here; the comonotone combination holds the goal."""
    d = COVERAGE.MULTICLASS_QUALITIES["weak"]
    population = {"roc_auc_ovr": COVERAGE.population_multiclass(d, size=500_000)["roc_auc_ovr"]}
    tally = COVERAGE.run_cell("multiclass", COVERAGE.sample_multiclass(d), population,
                              {"label": "y", "proba_prefix": "p_"}, 200, REPS,
                              [COVERAGE.SEED, 1, 0, 200])["roc_auc_ovr"]
    assert tally["defined"] == REPS and tally["collapsed"] == 0
    # conservative by construction, so held to the nominal 0.95 (the independent combination covers 166 of these 200)
    assert tally["covered"] >= binom.ppf(0.001, REPS, 0.95), tally


def _separated(n_pos: int = 15, n_neg: int = 35) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    y = np.array([1] * n_pos + [0] * n_neg)
    s = np.where(y == 1, rng.uniform(0.6, 0.99, y.size), rng.uniform(0.01, 0.4, y.size))
    return {"y": y, "s": s}


def test_no_interval_is_a_point_on_perfectly_separated_data() -> None:
    data = _separated()
    metrics = assay.evaluate(data, task="binary", label="y", score="s").metrics
    for name in ("f1", "mcc", "balanced_accuracy", "roc_auc", "average_precision", "accuracy", "log_loss", "brier",
                 "ece", "ece_debiased"):
        e = metrics[name]
        assert e["ci_low"] < e["ci_high"], (name, e)
        assert e["ci_low"] > (-1.0 if name == "mcc" else 0.0) or name in ("log_loss", "brier", "ece", "ece_debiased")
    for name in ("f1", "mcc", "balanced_accuracy", "roc_auc", "average_precision"):
        e = metrics[name]
        assert e["value"] == 1.0 and e["ci_high"] == 1.0 and 0.5 < e["ci_low"] < 0.97, (name, e)


def test_identical_losses_give_an_interval_not_a_point() -> None:
    y = np.array([0] * 35 + [1] * 15)
    s = np.where(y == 1, 0.9, 0.1)  # every row's log loss is -log(0.9)
    metrics = assay.evaluate({"y": y, "s": s}, task="binary", label="y", score="s").metrics
    for name in ("log_loss", "brier"):
        assert metrics[name]["ci_low"] <= metrics[name]["value"] < metrics[name]["ci_high"], metrics[name]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_are_unchanged_and_are_scikit_learns(seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = COVERAGE.sample_binary(1.5)(rng, 300)
    y, s = data["y"], data["s"]
    pred = (s >= 0.5).astype(np.int64)
    m = assay.evaluate(data, task="binary", label="y", score="s").metrics
    expected = {
        "f1": f1_score(y, pred), "mcc": matthews_corrcoef(y, pred),
        "balanced_accuracy": balanced_accuracy_score(y, pred), "roc_auc": roc_auc_score(y, s),
        "average_precision": average_precision_score(y, s), "log_loss": log_loss(y, s),
        "brier": brier_score_loss(y, s),
    }
    for name, want in expected.items():
        assert m[name]["value"] == pytest.approx(want, abs=1e-12), name
        assert m[name]["ci_low"] <= m[name]["value"] <= m[name]["ci_high"], name


def test_ece_debiased_is_below_the_plug_in_and_shares_its_interval() -> None:
    data = COVERAGE.sample_binary(2.48)(np.random.default_rng(5), 200)
    m = assay.evaluate(data, task="binary", label="y", score="s").metrics
    assert 0.0 <= m["ece_debiased"]["value"] < m["ece"]["value"]
    assert (m["ece"]["ci_low"], m["ece"]["ci_high"]) == (m["ece_debiased"]["ci_low"], m["ece_debiased"]["ci_high"])

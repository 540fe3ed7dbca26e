"""The ``fairness`` section of a run against fairlearn: per-group rates (``MetricFrame``) and the four disparities,
with 2 to 4 groups, with and without sample weights; disparity intervals; undefined disparities with reasons.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

import assay
from assay.metrics.confusion import ConfusionState
from assay.metrics.fairness import disparities

TOL = {"abs": 1e-9, "rel": 1e-9}
DISPARITIES = {
    "demographic_parity_difference": demographic_parity_difference,
    "demographic_parity_ratio": demographic_parity_ratio,
    "equalized_odds_difference": equalized_odds_difference,
    "equalized_odds_ratio": equalized_odds_ratio,
}
GROUP_NAMES = np.array(["alpha", "beta", "gamma", "delta"])


def table(seed: int, n_groups: int, *, n: int = 400, weighted: bool = False) -> dict[str, np.ndarray]:
    """Scores whose quality and selection rate differ by group, so every disparity is away from 0."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, n_groups, n)
    y = (rng.uniform(size=n) < 0.3 + 0.1 * g).astype(np.int64)
    s = np.clip(0.25 * y + 0.08 * g + rng.uniform(0.0, 0.7, n), 0.0, 1.0)
    out = {"y": y, "s": s, "group": GROUP_NAMES[g]}
    if weighted:
        out["w"] = rng.uniform(0.2, 3.0, n)
    return out


def run(data: dict[str, np.ndarray], **options: Any) -> dict[str, Any]:
    weight = "w" if "w" in data else None
    return assay.evaluate(data, task="binary", label="y", score="s", weight=weight, sensitive=["group"],
                          **options).to_dict()


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("n_groups", [2, 3, 4])
def test_fairness_matches_fairlearn(n_groups: int, weighted: bool) -> None:
    data = table(n_groups + 10 * weighted, n_groups, weighted=weighted)
    y, pred, sf, w = data["y"], (data["s"] >= 0.5).astype(np.int64), data["group"], data.get("w")
    doc = run(data)
    fair = doc["fairness"]["group"]

    for name, fn in DISPARITIES.items():
        expected = fn(y, pred, sensitive_features=sf, sample_weight=w)
        entry = fair[name]
        assert entry["value"] == pytest.approx(expected, **TOL), name
        assert entry["ci_low"] <= entry["value"] <= entry["ci_high"], name
        assert entry["n"] == y.size and entry["method"] == "cell-bootstrap"
        assert entry["higher_is_better"] is name.endswith("ratio")

    metrics = {"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate,
               "accuracy": accuracy_score}
    params = {name: {"sample_weight": w} for name in metrics} if w is not None else None
    frame = MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=sf, sample_params=params)
    assert set(fair["groups"]) == set(GROUP_NAMES[:n_groups])
    for group, rates in fair["groups"].items():
        assert rates["n"] == int((sf == group).sum())
        for name in metrics:
            entry = rates[name]
            assert entry["value"] == pytest.approx(frame.by_group.loc[group, name], **TOL), (group, name)
            assert entry["ci_low"] <= entry["value"] <= entry["ci_high"], (group, name)


@pytest.mark.parametrize("n_groups", [2, 4])
def test_disparities_of_the_state_match_fairlearn_with_weights(n_groups: int) -> None:
    data = table(40 + n_groups, n_groups, weighted=True)
    y, pred, w = data["y"], (data["s"] >= 0.5).astype(np.int64), data["w"]
    codes = np.searchsorted(GROUP_NAMES[:n_groups], data["group"], sorter=np.argsort(GROUP_NAMES[:n_groups]))
    keys = tuple(np.sort(GROUP_NAMES[:n_groups]).tolist())
    state = ConfusionState.empty(2).update(y, pred, w, codes=codes, group_keys=keys)
    out = disparities(state, 1.959963984540054, seed=3)
    for name, fn in DISPARITIES.items():
        assert out[name]["value"] == pytest.approx(fn(y, pred, sensitive_features=data["group"], sample_weight=w),
                                                   **TOL)
        assert out[name]["ci_low"] < out[name]["ci_high"]  # containment: the next test
    # the same draws for the same seed, others for another seed
    again, other = disparities(state, 1.959963984540054, seed=3), disparities(state, 1.959963984540054, seed=4)
    assert again == out
    assert other["demographic_parity_difference"]["ci_high"] != out["demographic_parity_difference"]["ci_high"]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_disparity_intervals_contain_the_point_value_when_groups_are_alike(weighted: bool) -> None:
    """A fair model (groups drawn alike) is where a gate reads the interval: it must contain the observed
    disparity. A percentile bootstrap of max - min sits above a near-zero observed value, and its lower bound
    can exceed it."""
    missed = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n = 300
        g = rng.integers(0, 2, n)
        y = (rng.uniform(size=n) < 0.4).astype(np.int64)
        pred = (rng.uniform(size=n) < 0.4).astype(np.int64)
        w = rng.uniform(0.2, 3.0, n) if weighted else None
        state = ConfusionState.empty(2).update(y, pred, w, codes=g, group_keys=("a", "b"))
        for name, e in disparities(state, 1.959963984540054, seed=0).items():
            if not e["ci_low"] <= e["value"] <= e["ci_high"]:
                missed.append((seed, name, round(e["value"], 4), round(e["ci_low"], 4), round(e["ci_high"], 4)))
    assert missed == []


def test_a_group_without_positive_labels_leaves_equalized_odds_undefined() -> None:
    data = table(7, 3)
    data["y"] = np.where(data["group"] == "gamma", 0, data["y"])
    doc = run(data)
    fair = doc["fairness"]["group"]
    for name in ("equalized_odds_difference", "equalized_odds_ratio"):
        assert fair[name]["value"] is None and fair[name]["ci_low"] is None
        assert "gamma" in fair[name]["reason"]
    assert fair["groups"]["gamma"]["tpr"]["value"] is None and fair["groups"]["gamma"]["tpr"]["reason"]
    y, pred, sf = data["y"], (data["s"] >= 0.5).astype(np.int64), data["group"]
    assert fair["demographic_parity_difference"]["value"] == pytest.approx(
        demographic_parity_difference(y, pred, sensitive_features=sf), **TOL)


def test_one_group_has_no_disparity() -> None:
    data = table(8, 1)
    fair = run(data)["fairness"]["group"]
    for name in DISPARITIES:
        assert fair[name]["value"] is None and "two groups" in fair[name]["reason"]


def test_disparity_intervals_do_not_depend_on_row_order() -> None:
    """The same rows in reverse order (so the groups are met in another order) give the same disparities,
    intervals included: each group's resampled cells must not depend on where the group sits among the others
    (fairness.disparities draws all groups from one generator, in the order of the state's groups)."""
    data = table(9, 3)
    reverse = {k: v[::-1] for k, v in data.items()}
    a, b = run(data)["fairness"]["group"], run(reverse)["fairness"]["group"]
    assert list(a["groups"]) != list(b["groups"])  # the groups were met in another order
    for name in DISPARITIES:
        assert a[name]["value"] == pytest.approx(b[name]["value"], abs=1e-12)
        assert (a[name]["ci_low"], a[name]["ci_high"]) == pytest.approx((b[name]["ci_low"], b[name]["ci_high"]),
                                                                         abs=1e-12), name

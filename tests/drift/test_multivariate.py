"""Domain-classifier drift: agreement with scikit-learn and an independent DeLong, verdicts on seeded data, features
of every kind, bad inputs, determinism. Every sample is seeded and small (a few hundred rows per side)."""

from __future__ import annotations

import builtins
import datetime as dt
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy import special, stats
from sklearn.metrics import roc_auc_score

from assay.drift.multivariate import (
    MultivariateResult,
    _floats,
    _Run,
    _run,
    _sample_sizes,
    domain_classifier,
)
from assay.errors import ConfigError, InputError

NUMERIC = {f"x{j}": "numeric" for j in range(4)}


def numeric_table(rng: np.random.Generator, n: int, shift: float = 0.0, shifted: str = "x2") -> pa.Table:
    return pa.table({c: rng.normal(shift if c == shifted else 0.0, size=n) for c in NUMERIC})


def delong(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """AUC and DeLong's standard error from midranks (Sun and Xu 2014), independent of assay's table."""
    pos, neg = scores[y == 1], scores[y == 0]
    m, n = pos.size, neg.size
    ranks = stats.rankdata(np.concatenate([pos, neg]))
    v10 = (ranks[:m] - stats.rankdata(pos)) / n  # share of negatives below each positive (ties half)
    v01 = 1.0 - (ranks[m:] - stats.rankdata(neg)) / m  # share of positives above each negative
    return float(v10.mean()), float(np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n))


@pytest.fixture(scope="module")
def shifted() -> _Run:
    """A 1-sd shift in x2 among four numeric columns, with categorical, text, boolean, datetime and empty columns."""
    rng = np.random.default_rng(7)
    n = 400

    def side(shift: float) -> pa.Table:
        t = numeric_table(rng, n, shift)
        start = dt.datetime(2024, 1, 1)
        return t.append_column("c", pa.array(rng.choice(["a", "b", "c", None], size=n)).dictionary_encode()) \
            .append_column("s", pa.array(rng.choice(["x", "yy", "zzz", None], size=n))) \
            .append_column("b", pa.array(rng.random(n) < 0.5)) \
            .append_column("t", pa.array([start + dt.timedelta(hours=int(h)) for h in rng.integers(0, 99, n)])) \
            .append_column("empty", pa.nulls(n, pa.float64()))

    kinds = {**NUMERIC, "c": "categorical", "s": "text", "b": "boolean", "t": "datetime", "empty": "numeric"}
    return _run(side(0.0), side(1.0), kinds, seed=3)


def test_clear_shift_is_drifted_and_named(shifted: _Run) -> None:
    r = shifted.result
    assert r.drifted and r.p_value < 1e-5
    assert r.auc > 0.65 and r.ci_low > 0.5 and r.ci_low <= r.auc <= r.ci_high <= 1.0
    assert r.top_columns[0][0] == "x2"
    assert r.top_columns[0][1] > 0.1 > max(abs(v) for _, v in r.top_columns[1:])
    assert (r.n_reference, r.n_current, r.folds, r.seed) == (400, 400, 5, 3)


def test_auc_and_se_agree_with_sklearn_and_an_independent_delong(shifted: _Run) -> None:
    r = shifted.result
    assert r.auc == pytest.approx(roc_auc_score(shifted.y, shifted.scores), abs=1e-12)
    auc, se = delong(shifted.scores, shifted.y)
    assert r.auc == pytest.approx(auc, abs=1e-12)
    assert r.se == pytest.approx(se, rel=1e-9)
    assert r.ci_low == pytest.approx(r.auc - 1.959963984540054 * se, rel=1e-9)
    # the p-value merges the folds' own held-out DeLong tests by twice their mean (valid under dependence)
    fold_p = []
    for f in range(5):
        held = shifted.fold == f
        a, s = delong(shifted.scores[held], shifted.y[held])
        fold_p.append(special.ndtr(-(a - 0.5) / s))
    assert r.p_value == pytest.approx(min(1.0, 2 * np.mean(fold_p)), rel=1e-6)
    # every row scored once, out of fold, by stratified folds
    assert shifted.scores.size == 800 and np.isfinite(shifted.scores).all()
    for f in range(5):
        assert np.bincount(shifted.y[shifted.fold == f]).tolist() == [80, 80]


def test_all_missing_column_is_dropped_with_a_note(shifted: _Run) -> None:
    r = shifted.result
    assert any("'empty'" in note and "dropped" in note for note in r.notes)
    assert "empty" not in {c for c, _ in r.top_columns}
    assert {c for c, _ in r.top_columns} == {"x0", "x1", "x2", "x3", "c", "s", "b", "t"}


def test_to_dict_is_exact_and_json_safe(shifted: _Run) -> None:
    d = shifted.result.to_dict()
    assert list(d) == ["method", "model", "auc", "ci_low", "ci_high", "se", "p_value", "confidence", "threshold",
                       "drifted", "n_reference", "n_current", "folds", "seed", "top_columns", "notes"]
    assert d["method"] == "domain_classifier" and d["model"] == "HistGradientBoostingClassifier"
    assert d["threshold"] == 0.53 and d["confidence"] == 0.95 and d["drifted"] is True
    assert all(set(t) == {"column", "importance"} for t in d["top_columns"]) and len(d["top_columns"]) <= 10
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    for key in ("auc", "ci_low", "ci_high", "se", "p_value", "confidence", "threshold"):
        assert type(d[key]) is float
    for key in ("n_reference", "n_current", "folds", "seed"):
        assert type(d[key]) is int


def test_same_seed_same_result() -> None:
    rng = np.random.default_rng(11)
    ref, cur = numeric_table(rng, 150), numeric_table(rng, 150, 0.5)
    a = domain_classifier(ref, cur, NUMERIC, seed=5, folds=3)
    b = domain_classifier(ref, cur, NUMERIC, seed=5, folds=3)
    assert a == b and a.to_dict() == b.to_dict()


@pytest.mark.parametrize("seed", [0, 1])
def test_identical_distributions_are_not_drifted(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    ref = numeric_table(rng, 300).append_column("c", pa.array(rng.choice(["a", "b", "c"], size=300)))
    cur = numeric_table(rng, 300).append_column("c", pa.array(rng.choice(["a", "b", "c"], size=300)))
    r = domain_classifier(ref, cur, {**NUMERIC, "c": "categorical"}, seed=seed, max_rows=500, folds=3)
    # out-of-fold AUC under no drift falls at or a little below 0.5 (see the module docstring): never significant
    assert not r.drifted and r.p_value > 0.05 and r.ci_low < 0.5
    assert (r.n_reference, r.n_current) == (250, 250)
    assert "sampled 250 of 300 reference rows and 250 of 300 current rows" in r.notes[0]


def test_categorical_text_and_boolean_shifts_are_found() -> None:
    rng = np.random.default_rng(21)
    n = 400

    def side(p_new: float, long: bool, rate: float) -> pa.Table:
        cats = rng.choice(["a", "b", "c", "new"], size=n, p=[(1 - p_new) / 3] * 3 + [p_new])
        words = rng.choice(["short", "a much longer sentence"] if long else ["short", "mid"], size=n)
        return numeric_table(rng, n).append_column("c", pa.array(cats)).append_column("s", pa.array(words)) \
            .append_column("b", pa.array(rng.random(n) < rate))

    kinds = {**NUMERIC, "c": "categorical", "s": "text", "b": "boolean"}
    r = domain_classifier(side(0.0, False, 0.2), side(0.4, True, 0.8), kinds, seed=1, folds=3)
    assert r.drifted and r.auc > 0.9
    assert {c for c, _ in r.top_columns[:3]} == {"c", "s", "b"}
    assert all(v < 0.05 for c, v in r.top_columns[3:])


def test_features_of_datetimes_are_epoch_seconds() -> None:
    ts = pa.chunked_array([pa.array([dt.datetime(1970, 1, 1, 0, 0, 1), None], pa.timestamp("ms"))])
    assert _floats(ts, "t", "reference", "datetime").tolist()[0] == 1.0
    assert np.isnan(_floats(ts, "t", "reference", "datetime")[1])
    days = pa.chunked_array([pa.array([dt.date(1970, 1, 2)], pa.date32())])
    assert _floats(days, "d", "reference", "datetime").tolist() == [86400.0]
    iso = pa.chunked_array([pa.array(["1970-01-01T00:01:00"])])
    assert _floats(iso, "d", "reference", "datetime").tolist() == [60.0]
    with pytest.raises(InputError, match="column 'w' of the current sample"):
        _floats(pa.chunked_array([pa.array(["soon"])]), "w", "current", "datetime")


def test_sample_sizes() -> None:
    assert _sample_sizes(10**6, 10**6, 100_000) == (50_000, 50_000)
    assert _sample_sizes(10**6, 20_000, 100_000) == (80_000, 20_000)
    assert _sample_sizes(30, 10**6, 100) == (30, 70)
    assert _sample_sizes(30, 40, 100) == (30, 40)


def test_the_floor_is_a_01_sd_shift() -> None:
    assert special.ndtr(0.1 / np.sqrt(2)) == pytest.approx(0.528, abs=5e-4)
    assert special.ndtr(0.05 / np.sqrt(2)) < 0.53 < special.ndtr(0.2 / np.sqrt(2))


def tiny(n: int = 20, **cols: Any) -> pa.Table:
    return pa.table(cols or {"x": np.arange(n, dtype=float)})


def test_bad_inputs_name_the_side_or_column() -> None:
    with pytest.raises(InputError, match="no columns"):
        domain_classifier(pa.table({}), pa.table({}), {})
    with pytest.raises(InputError, match=r"current sample.*at least 2 \* folds = 10 rows, found 9 rows"):
        domain_classifier(tiny(), tiny(9), {"x": "numeric"})
    with pytest.raises(InputError, match=r"reference sample.*found 3 rows"):
        domain_classifier(tiny(3), tiny(), {"x": "numeric"})
    with pytest.raises(InputError, match=r"only in current: \['z'\]"):
        domain_classifier(tiny(), tiny(x=np.zeros(20), z=np.zeros(20)), {"x": "numeric", "z": "numeric"})
    empty = tiny(x=pa.nulls(20, pa.float64()), s=pa.nulls(20, pa.string()))
    with pytest.raises(InputError, match=r"all missing on every sampled row: \['x', 's'\]"):
        domain_classifier(empty, empty, {"x": "numeric", "s": "text"})
    with pytest.raises(InputError, match="column 'x' of the reference sample: expected numeric values"):
        domain_classifier(tiny(x=["a"] * 20), tiny(x=["b"] * 20), {"x": "numeric"})
    with pytest.raises(ConfigError, match="kinds"):
        domain_classifier(tiny(), tiny(), {"x": "ordinal"})
    with pytest.raises(ConfigError, match=r"kinds.*none for"):
        domain_classifier(tiny(), tiny(), {})
    with pytest.raises(ConfigError, match="folds"):
        domain_classifier(tiny(), tiny(), {"x": "numeric"}, folds=1)
    with pytest.raises(ConfigError, match="confidence"):
        domain_classifier(tiny(), tiny(), {"x": "numeric"}, confidence=95)


def test_missing_sklearn_asks_for_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_sklearn(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("sklearn"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(ConfigError, match=r"pip install 'assay\[multivariate\]'"):
        domain_classifier(tiny(), tiny(), {"x": "numeric"})


def test_result_is_frozen(shifted: _Run) -> None:
    assert isinstance(shifted.result, MultivariateResult)
    with pytest.raises(AttributeError):
        shifted.result.auc = 0.5  # type: ignore[misc]

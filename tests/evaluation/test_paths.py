"""One evaluation, whichever way it is computed: the unit-weight path (every binary state derived from the score
table) agrees with the general weighted path at weights of one, and threads change nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import assay
from assay.errors import ConfigError
from assay.evaluation import parallel
from assay.evaluation.parallel import MIN_ROWS, run_all, workers


def _table(n: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    seg = rng.choice(np.array(["north", "south", "east", "west"]), size=n, p=[0.5, 0.3, 0.15, 0.05])
    gender = rng.choice(np.array(["f", "m"]), size=n)
    y = (rng.random(n) < np.where(seg == "east", 0.5, 0.25)).astype(np.int64)
    s = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.4 * y)))
    s[: n // 10] = np.round(s[: n // 10], 2)  # some ties across labels
    return {"y": y, "s": s, "seg": seg, "gender": gender, "w": np.ones(n)}


def _numbers(doc: dict[str, Any]) -> dict[str, Any]:
    """The document's numbers, without what names the run (id, time) or its configuration."""
    return {k: v for k, v in doc.items() if k not in ("run_id", "created_at", "config")}


def _assert_close(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_close(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path


def test_unit_weight_path_agrees_with_the_weighted_path_at_weights_of_one() -> None:
    data = _table(5000)
    kw: dict[str, Any] = {"task": "binary", "label": "y", "score": "s", "segments": ["seg"],
                          "sensitive": ["gender"]}
    derived = assay.evaluate(data, **kw).to_dict()
    general = assay.evaluate(data, weight="w", weight_kind="frequency", **kw).to_dict()
    # the fingerprint covers the weights, so it differs; every metric, slice, group and curve agrees
    for key in ("metrics", "slices", "fairness", "calibration", "confusion_matrix", "curves"):
        _assert_close(derived[key], general[key], key)


def test_threads_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _table(MIN_ROWS + 1000, seed=1)
    kw: dict[str, Any] = {"task": "binary", "label": "y", "score": "s", "segments": ["seg"],
                          "sensitive": ["gender"]}
    monkeypatch.setenv("ASSAY_THREADS", "1")
    one = assay.evaluate(data, **kw).to_dict()
    monkeypatch.setenv("ASSAY_THREADS", "3")
    many = assay.evaluate(data, **kw).to_dict()
    assert _numbers(one) == _numbers(many)  # bit for bit


def test_workers_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_THREADS", "2")
    assert workers() == 2
    monkeypatch.delenv("ASSAY_THREADS")
    assert 1 <= workers() <= 4
    for bad in ("not a number", "0", "-2", "1.5"):
        monkeypatch.setenv("ASSAY_THREADS", bad)
        with pytest.raises(ConfigError, match=r"ASSAY_THREADS: expected a whole number of threads.*Fix: set"):
            workers()
    monkeypatch.setenv("ASSAY_THREADS", "1")
    assert run_all([lambda: 1, lambda: 2], parallel=True) == [1, 2]


def test_an_error_in_a_threaded_piece_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "workers", lambda: 2)

    def boom() -> int:
        raise ValueError("piece failed")

    with pytest.raises(ValueError, match="piece failed"):
        run_all([lambda: 1, boom], parallel=True)

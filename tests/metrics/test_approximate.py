"""The run document marks approximate intervals (very small n, a value at the end of its interval), the terminal and
the HTML report show the mark, and the gate's sample-size hint, read from the corrected intervals, settles the check
it promises to settle."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

import assay
from assay.gate.decide import gate
from assay.gate.policy import parse_policy
from assay.metrics.approximate import SMALL_N
from assay.report import terminal
from assay.report.html import render_run


def _perfect(n: int) -> dict[str, np.ndarray]:
    y = np.arange(n) % 2
    return {"y": y, "s": np.where(y == 1, 0.9, 0.1) + np.linspace(0, 0.05, n)}


def _noisy(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return {"y": y, "s": np.clip(0.5 + (y - 0.5) * 0.4 + rng.normal(0, 0.25, n), 0, 1)}


def test_a_perfect_score_is_marked_approximate_and_a_noisy_one_is_not() -> None:
    perfect = assay.evaluate(_perfect(50), task="binary", label="y", score="s").metrics
    for name in ("accuracy", "f1", "mcc", "roc_auc", "average_precision"):
        e = perfect[name]
        assert e["value"] == 1.0 and e["ci_low"] < 1.0, (name, e)  # an interval, never a point
        assert e["approximate"] is True and "end of its interval" in e["approximate_reason"], (name, e)
    noisy = assay.evaluate(_noisy(2000), task="binary", label="y", score="s").metrics
    for name in ("accuracy", "f1", "roc_auc", "brier", "log_loss"):
        assert noisy[name]["ci_low"] < noisy[name]["value"] < noisy[name]["ci_high"]
        assert "approximate" not in noisy[name] and "approximate_reason" not in noisy[name], (name, noisy[name])


def test_very_small_n_is_marked_in_every_task_and_slice() -> None:
    n = SMALL_N - 6
    run = assay.evaluate({**_noisy(n, 3), "g": np.array(["a", "b"] * (n // 2))}, task="binary", label="y", score="s",
                         segments=["g"])
    assert f"only {n} rows" in run.metrics["accuracy"]["approximate_reason"]
    for group in run.to_dict()["slices"]["g"].values():
        assert group["metrics"]["accuracy"]["approximate"] is True
    rng = np.random.default_rng(1)
    reg = assay.evaluate({"y": rng.normal(size=n), "p": rng.normal(size=n)}, task="regression", label="y",
                         prediction="p").metrics
    assert reg["mae"]["approximate"] is True and f"only {n} rows" in reg["mae"]["approximate_reason"]
    big = assay.evaluate({"y": rng.normal(size=500), "p": rng.normal(size=500)}, task="regression", label="y",
                         prediction="p").metrics
    assert "approximate" not in big["mae"]


def test_terminal_and_html_mark_the_approximate_intervals() -> None:
    run = assay.evaluate(_perfect(50), task="binary", label="y", score="s")
    out = io.StringIO()
    terminal.render(run.to_dict(), Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    f1_line = next(line for line in text.splitlines() if line.strip().startswith("f1 "))
    assert "~[" in f1_line and "approximate:" in f1_line
    html = render_run(run.to_dict())
    assert html.count('class="approx"') >= 5 and "approximate: the value is at the end" in html
    noisy = assay.evaluate(_noisy(2000), task="binary", label="y", score="s")
    assert 'class="approx"' not in render_run(noisy.to_dict())


def test_the_gate_hint_settles_the_check_it_names() -> None:
    """50 perfectly separated items against a floor of 0.95: the interval straddles it, so the check is inconclusive;
    the hint names a size at which the same perfect model passes (the old hint read the delta method's se, which is
    zero here, and gave none)."""
    policy = parse_policy("checks:\n  - {metric: f1, min: 0.95}\n")
    small = assay.evaluate(_perfect(50), task="binary", label="y", score="s").to_dict()
    o = gate(small, policy).outcomes[0]
    assert o.decision == "inconclusive" and o.items_needed is not None and o.items_needed > 50
    assert f"about {o.items_needed:,} items" in o.why
    enough = assay.evaluate(_perfect(o.items_needed + o.items_needed % 2), task="binary", label="y",
                            score="s").to_dict()
    assert gate(enough, policy).outcomes[0].decision == "pass"


def test_multiclass_intervals_are_not_points_on_perfect_data() -> None:
    """Perfectly separated three-class data with one confidence for every row: one-vs-rest AUC gets each class's
    Newcombe score interval (DeLong's combined se is 0 there), log loss the bounded interval (no spread seen)."""
    n = 60
    y = np.arange(n) % 3
    proba = np.full((n, 3), 0.05)
    proba[np.arange(n), y] = 0.9
    m = assay.evaluate({"y": y, **{f"p_{k}": proba[:, k] for k in range(3)}}, task="multiclass", label="y",
                       proba_prefix="p_").metrics
    auc, loss = m["roc_auc_ovr"], m["log_loss"]
    assert auc["value"] == 1.0 and 0.85 < auc["ci_low"] < 0.999 and auc["ci_high"] == 1.0
    assert auc["method"] == "comonotone-newcombe" and auc["approximate"] is True
    assert abs(loss["value"] - np.log(1 / 0.9)) < 1e-12
    assert loss["ci_low"] < loss["value"] < loss["ci_high"] and loss["ci_high"] - loss["ci_low"] > 0.01
    assert loss["approximate"] is True and "no spread" in loss["approximate_reason"]


def test_a_plug_in_value_outside_its_interval_is_not_called_a_boundary() -> None:
    """ECE's interval is for the population ECE and may lie below the plug-in value: that is not a cell of zero."""
    from assay.metrics.approximate import reason

    assert reason({"value": 0.08, "ci_low": 0.01, "ci_high": 0.06, "se": 0.01, "n": 500}) is None
    assert reason({"value": 0.06, "ci_low": 0.01, "ci_high": 0.06, "se": 0.01, "n": 500}) is not None
    assert reason({"value": 0.5, "ci_low": 0.4, "ci_high": 0.6, "se": 0.0, "n": 500}) is not None  # no spread seen
    assert reason({"value": None, "ci_low": None, "ci_high": None, "n": 5}) is None  # undefined: nothing to mark

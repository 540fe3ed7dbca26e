"""The metrics a live comparison can compare, each read from an arm's merged window state as (n, mean, variance).

Every metric here is a mean of per-outcome values, so that a confidence sequence for a difference of means applies:
rates (accuracy, error and refusal rates, the share of latencies above a bound) and means (latency, log loss, Brier
score, absolute error, any outcome the watch service joins). Percentiles are not offered: a quantile needs a
confidence sequence of its own.

============================  ==========================================================  ===================
metric                        per-outcome value (its outcomes)                            higher is better
============================  ==========================================================  ===================
``accuracy``                  prediction equals label (labeled predictions)               yes
``precision`` / ``recall``    binary: a true positive (predicted / labeled positives)     yes
``log_loss`` / ``brier``      binary with probabilities: the row's loss (labeled)         no
``mae``                       regression: absolute error (labeled)                        no
``latency_mean``              latency in seconds (predictions with a latency)             no
``latency_above``             latency above ``seconds:`` (the sketch's buckets, within    no
                              its relative accuracy of the bound)
``error_rate``                an error status (predictions with a status)                 no
``score_mean``                the score (predictions with a score)                        (set it)
``TEXT_refusal_rate``,        per text column: a refusal, an empty text, text that is     no
``TEXT_empty_rate``,          not JSON; the text's length in characters
``TEXT_json_failure_rate``,
``TEXT_length_mean``
``outcome_NAME_mean``         an outcome column joined with the labels                    yes
============================  ==========================================================  ===================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assay.evaluation.accumulate import OVERALL_GROUPING
from assay.stats.sequential import Arm
from assay.watch.config import ModelConfig
from assay.watch.window import WindowState

_EMPTY = Arm(0.0, math.nan, math.nan)


@dataclass(frozen=True)
class LiveMetric:
    name: str
    higher_is_better: bool | None  # None: the comparison must say (score_mean)
    read: Callable[[WindowState], Arm]
    about: str


def _bundle(state: WindowState) -> object | None:
    return (state.realized or {}).get(OVERALL_GROUPING)


def _accuracy(state: WindowState) -> Arm:
    b = _bundle(state)
    c = getattr(b, "confusion", None)
    if c is None or not len(c.groups):
        return _EMPTY
    rows = c.rows[0]
    return Arm.proportion(float(np.trace(rows)), float(rows.sum()))


def _precision(state: WindowState) -> Arm:
    c = getattr(_bundle(state), "confusion", None)
    if c is None or not len(c.groups):
        return _EMPTY
    rows = c.rows[0]
    return Arm.proportion(float(rows[1, 1]), float(rows[:, 1].sum()))


def _recall(state: WindowState) -> Arm:
    c = getattr(_bundle(state), "confusion", None)
    if c is None or not len(c.groups):
        return _EMPTY
    rows = c.rows[0]
    return Arm.proportion(float(rows[1, 1]), float(rows[1, :].sum()))


def _loss(name: str) -> Callable[[WindowState], Arm]:
    def read(state: WindowState) -> Arm:
        m = getattr(_bundle(state), "means", None)
        if m is None or not len(m.groups) or name not in m.names:
            return _EMPTY
        j = m.names.index(name)
        return Arm.sums(float(m.rows[0]), float(m.s1[0, j]), float(m.s2[0, j]))
    return read


def _mae(state: WindowState) -> Arm:
    from assay.metrics.regression import E2, EA

    r = getattr(_bundle(state), "regression", None)
    if r is None or not len(r.groups):
        return _EMPTY
    return Arm.sums(float(r.rows[0]), float(r.sums[0, EA]), float(r.sums[0, E2]))  # |e|^2 = e^2


def _latency_mean(state: WindowState) -> Arm:
    t = state.traffic
    if t is None:
        return _EMPTY
    return Arm.moments(t.latency.count, t.latency.mean, t.latency.m2)


def latency_above(seconds: float) -> Callable[[WindowState], Arm]:
    def read(state: WindowState) -> Arm:
        t = state.traffic
        if t is None or t.latency_sketch.count == 0:
            return _EMPTY
        s = t.latency_sketch
        gamma = s.gamma
        values = 2.0 * gamma ** s.index.astype(np.float64) / (gamma + 1.0)
        return Arm.proportion(float(s.counts[values > seconds].sum()), float(s.count))
    return read


def _error_rate(state: WindowState) -> Arm:
    t = state.traffic
    return _EMPTY if t is None else Arm.proportion(t.errors, t.status_n)


def _score_mean(state: WindowState) -> Arm:
    t = state.traffic
    return _EMPTY if t is None else Arm.moments(t.score.count, t.score.mean, t.score.m2)


def _text(column: str, kind: str) -> Callable[[WindowState], Arm]:
    def read(state: WindowState) -> Arm:
        t = state.traffic
        if t is None or column not in t.text_columns:
            return _EMPTY
        c = t.text[t.text_columns.index(column)]
        n = c.length.count
        if kind == "length_mean":
            return Arm.moments(n, c.length.mean, c.length.m2)
        hits = {"refusal_rate": c.refusals, "empty_rate": c.empty, "json_failure_rate": c.json_failures}[kind]
        return Arm.proportion(hits, n)
    return read


def _outcome(name: str) -> Callable[[WindowState], Arm]:
    def read(state: WindowState) -> Arm:
        m = state.outcomes
        if m is None or not len(m.groups) or name not in m.names:
            return _EMPTY
        j = m.names.index(name)
        return Arm.sums(float(m.rows[0]), float(m.s1[0, j]), float(m.s2[0, j]))
    return read


def catalogue(model: ModelConfig) -> dict[str, LiveMetric]:
    """The metrics a comparison of this model can name (``latency_above`` takes its bound separately)."""
    out: dict[str, LiveMetric] = {}

    def add(name: str, hib: bool | None, read: Callable[[WindowState], Arm], about: str) -> None:
        out[name] = LiveMetric(name, hib, read, about)

    if model.task in ("binary", "multiclass"):
        add("accuracy", True, _accuracy, "labeled predictions that match their label")
    if model.task == "binary":
        add("precision", True, _precision, "true positives among predicted positives")
        add("recall", True, _recall, "true positives among labeled positives")
        if model.score is not None:
            add("log_loss", False, _loss("log_loss"), "mean log loss of labeled predictions")
            add("brier", False, _loss("brier"), "mean Brier score of labeled predictions")
    if model.task == "regression":
        add("mae", False, _mae, "mean absolute error of labeled predictions")
    if model.latency is not None:
        add("latency_mean", False, _latency_mean, "mean latency in seconds")
        add("latency_above", False, latency_above(math.inf), "share of latencies above `seconds:`")
    if model.status is not None:
        add("error_rate", False, _error_rate, "share of predictions with an error status")
    if model.score is not None:
        add("score_mean", None, _score_mean, "mean score")
    for col in model.text:
        for kind in ("refusal_rate", "empty_rate", "json_failure_rate", "length_mean"):
            add(f"{col}_{kind}", False, _text(col, kind), f"{kind.replace('_', ' ')} of {col}")
    for name in model.outcomes:
        add(f"outcome_{name}_mean", True, _outcome(name), f"mean of the outcome {name}")
    return out

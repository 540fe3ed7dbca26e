"""Decisions of a live comparison from the two arms' statistics: pure functions, usable offline.

Per metric, on the confidence-sequence interval of (candidate - control) oriented so that positive is better:

- **rollback** when the interval lies entirely below 0 (the candidate is worse, whatever the margin);
- **promote** when it lies entirely above ``-margin`` and both arms have ``min_outcomes``;
- **hold** otherwise, and whenever an arm has too few outcomes for an interval (fewer than :data:`MIN_ARM`).

A relative margin ``r`` tests ``candidate - (1 - r) * control`` (higher is better) or ``(1 + r) * control -
candidate`` (lower is better) above 0. The level is split across the comparison's metrics (``alpha / k`` each).

The comparison rolls back when a critical metric rolls back or the score falls below ``scoring.marginal``; it
promotes when every critical metric promotes and the score reaches ``scoring.pass``; it holds otherwise. The score
(0-100, Kayenta-style) is the weight of the metrics not rolled back over the weight of all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from assay.live.config import Comparison, MetricSpec
from assay.stats.sequential import Arm, difference_interval, mean_interval, power_at
from assay.watch.pairs import PairState

SCHEMA = "assay.decision/1"
MIN_ARM = 10  # outcomes per arm before any interval: an estimated variance of fewer means little


def _num(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def metric_decision(spec: MetricSpec, higher_is_better: bool, control: Arm, candidate: Arm, *, alpha: float,
                    t_star: float, min_outcomes: int) -> dict[str, Any]:
    """The entry of one metric: values, difference, sequence interval, margin, decision and a one-line reason."""
    entry: dict[str, Any] = {
        "metric": spec.key, "critical": spec.critical, "weight": spec.weight, "higher_is_better": higher_is_better,
        "control": {"value": _num(control.mean), "n": int(control.n)},
        "candidate": {"value": _num(candidate.mean), "n": int(candidate.n)},
        "difference": None, "ci_low": None, "ci_high": None, "margin": None,
        "margin_relative": spec.margin_relative, "alpha": alpha,
    }
    short = [name for name, arm in (("control", control), ("candidate", candidate)) if arm.n < MIN_ARM]
    if short:
        entry.update(decision="hold", reason=f"too few outcomes on {' and '.join(short)} "
                     f"({int(control.n)} vs {int(candidate.n)}; {MIN_ARM} per arm before any interval)")
        return entry
    kw = {"alpha": alpha, "t_star": t_star}
    lo, hi = difference_interval(control.mean, control.var, control.n, candidate.mean, candidate.var, candidate.n,
                                 **kw)
    diff = candidate.mean - control.mean
    entry.update(difference=_num(diff), ci_low=_num(lo), ci_high=_num(hi))
    # oriented: positive = the candidate is better
    o_lo, o_hi = (lo, hi) if higher_is_better else (-hi, -lo)
    if spec.margin is not None:
        margin = spec.margin
        clears = o_lo > -margin
    else:
        r = spec.margin_relative or 0.0
        margin = r * abs(control.mean)
        scale = (1 - r) if higher_is_better else (1 + r)
        s_lo, s_hi = difference_interval(control.mean, control.var, control.n, candidate.mean, candidate.var,
                                         candidate.n, scale_c=scale, **kw)
        clears = s_lo > 0 if higher_is_better else s_hi < 0
    entry["margin"] = _num(margin)
    sd = math.sqrt(max((control.var + candidate.var) / 2, 0.0))
    entry["power_at_margin"] = _num(power_at(alpha, margin, sd, min(control.n, candidate.n))) if margin else None
    enough = control.n >= min_outcomes and candidate.n >= min_outcomes
    return _classify(entry, worse_now=o_hi < 0, clears=clears, enough=enough, higher_is_better=higher_is_better,
                     diff=diff, lo=lo, hi=hi, margin=margin, kind="interval",
                     waiting=f"{min_outcomes} outcomes per arm ({int(control.n)} vs {int(candidate.n)})")


def _classify(entry: dict[str, Any], *, worse_now: bool, clears: bool, enough: bool, higher_is_better: bool,
              diff: float, lo: float, hi: float, margin: float, kind: str, waiting: str) -> dict[str, Any]:
    """The rule: rollback when the interval lies below 0, promote when it clears the margin with enough
    outcomes, hold otherwise; with the one-line reason."""
    worse = "lower" if higher_is_better else "higher"
    if worse_now:
        entry.update(decision="rollback", reason=f"the candidate is worse: {worse} by {abs(diff):.4g} "
                     f"({kind} {lo:.4g} to {hi:.4g} excludes 0)")
    elif clears and enough:
        entry.update(decision="promote", reason=f"the candidate is no worse than the margin {margin:.4g} "
                     f"({kind} {lo:.4g} to {hi:.4g})")
    elif clears:
        entry.update(decision="hold", reason=f"within the margin so far, waiting for {waiting}")
    else:
        entry.update(decision="hold", reason=f"not yet decided: the {kind} {lo:.4g} to {hi:.4g} still reaches "
                     f"below -{margin:.4g} and above 0")
    return entry


PAIRED = {"accuracy": "correct", "log_loss": "log_loss", "brier": "brier", "mae": "abs_error"}
"""The metrics a shadow comparison decides on its pairs, and the paired quantity of each."""


def paired_decision(spec: MetricSpec, higher_is_better: bool, pairs: PairState | None, quantity: str, *,
                    alpha: float, t_star: float, min_outcomes: int) -> dict[str, Any]:
    """The entry of one metric of a shadow comparison, from the sequence of the per-request differences."""
    n = pairs.n if pairs is not None else 0
    ct, cc = pairs.means(quantity) if pairs is not None and n else (math.nan, math.nan)
    entry: dict[str, Any] = {
        "metric": spec.key, "critical": spec.critical, "weight": spec.weight, "higher_is_better": higher_is_better,
        "control": {"value": _num(cc), "n": n}, "candidate": {"value": _num(ct), "n": n}, "paired": True,
        "difference": None, "ci_low": None, "ci_high": None, "margin": None,
        "margin_relative": spec.margin_relative, "alpha": alpha,
    }
    if pairs is None or n < MIN_ARM:
        entry.update(decision="hold", reason=f"too few pairs ({n}; {MIN_ARM} before any interval): requests "
                     "scored by both versions whose label has landed")
        return entry
    mean, var = pairs.linear(quantity)
    lo, hi = mean_interval(mean, var, n, alpha=alpha, t_star=t_star)
    entry.update(difference=_num(mean), ci_low=_num(lo), ci_high=_num(hi))
    o_lo, o_hi = (lo, hi) if higher_is_better else (-hi, -lo)
    if spec.margin is not None:
        margin = spec.margin
        clears = o_lo > -margin
    else:
        r = spec.margin_relative or 0.0
        margin = r * abs(cc)
        s_mean, s_var = pairs.linear(quantity, 1.0, (1 - r) if higher_is_better else (1 + r))
        s_lo, s_hi = mean_interval(s_mean, s_var, n, alpha=alpha, t_star=t_star)
        clears = s_lo > 0 if higher_is_better else s_hi < 0
    entry["margin"] = _num(margin)
    entry["power_at_margin"] = _num(power_at(alpha, margin, math.sqrt(max(var, 0.0) / 2), n)) if margin else None
    return _classify(entry, worse_now=o_hi < 0, clears=clears, enough=n >= min_outcomes,
                     higher_is_better=higher_is_better, diff=mean, lo=lo, hi=hi, margin=margin,
                     kind="paired interval", waiting=f"{min_outcomes} pairs ({n})")


def decide(comparison: Comparison, arms: Mapping[str, tuple[Arm, Arm]], directions: Mapping[str, bool],
           pairs: PairState | None = None) -> dict[str, Any]:
    """The decision of a comparison: ``arms`` and ``directions`` by metric key ((control, candidate) and
    higher-is-better); in shadow mode the metrics of :data:`PAIRED` are decided on ``pairs``."""
    k = len(comparison.metrics)
    alpha = comparison.alpha / k
    kw = {"alpha": alpha, "t_star": comparison.t_star, "min_outcomes": comparison.min_outcomes}
    metrics = [paired_decision(m, directions[m.key], pairs, PAIRED[m.metric], **kw)  # type: ignore[arg-type]
               if comparison.mode == "shadow" and m.metric in PAIRED else
               metric_decision(m, directions[m.key], *arms[m.key], **kw)  # type: ignore[arg-type]
               for m in comparison.metrics]
    total = sum(m["weight"] for m in metrics)
    passing = sum(m["weight"] for m in metrics if m["decision"] != "rollback")
    score = 100.0 * passing / total if total else 100.0
    critical = [m for m in metrics if m["critical"]]
    s = comparison.scoring
    if any(m["decision"] == "rollback" for m in critical):
        decision = "rollback"
        bad = [m["metric"] for m in critical if m["decision"] == "rollback"]
        reason = f"critical metric{'s' if len(bad) > 1 else ''} {', '.join(bad)} rolled back"
    elif score < s.marginal:
        decision, reason = "rollback", f"score {score:.0f} below the marginal threshold {s.marginal:g}"
    elif critical and all(m["decision"] == "promote" for m in critical) and score >= s.pass_:
        decision, reason = "promote", f"every critical metric within its margin, score {score:.0f}"
    else:
        waiting = [m["metric"] for m in critical if m["decision"] != "promote"]
        decision = "hold"
        reason = (f"waiting on {', '.join(waiting)}" if waiting else
                  f"score {score:.0f} below the pass threshold {s.pass_:g}")
    return {"decision": decision, "reason": reason, "score": round(score, 2), "alpha": comparison.alpha,
            "alpha_per_metric": alpha, "t_star": comparison.t_star, "min_outcomes": comparison.min_outcomes,
            "metrics": metrics}

"""Decisions of the gate: a candidate run against a policy and (optionally) a baseline run.

Each bound of each check becomes one outcome, **pass**, **fail** or **inconclusive**:

- a floor (``min``) passes when the candidate's whole interval lies above it, fails when it lies below, and is
  inconclusive otherwise; a ceiling (``max``) mirrors it;
- an allowed drop against the baseline is a non-inferiority test on the contrast ``C`` (oriented so that larger is
  better, from the metric's ``higher_is_better``): ``max_drop: m`` tests ``C = ±(candidate - baseline) >= -m``,
  ``max_drop_relative: r`` tests ``candidate - (1 - r) baseline >= 0`` (``(1 + r) baseline - candidate >= 0`` for a
  lower-is-better metric). Fail when the whole interval of ``C`` is below the limit, pass when it is above.

The interval of the contrast is paired when both runs carry item sidecars of the same evaluation set (see
:mod:`assay.gate.items`), otherwise it comes from the two runs' standard errors. With ``correction: holm`` a fail
stands only when Holm's step-down over all outcomes rejects at the policy's level; an inconclusive outcome says how
many items would give 80% power to pass if the true difference were zero.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from assay.errors import ConfigError, InputError
from assay.gate.items import load_items, pair, paired_difference
from assay.gate.policy import Check, Policy
from assay.stats.intervals import z_value
from assay.stats.paired import Difference

Z_POWER = 0.8416212335729143  # one-sided 80% power


@dataclass
class Outcome:
    check: str
    line: int
    metric: str
    bound: str
    limit: float
    decision: str
    why: str
    group: str | None = None
    baseline: float | None = None
    candidate: float | None = None
    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    method: str = ""
    p_value: float | None = None
    p_fail: float | None = None
    items_needed: int | None = None

    @property
    def label(self) -> str:
        return f"{self.check}" + (f" [{self.group}]" if self.group else "")


@dataclass
class GateResult:
    outcomes: list[Outcome]
    decision: str
    exit_code: int
    paired: bool
    warnings: list[str] = field(default_factory=list)
    policy: dict[str, Any] = field(default_factory=dict)
    candidate: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "assay.gate/1",
            "decision": self.decision,
            "exit_code": self.exit_code,
            "paired": self.paired,
            "warnings": self.warnings,
            "policy": self.policy,
            "candidate": self.candidate,
            "baseline": self.baseline,
            "checks": [asdict(o) for o in self.outcomes],
        }


def _require_run(doc: Any, name: str) -> dict[str, Any]:
    if not isinstance(doc, dict) or doc.get("schema") != "assay.run/1":
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise InputError(f"{name}: expected an assay run document (schema assay.run/1), found schema {found!r}. "
                         "Fix: pass a run.json written by `assay evaluate` or `assay import`")
    return doc


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": doc.get("run_id"), "model": doc.get("model"),
            "fingerprint": doc.get("dataset", {}).get("fingerprint"), "dataset": doc.get("dataset", {}).get("name")}


def _entry_for(doc: dict[str, Any], check: Check, group: str | None) -> dict[str, Any] | None:
    if check.fairness:
        return doc.get("fairness", {}).get(check.attribute, {}).get(check.fairness)
    if check.slice:
        return doc.get("slices", {}).get(check.slice, {}).get(group, {}).get("metrics", {}).get(check.metric)
    return doc.get("metrics", {}).get(check.metric)


def _validate_names(policy: Policy, cand: dict[str, Any], base: dict[str, Any] | None, cand_name: str) -> None:
    for check in policy.checks:
        where = f"{policy.source}, line {check.line}"
        if check.fairness:
            fair = cand.get("fairness", {})
            if check.attribute not in fair:
                raise ConfigError(f"{where}: expected a sensitive attribute of the run, found '{check.attribute}'. "
                                  f"The run's attributes: {', '.join(fair) or 'none'}. Fix: evaluate with "
                                  f"--sensitive {check.attribute} or correct the name")
            if check.fairness not in fair[check.attribute]:
                names = [k for k in fair[check.attribute] if k != "groups"]
                raise ConfigError(f"{where}: expected a fairness metric, found '{check.fairness}'. Known: "
                                  f"{', '.join(names)}")
            continue
        metrics = cand.get("metrics", {})
        if check.metric not in metrics:
            raise ConfigError(f"{where}: expected a metric of the run {cand_name}, found '{check.metric}'. The run's "
                              f"metrics: {', '.join(metrics)}. Fix: use one of those names")
        if check.slice and check.slice not in cand.get("slices", {}):
            raise ConfigError(f"{where}: expected a slice column of the run, found '{check.slice}'. The run's "
                              f"slice columns: {', '.join(cand.get('slices', {})) or 'none'}. Fix: evaluate with "
                              f"--segment {check.slice}")
        if check.needs_baseline and base is not None and check.slice and check.slice not in base.get("slices", {}):
            raise ConfigError(f"{where}: expected the slice column '{check.slice}' in the baseline run too, found "
                              "it missing. Fix: re-evaluate the baseline with that --segment")


def gate(
    candidate: dict[str, Any],
    policy: Policy,
    baseline: dict[str, Any] | None = None,
    *,
    candidate_path: str | Path | None = None,
    baseline_path: str | Path | None = None,
) -> GateResult:
    """Decide a candidate run under a policy, against a baseline run when the policy compares."""
    cand = _require_run(candidate, str(candidate_path or "candidate"))
    base = _require_run(baseline, str(baseline_path or "baseline")) if baseline is not None else None
    if base is None and any(c.needs_baseline for c in policy.checks):
        raise ConfigError(f"{policy.source}: expected a baseline for the max_drop checks, found none. "
                          "Fix: pass --baseline RUN.json or --baseline @promoted")
    _validate_names(policy, cand, base, str(candidate_path or "candidate"))
    warnings: list[str] = []
    z = z_value(policy.confidence)
    joined: pa.Table | None = None
    if base is not None:
        fa, fb = cand["dataset"].get("fingerprint"), base["dataset"].get("fingerprint")
        different = fa != fb and policy.allow_different_data and not policy.allow_intersection
        if fa != fb and not policy.allow_intersection and not policy.allow_different_data:
            raise InputError(
                f"runs {candidate_path or 'candidate'} and {baseline_path or 'baseline'}: expected the same evaluation "
                f"set, found fingerprints {str(fa)[:19]}… ({cand['dataset'].get('name')}) and {str(fb)[:19]}… "
                f"({base['dataset'].get('name')}). Fix: evaluate both on the same items, set "
                "allow_intersection: true in the policy to compare the items they share, or allow_different_data: "
                "true for an unpaired comparison of different sets (a production range against an offline baseline)"
            )
        for key in ("threshold", "k", "classes", "pos_label"):
            va, vb = cand.get("config", {}).get(key), base.get("config", {}).get(key)
            if va != vb:
                warnings.append(f"config {key} differs: candidate {va!r}, baseline {vb!r}")
        if cand.get("task") != base.get("task"):
            raise InputError(f"runs: expected the same task, found {cand.get('task')} and {base.get('task')}")
        items_c, items_b = load_items(cand, candidate_path), load_items(base, baseline_path)
        if different:
            warnings.append("different evaluation sets (allow_different_data): comparisons are unpaired, from each "
                            "run's standard errors")
        elif items_c is not None and items_b is not None:
            joined = pair(items_c, items_b)
            if fa != fb:
                warnings.append(f"comparing the {joined.num_rows} items both runs share (allow_intersection)")
        elif fa != fb:
            raise InputError("runs: allow_intersection needs both runs' item sidecars, found "
                             f"{'none' if items_c is None and items_b is None else 'only one'}. Fix: evaluate "
                             "with --items")
        else:
            warnings.append("no item sidecars on both runs: comparisons are unpaired (from standard errors)")
    outcomes: list[Outcome] = []
    task = str(cand.get("task"))
    for check in policy.checks:
        groups: list[str | None] = [None]
        if check.slice:
            groups = list(cand.get("slices", {}).get(check.slice, {}))
        for group in groups:
            outcomes.extend(_outcomes(check, group, cand, base, joined, task, z, policy))
    if policy.correction == "holm":
        _holm(outcomes, 1 - policy.confidence)
    order = {"fail": 2, "inconclusive": 1, "pass": 0}
    decision = max((o.decision for o in outcomes), key=lambda d: order[d], default="pass")
    exit_code = {"pass": 0, "fail": 1}.get(decision, {"report": 3, "fail": 1, "pass": 0}[policy.inconclusive])
    return GateResult(outcomes, decision, exit_code, joined is not None, warnings,
                      {"source": policy.source, "confidence": policy.confidence,
                       "inconclusive": policy.inconclusive, "correction": policy.correction},
                      _summary(cand), _summary(base) if base else None)


def _num(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _outcomes(check: Check, group: str | None, cand: dict[str, Any], base: dict[str, Any] | None,
              joined: pa.Table | None, task: str, z: float, policy: Policy) -> list[Outcome]:
    metric = check.metric or str(check.fairness)
    ce = _entry_for(cand, check, group)
    be = _entry_for(base, check, group) if base is not None else None
    hib = bool((ce or {}).get("higher_is_better", True))
    out = []
    common = {"check": check.describe(), "line": check.line, "metric": metric, "group": group}
    for bound in ("min", "max", "max_drop", "max_drop_relative"):
        limit = getattr(check, bound)
        if limit is None:
            continue
        o = Outcome(bound=bound, limit=limit, decision="inconclusive", why="", **common)  # type: ignore[arg-type]
        o.candidate = _num((ce or {}).get("value"))
        o.baseline = _num((be or {}).get("value")) if be is not None else None
        if ce is None or ce.get("value") is None:
            o.why = f"undefined in the candidate: {(ce or {}).get('reason', 'no value')}"
            out.append(o)
            continue
        if bound in ("min", "max"):
            _absolute(o, ce, bound, limit, z)
        else:
            if be is None or be.get("value") is None:
                o.why = f"undefined in the baseline: {(be or {}).get('reason', 'no value')}"
                out.append(o)
                continue
            _relative(o, ce, be, bound, limit, hib, joined, task, check, group, z, policy.seed)
        out.append(o)
    return out


def _absolute(o: Outcome, ce: dict[str, Any], bound: str, limit: float, z: float) -> None:
    lo, hi, v = ce.get("ci_low"), ce.get("ci_high"), float(ce["value"])
    o.ci_low, o.ci_high, o.method = _num(lo), _num(hi), str(ce.get("method", "interval"))
    if lo is None or hi is None:
        ok = v >= limit if bound == "min" else v <= limit
        o.decision = "inconclusive"
        o.why = f"no interval for this metric; the point {v:.4g} is {'within' if ok else 'beyond'} the limit"
        return
    if bound == "min":
        o.decision = "pass" if lo >= limit else "fail" if hi < limit else "inconclusive"
        side = {"pass": "the whole interval is above", "fail": "the whole interval is below",
                "inconclusive": "the interval straddles"}[o.decision]
    else:
        o.decision = "pass" if hi <= limit else "fail" if lo > limit else "inconclusive"
        side = {"pass": "the whole interval is below", "fail": "the whole interval is above",
                "inconclusive": "the interval straddles"}[o.decision]
    o.why = f"{side} the {bound} {limit:g}: [{lo:.4g}, {hi:.4g}]"
    se = ce.get("se")
    n = ce.get("n") or 0
    margin = (v - limit) if bound == "min" else (limit - v)
    if o.decision == "fail":
        from scipy import special  # here, not at import: scipy is most of assay's import time

        o.p_fail = float(special.ndtr(margin / se)) if se else None  # the normal CDF
    # the hint reads the spread from the interval itself (the side facing the limit), not from ``se``: near a bound
    # the score-type intervals are wider than the delta method's se says, and a cell of zero has no se at all
    spread = ((v - float(lo)) if bound == "min" else (float(hi) - v)) / z
    if not spread > 0:
        spread = (float(hi) - float(lo)) / (2 * z)
    if o.decision == "inconclusive" and spread > 0 and n and margin > 0:
        o.items_needed = math.ceil(((z + Z_POWER) * spread * math.sqrt(n) / margin) ** 2)
        o.why += f"; about {o.items_needed:,} items would settle it if the value is as estimated"


def _slice_rows(joined: pa.Table, column: str, group: str) -> pa.Table:
    if column not in joined.column_names:
        return joined.slice(0, 0)
    text = pc.cast(joined.column(column), pa.string())
    mask = pc.equal(text, group) if group != "(missing)" else pc.is_null(text)
    mask = pc.fill_null(mask, False)
    return joined.filter(mask)


def _relative(o: Outcome, ce: dict[str, Any], be: dict[str, Any], bound: str, limit: float, hib: bool,
              joined: pa.Table | None, task: str, check: Check, group: str | None, z: float, seed: int) -> None:
    # contrast C (larger is better) = sign * (candidate - k * baseline), tested against `threshold`
    sign = 1.0 if hib else -1.0
    k = 1.0 if bound == "max_drop" else ((1 - limit) if hib else (1 + limit))
    threshold = -limit if bound == "max_drop" else 0.0
    vc, vb = float(ce["value"]), float(be["value"])
    diff: Difference | None = None
    if joined is not None and not check.fairness:
        rows = _slice_rows(joined, check.slice, group) if check.slice and group is not None else joined
        diff = paired_difference(task, check.metric or "", rows, z, k=k, seed=seed)
        if diff is not None and not (math.isfinite(diff.value) and math.isfinite(diff.se)):
            diff = None
    if diff is None:
        sc, sb = ce.get("se"), be.get("se")
        o.difference = vc - vb
        if sc is None or sb is None:
            o.decision = "inconclusive"
            o.why = "no standard error in " + ("the candidate" if sc is None else "the baseline")
            return
        val = vc - k * vb
        se = math.sqrt(sc**2 + (k * sb) ** 2)
        diff = Difference(val, val - z * se, val + z * se, se, int(ce.get("n") or 0), "unpaired-normal")
    c_val = sign * diff.value
    c_lo, c_hi = (diff.low, diff.high) if hib else (-diff.high, -diff.low)
    o.difference = vc - vb
    o.ci_low, o.ci_high = (diff.low, diff.high) if k == 1.0 else (c_lo, c_hi)
    o.method, o.p_value = diff.method, diff.p_value
    what = "difference" if k == 1.0 and hib else "contrast"
    if c_lo >= threshold:
        o.decision = "pass"
        o.why = f"the {what}'s interval [{c_lo:.4g}, {c_hi:.4g}] lies above the limit {threshold:g}"
    elif c_hi < threshold:
        o.decision = "fail"
        o.why = f"the {what}'s interval [{c_lo:.4g}, {c_hi:.4g}] lies below the limit {threshold:g}"
    else:
        o.decision = "inconclusive"
        o.why = f"the {what}'s interval [{c_lo:.4g}, {c_hi:.4g}] straddles the limit {threshold:g}"
    if not hib:
        o.why += " (lower is better: a rise counts as a drop)"
    if diff.se > 0:
        from scipy import special  # here, not at import: scipy is most of assay's import time

        o.p_fail = float(special.ndtr((c_val - threshold) / diff.se))  # the normal CDF
        if o.decision == "inconclusive":
            margin = limit if bound == "max_drop" else limit * abs(vb)
            n = diff.n or int(ce.get("n") or 0)
            if margin > 0 and n:
                o.items_needed = math.ceil(((z + Z_POWER) * diff.se * math.sqrt(n) / margin) ** 2)
                o.why += (f"; about {o.items_needed:,} items would give 80% power to pass if the true difference "
                          "were zero")
    if o.method == "paired-tango" and o.p_value is not None:
        o.why += f"; McNemar exact p = {o.p_value:.3g}"


def _holm(outcomes: list[Outcome], alpha: float) -> None:
    """Holm's step-down on the fail tests: a fail stands only when rejected at level ``alpha`` over all outcomes."""
    m = len(outcomes)
    p_fail = [o.p_fail if o.p_fail is not None else 1.0 for o in outcomes]
    ranked = sorted(range(m), key=lambda i: p_fail[i])
    rejected = set()
    for rank, i in enumerate(ranked):
        p = outcomes[i].p_fail
        if p is None or p > alpha / (m - rank):
            break
        rejected.add(i)
    for i, o in enumerate(outcomes):
        if o.decision == "fail" and i not in rejected:
            o.decision = "inconclusive"
            o.why += f"; not significant after Holm's correction over {m} checks"

"""Two profiles (and, where a method wants them, raw values) to the ``columns`` of a drift document.

Per column, a *family* of tests:

- the **value** test, by the column's method (defaults in :data:`DEFAULT_METHODS`): binned methods on the
  reference's decile bins (numeric, datetime, text length) or category bins (categorical, boolean); ``ks``,
  ``cramer_von_mises`` and ``wasserstein`` on the raw values when both tables are at hand, else on the fine grid
  (see :func:`_binned_raw_method`);
- the **missing-rate** test, whenever either side has a missing value (with none on either side it could not
  reject, and leaving it out keeps the correction below from paying for it);
- for text, besides the length: the shares of empty, valid-JSON and refusal texts (each when either side has one).

All tests of all columns form one family for the correction across columns (Holm by default, or
Benjamini-Hochberg): a column's value and missing-rate tests therefore share its false-alarm budget, and the
table's. With ``none`` there is no correction across columns, but a column's own tests still share its level
(Bonferroni within the column), so each column's false-alarm rate stays at most ``alpha``.

A test flags drift when its adjusted p-value is below ``alpha`` **and** its effect reaches the method's practical
floor (:data:`assay.drift.methods.DEFAULT_MIN_EFFECT`); a column drifts when any of its tests does; the table
drifts when any column does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.drift import methods as m
from assay.drift.states import BrokenState, CategoricalState, ColumnState, NumericState, TextState
from assay.errors import ConfigError, message

__all__ = ["ALLOWED_METHODS", "CORRECTIONS", "DEFAULT_METHODS", "Compared", "compare_columns"]

DEFAULT_METHODS: Mapping[str, str] = {"numeric": "psi", "datetime": "psi", "text": "psi",
                                      "categorical": "jensen_shannon", "boolean": "z"}
_BINNED = ("psi", "jensen_shannon", "hellinger", "chi2")
_RAW = ("ks", "cramer_von_mises", "wasserstein")
ALLOWED_METHODS: Mapping[str, tuple[str, ...]] = {
    "numeric": _BINNED + _RAW, "datetime": _BINNED + _RAW, "text": _BINNED + _RAW,
    "categorical": _BINNED, "boolean": ("z", *_BINNED)}
CORRECTIONS = ("holm", "bh", "none")
RAW_METHODS = _RAW
MAX_CATEGORY_BINS = 50
MIN_CATEGORY_COUNT = 5
HISTOGRAM_BINS = 20
LISTED = 20
IDENTIFIER_SHARE = 0.9  # an inferred categorical column this distinct looks like an identifier
IDENTIFIER_MIN_ROWS = 100


@dataclass
class _Planned:
    name: str
    test: m.Test
    p_adjusted: float = 1.0
    drifted: bool = False
    significant: bool = False


@dataclass
class Compared:
    """The per-column entries and the table-level figures."""

    columns: dict[str, dict[str, Any]]
    drifted: bool
    n_columns: int
    n_drifted: int
    warnings: list[str] = field(default_factory=list)


def resolve_method(column: str, kind: str, methods: Mapping[str, str]) -> str:
    """The method of a column: given for the column, else for its kind, else the kind's default."""
    method = methods.get(column) or methods.get(kind) or DEFAULT_METHODS[kind]
    if method not in ALLOWED_METHODS[kind]:
        raise ConfigError(message(where=f"method of column {column!r} ({kind})",
                                  expected=f"one of {', '.join(ALLOWED_METHODS[kind])}", found=repr(method),
                                  fix=f"e.g. --method {column}={DEFAULT_METHODS[kind]}"))
    return method


def _category_bins(ref: CategoricalState, cur: CategoricalState) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Aligned counts: the reference's largest categories (at most 50, each seen at least 5 times) one bin each,
    then ``(other)`` for the rest of the reference's values (and the current's of them), then ``(new)`` for
    values the reference never had."""
    ranked = sorted(ref.counts.items(), key=lambda kv: (-kv[1], kv[0]))
    own = [k for k, c in ranked[:MAX_CATEGORY_BINS] if c >= MIN_CATEGORY_COUNT] or [k for k, _ in ranked[:1]]
    r = [ref.counts[k] for k in own]
    c = [cur.counts.get(k, 0) for k in own]
    r_other = ref.present - sum(r)
    c_new = sum(v for k, v in cur.counts.items() if k not in ref.counts)
    c_other = cur.present - sum(c) - c_new
    labels = [*own, "(other)", "(new)"]
    r.extend([r_other, 0])
    c.extend([c_other, c_new])
    keep = [i for i in range(len(labels)) if i < len(own) or r[i] or c[i]]
    return [labels[i] for i in keep], np.asarray([r[i] for i in keep]), np.asarray([c[i] for i in keep])


@dataclass(frozen=True)
class TestOptions:
    """Settings of the tests: the seed and permutations of ``wasserstein``, PSI's smoothing."""

    __test__ = False  # not a pytest class

    seed: int = 0
    permutations: int = 200
    psi_smoothing: float = 0.5


def _binned(method: str, r: np.ndarray, c: np.ndarray, options: TestOptions) -> m.Test:
    if method == "psi":
        return m.psi(r, c, smoothing=options.psi_smoothing)
    return {"jensen_shannon": m.jensen_shannon, "hellinger": m.hellinger, "chi2": m.chi2}[method](r, c)


def _cdfs(ref: NumericState, cur: NumericState) -> tuple[np.ndarray, np.ndarray]:
    return np.cumsum(ref.counts) / ref.present, np.cumsum(cur.counts) / cur.present


def _binned_raw_method(method: str, ref: NumericState, cur: NumericState) -> m.Test:
    """``ks``, ``cramer_von_mises`` and ``wasserstein`` from two profiles' fine-grid counts.

    - ``ks``: D at the fine edges, with the asymptotic two-sample KS p-value (scipy's ``kstwo`` at
      ``n m / (n + m)``). The exact D exceeds it by at most the largest fine-bin share (reported in the notes), and
      a binned D makes the test conservative.
    - ``cramer_von_mises``: the RMS CDF gap over the pooled mass at the fine edges; ``wasserstein``: the W1
      distance between the binned CDFs (mass at bin edges), over the reference's sd. Their p-values come from
      Pearson's chi-square on the decile bins, as the null distributions of the binned statistics are not theirs.
    """
    f_ref, f_cur = _cdfs(ref, cur)
    n, k = ref.present, cur.present
    bound = float(max((ref.counts / n).max(), (cur.counts / k).max()))
    note = f"from the profile's fine grid: the exact value may differ by up to {bound:.4f} (largest bin share)"
    if method == "ks":
        d = float(np.abs(f_ref - f_cur).max())
        en = n * k / (n + k)
        from scipy import stats  # here, not at import: scipy.stats is most of assay's import time

        p = float(stats.kstwo.sf(d, max(1, round(en))))
        return m._test("ks", d, p, d, n, k, [note])
    chi = m.chi2(ref.coarse_counts(), cur.coarse_counts(ref.coarse))
    if method == "cramer_von_mises":
        pooled = (ref.counts + cur.counts) / (n + k)
        gap = float(np.sqrt(np.sum(pooled * (f_ref - f_cur) ** 2)))
        return m._test("cramer_von_mises", gap, chi.p_value, gap, n, k, [note, "p-value: chi-square on deciles"])
    lo = min(ref.moments.min, cur.moments.min)
    hi = max(ref.moments.max, cur.moments.max)
    points = np.concatenate([[lo], np.clip(ref.edges, lo, hi), [hi]])
    widths = np.diff(points)
    distance = float(np.sum(np.abs(f_ref - f_cur) * widths))
    sd = math.sqrt(ref.moments.m2 / ref.moments.count) if ref.moments.count else 0.0
    effect = distance / sd if sd > 0 else (math.inf if distance > 0 else 0.0)
    return m._test("wasserstein", distance, chi.p_value, effect, n, k, [note, "p-value: chi-square on deciles"])


def _value_test(method: str, ref: ColumnState, cur: ColumnState, raw: tuple[np.ndarray, np.ndarray] | None,
                options: TestOptions) -> m.Test:
    if isinstance(ref, TextState) and isinstance(cur, TextState):
        return _value_test(method, ref.length, cur.length, raw, options)
    if isinstance(ref, NumericState) and isinstance(cur, NumericState):
        if method in _RAW:
            if raw is not None:
                if method == "ks":
                    return m.ks(*raw)
                if method == "cramer_von_mises":
                    return m.cramer_von_mises(*raw)
                return m.wasserstein(*raw, rng=options.seed, permutations=options.permutations)
            return _binned_raw_method(method, ref, cur)
        return _binned(method, ref.coarse_counts(), cur.coarse_counts(ref.coarse), options)
    assert isinstance(ref, CategoricalState) and isinstance(cur, CategoricalState)
    if method == "z":
        return m.z_proportions(ref.counts.get("true", 0), ref.present, cur.counts.get("true", 0), cur.present)
    _, r, c = _category_bins(ref, cur)
    return _binned(method, r, c, options)


def _tests(kind: str, method: str | None, ref: ColumnState, cur: ColumnState, raw: tuple[np.ndarray, np.ndarray] | None,
           options: TestOptions) -> list[_Planned]:
    planned: list[_Planned] = []
    values_ok = ref.present and cur.present and not isinstance(ref, BrokenState) and not isinstance(cur, BrokenState)
    if values_ok and method is not None:
        planned.append(_Planned("value", _value_test(method, ref, cur, raw, options)))
        if isinstance(ref, TextState) and isinstance(cur, TextState):
            for name, a, b in (("empty_share", ref.empty, cur.empty), ("json_share", ref.json, cur.json),
                               ("refusal_share", ref.refusal, cur.refusal)):
                if a or b:
                    planned.append(_Planned(name, m.z_proportions(a, ref.present, b, cur.present)))
    if ref.rows and cur.rows and (ref.missing or cur.missing):
        planned.append(_Planned("missing_rate", m.missing_rate(ref.missing, ref.rows, cur.missing, cur.rows)))
    return planned


def _adjust(pvalues: list[float], correction: str) -> np.ndarray:
    if not pvalues:
        return np.empty(0)
    if correction == "holm":
        return m.holm(pvalues)
    if correction == "bh":
        return m.benjamini_hochberg(pvalues)
    return np.asarray(pvalues, dtype=np.float64)


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _reason(tests: list[_Planned], alpha: float) -> str:
    drifted = [t for t in tests if t.drifted]
    if drifted:
        return "; ".join(f"{t.name}: {t.test.effect_name} {_fmt(t.test.effect)} >= {_fmt(t.test.threshold)} and "
                         f"p_adj {_fmt(t.p_adjusted)} < {alpha:g}" for t in drifted)
    small = [t for t in tests if t.significant]
    if small:
        return "; ".join(f"{t.name}: significant (p_adj {_fmt(t.p_adjusted)}) but {t.test.effect_name} "
                         f"{_fmt(t.test.effect)} < {_fmt(t.test.threshold)}, too small to matter" for t in small)
    if not tests:
        return "no values to compare"
    best = min(tests, key=lambda t: t.p_adjusted)
    return f"no significant change (smallest p_adj {_fmt(best.p_adjusted)}, {best.name})"


def _test_dict(t: _Planned) -> dict[str, Any]:
    return {"name": t.name, "method": t.test.method, "statistic": _num(t.test.statistic),
            "p_value": _num(t.test.p_value), "p_adjusted": _num(t.p_adjusted), "effect": _num(t.test.effect),
            "effect_name": t.test.effect_name, "threshold": t.test.threshold, "significant": t.significant,
            "drifted": t.drifted, "notes": list(t.test.notes)}


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _numeric_summary(s: NumericState) -> dict[str, Any] | None:
    if not s.present:
        return {"n": 0}
    return {"n": s.present, "mean": _num(s.moments.mean) if s.moments.count else None, "sd": _num(s.moments.sd),
            "min": _num(s.moments.min) if s.moments.count else None, "p05": _num(s.quantile(0.05)),
            "p50": _num(s.quantile(0.5)), "p95": _num(s.quantile(0.95)),
            "max": _num(s.moments.max) if s.moments.count else None}


def _summary(s: ColumnState) -> dict[str, Any] | None:
    if isinstance(s, NumericState):
        return _numeric_summary(s)
    if isinstance(s, TextState):
        n = s.present
        mean = s.length.moments.mean if s.length.moments.count else None
        return {"n": n, "mean_length": _num(mean), "p50_length": _num(s.length.quantile(0.5)),
                "p95_length": _num(s.length.quantile(0.95)), "empty_share": _rate(s.empty, n),
                "json_share": _rate(s.json, n), "refusal_share": _rate(s.refusal, n)}
    if isinstance(s, CategoricalState):
        n = s.present
        top = max(s.counts.items(), key=lambda kv: (kv[1], kv[0]), default=None)
        out: dict[str, Any] = {"n": n, "distinct": len(s.counts) + (1 if s.other else 0)}
        if s.kind == "boolean":
            out["true_share"] = _rate(s.counts.get("true", 0), n)
        out["top"] = top[0] if top else None
        out["top_share"] = _rate(top[1], n) if top else None
        return out
    return None


def _numeric_histogram(ref: NumericState, cur: NumericState) -> dict[str, Any] | None:
    if not ref.present or not cur.present:
        return None
    edges = ref.edges
    inner = edges.size - 1  # interior bins 1 .. len(edges) - 1, between the reference's min and max
    if inner < 1:
        return None
    step = max(1, math.ceil(inner / HISTOGRAM_BINS))
    starts = np.arange(0, inner, step)
    plot_edges = np.append(edges[starts], edges[-1])
    plot_edges[0] = ref.moments.min if ref.moments.count else edges[0]

    def shares(s: NumericState) -> list[float]:
        return (np.add.reduceat(s.counts[1 : edges.size], starts) / s.present).tolist()

    return {"type": "numeric", "edges": [float(e) for e in plot_edges], "reference": shares(ref),
            "current": shares(cur),
            "below": {"reference": float(ref.counts[0] / ref.present), "current": float(cur.counts[0] / cur.present)},
            "above": {"reference": float(ref.counts[-1] / ref.present),
                      "current": float(cur.counts[-1] / cur.present)}}


def _category_histogram(ref: CategoricalState, cur: CategoricalState) -> dict[str, Any] | None:
    if not ref.present or not cur.present:
        return None
    labels, r, c = _category_bins(ref, cur)
    if len(labels) > LISTED + 2:
        head = LISTED
        tail_r, tail_c = r[head:].sum(), c[head:].sum()
        new_i = labels.index("(new)") if "(new)" in labels else None
        if new_i is not None and new_i >= head:
            labels = [*labels[:head], "(other)", "(new)"]
            r = np.append(r[:head], [tail_r - r[new_i], r[new_i]])
            c = np.append(c[:head], [tail_c - c[new_i], c[new_i]])
        else:
            labels, r, c = [*labels[:head], "(other)"], np.append(r[:head], tail_r), np.append(c[:head], tail_c)
    return {"type": "categorical", "categories": labels, "reference": (r / ref.present).tolist(),
            "current": (c / cur.present).tolist()}


def _quality(ref: ColumnState | None, cur: ColumnState | None, type_ref: str | None,
             type_cur: str | None) -> dict[str, Any]:
    q: dict[str, Any] = {
        "rows_reference": ref.rows if ref is not None else None, "rows_current": cur.rows if cur is not None else None,
        "missing_reference": _rate(ref.missing, ref.rows) if ref is not None else None,
        "missing_current": _rate(cur.missing, cur.rows) if cur is not None else None,
        "below_range_current": None, "above_range_current": None, "out_of_range_current": None,
        "new_categories": [], "new_categories_count": 0, "new_category_share": None,
        "gone_categories": [], "gone_categories_count": 0,
        "type_reference": type_ref, "type_current": type_cur,
        "type_changed": bool(type_ref and type_cur and type_ref != type_cur)}
    rn = ref.length if isinstance(ref, TextState) else ref
    cn = cur.length if isinstance(cur, TextState) else cur
    if isinstance(rn, NumericState) and isinstance(cn, NumericState) and cn.present:
        below, above = cn.counts[0] / cn.present, cn.counts[-1] / cn.present
        q.update(below_range_current=float(below), above_range_current=float(above),
                 out_of_range_current=float(below + above))
    if isinstance(ref, CategoricalState) and isinstance(cur, CategoricalState):
        new = sorted(((k, v) for k, v in cur.counts.items() if k not in ref.counts), key=lambda kv: (-kv[1], kv[0]))
        gone = sorted(((k, v) for k, v in ref.counts.items() if k not in cur.counts), key=lambda kv: (-kv[1], kv[0]))
        q.update(new_categories=[k for k, _ in new[:LISTED]], new_categories_count=len(new),
                 new_category_share=_rate(sum(v for _, v in new), cur.present),
                 gone_categories=[k for k, _ in gone[:LISTED]], gone_categories_count=len(gone))
    return q


def _histogram(ref: ColumnState, cur: ColumnState) -> dict[str, Any] | None:
    if isinstance(ref, TextState) and isinstance(cur, TextState):
        return _numeric_histogram(ref.length, cur.length)
    if isinstance(ref, NumericState) and isinstance(cur, NumericState):
        return _numeric_histogram(ref, cur)
    if isinstance(ref, CategoricalState) and isinstance(cur, CategoricalState):
        return _category_histogram(ref, cur)
    return None


def _entry(kind: str, role: str, status: str, reason: str, quality: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "role": role, "status": status, "drifted": False, "severity": 0.0, "method": None,
            "statistic": None, "p_value": None, "p_adjusted": None, "effect": None, "effect_name": None,
            "threshold": None, "reason": reason, "tests": [], "quality": quality, "summary": None,
            "histogram": None}


def compare_columns(ref_states: Mapping[str, ColumnState], cur_states: Mapping[str, ColumnState | None], *,
                    types: tuple[Mapping[str, str], Mapping[str, str]], roles: Mapping[str, str],
                    methods: Mapping[str, str], min_effect: Mapping[str, float], alpha: float, correction: str,
                    raw: Mapping[str, tuple[np.ndarray, np.ndarray]], seed: int,
                    only_current: Mapping[str, tuple[str, str]] | None = None, given_kinds: Sequence[str] = (),
                    psi_smoothing: float = 0.5) -> Compared:
    """Test every column of ``ref_states`` against ``cur_states`` (``None``: absent from the current table).

    ``only_current`` names columns of the current table that the reference lacks (name -> (kind, Arrow type)).
    """
    if correction not in CORRECTIONS:
        raise ConfigError(message(where="correction", expected=f"one of {', '.join(CORRECTIONS)}",
                                  found=repr(correction)))
    if not 0 < alpha < 1:
        raise ConfigError(message(where="alpha", expected="a level strictly between 0 and 1", found=repr(alpha)))
    entries: dict[str, dict[str, Any]] = {}
    plans: dict[str, list[_Planned]] = {}
    untested_reasons: dict[str, str] = {}
    warnings: list[str] = []
    n_tests_guess = max(1, 2 * len(ref_states))
    permutations = max(200, math.ceil(2 * n_tests_guess / alpha))
    if not (psi_smoothing >= 0 and math.isfinite(psi_smoothing)):
        raise ConfigError(message(where="psi smoothing", expected="a number >= 0 (0.5 by default; 0 is raw PSI)",
                                  found=repr(psi_smoothing)))
    options = TestOptions(seed, permutations, psi_smoothing)
    for name, ref in ref_states.items():
        kind, role = ref.kind, roles.get(name, "feature")
        cur = cur_states.get(name)
        quality = _quality(ref, cur, types[0].get(name), types[1].get(name) if cur is not None else None)
        if cur is None:
            entries[name] = _entry(kind, role, "missing_in_current", "the current table has no column of this name",
                                   quality)
            continue
        method: str | None = resolve_method(name, kind, methods)
        status, reason = "ok", ""
        untested = ""
        if kind == "datetime" and name not in methods and kind not in methods:
            method = None  # time moves on: a timestamp's values drift by construction, so they are tested on request
            untested = (f"a timestamp's values move with time, so they are not tested by default (its missing rate "
                        f"is); test them with --method {name}=psi")
        for side, s in (("reference", ref), ("current", cur)):
            if isinstance(s, BrokenState) and s.status == "type_mismatch":
                status, reason = "type_mismatch", f"{s.reason} (in the {side} table)"
                break
        if (status == "ok" and isinstance(ref, CategoricalState) and ref.kind == "categorical"
                and name not in given_kinds and ref.present >= IDENTIFIER_MIN_ROWS
                and (ref.truncated or len(ref.counts) >= IDENTIFIER_SHARE * ref.present)):
            distinct = f"more than {len(ref.counts):,}" if ref.truncated else f"{len(ref.counts):,}"
            status, reason = "identifier", (
                f"{distinct} distinct values in {ref.present:,} reference rows: looks like an identifier, so its "
                f"values are not tested (its missing rate is); test them with --kind {name}=categorical")
        if status == "ok" and (not ref.present or not cur.present):
            side = "reference" if not ref.present else "current"
            if ref.rows == 0 or cur.rows == 0:
                status, reason = "empty", f"the {side} table has no rows"
            else:
                status, reason = "all_missing", f"every value is missing in the {side} table"
        entry = _entry(kind, role, status, reason, quality)
        entry["method"] = method if status == "ok" else None
        if untested and status == "ok":
            untested_reasons[name] = untested
        entry["summary"] = {"reference": _summary(ref), "current": _summary(cur)}
        entry["histogram"] = _histogram(ref, cur) if status == "ok" else None
        try:
            plans[name] = _tests(kind, method, ref, cur, raw.get(name), options)
            if status == "identifier":
                plans[name] = [t for t in plans[name] if t.name == "missing_rate"]
        except Exception as exc:  # one column's failure never stops the report
            from assay.errors import AssayError

            if not isinstance(exc, AssayError | ValueError | FloatingPointError):
                raise
            entry["status"], entry["reason"] = "error", f"could not test this column: {exc}"
            plans[name] = []
        entries[name] = entry
    for name, (only_kind, arrow) in (only_current or {}).items():
        entries[name] = _entry(only_kind, roles.get(name, "feature"), "missing_in_reference",
                               f"the reference has no column of this name (current type {arrow})",
                               _quality(None, None, None, arrow))
    flat = [t for tests in plans.values() for t in tests]
    if correction == "none":  # no correction across columns, but a column's own tests still share its level
        adjusted = np.asarray([min(1.0, t.test.p_value * len(tests)) for tests in plans.values() for t in tests])
    else:
        adjusted = _adjust([t.test.p_value for t in flat], correction)
    for t, p_adj in zip(flat, adjusted):
        t.p_adjusted = float(p_adj)
        floor = min_effect.get(t.test.method, t.test.threshold)
        t.test = m.Test(t.test.method, t.test.statistic, t.test.p_value, t.test.effect, t.test.effect_name,
                        floor, t.test.n_reference, t.test.n_current, t.test.notes)
        t.significant = t.p_adjusted < alpha
        t.drifted = t.significant and t.test.effect >= floor
    n_drifted = 0
    for name, tests in plans.items():
        entry = entries[name]
        entry["tests"] = [_test_dict(t) for t in tests]
        value = next((t for t in tests if t.name == "value"), None)
        if value is not None:
            entry.update(statistic=_num(value.test.statistic), p_value=_num(value.test.p_value),
                         p_adjusted=_num(value.p_adjusted), effect=_num(value.test.effect),
                         effect_name=value.test.effect_name, threshold=value.test.threshold)
        entry["drifted"] = any(t.drifted for t in tests)
        ratios = [min(t.test.effect / t.test.threshold, 1e6) for t in tests
                  if t.test.threshold > 0 and not math.isnan(t.test.effect)]
        entry["severity"] = float(max(ratios, default=0.0))
        if name in untested_reasons:
            entry["reason"] = untested_reasons[name] + (f"; {_reason(tests, alpha)}" if tests else "")
        elif entry["status"] == "ok" or tests:
            detail = _reason(tests, alpha)
            entry["reason"] = detail if entry["status"] == "ok" else f"{entry['reason']}; {detail}"
        n_drifted += entry["drifted"]
    n_columns = sum(1 for tests in plans.values() if tests)
    if not n_columns:
        warnings.append("no column could be tested: see each column's status")
    return Compared(entries, n_drifted > 0, n_columns, n_drifted, warnings)

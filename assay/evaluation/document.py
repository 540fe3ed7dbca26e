"""From merged states to the run document's metric sections (``metrics``, ``slices``, ``fairness``, ...)."""

from __future__ import annotations

from collections.abc import Hashable
from functools import partial
from typing import Any

import numpy as np

from assay.evaluation.accumulate import OVERALL_GROUPING, Accumulator, Bundle
from assay.evaluation.config import EvalConfig
from assay.evaluation.parallel import MIN_ROWS, run_all
from assay.metrics import approximate, registry
from assay.metrics.classification import binary_metrics, multiclass_metrics
from assay.metrics.estimate import Estimate
from assay.metrics.fairness import disparities
from assay.metrics.roc import curves, rank_metrics
from assay.stats.intervals import mann_whitney_score, wilson, z_value

Entry = dict[str, Any]
LOG_LOSS_MAX = -float(np.log(np.finfo(np.float64).eps))  # a row's log loss at the clip (probabilities at eps)


def _undefined(n: int, reason: str, name: str, task: str) -> Entry:
    return {"value": None, "ci_low": None, "ci_high": None, "se": None, "n": n, "method": "none",
            "higher_is_better": registry.higher_is_better(task, name), "reason": reason}


def bundle_metrics(bundle: Bundle, config: EvalConfig, classes: list[str], *,
                   ece_replicates: int = 1000) -> dict[Hashable, dict[str, Entry]]:
    """Every metric of every group of one grouping: ``{group key: {metric name: entry}}``.

    ``ece_replicates`` no longer changes anything: ECE's interval stopped resampling (it is computed from the bins,
    see :mod:`assay.metrics.calibration`); the argument stays for callers that still pass it (``assay.watch``)."""
    z = z_value(config.confidence)
    freq = config.weight_kind == "frequency"
    task = config.task
    per_group: dict[Hashable, dict[str, Entry]] = {}

    def put(keys: tuple[Hashable, ...], name: str, est: Estimate) -> None:
        hib = registry.higher_is_better(task, name)
        for g, key in enumerate(keys):
            per_group.setdefault(key, {})[name] = est.entry(g, higher_is_better=hib)

    if task in ("binary", "multiclass"):
        conf = bundle.confusion
        assert conf is not None
        keys = conf.groups
        rows = conf.rows.sum(axis=(1, 2))
        ests = (binary_metrics(conf, z, freq) if task == "binary"
                else multiclass_metrics(conf, classes, z, freq))
        for name, est in ests.items():
            put(keys, name, est)
        if bundle.means is not None:
            put(bundle.means.groups, "log_loss", bundle.means.estimate("log_loss", z, frequency=freq, lower=0.0,
                                                                       upper=LOG_LOSS_MAX))
            if task == "binary":
                put(bundle.means.groups, "brier",
                    bundle.means.estimate("brier", z, frequency=freq, lower=0.0, upper=1.0, bounded=True))
        if bundle.calibration is not None:
            put(bundle.calibration.groups, "ece", bundle.calibration.ece(z, frequency=freq))
            put(bundle.calibration.groups, "ece_debiased", bundle.calibration.ece_debiased(z, frequency=freq))
        if bundle.scores is not None and task == "binary":
            r = rank_metrics(bundle.scores, frequency_weights=freq)
            lo, hi = mann_whitney_score(r.auc, r.n_pos, r.n_neg, z, r.auc_se)
            n_rows = np.zeros(len(bundle.scores.groups), np.int64)
            if conf.groups == bundle.scores.groups:
                n_rows = rows
            put(bundle.scores.groups, "roc_auc",
                Estimate(r.auc, r.auc_se, lo, hi, n_rows, "score-newcombe", _rank_reasons(r), r.auc_bound))
            ap_lo, ap_hi, ap_se = wilson(r.average_precision, r.n_pos, z)
            put(bundle.scores.groups, "average_precision",
                Estimate(r.average_precision, ap_se, ap_lo, ap_hi, n_rows, "wilson-boyd",
                         ["no row has the positive label" if not p > 0 else None for p in r.positives],
                         r.ap_bound))
        if bundle.scores is not None and task == "multiclass":
            _ovr_auc(bundle, classes, z, freq, per_group, rows, keys)
        for g, key in enumerate(keys):
            entries = per_group.setdefault(key, {})
            for name in registry.names(task, k=config.k):
                if name not in entries:
                    entries[name] = _undefined(int(rows[g]), _missing_reason(name, config), name, task)
    elif task == "regression":
        reg = bundle.regression
        assert reg is not None
        for name, est in reg.metrics(z, frequency=freq).items():
            put(reg.groups, name, est)
    else:
        rank = bundle.ranking
        assert rank is not None
        for key, entries in rank.compute(config.confidence).items():
            out = per_group.setdefault(key, {})
            for name, e in entries.items():
                out[name] = {"value": e.get("value"), "ci_low": e.get("ci_low"), "ci_high": e.get("ci_high"),
                             "se": e.get("se"), "n": int(e.get("n", 0)), "method": "normal",
                             "higher_is_better": True, **({"reason": e["reason"]} if e.get("value") is None
                                                          else {})}
    if config.metrics is not None:
        wanted = set(config.metrics)
        per_group = {k: {n: e for n, e in v.items() if n in wanted} for k, v in per_group.items()}
    for entries in per_group.values():
        for entry in entries.values():
            approximate.mark(entry)
    return per_group


def _rank_reasons(r: Any) -> list[str | None]:
    out: list[str | None] = []
    for p, n in zip(r.positives, r.negatives, strict=True):
        out.append(None if p > 0 and n > 0 else
                   "no row has the positive label" if not p > 0 else "no row has the negative label")
    return out


def _missing_reason(name: str, config: EvalConfig) -> str:
    spec = registry.spec(config.task, name)
    if spec.needs == "score" and config.score is None:
        return "no score column (--score): ranking metrics need scores, not hard predictions"
    if spec.needs == "probability":
        if config.task == "binary" and config.score is None:
            return "no score column (--score): this metric needs probabilities"
        if config.task == "binary":
            return "scores are margins (--score-kind margin): this metric needs probabilities"
        return "no probability columns (--proba-prefix): this metric needs probabilities"
    return "not computed"


def _ovr_auc(bundle: Bundle, classes: list[str], z: float, freq: bool, per_group: dict[Hashable, dict[str, Entry]],
             rows: np.ndarray, keys: tuple[Hashable, ...]) -> None:
    table = bundle.scores
    assert table is not None
    r = rank_metrics(table, frequency_weights=freq)
    k = len(classes)
    by_key: dict[Hashable, dict[int, int]] = {}
    for i, pair in enumerate(table.groups):
        key_c: Any = pair
        by_key.setdefault(key_c[0], {})[int(key_c[1])] = i
    for g, key in enumerate(keys):
        found = by_key.get(key, {})
        missing = [classes[c] for c in range(k) if c not in found or not (r.positives[found[c]] > 0)]
        entry: Entry = {"n": int(rows[g]), "method": "comonotone-newcombe", "higher_is_better": True}
        if missing:
            entry.update(value=None, ci_low=None, ci_high=None, se=None,
                         reason=f"class(es) {', '.join(missing)} have no rows: one-vs-rest AUC is undefined")
        else:
            idx = [found[c] for c in range(k)]
            aucs = np.array([r.auc[i] for i in idx])
            ses = np.array([r.auc_se[i] for i in idx])
            value = float(aucs.mean())
            se = float(np.sqrt(np.nansum(ses**2)) / k)
            # each class's Newcombe score interval (never a point at AUC 1), combined for the mean comonotonically:
            # the mean of the arms bounds the mean's spread whatever the classes' correlation (one-vs-rest AUCs are
            # positively correlated; combined as independent, the interval covered 0.82-0.90 for a weak model in
            # benchmarks/coverage.py), and the state holds no joint rows to estimate that correlation
            c_lo, c_hi = mann_whitney_score(aucs, r.n_pos[idx], r.n_neg[idx], z, ses)
            lo = max(0.0, value - float(np.sum(aucs - c_lo)) / k)
            hi = min(1.0, value + float(np.sum(c_hi - aucs)) / k)
            entry.update(value=value, se=se if np.isfinite(se) else None, ci_low=lo, ci_high=hi)
            if np.isnan(value):
                entry.update(value=None, ci_low=None, ci_high=None, se=None,
                             reason="a class has rows of one kind only: one-vs-rest AUC is undefined")
        per_group.setdefault(key, {})["roc_auc_ovr"] = entry


def sections(acc: Accumulator, config: EvalConfig, classes: list[str], class_labels: list[Any]) -> dict[str, Any]:
    """``metrics``, ``confusion_matrix``, ``calibration``, ``curves``, ``slices`` and ``fairness`` of a run."""
    z = z_value(config.confidence)
    freq = config.weight_kind == "frequency"
    out: dict[str, Any] = {}
    overall = acc.bundles[OVERALL_GROUPING]
    big = any(b.scores is not None and b.scores.key.size >= MIN_ROWS for b in acc.bundles.values())
    per_grouping = dict(zip(acc.bundles, run_all(
        [partial(bundle_metrics, bundle, config, classes) for bundle in acc.bundles.values()], parallel=big),
        strict=True))
    metrics = per_grouping[OVERALL_GROUPING]
    out["metrics"] = metrics.get(None, {name: _undefined(0, "no rows", name, config.task)
                                        for name in registry.names(config.task, k=config.k)})
    conf = overall.confusion
    if conf is not None:
        matrix = conf.counts[0] if conf.groups else np.zeros((len(class_labels), len(class_labels)))
        as_int = bool(np.all(matrix == np.round(matrix)))
        out["confusion_matrix"] = {"labels": class_labels,
                                   "matrix": matrix.astype(np.int64).tolist() if as_int else matrix.tolist()}
    if overall.calibration is not None and overall.calibration.groups:
        out["calibration"] = {"bins": overall.calibration.diagram(0, z, frequency=freq),
                              "ece": out["metrics"].get("ece", {}).get("value")}
    if overall.scores is not None and config.task == "binary" and overall.scores.groups:
        c = curves(overall.scores, 0)
        if c:
            c["roc"]["auc"] = out["metrics"].get("roc_auc", {}).get("value")
            c["pr"]["average_precision"] = out["metrics"].get("average_precision", {}).get("value")
            out["curves"] = c
    slices: dict[str, Any] = {}
    fairness: dict[str, Any] = {}
    for grouping, bundle in acc.bundles.items():
        kind, column = grouping
        if kind == "overall":
            continue
        per = per_grouping[grouping]
        groups = {}
        for key, entries in per.items():
            n = max((e.get("n", 0) for e in entries.values()), default=0)
            groups[_key_text(key)] = {"n": int(n), "metrics": entries}
        if kind == "segment":
            slices[str(column)] = groups
        else:
            fairness[str(column)] = _fairness(bundle, per, config, z, freq)
    out["slices"] = slices
    out["fairness"] = fairness
    return out


def _fairness(bundle: Bundle, per: dict[Hashable, dict[str, Entry]], config: EvalConfig, z: float,
              freq: bool) -> dict[str, Any]:
    conf = bundle.confusion
    assert conf is not None
    groups = {}
    for key, entries in per.items():
        groups[_key_text(key)] = {
            "n": int(entries["accuracy"]["n"]),
            "selection_rate": entries["selection_rate"],
            "tpr": entries["recall"],
            "fpr": entries["fpr"],
            "accuracy": entries["accuracy"],
        }
    return {"groups": groups, **disparities(conf, z, seed=config.seed, frequency=freq)}


def _key_text(key: Hashable) -> str:
    if key is None:
        return "(missing)"
    if isinstance(key, bool):
        return str(key).lower()
    return str(key)

"""Threshold metrics from confusion counts, vectorised over groups, each with its interval.

- Proportions (accuracy, precision, recall, specificity, FPR, FNR, selection rate): Wilson score interval on the
  effective number of rows in the denominator (Kish, or the summed weights for frequency weights).
- F1: the Wilson interval of the Jaccard index ``J = TP / (TP + FP + FN)`` (a proportion of the rows in those three
  cells) mapped through the increasing ``F1 = 2J / (1 + J)``: a score interval, exact in its transformation.
- Balanced accuracy (binary): MOVER (Zou and Donner 2008) over the Wilson intervals of recall and specificity.
- MCC (binary): ``MCC^2 = informedness x markedness`` (Powers 2011), informedness ``= TPR + TNR - 1`` and markedness
  ``= PPV + NPV - 1``, each a sum of two conditionally independent proportions with a MOVER-Wilson interval; the two
  are positively dependent, so their ends are combined comonotonically: ``[g(L_inf, L_mk), g(U_inf, U_mk)]`` with
  ``g`` the signed geometric mean (the widest combination for any dependence, on the log scale).
- Other smooth functions of the cells (macro and weighted averages): delta method on the multinomial cell
  proportions plus a pseudo-count (half a row per class spread over a row of cells), on the logit scale, then
  widened to hold the plug-in value. At the boundary (a perfect confusion matrix) none of these is a point, where
  the plain delta method's variance is 0.
- The reported ``se`` of every cell function is its delta-method standard error at the pseudo-count cells (never 0
  on a finite sample).

Undefined cases return NaN and a reason (assay's deliberate deviation from scikit-learn's zero-division 0):
precision with no predicted positives, MCC with an empty margin, one-class data for balanced accuracy, and so on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from assay.metrics.confusion import ConfusionState
from assay.metrics.estimate import Estimate, reasons_from
from assay.stats.intervals import including, kish_ess, mover_mean, transformed_delta, wilson

CellFn = Callable[[np.ndarray], np.ndarray]


def effective_n(counts: np.ndarray, sq: np.ndarray, frequency: bool) -> np.ndarray:
    """Effective sample size of a sum of cells: the weight total (frequency weights) or Kish's."""
    return counts if frequency else kish_ess(counts, sq)


def proportion(
    state: ConfusionState,
    num: list[tuple[int, int]],
    den: list[tuple[int, int]] | None,
    z: float,
    frequency: bool,
    empty_reason: str,
) -> Estimate:
    """A proportion of cells (``den`` None = all cells) with its Wilson interval."""

    def total(arr: np.ndarray, cells: list[tuple[int, int]] | None) -> np.ndarray:
        if cells is None:
            return arr.sum(axis=(1, 2))
        return sum((arr[:, t, p] for t, p in cells), start=np.zeros(arr.shape[0], dtype=arr.dtype))

    numerator = total(state.counts, num)
    denominator = total(state.counts, den)
    n_eff = effective_n(denominator, total(state.sq, den), frequency)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)
    lo, hi, se = wilson(p, n_eff, z)
    reasons = reasons_from([(~(denominator > 0), empty_reason)], len(p))
    return Estimate(p, se, lo, hi, total(state.rows, den), "wilson", reasons)


def delta(
    state: ConfusionState,
    fn: CellFn,
    z: float,
    frequency: bool,
    reasons: list[str | None],
    lower: float = 0.0,
    upper: float = 1.0,
    *,
    pseudo: float | None = None,
) -> Estimate:
    """A smooth, scale-free function of the cells with a delta-method interval on a transformed scale.

    ``fn`` maps counts ``(groups, K, K)`` to values ``(groups,)`` and must be homogeneous of degree 0 (a function of
    the cell proportions), as every confusion metric is. The value is ``fn`` of the observed cells; the standard
    error and the interval are taken at the cells plus ``pseudo`` rows each (default ``1 / (2K)``: half a row per
    class), on Fisher's z scale when the range is [-1, 1] and the logit scale when it is [0, 1], and the interval is
    widened to hold the value.
    """
    counts = state.counts
    n_groups, k = counts.shape[0], counts.shape[1]
    a = 1.0 / (2 * k) if pseudo is None else pseudo
    total = counts.sum(axis=(1, 2))
    n_eff = effective_n(total, state.sq.sum(axis=(1, 2)), frequency)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = counts / np.where(total > 0, total, 1.0)[:, None, None]
        value = fn(p)
        n_tilde = n_eff + a * k * k
        pt = (p * n_eff[:, None, None] + a) / np.where(n_tilde > 0, n_tilde, 1.0)[:, None, None]
        centre = fn(pt)
        # the gradient by complex steps (Squire and Trapp 1998): exact to rounding, where central differences would
        # magnify the rounding of the pseudo-count cells by 1 / step
        grad = np.zeros_like(pt)
        h = 1e-30
        for t in range(k):
            for q in range(k):
                bumped = pt.astype(np.complex128)
                bumped[:, t, q] += 1j * h
                grad[:, t, q] = fn(bumped).imag / h
        mean_g = (pt * grad).sum(axis=(1, 2))
        var = np.maximum((pt * grad * grad).sum(axis=(1, 2)) - mean_g**2, 0.0)
        se = np.sqrt(var / np.where(n_eff > 0, n_tilde, np.nan))
    value = np.where(np.isfinite(value), value, np.nan)
    scale = "atanh" if lower < 0 else "logit"
    lo, hi = including(*transformed_delta(centre, se, z, scale), value)
    lo, hi = np.clip(lo, lower, upper), np.clip(hi, lower, upper)
    return Estimate(value, se, lo, hi, state.rows.sum(axis=(1, 2)), f"delta-{scale}", reasons[:n_groups])


# -- binary ---------------------------------------------------------------------------------------------------------
TN, FP, FN, TP = (0, 0), (0, 1), (1, 0), (1, 1)


def _binary_cells(c: np.ndarray) -> dict[str, np.ndarray]:
    tn, fp, fn, tp = c[..., 0, 0], c[..., 0, 1], c[..., 1, 0], c[..., 1, 1]
    total = tn + fp + fn + tp
    recall, specificity = tp / (tp + fn), tn / (tn + fp)
    return {
        "accuracy": (tp + tn) / total,
        "precision": tp / (tp + fp),
        "recall": recall,
        "specificity": specificity,
        "fpr": fp / (fp + tn),
        "fnr": fn / (fn + tp),
        "selection_rate": (tp + fp) / total,
        "f1": 2 * tp / (2 * tp + fp + fn),
        "balanced_accuracy": 0.5 * (recall + specificity),
        "mcc": (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)),
    }


def _binary_cell_metric(name: str) -> CellFn:
    def fn(c: np.ndarray) -> np.ndarray:
        return _binary_cells(c)[name]

    return fn


BINARY_CELL_METRICS: dict[str, CellFn] = {name: _binary_cell_metric(name) for name in (
    "accuracy", "precision", "recall", "specificity", "fpr", "fnr", "selection_rate", "f1", "balanced_accuracy",
    "mcc")}
"""Binary confusion metrics as functions of cells ``(..., 2, 2)`` (``[true, predicted]``), counts or proportions.

The one definition of each formula: the delta-method intervals here, the fairness rates and the gate's paired
resampling of joint cells all use it.

>>> round(float(BINARY_CELL_METRICS["f1"](np.array([[5.0, 1.0], [2.0, 4.0]]))), 4)
0.7273
"""


def binary_metrics(state: ConfusionState, z: float, frequency: bool) -> dict[str, Estimate]:
    """The binary threshold metrics of every group."""
    c = state.counts
    tn, fp, fn, tp = c[:, 0, 0], c[:, 0, 1], c[:, 1, 0], c[:, 1, 1]
    size = c.shape[0]
    no_pos = tp + fn <= 0
    no_neg = tn + fp <= 0
    no_pred_pos = tp + fp <= 0
    no_pred_neg = tn + fn <= 0
    empty = c.sum(axis=(1, 2)) <= 0
    out = {
        "accuracy": proportion(state, [TP, TN], None, z, frequency, "no rows"),
        "precision": proportion(state, [TP], [TP, FP], z, frequency, "no row is predicted positive"),
        "recall": proportion(state, [TP], [TP, FN], z, frequency, "no row has the positive label"),
        "specificity": proportion(state, [TN], [TN, FP], z, frequency, "no row has the negative label"),
        "fpr": proportion(state, [FP], [TN, FP], z, frequency, "no row has the negative label"),
        "fnr": proportion(state, [FN], [TP, FN], z, frequency, "no row has the positive label"),
        "selection_rate": proportion(state, [TP, FP], None, z, frequency, "no rows"),
    }
    one_class = reasons_from(
        [(empty, "no rows"), (no_pos, "no row has the positive label"), (no_neg, "no row has the negative label")],
        size,
    )
    ba = delta(state, BINARY_CELL_METRICS["balanced_accuracy"], z, frequency, one_class, pseudo=0.5)
    rec, spec = out["recall"], out["specificity"]
    ba.low, ba.high = mover_mean([rec.value, spec.value], [rec.low, spec.low], [rec.high, spec.high])
    ba.method = "mover-wilson"
    out["balanced_accuracy"] = ba
    f1_reasons = reasons_from(
        [(empty, "no rows"), (tp + fp + fn <= 0, "no positive rows and no positive predictions: F1 is 0/0")], size
    )
    f1 = delta(state, BINARY_CELL_METRICS["f1"], z, frequency, f1_reasons, pseudo=0.5)
    jaccard = proportion(state, [TP], [TP, FP, FN], z, frequency, "F1 is 0/0")
    f1.low, f1.high = 2 * jaccard.low / (1 + jaccard.low), 2 * jaccard.high / (1 + jaccard.high)
    f1.method = "wilson-jaccard"
    out["f1"] = f1
    mcc = delta(
        state,
        BINARY_CELL_METRICS["mcc"],
        z,
        frequency,
        reasons_from(
            [
                (empty, "no rows"),
                (no_pos, "no row has the positive label"),
                (no_neg, "no row has the negative label"),
                (no_pred_pos, "no row is predicted positive"),
                (no_pred_neg, "no row is predicted negative"),
            ],
            size,
        ),
        lower=-1.0,
        pseudo=0.5,
    )
    npv = proportion(state, [TN], [TN, FN], z, frequency, "no row is predicted negative")
    ppv = out["precision"]
    inf_lo, inf_hi = mover_mean([rec.value, spec.value], [rec.low, spec.low], [rec.high, spec.high])
    mk_lo, mk_hi = mover_mean([ppv.value, npv.value], [ppv.low, npv.low], [ppv.high, npv.high])
    mcc.low, mcc.high = including(_signed_geometric(2 * inf_lo - 1, 2 * mk_lo - 1),
                                  _signed_geometric(2 * inf_hi - 1, 2 * mk_hi - 1), mcc.value)
    mcc.method = "wilson-geometric"
    out["mcc"] = mcc
    return _undefined_where_reasoned(out)


def _signed_geometric(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sign * sqrt(|a b|)`` where ``a`` and ``b`` share a sign, else 0: the geometric mean extended to a function
    increasing in each argument (MCC from informedness and markedness, which share the sign of ``TP TN - FP FN``)."""
    with np.errstate(invalid="ignore"):
        return np.where(a * b >= 0, np.sign(a + b) * np.sqrt(np.abs(a * b)), 0.0)


# -- multiclass -----------------------------------------------------------------------------------------------------
def multiclass_metrics(state: ConfusionState, classes: list[str], z: float, frequency: bool) -> dict[str, Estimate]:
    """The multiclass threshold metrics of every group (labels = classes present in truth or prediction)."""
    c = state.counts
    size = c.shape[0]
    true_k = c.sum(axis=2)
    pred_k = c.sum(axis=1)
    present = (true_k > 0) | (pred_k > 0)
    n_present = present.sum(axis=1)
    empty = c.sum(axis=(1, 2)) <= 0

    def names(mask: np.ndarray) -> list[str]:
        return [", ".join(repr(classes[i]) for i in np.flatnonzero(row)) for row in mask]

    never_pred = present & (pred_k <= 0)
    never_true = present & (true_k <= 0)
    never_pred_names, never_true_names = names(never_pred), names(never_true)

    def reason_list(mask: np.ndarray, text: str, which: list[str]) -> list[str | None]:
        base = reasons_from([(empty, "no rows")], size)
        return [base[g] or (text.format(which[g]) if mask[g].any() else None) for g in range(size)]

    def per_class(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return num / den

    def macro(kind: str) -> CellFn:
        def fn(p: np.ndarray) -> np.ndarray:
            tp = np.diagonal(p, axis1=1, axis2=2)
            t, q = p.sum(axis=2), p.sum(axis=1)
            if kind == "precision":
                v = per_class(tp, q)
            elif kind == "recall":
                v = per_class(tp, t)
            else:
                v = per_class(2 * tp, t + q)
            v = np.where(present, v, 0.0)
            return v.sum(axis=1) / n_present

        return fn

    def weighted(kind: str) -> CellFn:
        def fn(p: np.ndarray) -> np.ndarray:
            tp = np.diagonal(p, axis1=1, axis2=2)
            t, q = p.sum(axis=2), p.sum(axis=1)
            v = per_class(tp, q) if kind == "precision" else per_class(2 * tp, t + q)
            v = np.where(t > 0, v, 0.0)
            return (v * t).sum(axis=1) / t.sum(axis=1)

        return fn

    def balanced(p: np.ndarray) -> np.ndarray:
        tp = np.diagonal(p, axis1=1, axis2=2)
        t = p.sum(axis=2)
        has = true_k > 0
        return np.where(has, tp / t, 0.0).sum(axis=1) / has.sum(axis=1)

    diag = [(i, i) for i in range(len(classes))]
    acc = proportion(state, diag, None, z, frequency, "no rows")
    no_reason = reasons_from([(empty, "no rows")], size)
    prec_reason = reason_list(never_pred, "class {} is never predicted: its precision is undefined", never_pred_names)
    rec_reason = reason_list(never_true, "class {} never occurs in the labels: its recall is undefined",
                             never_true_names)
    weighted_prec_reason = reason_list(
        never_pred & (true_k > 0), "class {} is never predicted: its precision is undefined", never_pred_names
    )
    out = {
        "accuracy": acc,
        "balanced_accuracy": delta(state, balanced, z, frequency, no_reason),
        "precision_macro": delta(state, macro("precision"), z, frequency, prec_reason),
        "recall_macro": delta(state, macro("recall"), z, frequency, rec_reason),
        "f1_macro": delta(state, macro("f1"), z, frequency, no_reason),
        "precision_micro": acc,
        "recall_micro": acc,
        "f1_micro": acc,
        "precision_weighted": delta(state, weighted("precision"), z, frequency, weighted_prec_reason),
        "recall_weighted": acc,
        "f1_weighted": delta(state, weighted("f1"), z, frequency, no_reason),
    }
    return _undefined_where_reasoned(out)


def _undefined_where_reasoned(out: dict[str, Estimate]) -> dict[str, Estimate]:
    """A reason means undefined, even where the formula happens to give a number."""
    for est in out.values():
        for g, reason in enumerate(est.reasons):
            if reason is not None:
                est.value[g] = np.nan
    return out

"""ROC-AUC, average precision and their curves from a :class:`~assay.metrics.table.SortedTable` of scores whose
mass column 0 is the negative weight and column 1 the positive weight at each distinct score.

Everything is vectorised over groups: one pass of cumulative sums over the table gives every group's values.

- ROC-AUC counts a tied (positive, negative) pair as one half, as scikit-learn does; its variance is DeLong's,
  computed from the table (all positives at one score share one placement value).
- Average precision is scikit-learn's step-wise sum ``sum_n (R_n - R_{n-1}) P_n`` over distinct thresholds.
- On a coarsened table, pairs sharing a bucket count as ties; the reported bound covers every ordering inside the
  buckets: ``0.5 * sum_b P_b N_b / (P N)`` for AUC and the extreme orderings for average precision.

>>> from assay.metrics.table import SortedTable
>>> t = SortedTable.empty(2).update(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
>>> r = rank_metrics(t)
>>> float(r.auc[0]), float(r.average_precision[0])
(0.75, 0.8333333333333333)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from assay.metrics.table import SortedTable
from assay.stats.intervals import kish_ess


@dataclass(frozen=True)
class RankMetrics:
    """Per-group arrays (NaN where undefined)."""

    positives: np.ndarray  # weighted positive mass P
    negatives: np.ndarray  # weighted negative mass N
    n_pos: np.ndarray  # effective number of positives
    n_neg: np.ndarray  # effective number of negatives
    auc: np.ndarray
    auc_se: np.ndarray
    auc_bound: np.ndarray
    average_precision: np.ndarray
    ap_bound: np.ndarray


def _within(table: SortedTable, col: int) -> tuple[np.ndarray, np.ndarray]:
    """Mass of column ``col`` strictly before each entry within its group, and the group totals per entry."""
    m = table.mass[:, col]
    if len(table.groups) == 1:
        cs = np.cumsum(m)
        cs -= m
        return cs, np.array([cs[-1] + m[-1]]) if m.size else np.zeros(1)
    # a running total per group: one shared total would let a heavy group's rounding swamp a light one
    bounds = table.bounds()
    before = np.empty_like(m)
    totals = np.zeros(len(table.groups))
    for g, (a, b) in enumerate(itertools.pairwise(bounds.tolist())):
        if b > a:
            part = np.cumsum(m[a:b])
            totals[g] = part[-1]
            np.subtract(part, m[a:b], out=before[a:b])
    return before, totals


def rank_metrics(table: SortedTable, *, frequency_weights: bool = False) -> RankMetrics:
    """AUC (with DeLong standard error) and average precision for every group of a two-column score table."""
    n_groups = len(table.groups)
    single = n_groups == 1
    g = table.group
    neg, pos = table.mass[:, 0], table.mass[:, 1]
    neg_before, n_tot = _within(table, 0)
    pos_before, p_tot = _within(table, 1)

    counts = np.diff(table.bounds())

    def per_entry(x: np.ndarray) -> np.ndarray:
        return x[0] if single else np.repeat(x, counts)

    def gsum(x: np.ndarray) -> np.ndarray:
        return np.array([x.sum()]) if single else np.bincount(g, weights=x, minlength=n_groups)

    def gsum_dot(w: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.array([np.dot(w, x)]) if single else np.bincount(g, weights=w * x, minlength=n_groups)

    def gsum3(w: np.ndarray, x: np.ndarray) -> np.ndarray:  # sum of w x², without a temporary in one group
        if single:
            return np.array([np.einsum("i,i,i->", w, x, x)])
        return np.bincount(g, weights=w * x * x, minlength=n_groups)

    P_e, N_e = per_entry(p_tot), per_entry(n_tot)
    if frequency_weights:
        m_eff, n_eff = p_tot.copy(), n_tot.copy()
    else:
        m_eff, n_eff = kish_ess(p_tot, table.sq[:, 1]), kish_ess(n_tot, table.sq[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        defined = (p_tot > 0) & (n_tot > 0)
        # placements: positives at a score beat the negatives below it (ties count half), and vice versa
        # (computed in place where possible: at 10M distinct scores every temporary costs fresh pages)
        v10 = np.multiply(neg, 0.5)
        v10 += neg_before
        v10 /= N_e
        v01 = np.multiply(pos, 0.5)
        v01 += pos_before
        np.subtract(P_e, v01, out=v01)
        v01 /= P_e
        auc = gsum_dot(pos, v10) / p_tot
        # weighted variances of the placements, from sums of squares (placements lie in [0, 1])
        s10 = np.maximum(gsum3(pos, v10) / p_tot - auc * auc, 0.0)
        s01 = np.maximum(gsum3(neg, v01) / n_tot - auc * auc, 0.0)
        s10 *= m_eff / (m_eff - 1)
        s01 *= n_eff / (n_eff - 1)
        auc_se = np.sqrt(s10 / m_eff + s01 / n_eff)
        if table.exact:  # tp, fp in the buffers of the cumulative masses, the precision in v01's
            tp = np.subtract(P_e, pos_before, out=pos_before)  # mass at or above each score (never 0 + 0)
            fp = np.subtract(N_e, neg_before, out=neg_before)
            precision = np.add(tp, fp, out=v01)
            np.divide(tp, precision, out=precision)
        else:
            tp = P_e - pos_before
            fp = N_e - neg_before
            precision = tp / (tp + fp)
        ap = gsum_dot(pos, precision) / p_tot
        if table.exact:
            auc_bound = np.zeros(n_groups)
            ap_bound = np.zeros(n_groups)
        else:
            auc_bound = 0.5 * gsum(pos * neg) / (p_tot * n_tot)
            tp_above, fp_above = tp - pos, fp - neg
            hi = np.where(pos > 0, (tp_above + pos) / (tp_above + pos + fp_above), 0.0)
            lo_den = tp_above + fp_above + neg
            lo = np.where((pos > 0) & (lo_den > 0), tp_above / np.where(lo_den > 0, lo_den, 1.0), 0.0)
            ap_hi = gsum(pos * hi) / p_tot
            ap_lo = gsum(pos * lo) / p_tot
            ap_bound = np.maximum(ap - ap_lo, ap_hi - ap)
    nan = np.full(n_groups, np.nan)
    return RankMetrics(
        positives=p_tot,
        negatives=n_tot,
        n_pos=m_eff,
        n_neg=n_eff,
        auc=np.where(defined, auc, nan),
        auc_se=np.where(defined & (m_eff > 1) & (n_eff > 1), auc_se, nan),
        auc_bound=np.where(defined, auc_bound, nan),
        average_precision=np.where(p_tot > 0, ap, nan),
        ap_bound=np.where(p_tot > 0, ap_bound, nan),
    )


def curves(table: SortedTable, group: int = 0, max_points: int = 200) -> dict[str, dict[str, list[float]]]:
    """Downsampled ROC and precision-recall curves of one group, thresholds descending.

    ROC starts at (0, 0); PR is scikit-learn's curve (recall decreasing to 0, precision 1 at recall 0).
    """
    lo, hi = table.bounds()[group : group + 2]
    neg, pos = table.mass[lo:hi, 0][::-1], table.mass[lo:hi, 1][::-1]
    thresholds = table.values()[lo:hi][::-1]
    tp, fp = np.cumsum(pos), np.cumsum(neg)
    P, N = (tp[-1], fp[-1]) if tp.size else (0.0, 0.0)
    if tp.size == 0 or P <= 0 or N <= 0:
        return {}
    idx = np.unique(np.linspace(0, tp.size - 1, min(max_points, tp.size)).round().astype(np.int64))
    fpr, tpr = np.concatenate([[0.0], fp[idx] / N]), np.concatenate([[0.0], tp[idx] / P])
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp[idx] + fp[idx] > 0, tp[idx] / (tp[idx] + fp[idx]), 1.0)
    recall = tp[idx] / P
    return {
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "threshold": [None, *thresholds[idx].tolist()]},
        "pr": {
            "recall": [0.0, *recall.tolist()],
            "precision": [1.0, *precision.tolist()],
            "threshold": [None, *thresholds[idx].tolist()],
            "prevalence": float(P / (P + N)),
        },
    }

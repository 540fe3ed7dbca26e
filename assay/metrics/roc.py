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

from assay.metrics._groups import BlockCells, group_blocks, partition_sums
from assay.metrics.table import SortedTable, key_to_float
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


def _exclusive_cumsum(m: np.ndarray, edges: np.ndarray, first: int, carry: np.ndarray) -> np.ndarray:
    """Mass strictly before each entry within its group, for one block whose group ranges are ``edges`` (local
    groups from ``first``); ``carry`` holds each group's mass in earlier blocks and is advanced.

    A running total per group: one shared total would let a heavy group's rounding swamp a light one.
    """
    before = np.empty_like(m)
    for i, (a, b) in enumerate(itertools.pairwise(edges.tolist())):
        if b > a:
            part = m[a:b].copy()
            part[0] += carry[first + i]
            np.cumsum(part, out=before[a:b])
            carry[first + i] = before[b - 1]
            before[a:b] -= m[a:b]
    return before


def rank_metrics(table: SortedTable, *, frequency_weights: bool = False) -> RankMetrics:
    """AUC (with DeLong standard error) and average precision for every group of a two-column score table.

    The entries are taken in blocks (:func:`~assay.metrics._groups.group_blocks`): every per-entry quantity is a
    short temporary, and each group's sums are accumulated from its own entries only.
    """
    n_groups = len(table.groups)
    bounds = table.bounds()
    n_tot = partition_sums(table.mass[:, 0], bounds)
    p_tot = partition_sums(table.mass[:, 1], bounds)
    if frequency_weights:
        m_eff, n_eff = p_tot.copy(), n_tot.copy()
    else:
        m_eff, n_eff = kish_ess(p_tot, table.sq[:, 1]), kish_ess(n_tot, table.sq[:, 0])
    carry = np.zeros((2, n_groups))
    # per group: sum pos v10, pos v10², neg v01², pos precision; for a coarsened table also the bound terms
    sums = np.zeros((8, n_groups))
    exact = table.exact
    with np.errstate(divide="ignore", invalid="ignore"):
        for lo, hi in group_blocks(bounds):
            neg = np.ascontiguousarray(table.mass[lo:hi, 0])
            pos = np.ascontiguousarray(table.mass[lo:hi, 1])
            cells = BlockCells(table.group[lo:hi])
            neg_before = _exclusive_cumsum(neg, cells.edges, cells.first, carry[0])
            pos_before = _exclusive_cumsum(pos, cells.edges, cells.first, carry[1])
            if cells.single:  # inside one group: its totals are scalars
                N_e, P_e = n_tot[cells.first], p_tot[cells.first]
            else:
                local = table.group[lo:hi]
                N_e, P_e = n_tot[local], p_tot[local]
            # placements: positives at a score beat the negatives below it (ties count half), and vice versa
            v10 = neg * 0.5
            v10 += neg_before
            v10 /= N_e
            v01 = pos * 0.5
            v01 += pos_before
            np.subtract(P_e, v01, out=v01)
            v01 /= P_e
            w10 = pos * v10
            cells.add(sums[0], w10)
            cells.add(sums[1], w10 * v10)
            cells.add(sums[2], neg * v01 * v01)
            tp = P_e - pos_before  # mass at or above each score
            fp = N_e - neg_before
            cells.add(sums[3], pos * (tp / (tp + fp)))
            if not exact:  # pairs sharing a bucket: every ordering inside it
                cells.add(sums[4], pos * neg)
                tp_above, fp_above = tp - pos, fp - neg
                upper = np.where(pos > 0, (tp_above + pos) / (tp_above + pos + fp_above), 0.0)
                lo_den = tp_above + fp_above + neg
                lower = np.where((pos > 0) & (lo_den > 0), tp_above / np.where(lo_den > 0, lo_den, 1.0), 0.0)
                cells.add(sums[5], pos * upper)
                cells.add(sums[6], pos * lower)
        defined = (p_tot > 0) & (n_tot > 0)
        auc = sums[0] / p_tot
        # weighted variances of the placements, from sums of squares (placements lie in [0, 1])
        s10 = np.maximum(sums[1] / p_tot - auc * auc, 0.0)
        s01 = np.maximum(sums[2] / n_tot - auc * auc, 0.0)
        s10 *= m_eff / (m_eff - 1)
        s01 *= n_eff / (n_eff - 1)
        auc_se = np.sqrt(s10 / m_eff + s01 / n_eff)
        ap = sums[3] / p_tot
        if exact:
            auc_bound = np.zeros(n_groups)
            ap_bound = np.zeros(n_groups)
        else:
            auc_bound = 0.5 * sums[4] / (p_tot * n_tot)
            ap_bound = np.maximum(ap - sums[6] / p_tot, sums[5] / p_tot - ap)
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
    lo, hi = (int(x) for x in table.bounds()[group : group + 2])
    size = hi - lo
    if size == 0:
        return {}
    # the j-th threshold from the top is entry hi - 1 - j; only the sampled ones are read: the masses at or above
    # each are suffix sums, from one pass of range sums over the group
    idx = np.unique(np.linspace(0, size - 1, min(max_points, size)).round().astype(np.int64))
    starts = (size - 1 - idx)[::-1]  # ascending positions within the group
    ranges = [np.add.reduceat(table.mass[lo:hi, c], starts) for c in (0, 1)]
    fp, tp = (np.cumsum(r[::-1]) for r in ranges)  # aligned with idx
    thresholds = key_to_float(table.key[lo:hi][size - 1 - idx] << table.shift)
    P, N = tp[-1], fp[-1]
    if P <= 0 or N <= 0:
        return {}
    fpr, tpr = np.concatenate([[0.0], fp / N]), np.concatenate([[0.0], tp / P])
    precision = tp / (tp + fp)  # never 0/0: the top threshold holds an entry of positive mass
    recall = tp / P
    return {
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "threshold": [None, *thresholds.tolist()]},
        "pr": {
            "recall": [0.0, *recall.tolist()],
            "precision": [1.0, *precision.tolist()],
            "threshold": [None, *thresholds.tolist()],
            "prevalence": float(P / (P + N)),
        },
    }

"""The threshold, mean and calibration states of a binary evaluation, derived from its exact score table.

With unit weights every mass in a :class:`~assay.metrics.table.SortedTable` of scores is a row count, and every
other state of a binary evaluation with a score is a function of (score, label) counts: a row is predicted positive
when its score is at least the threshold, log loss and Brier are functions of the score and the label, a calibration
bin is a range of scores. So the one sort that builds the score table serves them all, instead of a pass over the
rows per state.

Within a group the table's entries are sorted by score, so the threshold and the bin edges cut each group into
consecutive ranges, and each range is summed pairwise (:func:`~assay.metrics._groups.partition_sums`). A group's
sums are therefore a function of its own rows, whatever their order and whatever the other groups.

>>> from assay.metrics.table import EntryRows, SortedTable, key_to_float
>>> table = SortedTable.empty(2).update(np.array([0.2, 0.75, 0.75, 0.9]), np.array([0, 1, 0, 1]))
>>> confusion, means, calibration = binary_states(table, 0.5, bins=10)
>>> confusion.counts[0].tolist()
[[1.0, 1.0], [0.0, 2.0]]
>>> calibration.rows[0].tolist()
[0, 0, 1, 0, 0, 0, 0, 2, 0, 1]
"""

from __future__ import annotations

import numpy as np

from assay.errors import StateError
from assay.metrics._groups import BlockCells, group_blocks
from assay.metrics.calibration import CalibrationState, bin_index
from assay.metrics.confusion import ConfusionState
from assay.metrics.means import MeanState
from assay.metrics.table import EntryRows, SortedTable, key_to_float

BINARY_MEANS = ("log_loss", "brier")


def binary_states(
    table: SortedTable,
    threshold: float,
    *,
    bins: int | None,
    extra: EntryRows | None = None,
) -> tuple[ConfusionState, MeanState | None, CalibrationState | None]:
    """Confusion counts, log-loss and Brier sums, and calibration bins of every group of an exact score table (mass
    column 0 = negatives, 1 = positives). ``bins=None``: the scores are not probabilities, so there are no means and
    no calibration.

    With unit weights the masses are the row counts and the squared weights. With weights, ``extra`` gives each
    entry's row count and squared weight per column (from :func:`~assay.metrics.table.weighted_batch`).

    The entries are taken in blocks (:func:`~assay.metrics._groups.group_blocks`), so no temporary is as long as
    the table.
    """
    if not table.exact or table.n_mass != 2:
        raise StateError("binary states: expected an exact two-column score table (derive before coarsening)")
    weighted = extra is not None
    groups = table.groups
    g = len(groups)
    by_prediction = np.zeros((6 if weighted else 2, 2 * g))  # [weight, rows, squares per true class, group*2+pred]
    totals = np.zeros((3, g))  # rows, weight, squared weight per group
    s1 = np.zeros((2, g))  # [quantity, group]: log loss, Brier
    s2 = np.zeros((2, g))
    s3 = np.zeros((2, g))
    b = bins or 1
    cal = np.zeros((5, g * b))  # [weight, confidence, positives, rows, squares; group * bins + bin]
    eps = np.finfo(np.float64).eps
    bin_edges = np.linspace(0.0, 1.0, b + 1)[1:-1]
    as_bits = table.key.size == 0 or bool(table.key.min() >= 0)  # non-negative scores: the keys are their bits
    for lo, hi in group_blocks(table.bounds()):
        v = table.key[lo:hi].view(np.float64) if as_bits else key_to_float(table.key[lo:hi])
        neg, pos = table.mass[lo:hi, 0], table.mass[lo:hi, 1]
        group = table.group[lo:hi]
        by_group = BlockCells(group)
        # a row is predicted positive when its score is at least the threshold: within a group, a suffix; a bin is
        # a range of scores. Inside one group the ranges are searched, else counted per entry.
        first = by_group.first
        if by_group.single:
            cut = np.searchsorted(v, threshold)
            predicted = BlockCells.from_edges(first * 2, np.array([0, cut, v.size], np.int64))
        else:
            predicted = BlockCells(group * 2 + (v >= threshold))
        predicted.add(by_prediction[0], neg)
        predicted.add(by_prediction[1], pos)
        n = neg + pos
        by_group.add(totals[1], n)
        if weighted:
            assert extra is not None
            r, q = extra.block(lo, hi)
            for c in (0, 1):
                predicted.add(by_prediction[2 + c], r[:, c])
                predicted.add(by_prediction[4 + c], q[:, c])
            n_rows, n_sq = r[:, 0] + r[:, 1], q[:, 0] + q[:, 1]
            by_group.add(totals[0], n_rows)
            by_group.add(totals[2], n_sq)
        if bins is None:
            continue
        has_pos = pos > 0
        q = 1.0 - v
        p_true = np.where(has_pos, v, q)  # the probability of the true label, where an entry has one label
        miss = np.where(has_pos, q, v)  # and of the other label
        del q
        mixed = np.flatnonzero(has_pos & (neg > 0))  # a score with rows of both labels: its negatives apart
        count = n if not mixed.size else np.where(has_pos, pos, neg)
        # log loss -log(p), clipped as scikit-learn clips; Brier (1 - p)²
        loss = np.clip(p_true, eps, 1 - eps)
        np.log(loss, out=loss)
        np.negative(loss, out=loss)
        wloss = count * loss
        by_group.add(s1[0], wloss)
        by_group.add(s2[0], np.multiply(wloss, loss, out=wloss))
        by_group.add(s3[0], np.multiply(wloss, loss, out=wloss))
        np.multiply(miss, miss, out=miss)
        wsq = count * miss
        by_group.add(s1[1], wsq)
        by_group.add(s2[1], np.multiply(wsq, miss, out=wsq))
        by_group.add(s3[1], np.multiply(wsq, miss, out=wsq))
        if mixed.size:
            both = BlockCells(group[mixed])
            loss0 = -np.log(np.clip(1.0 - v[mixed], eps, 1 - eps))
            sq0 = v[mixed] * v[mixed]
            w = neg[mixed]
            both.add(s1[0], w * loss0)
            both.add(s2[0], w * loss0 * loss0)
            both.add(s3[0], w * loss0 * loss0 * loss0)
            both.add(s1[1], w * sq0)
            both.add(s2[1], w * sq0 * sq0)
            both.add(s3[1], w * sq0 * sq0 * sq0)
        if by_group.single:
            edges = np.concatenate([[0], np.searchsorted(v, bin_edges), [v.size]])
            binned = BlockCells.from_edges(first * bins, edges)
        else:
            binned = BlockCells(group * bins + bin_index(v, bins))
        binned.add(cal[0], n)
        binned.add(cal[1], n * v)
        binned.add(cal[2], pos)
        if weighted:
            binned.add(cal[3], n_rows)
            binned.add(cal[4], n_sq)
    def cells(first: int) -> np.ndarray:  # (group, true, predicted) from two rows of by_prediction
        return np.stack([by_prediction[first].reshape(g, 2), by_prediction[first + 1].reshape(g, 2)], axis=1)

    counts = cells(0)
    if weighted:
        confusion = ConfusionState(2, groups, counts, cells(4), np.rint(cells(2)).astype(np.int64))
    else:
        confusion = ConfusionState(2, groups, counts, counts, counts.astype(np.int64))
        totals[0], totals[2] = totals[1], totals[1]
        cal[3], cal[4] = cal[0], cal[0]
    if bins is None:
        return confusion, None, None
    means = MeanState(BINARY_MEANS, groups, np.rint(totals[0]).astype(np.int64), totals[1], totals[2].copy(),
                      s1.T.copy(), s2.T.copy(), s3.T.copy())
    shape = (g, bins)
    calibration = CalibrationState(bins, groups, np.rint(cal[3]).reshape(shape).astype(np.int64),
                                   cal[0].reshape(shape), cal[4].reshape(shape).copy(), cal[1].reshape(shape),
                                   cal[2].reshape(shape))
    return confusion, means, calibration

"""The threshold, mean and calibration states of a binary evaluation, derived from its exact score table.

With unit weights every mass in a :class:`~assay.metrics.table.SortedTable` of scores is a row count, and every
other state of a binary evaluation with a score is a function of (score, label) counts: a row is predicted positive
when its score is at least the threshold, log loss and Brier are functions of the score and the label, a calibration
bin is a range of scores. So the one sort that builds the score table serves them all, instead of a pass over the
rows per state.

Within a group the table's entries are sorted by score, so the threshold and the bin edges cut each group into
consecutive ranges, and each range is summed pairwise (:func:`~assay.metrics._groups.partition_sums`). A group's
sums are therefore a function of its own rows, whatever their order and whatever the other groups.

>>> from assay.metrics.table import SortedTable, key_to_float
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
from assay.metrics.table import SortedTable, key_to_float

BINARY_MEANS = ("log_loss", "brier")


def binary_states(
    table: SortedTable, threshold: float, *, bins: int | None
) -> tuple[ConfusionState, MeanState | None, CalibrationState | None]:
    """Confusion counts, log-loss and Brier sums, and calibration bins of every group of an exact, unit-weight
    score table (mass column 0 = negatives, 1 = positives). ``bins=None``: the scores are not probabilities, so
    there are no means and no calibration.

    The entries are taken in blocks (:func:`~assay.metrics._groups.group_blocks`), so no temporary is as long as
    the table.
    """
    if not table.exact or table.n_mass != 2:
        raise StateError("binary states: expected an exact two-column score table (derive before coarsening)")
    groups = table.groups
    g = len(groups)
    by_prediction = np.zeros((2, 2 * g))  # [true, group * 2 + predicted]
    rows = np.zeros(g)
    s1 = np.zeros((2, g))  # [quantity, group]: log loss, Brier
    s2 = np.zeros((2, g))
    b = bins or 1
    cal = np.zeros((3, g * b))  # [rows, confidence, positives, group * bins + bin]
    eps = np.finfo(np.float64).eps
    for lo, hi in group_blocks(table.bounds()):
        v = key_to_float(table.key[lo:hi])
        neg, pos = table.mass[lo:hi, 0], table.mass[lo:hi, 1]
        group = table.group[lo:hi]
        by_group = BlockCells(group)
        # a row is predicted positive when its score is at least the threshold: within a group, a suffix
        predicted = BlockCells(group * 2 + (v >= threshold))
        predicted.add(by_prediction[0], neg)
        predicted.add(by_prediction[1], pos)
        n = neg + pos
        by_group.add(rows, n)
        if bins is None:
            continue
        # log loss of a positive at score v is -log(v), of a negative -log(1 - v), each clipped as scikit-learn does
        loss1 = np.clip(v, eps, 1 - eps)
        np.log(loss1, out=loss1)
        miss = np.subtract(1.0, v)
        loss0 = np.clip(miss, eps, 1 - eps)
        np.log(loss0, out=loss0)
        # both logs are negated: sums of -(neg * log0 + pos * log1), squares unchanged
        by_group.add(s1[0], -(neg * loss0 + pos * loss1))
        by_group.add(s2[0], neg * loss0 * loss0 + pos * loss1 * loss1)
        # Brier: a negative at v scores v², a positive (1 - v)²
        sq0 = v * v
        sq1 = np.multiply(miss, miss, out=miss)
        by_group.add(s1[1], neg * sq0 + pos * sq1)
        by_group.add(s2[1], neg * sq0 * sq0 + pos * sq1 * sq1)
        binned = BlockCells(group * bins + bin_index(v, bins))
        binned.add(cal[0], n)
        binned.add(cal[1], n * v)
        binned.add(cal[2], pos)
    counts = np.stack([by_prediction[0].reshape(g, 2), by_prediction[1].reshape(g, 2)], axis=1)  # (g, true, pred)
    confusion = ConfusionState(2, groups, counts, counts, counts.astype(np.int64))
    if bins is None:
        return confusion, None, None
    means = MeanState(BINARY_MEANS, groups, rows.astype(np.int64), rows, rows.copy(), s1.T.copy(), s2.T.copy())
    shape = (g, bins)
    calibration = CalibrationState(bins, groups, cal[0].reshape(shape).astype(np.int64), cal[0].reshape(shape),
                                   cal[0].reshape(shape).copy(), cal[1].reshape(shape), cal[2].reshape(shape))
    return confusion, means, calibration

"""Confusion counts per group: the state behind every threshold metric and every fairness rate.

One ``bincount`` of ``group * K² + true * K + predicted`` per batch fills three ``(groups, K, K)`` arrays: the
weighted counts, the sums of squared weights (for Kish's effective sample size) and the row counts (the ``n`` that
every metric reports).

>>> s = ConfusionState.empty(2).update(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]))
>>> s.counts[0].tolist()
[[2.0, 0.0], [1.0, 1.0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assay.errors import StateError
from assay.metrics import _serial
from assay.metrics._groups import OVERALL, GroupKeys, align, scatter


@dataclass(frozen=True, eq=False)
class ConfusionState:
    """Weighted confusion matrices, one per group (``counts[g, true, predicted]``)."""

    n_classes: int
    groups: GroupKeys
    counts: np.ndarray
    sq: np.ndarray
    rows: np.ndarray

    @classmethod
    def empty(cls, n_classes: int) -> ConfusionState:
        shape = (0, n_classes, n_classes)
        return cls(n_classes, (), np.zeros(shape), np.zeros(shape), np.zeros(shape, np.int64))

    def update(
        self,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        codes: np.ndarray | None = None,
        group_keys: GroupKeys = OVERALL,
    ) -> ConfusionState:
        """Add rows given as class indices ``0..K-1``; ``codes`` index ``group_keys`` (``None``: one group)."""
        k = self.n_classes
        g = len(group_keys)
        cell = y_true.astype(np.int64) * k + y_pred
        if codes is not None and g > 1:
            cell = cell + codes.astype(np.int64) * (k * k)
        size = g * k * k
        rows: np.ndarray = np.bincount(cell, minlength=size)
        counts: np.ndarray
        sq: np.ndarray
        if sample_weight is None:
            counts = rows.astype(np.float64)
            sq = counts
        else:
            counts = np.bincount(cell, weights=sample_weight, minlength=size)
            sq = np.bincount(cell, weights=sample_weight * sample_weight, minlength=size)
        shape = (g, k, k)
        batch = ConfusionState(k, group_keys, counts.reshape(shape), sq.reshape(shape), rows.reshape(shape))
        return self.merge(batch) if self.groups else batch

    def merge(self, other: ConfusionState) -> ConfusionState:
        """Sum the counts group by group (groups aligned by key)."""
        if self.n_classes != other.n_classes:
            raise StateError(
                f"confusion merge: expected the same number of classes, found {self.n_classes} and {other.n_classes}"
            )
        groups, ia, ib = align(self.groups, other.groups)
        size = len(groups)

        def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return scatter(a, ia, size) + scatter(b, ib, size)

        return ConfusionState(
            self.n_classes, groups, add(self.counts, other.counts), add(self.sq, other.sq), add(self.rows, other.rows)
        )

    def collapse(self) -> ConfusionState:
        """The same rows as one group: the sum over groups (groups that partition the rows give the overall)."""
        def total(a: np.ndarray) -> np.ndarray:
            return a.sum(axis=0, keepdims=True)

        return ConfusionState(self.n_classes, OVERALL, total(self.counts), total(self.sq), total(self.rows))

    def to_bytes(self) -> bytes:
        arrays = {"counts": self.counts, "sq": self.sq, "rows": self.rows}
        return _serial.dump("confusion", 1, {"n_classes": self.n_classes, "groups": list(self.groups)}, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> ConfusionState:
        h, a = _serial.load(data, "confusion", 1)
        return cls(h["n_classes"], _serial.keys_from_json(h["groups"]), a["counts"], a["sq"], a["rows"])

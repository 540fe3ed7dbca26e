"""Expected calibration error and the reliability diagram from fixed equal-width bins, per group.

Binning follows ``numpy.histogram`` on ``[0, 1]`` with ``bins`` equal-width bins: each bin holds its left edge, the
last also holds 1.0. The confidence is the positive-class probability (binary) or the top-label probability
(multiclass); the outcome is the label (binary) or whether the top label is right (multiclass). ECE is
``sum_b (W_b / W) |mean outcome_b - mean confidence_b|``.

Its interval resamples the cells, not the rows: bin counts from a multinomial on the effective sample size, then
each bin's outcomes from a binomial at its observed rate; the percentile interval of the replicates (``seed`` fixes
them). It is cheap at any row count.

>>> s = CalibrationState.empty().update(np.array([0.05, 0.95, 0.95]), np.array([0.0, 1.0, 0.0]))
>>> round(float(s.ece(1.96, seed=0).value[0]), 6)
0.3
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.errors import StateError
from assay.metrics import _serial
from assay.metrics._groups import OVERALL, BlockSums, GroupKeys, GroupSums, align, scatter, stable_seed
from assay.metrics.estimate import Estimate, reasons_from
from assay.stats.intervals import kish_ess, two_sided_alpha, wilson


def bin_index(confidence: np.ndarray, bins: int) -> np.ndarray:
    """Bin of each confidence as ``numpy.histogram`` assigns it on ``[0, 1]``.

    ``floor(c * bins)`` is right except within rounding of an edge (``linspace`` edges are not exact multiples);
    only those few values are placed by a search of the edges, as ``numpy.histogram`` itself corrects them.
    """
    scaled = confidence * bins
    idx = scaled.astype(np.intp)
    scaled -= idx  # the fractional part: near 0 or 1 means near an edge
    near = np.flatnonzero((scaled < 1e-6) | (scaled > 1 - 1e-6))
    np.clip(idx, 0, bins - 1, out=idx)
    if near.size:
        edges = np.linspace(0.0, 1.0, bins + 1)
        idx[near] = np.clip(np.searchsorted(edges, confidence[near], side="right") - 1, 0, bins - 1)
    return idx


@dataclass(frozen=True, eq=False)
class CalibrationState:
    """Per group and bin: rows, weight, squared weight, weighted confidence and weighted outcome sums."""

    bins: int
    groups: GroupKeys
    rows: np.ndarray  # (G, B)
    sw: np.ndarray
    sw2: np.ndarray
    sp: np.ndarray
    sy: np.ndarray

    @classmethod
    def empty(cls, bins: int = 10) -> CalibrationState:
        z = np.zeros((0, bins))
        return cls(bins, (), np.zeros((0, bins), np.int64), z, z, z, z)

    def update(
        self,
        confidence: np.ndarray,
        outcome: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        codes: np.ndarray | None = None,
        group_keys: GroupKeys = OVERALL,
    ) -> CalibrationState:
        g, b = len(group_keys), self.bins
        cell = bin_index(confidence, b)
        if codes is not None and g > 1:
            cell = cell + codes.astype(np.int64) * b
        size = g * b
        w = sample_weight
        # sums per cell accurate to a few ulps (merged chunks agree with the whole); with one group, no row sort
        sums = BlockSums(cell, size) if g == 1 else GroupSums(cell, size)
        rows = sums.count()
        sw = rows.astype(np.float64) if w is None else sums.sum(w)
        sw2 = sw if w is None else sums.sum(w * w)
        sp = sums.sum(confidence if w is None else w * confidence)
        sy = sums.sum(outcome if w is None else w * outcome)
        shape = (g, b)
        batch = CalibrationState(
            b, group_keys, rows.reshape(shape), sw.reshape(shape), sw2.reshape(shape), sp.reshape(shape),
            sy.reshape(shape)
        )
        return self.merge(batch) if self.groups else batch

    def merge(self, other: CalibrationState) -> CalibrationState:
        if self.bins != other.bins:
            raise StateError(f"calibration merge: expected the same bins, found {self.bins} and {other.bins}")
        groups, ia, ib = align(self.groups, other.groups)
        size = len(groups)

        def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return scatter(a, ia, size) + scatter(b, ib, size)

        return CalibrationState(
            self.bins, groups, add(self.rows, other.rows), add(self.sw, other.sw), add(self.sw2, other.sw2),
            add(self.sp, other.sp), add(self.sy, other.sy)
        )

    def collapse(self) -> CalibrationState:
        """The same rows as one group: the sum over groups (groups that partition the rows give the overall)."""
        def total(a: np.ndarray) -> np.ndarray:
            return a.sum(axis=0, keepdims=True)

        return CalibrationState(self.bins, OVERALL, total(self.rows), total(self.sw), total(self.sw2),
                                total(self.sp), total(self.sy))

    def ece(self, z: float, *, seed: int = 0, frequency: bool = False, replicates: int = 1000) -> Estimate:
        """ECE per group, with a cell-resampling percentile interval."""
        total = self.sw.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ece = np.abs(self.sy - self.sp).sum(axis=1) / total
        ece = np.where(total > 0, ece, np.nan)
        n_eff = total if frequency else kish_ess(total, self.sw2.sum(axis=1))
        alpha = two_sided_alpha(z)
        lo, hi, se = (np.full(len(self.groups), np.nan) for _ in range(3))
        for g in np.flatnonzero(total > 0):
            n = max(round(float(n_eff[g])), 1)
            mass = self.sw[g] / total[g]
            filled = self.sw[g] > 0
            conf = np.where(filled, self.sp[g] / np.where(filled, self.sw[g], 1.0), 0.0)
            rate = np.clip(np.where(filled, self.sy[g] / np.where(filled, self.sw[g], 1.0), 0.0), 0.0, 1.0)
            # each group draws from its own generator, keyed by its own bin weights (rounded, so that float sums in
            # another order give the same key): the interval is a function of
            # the group's rows and the seed, whatever the other groups or their order
            rng = np.random.default_rng([seed, stable_seed(np.round(self.sw[g], 6).tobytes())])
            counts = rng.multinomial(n, mass, size=replicates)
            hits = rng.binomial(counts, rate)
            with np.errstate(divide="ignore", invalid="ignore"):
                acc = np.where(counts > 0, hits / np.where(counts > 0, counts, 1), 0.0)
            reps = (counts / n * np.abs(acc - conf)).sum(axis=1)
            lo[g], hi[g] = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
            se[g] = reps.std(ddof=1)
        reasons = reasons_from([(~(total > 0), "no rows")], len(total))
        return Estimate(ece, se, lo, hi, self.rows.sum(axis=1), "cell-bootstrap", reasons)

    def diagram(self, g: int, z: float, *, frequency: bool = False) -> list[dict[str, Any]]:
        """The reliability diagram of group ``g``: per bin, mean confidence, observed rate with a Wilson interval."""
        edges = np.linspace(0.0, 1.0, self.bins + 1)
        out = []
        for b in range(self.bins):
            w = float(self.sw[g, b])
            n_eff = w if frequency else float(kish_ess(w, self.sw2[g, b]))
            row: dict[str, float | None]
            if w > 0:
                rate = float(self.sy[g, b] / w)
                lo, hi, _ = wilson(np.array(min(max(rate, 0.0), 1.0)), np.array(n_eff), z)
                row = {"mean_predicted": float(self.sp[g, b] / w), "observed": rate, "ci_low": float(lo),
                       "ci_high": float(hi)}
            else:
                row = {"mean_predicted": None, "observed": None, "ci_low": None, "ci_high": None}
            out.append({"lower": float(edges[b]), "upper": float(edges[b + 1]), "n": int(self.rows[g, b]),
                        "weight": w, **row})
        return out

    def to_bytes(self) -> bytes:
        arrays = {"rows": self.rows, "sw": self.sw, "sw2": self.sw2, "sp": self.sp, "sy": self.sy}
        return _serial.dump("calibration", 1, {"bins": self.bins, "groups": list(self.groups)}, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> CalibrationState:
        h, a = _serial.load(data, "calibration", 1)
        return cls(h["bins"], _serial.keys_from_json(h["groups"]), a["rows"], a["sw"], a["sw2"], a["sp"], a["sy"])

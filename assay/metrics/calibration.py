"""Expected calibration error and the reliability diagram from fixed equal-width bins, per group.

Binning follows ``numpy.histogram`` on ``[0, 1]`` with ``bins`` equal-width bins: each bin holds its left edge, the
last also holds 1.0. The confidence is the positive-class probability (binary) or the top-label probability
(multiclass); the outcome is the label (binary) or whether the top label is right (multiclass). ECE is
``sum_b (W_b / W) |mean outcome_b - mean confidence_b|``.

The plug-in ECE is biased upwards: each bin's ``|mean outcome - mean confidence|`` averages its sampling noise in
(``E|X| >= |E X|``), by about ``sqrt(2 / pi) sd_b`` per bin where the bin is calibrated, which at n = 50 is several
times the population ECE of a good model. So its interval is not centred on it, and a resampling interval around
it (what assay did before) covers the population ECE rarely. Here, from the bins' sums alone:

- ``ece_debiased``: the estimator of Kumar, Liang and Ma (2019, "Verified uncertainty calibration", NeurIPS, their
  debiased estimator for the l1 calibration error under a Gaussian approximation of each bin), in closed form:
  per bin ``2 |d_b| - E|N(d_b, s_b^2)|`` with ``d_b`` the bin's mean outcome minus mean confidence and
  ``s_b^2 = r_b (1 - r_b) / n_b`` (``r_b`` the outcome rate with half a pseudo-row, so a bin of one kind of outcome
  still has a variance), weighted by the bins' masses and floored at 0;
- the interval of both ``ece`` and ``ece_debiased``: normal around the debiased estimate, with the influence-function
  variance of the binned ECE, ``sum_b w_b (r_b (1 - r_b) + (|d_b| - ECE)^2) / n``, clipped at 0. It is an interval
  for the population ECE, so it may lie below the plug-in value of ``ece`` (it does when that value is mostly bias).

>>> s = CalibrationState.empty().update(np.array([0.05, 0.95, 0.95]), np.array([0.0, 1.0, 0.0]))
>>> round(float(s.ece(1.96).value[0]), 6)
0.316667
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.errors import StateError
from assay.metrics import _serial
from assay.metrics._groups import OVERALL, BlockSums, GroupKeys, GroupSums, align, scatter
from assay.metrics.estimate import Estimate, reasons_from
from assay.stats.intervals import kish_ess, wilson


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

    def _debiased(self, z: float, frequency: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                            np.ndarray]:
        """Per group: plug-in ECE, debiased ECE (not floored), its standard error, and the interval."""
        from scipy import special  # here, not at import: scipy is most of assay's import time

        total = self.sw.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            has = total > 0
            ece = np.where(has, np.abs(self.sy - self.sp).sum(axis=1) / np.where(has, total, 1.0), np.nan)
            filled = self.sw > 0
            sw = np.where(filled, self.sw, 1.0)
            n_b = self.sw if frequency else kish_ess(self.sw, self.sw2)
            n_eff = total if frequency else kish_ess(total, self.sw2.sum(axis=1))
            w = self.sw / np.where(has, total, 1.0)[:, None]
            d = np.where(filled, (self.sy - self.sp) / sw, 0.0)
            rate = np.clip(np.where(filled, self.sy / sw, 0.0), 0.0, 1.0)
            r = (rate * n_b + 0.5) / (n_b + 1.0)  # half a pseudo-row: a bin of one outcome keeps a variance
            sd = np.sqrt(r * (1 - r) / np.where(n_b > 0, n_b, np.nan))
            sd = np.where(filled & (n_b > 0), sd, 0.0)
            # E|N(d, sd^2)| (the folded normal's mean)
            ratio = np.where(sd > 0, d / np.where(sd > 0, sd, 1.0), 0.0)
            folded = np.where(sd > 0, sd * np.sqrt(2 / np.pi) * np.exp(-0.5 * ratio * ratio)
                              + d * (1 - 2 * special.ndtr(-ratio)), np.abs(d))
            debiased = np.where(has, (w * (2 * np.abs(d) - folded)).sum(axis=1), np.nan)
            centre = np.maximum(debiased, 0.0)
            var = (w * (r * (1 - r) + (np.abs(d) - centre[:, None]) ** 2)).sum(axis=1)
            se = np.where(has & (n_eff > 0), np.sqrt(var / np.where(n_eff > 0, n_eff, np.nan)), np.nan)
        lo = np.maximum(centre - z * se, 0.0)
        hi = np.minimum(centre + z * se, 1.0)
        return ece, debiased, se, lo, hi

    def ece(self, z: float, *, frequency: bool = False) -> Estimate:
        """ECE per group (the plug-in value), with the interval for the population ECE around the debiased
        estimate (see the module's docstring)."""
        ece, _, se, lo, hi = self._debiased(z, frequency)
        reasons = reasons_from([(~(self.sw.sum(axis=1) > 0), "no rows")], len(ece))
        return Estimate(ece, se, lo, hi, self.rows.sum(axis=1), "debiased-normal", reasons)

    def ece_debiased(self, z: float, *, frequency: bool = False) -> Estimate:
        """Kumar, Liang and Ma's debiased ECE per group (floored at 0), with the same interval as :meth:`ece`."""
        _, debiased, se, lo, hi = self._debiased(z, frequency)
        reasons = reasons_from([(~(self.sw.sum(axis=1) > 0), "no rows")], len(debiased))
        return Estimate(np.maximum(debiased, 0.0), se, lo, hi, self.rows.sum(axis=1), "debiased-normal", reasons)

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

"""Weighted means of per-row quantities (log loss, Brier score, ...) per group, with intervals that respect skew.

The state keeps, per group, the row count, the weight total, the squared-weight total, and for every quantity the
weighted sums of the values, their squares and their cubes. The standard error of a weighted mean is
``sd_w / sqrt(n_eff)``; the interval is

- for a quantity bounded in ``[0, upper]`` (Brier): the score interval
  :func:`~assay.stats.intervals.bounded_mean_score` (Wilson's, generalised to the sample variance), which keeps
  room for the rare large losses a small sample of a good model does not show;
- otherwise Hall's (1992) skewness-corrected interval (:func:`~assay.stats.intervals.hall_skew`), the skewness
  from the sums of cubes; a state of version 1 (no cubes) gets the normal interval. Where every row has the same
  value (no spread seen) and the quantity has a finite bound (log loss: ``-log(eps)``, the clip), the bounded
  interval replaces what would be a point.

>>> s = MeanState.empty(("loss",)).update(np.array([[1.0], [3.0]]))
>>> e = s.estimate("loss", 1.96)
>>> float(e.value[0]), round(float(e.se[0]), 6)
(2.0, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assay.errors import StateError
from assay.metrics import _serial
from assay.metrics._groups import OVERALL, GroupKeys, GroupSums, align, scatter
from assay.metrics.estimate import Estimate, reasons_from
from assay.stats.intervals import bounded_mean_score, hall_skew, kish_ess


@dataclass(frozen=True, eq=False)
class MeanState:
    """Sums for weighted means of named per-row quantities."""

    names: tuple[str, ...]
    groups: GroupKeys
    rows: np.ndarray  # (G,)
    sw: np.ndarray  # (G,)
    sw2: np.ndarray  # (G,)
    s1: np.ndarray  # (G, J)
    s2: np.ndarray  # (G, J)
    s3: np.ndarray  # (G, J); NaN when read from a version-1 state (no cubes)

    @classmethod
    def empty(cls, names: tuple[str, ...]) -> MeanState:
        j = len(names)
        zero = np.zeros((0, j))
        return cls(names, (), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), zero, zero, zero)

    def update(
        self,
        values: np.ndarray | list[np.ndarray],
        sample_weight: np.ndarray | None = None,
        *,
        codes: np.ndarray | None = None,
        group_keys: GroupKeys = OVERALL,
    ) -> MeanState:
        """Add rows: ``values`` has one column per name (a 2-D array, or a list of 1-D arrays)."""
        columns = list(values.T) if isinstance(values, np.ndarray) else values
        g = len(group_keys)
        n = columns[0].shape[0]
        idx = codes if codes is not None else None
        w = sample_weight
        sums = None if idx is None else GroupSums(idx, g)

        def total(x: np.ndarray | None) -> np.ndarray:
            if sums is None:  # one group: plain (pairwise) sums
                return np.array([float(n) if x is None else float(x.sum())])
            return sums.count().astype(np.float64) if x is None else sums.sum(x)

        rows = np.array([n]) if sums is None else sums.count()
        sw = rows.astype(np.float64) if w is None else total(w)
        sw2 = sw if w is None else total(w * w)
        s1 = np.empty((g, len(self.names)))
        s2 = np.empty((g, len(self.names)))
        s3 = np.empty((g, len(self.names)))
        for j, x in enumerate(columns):
            if idx is None and w is None:  # one group, unit weights: no temporaries but the squares
                s1[0, j] = x.sum()
                sq = x * x
                s2[0, j] = sq.sum()
                s3[0, j] = np.dot(sq, x)
                continue
            wx = x if w is None else w * x
            s1[:, j] = total(wx)
            wx2 = wx * x
            s2[:, j] = total(wx2)
            s3[:, j] = total(wx2 * x)
        batch = MeanState(self.names, group_keys, rows, sw, sw2, s1, s2, s3)
        return self.merge(batch) if self.groups else batch

    def merge(self, other: MeanState) -> MeanState:
        if self.names != other.names:
            raise StateError(f"mean merge: expected the same quantities, found {self.names} and {other.names}")
        groups, ia, ib = align(self.groups, other.groups)
        size = len(groups)

        def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return scatter(a, ia, size) + scatter(b, ib, size)

        return MeanState(
            self.names,
            groups,
            add(self.rows, other.rows),
            add(self.sw, other.sw),
            add(self.sw2, other.sw2),
            add(self.s1, other.s1),
            add(self.s2, other.s2),
            add(self.s3, other.s3),
        )

    def collapse(self) -> MeanState:
        """The same rows as one group: the sum over groups (groups that partition the rows give the overall)."""
        def total(a: np.ndarray) -> np.ndarray:
            return a.sum(axis=0, keepdims=True)

        return MeanState(self.names, OVERALL, total(self.rows), total(self.sw), total(self.sw2), total(self.s1),
                         total(self.s2), total(self.s3))

    def estimate(
        self, name: str, z: float, *, frequency: bool = False, lower: float = -np.inf, upper: float = np.inf,
        bounded: bool = False,
    ) -> Estimate:
        """Weighted mean of ``name`` per group with its interval (``bounded``: the quantity lies in
        ``[lower, upper]`` = ``[0, upper]`` row by row, and the bounded score interval applies)."""
        j = self.names.index(name)
        with np.errstate(divide="ignore", invalid="ignore"):
            has = self.sw > 0
            sw = np.where(has, self.sw, 1.0)
            mean = np.where(has, self.s1[:, j] / sw, np.nan)
            m2 = np.maximum(self.s2[:, j] / sw - mean * mean, 0.0)
            m3 = self.s3[:, j] / sw - 3 * mean * self.s2[:, j] / sw + 2 * mean**3
            n_eff = self.sw if frequency else kish_ess(self.sw, self.sw2)
            var = m2 * n_eff / (n_eff - 1)
            se = np.where(n_eff > 1, np.sqrt(var / n_eff), np.nan)
            skew = np.where(m2 > 0, m3 / m2**1.5, 0.0)
        if bounded:
            lo, hi = bounded_mean_score(mean, np.where(n_eff > 1, var, np.nan), n_eff, z, upper)
            method = "score-bounded"
        else:  # Hall's where the state has its cubes, else (a version-1 state) the normal interval
            cubes = np.isfinite(self.s3[:, j])
            h_lo, h_hi = hall_skew(mean, se, np.where(cubes, skew, 0.0), n_eff, z)
            lo, hi = np.clip(h_lo, lower, upper), np.clip(h_hi, lower, upper)
            method = "hall-skew" if bool(cubes.all()) else "normal"
            if np.isfinite(upper) and lower == 0:  # every row alike (no spread seen): the bounded interval, not a point
                b_lo, b_hi = bounded_mean_score(mean, np.zeros_like(mean), n_eff, z, upper)
                flat = has & ~(m2 > (1e-7 * np.abs(mean)) ** 2)  # a spread of rounding only counts as none
                lo, hi = np.where(flat, b_lo, lo), np.where(flat, b_hi, hi)
        return Estimate(mean, se, lo, hi, self.rows, method, reasons_from([(~has, "no rows")], len(mean)))

    def to_bytes(self) -> bytes:
        arrays = {"rows": self.rows, "sw": self.sw, "sw2": self.sw2, "s1": self.s1, "s2": self.s2, "s3": self.s3}
        return _serial.dump("means", 2, {"names": list(self.names), "groups": list(self.groups)}, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> MeanState:
        """Version 2, or version 1 (written before the sums of cubes: those read as NaN, the interval as normal)."""
        _, h, a = _serial.load_versions(data, "means", (1, 2))
        groups = _serial.keys_from_json(h["groups"])
        s3 = a["s3"] if "s3" in a else np.full_like(a["s1"], np.nan)
        return cls(tuple(h["names"]), groups, a["rows"], a["sw"], a["sw2"], a["s1"], a["s2"], s3)

"""Regression errors per group from weighted power sums, with influence-function intervals.

The state keeps weighted sums of the error ``e = y_pred - y_true`` (``e``, ``e²``, ``|e|``, ``e⁴``), of the label
shifted by an anchor ``u = y_true - c`` (``u``, ``u²``, ``u³``, ``u⁴``, and ``e² u``, ``e² u²``) for a numerically
stable R² and its variance, of ``|e| / |y|`` for MAPE, the count of zero labels and the largest ``|e|``. The anchor
is the first batch's weighted mean; states of different anchors are merged by re-expanding the power sums.

MAE, MSE and MAPE are means of non-negative, right-skewed losses: their intervals are Hall's (1992)
skewness-corrected ones, the skewness from the third power sums ``|e|³``, ``e⁶`` and ``(|e| / |y|)³`` (state version 2;
a version-1 state still loads, with normal intervals).

Median absolute error comes from a :class:`~assay.metrics.table.SortedTable` of ``|e|``: exact while the table is
exact, otherwise within the bucket width the run reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np

from assay.errors import StateError
from assay.metrics import _serial
from assay.metrics._groups import OVERALL, GroupKeys, GroupSums, align, scatter
from assay.metrics.estimate import Estimate, reasons_from
from assay.metrics.table import SortedTable, key_to_float
from assay.stats.intervals import hall_skew, kish_ess, normal

# columns of the sums array
E1, E2, EA, E4, U1, U2, U3, U4, E2U1, E2U2, APE, APE2, EA3, E6, APE3 = range(15)
N_SUMS = 15
N_SUMS_V1 = 12  # version 1 of the state had no third moments (EA3, E6, APE3): its intervals stay normal


@dataclass(frozen=True, eq=False)
class RegressionState:
    groups: GroupKeys
    anchor: float
    rows: np.ndarray  # (G,)
    sw: np.ndarray  # (G,)
    sw2: np.ndarray  # (G,)
    sums: np.ndarray  # (G, N_SUMS)
    zero_labels: np.ndarray  # (G,) rows with y_true == 0
    max_error: np.ndarray  # (G,)
    abs_errors: SortedTable
    y_min: np.ndarray  # (G,) smallest label of a row with weight > 0 (constant labels leave R² undefined)
    y_max: np.ndarray  # (G,)

    @classmethod
    def empty(cls, *, cap: int | None = None) -> RegressionState:
        return cls((), float("nan"), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros((0, N_SUMS)),
                   np.zeros(0, np.int64), np.zeros(0), SortedTable.empty(1, cap=cap), np.zeros(0), np.zeros(0))

    def update(
        self,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        codes: np.ndarray | None = None,
        group_keys: GroupKeys = OVERALL,
    ) -> RegressionState:
        g = len(group_keys)
        idx = np.zeros(y_true.shape[0], np.int64) if codes is None else codes
        w = sample_weight
        anchor = self.anchor
        if np.isnan(anchor):
            if y_true.size == 0:
                anchor = 0.0
            elif w is not None and w.sum() > 0:
                anchor = float(np.average(y_true, weights=w))
            else:
                anchor = float(y_true.mean())
        e = y_pred - y_true
        u = y_true - anchor
        ae = np.abs(e)
        ay = np.abs(y_true)
        zero = ay == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ape = np.where(zero, 0.0, ae / np.where(zero, 1.0, ay))
        e2 = e * e
        u2 = u * u
        cols = [e, e2, ae, e2 * e2, u, u2, u2 * u, u2 * u2, e2 * u, e2 * u2, ape, ape * ape, e2 * ae, e2 * e2 * e2,
                ape * ape * ape]
        grouped = GroupSums(idx, g)  # pairwise sums per group: merged chunks agree with the whole to a few ulps
        sums = np.empty((g, N_SUMS))
        for j, col in enumerate(cols):
            sums[:, j] = grouped.sum(col if w is None else w * col)
        rows = grouped.count()
        sw = rows.astype(np.float64) if w is None else grouped.sum(w)
        sw2 = sw if w is None else grouped.sum(w * w)
        live = np.ones(y_true.shape[0], dtype=bool) if w is None else w > 0  # weight-0 rows count for nothing
        zeros = np.bincount(idx, weights=zero & live, minlength=g).astype(np.int64)
        mx = np.zeros(g)
        np.maximum.at(mx, idx[live], ae[live])
        y_min = np.full(g, np.inf)
        y_max = np.full(g, -np.inf)
        np.minimum.at(y_min, idx[live], y_true[live])
        np.maximum.at(y_max, idx[live], y_true[live])
        table = SortedTable.empty(1, cap=self.abs_errors.cap).update(
            ae, np.zeros(ae.shape[0], np.int64), w, codes=codes, group_keys=group_keys
        )
        batch = RegressionState(group_keys, anchor, rows, sw, sw2, sums, zeros, mx, table, y_min, y_max)
        return self.merge(batch) if self.groups else batch

    def rebased(self, anchor: float) -> RegressionState:
        """The same state with label sums expanded around another anchor."""
        if anchor == self.anchor or not self.groups:
            return RegressionState(self.groups, anchor, self.rows, self.sw, self.sw2, self.sums, self.zero_labels,
                                   self.max_error, self.abs_errors, self.y_min, self.y_max)
        d = self.anchor - anchor  # u_new = u_old + d
        s = self.sums.copy()
        pw = [self.sw, s[:, U1].copy(), s[:, U2].copy(), s[:, U3].copy(), s[:, U4].copy()]  # sum w u^k
        new = [sum(comb(k, i) * pw[i] * d ** (k - i) for i in range(k + 1)) for k in range(5)]
        e2u = [s[:, E2].copy(), s[:, E2U1].copy(), s[:, E2U2].copy()]
        s[:, U1], s[:, U2], s[:, U3], s[:, U4] = new[1], new[2], new[3], new[4]
        s[:, E2U1] = e2u[1] + d * e2u[0]
        s[:, E2U2] = e2u[2] + 2 * d * e2u[1] + d * d * e2u[0]
        return RegressionState(self.groups, anchor, self.rows, self.sw, self.sw2, s, self.zero_labels,
                               self.max_error, self.abs_errors, self.y_min, self.y_max)

    def merge(self, other: RegressionState) -> RegressionState:
        if not other.groups:
            return self
        if not self.groups:
            return other
        if self.abs_errors.cap != other.abs_errors.cap:
            raise StateError(f"regression merge: caps differ ({self.abs_errors.cap} vs {other.abs_errors.cap})")
        anchor = min(self.anchor, other.anchor)
        a, b = self.rebased(anchor), other.rebased(anchor)
        groups, ia, ib = align(a.groups, b.groups)
        size = len(groups)

        def add(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return scatter(x, ia, size) + scatter(y, ib, size)

        mx = np.maximum(scatter(a.max_error, ia, size), scatter(b.max_error, ib, size))

        def extreme(x: np.ndarray, y: np.ndarray, fill: float, fn: np.ufunc) -> np.ndarray:
            left, right = np.full(size, fill), np.full(size, fill)
            left[ia], right[ib] = x, y
            out: np.ndarray = fn(left, right)
            return out

        return RegressionState(groups, anchor, add(a.rows, b.rows), add(a.sw, b.sw), add(a.sw2, b.sw2),
                               add(a.sums, b.sums), add(a.zero_labels, b.zero_labels), mx,
                               a.abs_errors.merge(b.abs_errors), extreme(a.y_min, b.y_min, np.inf, np.minimum),
                               extreme(a.y_max, b.y_max, -np.inf, np.maximum))

    def metrics(self, z: float, *, frequency: bool = False) -> dict[str, Estimate]:
        g = len(self.groups)
        sw = self.sw
        has = sw > 0
        n_eff = sw if frequency else kish_ess(sw, self.sw2)
        rows = self.rows
        with np.errstate(divide="ignore", invalid="ignore"):
            m = self.sums / np.where(has, sw, np.nan)[:, None]
            corr = n_eff / (n_eff - 1)

            def mean_est(mean: np.ndarray, second: np.ndarray, third: np.ndarray) -> Estimate:
                # Hall's skewness-corrected interval: the losses are non-negative and right-skewed, so at small n
                # the normal interval's upper arm is too short (a NaN third moment, version 1, leaves it normal)
                var = np.maximum(second - mean * mean, 0.0)
                se = np.sqrt(var * corr / n_eff)
                m3 = third - 3 * mean * second + 2 * mean**3
                skew = np.where(var > 0, m3 / np.where(var > 0, var, 1.0) ** 1.5, 0.0)
                lo, hi = hall_skew(mean, se, skew, n_eff, z)
                return Estimate(mean, se, np.maximum(lo, 0.0), hi, rows, "hall-skew",
                                reasons_from([(~has, "no rows")], g))

            mae = mean_est(m[:, EA], m[:, E2], m[:, EA3])
            mse = mean_est(m[:, E2], m[:, E4], m[:, E6])
            rmse_v = np.sqrt(mse.value)
            rmse = Estimate(rmse_v, mse.se / (2 * rmse_v), np.sqrt(np.maximum(mse.low, 0.0)), np.sqrt(mse.high),
                            rows, "delta", mse.reasons)
            mape = mean_est(m[:, APE], m[:, APE2], m[:, APE3])
            zero = self.zero_labels > 0
            mape.value = np.where(zero, np.nan, mape.value)
            mape.reasons = reasons_from(
                [(~has, "no rows"), (zero, "some labels are 0, where the percentage error is undefined")], g
            )
            # R^2 = 1 - A / B, A = E[e^2], B = Var(y)
            delta = m[:, U1]
            A = m[:, E2]
            B = m[:, U2] - delta**2
            r2 = 1 - A / B
            e4c = m[:, E4] - A**2
            y4 = m[:, U4] - 4 * delta * m[:, U3] + 6 * delta**2 * m[:, U2] - 3 * delta**4
            y4c = y4 - B**2
            e2y2 = m[:, E2U2] - 2 * delta * m[:, E2U1] + delta**2 * m[:, E2]
            cross = e2y2 - A * B
            var_if = e4c / B**2 - 2 * (A / B**3) * cross + (A**2 / B**4) * y4c
            r2_se = np.sqrt(np.maximum(var_if, 0.0) * corr / n_eff)
            r2_lo, r2_hi = normal(r2, r2_se, z, -np.inf, 1.0)
            constant = has & (self.y_min >= self.y_max)
            r2 = np.where(constant, np.nan, r2)
            r2_est = Estimate(r2, r2_se, r2_lo, r2_hi, rows, "delta",
                              reasons_from([(~has, "no rows"), (constant, "the labels are constant: R² is "
                                                                "undefined")], g))
        med = self._median(z, frequency)
        nan = np.full(g, np.nan)
        max_err = Estimate(np.where(has, self.max_error, np.nan), nan, nan, nan, rows, "none",
                           reasons_from([(~has, "no rows")], g))
        return {"mae": mae, "mse": mse, "rmse": rmse, "r2": r2_est, "mape": mape,
                "median_absolute_error": med, "max_error": max_err}

    def _median(self, z: float, frequency: bool) -> Estimate:
        t = self.abs_errors
        g = len(self.groups)
        aligned = _align_table(t, self.groups)
        bounds = aligned.bounds()
        values = aligned.values()
        mass = aligned.mass[:, 0]
        value, lo, hi, se, bound = (np.full(g, np.nan) for _ in range(5))
        n_eff = self.sw if frequency else kish_ess(self.sw, self.sw2)
        for i in range(g):
            s, e = bounds[i], bounds[i + 1]
            keep = mass[s:e] > 0
            v, w = values[s:e][keep], mass[s:e][keep]
            if v.size == 0:
                continue
            cdf = np.cumsum(w)
            total = cdf[-1]
            value[i] = _averaged_inverted_cdf(v, cdf, 0.5 * total)
            half = z * 0.5 / np.sqrt(max(float(n_eff[i]), 1.0))
            lo[i] = v[min(np.searchsorted(cdf, max(0.5 - half, 0.0) * total), v.size - 1)]
            hi[i] = v[min(np.searchsorted(cdf, min(0.5 + half, 1.0) * total), v.size - 1)]
            se[i] = (hi[i] - lo[i]) / (2 * z)
            if not aligned.exact:
                keys = aligned.key[s:e][keep]
                j = min(np.searchsorted(cdf, 0.5 * total), v.size - 1)
                bound[i] = float(key_to_float(np.array([(keys[j] + 1) << aligned.shift]))[0] - v[j])
        est = Estimate(value, se, lo, hi, self.rows, "order-statistic",
                       reasons_from([(~(self.sw > 0), "no rows")], g), None if t.exact else bound)
        return est

    def to_bytes(self) -> bytes:
        arrays = {"rows": self.rows, "sw": self.sw, "sw2": self.sw2, "sums": self.sums, "zero": self.zero_labels,
                  "max": self.max_error, "table": np.frombuffer(self.abs_errors.to_bytes(), np.uint8),
                  "y_min": self.y_min, "y_max": self.y_max}
        return _serial.dump("regression", 2, {"groups": list(self.groups), "anchor": self.anchor}, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> RegressionState:
        version, h, a = _serial.load_versions(data, "regression", (1, 2))
        sums = a["sums"]
        if version == 1:  # no third moments: NaN columns, so its mean intervals stay normal (and merges carry NaN)
            sums = np.concatenate([sums, np.full((sums.shape[0], N_SUMS - N_SUMS_V1), np.nan)], axis=1)
        return cls(_serial.keys_from_json(h["groups"]), h["anchor"], a["rows"], a["sw"], a["sw2"], sums,
                   a["zero"], a["max"],
                   SortedTable.from_bytes(a["table"].tobytes()), a["y_min"], a["y_max"])


def _align_table(t: SortedTable, groups: GroupKeys) -> SortedTable:
    """The table with its groups in the order of ``groups`` (which contains them all)."""
    if t.groups == groups:
        return t
    return SortedTable.empty(t.n_mass, cap=t.cap, groups=groups).merge(t)


def _averaged_inverted_cdf(v: np.ndarray, cdf: np.ndarray, target: float) -> float:
    """scikit-learn's weighted median (``averaged_inverted_cdf``) on distinct sorted values."""
    i = min(int(np.searchsorted(cdf, target)), v.size - 1)
    if cdf[i] - target > np.finfo(np.float64).eps or i + 1 >= v.size:
        return float(v[i])
    return float((v[i] + v[i + 1]) / 2)

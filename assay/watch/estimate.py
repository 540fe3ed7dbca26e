"""Label-free performance estimation (CBPE) as mergeable window states.

Confidence-based performance estimation (CBPE, the method of NannyML) estimates what a binary classifier's metrics
*will be* on a window whose labels have not arrived. A :class:`Calibrator`, fitted once on a labeled reference, maps
each score ``s_i`` to a calibrated probability ``p_i = P(y = 1 | s_i)``. Given ``p``, the window's labels are
independent Bernoulli draws, so its realized confusion cells and ROC-AUC are random: their expectation is the
estimate, and their spread gives a **prediction interval for the window's realized value** (not a confidence
interval for a population metric).

When the estimate is valid
--------------------------
It needs ``P(y | score)`` to be the same in the window as in the reference. A covariate shift (the inputs move,
``P(y | x)`` stays) keeps it when the score carries what ``x`` says about ``y`` (a monotone function of the true
``P(y | x)``, however miscalibrated) and the reference covered the scores the window reaches (beyond the
reference's range the fit is constant). A concept shift (``P(y | x)`` changes) breaks it: the estimate keeps
following the scores while the realized value moves, and the gap between the two, once labels arrive, is itself the
signal. A covariate shift along inputs the model ignores, but that bear on ``y``, changes ``P(y | score)`` as well
and breaks it in the same way.

The state
---------
With ``d_i = [s_i >= threshold]``, a window holds, for the calibrator's main fit and each of its ``B`` bootstrap
refits (a leading axis of ``B + 1``)::

    TP = Σ p d,  FN = Σ p (1 - d),  v1 = Σ p (1 - p) d,  v0 = Σ p (1 - p) (1 - d)      expected cells, variances
    pos[k] = Σ p over the rows of score bin k                                          the score grid

and, once, the row counts (``n``, ``n_d = Σ d`` and per bin), ``w[k] = Σ p (1 - p)`` per bin under the main fit,
and each bin's smallest and largest score. ``FP = n_d - TP`` and ``TN = n - n_d - FN``. The grid has ``grid``
equal-width bins over [0, 1] (bin ``min(floor(s * grid), grid - 1)``). Everything adds (or takes a min / max)
under merge; the size depends on ``B`` and ``grid`` only: about ``8 (B + 5) grid`` bytes, 200 kB at the defaults
before compression.

Estimates and intervals
-----------------------
Each value is the metric of the expected cells (for ROC-AUC, of the expected pair counts), CBPE's convention. The
interval is ``value ± (z sqrt(V_s + V_c) + |β|)``, clipped to [0, 1]. ``V_c`` and ``β`` are the variance of the
same estimate across the ``B`` refits and the refits' mean minus the main fit's value: the calibrator's own
uncertainty, which does not shrink with the window, and the bootstrap's estimate of its bias. An isotonic fit is
pulled towards 0 and 1 where the reference is sparse (near the ends of its score range), which makes the estimate
optimistic: in the simulation (``benchmarks/sim_estimate.py``) by about +0.001 in accuracy and +0.0015 in ROC-AUC
with a 50,000-row reference, +0.003 and +0.005 with 10,000 rows. The bootstrap sees about half of that; the
interval widens by ``|β|`` rather than moving by it, so the value stays the plain CBPE estimate (without the term,
the coverage of the AUC of 20,000-row windows from a 10,000-row reference was 0.84; with it, 0.91). Fit on tens of
thousands of labeled rows. ``V_s`` is the variance of the realized value given ``p``: TP and FN are independent sums
of Bernoullis with variances ``v1`` and ``v0``, while ``n`` and ``n_d`` are known, so

- accuracy ``(TP + n - n_d - FN) / n`` is linear in them: ``V_s = (v1 + v0) / n²`` exactly (method
  ``cbpe-bernoulli``);
- precision ``TP / n_d`` too: ``V_s = v1 / n_d²`` exactly (``cbpe-bernoulli``);
- recall ``TP / (TP + FN)``, delta method: ``V_s = (FN² v1 + TP² v0) / (TP + FN)⁴`` (``cbpe-delta``);
- F1 ``2 TP / (TP + FN + n_d)``, delta method: ``V_s = 4 ((n_d + FN)² v1 + TP² v0) / (TP + FN + n_d)⁴``.

ROC-AUC (method ``cbpe-delta-grid``). The realized AUC is ``U / D`` with ``U = Σ_{i≠j} y_i (1 - y_j) H(s_i - s_j)``
(``H`` is 1, ½, 0 for >, =, <) and ``D = N₊ N₋``. The value is ``E[U] / E[D]``, self-pairs excluded from both:
``E[D] = P N - S`` with ``P = Σ p``, ``N = Σ (1 - p)``, ``S = Σ p (1 - p)``, and on the grid
``E[U] ≈ Σ_k pos[k] (neg below k + ½ neg[k]) - ½ S``, pairs within one bin counting half. The grid's error against
the exact ``E[U] / E[D]`` is at most ``½ Σ_k (pos[k] neg[k] - w[k]) / E[D]`` over the bins that hold more than one
distinct score (returned as ``error_bound``): never more than half the largest share of the positive (or negative)
mass in one bin, so about ``f_max / (2 grid)`` for scores of density at most ``f_max``, and 0 when each distinct
score has a bin of its own. ``V_s`` is the delta method on the labels with the scores fixed (the conditional form of
DeLong's variance): ``V_s = Σ_k a_k² w[k]`` with ``a_k = (neg below k + ½ neg[k] - pos above k - ½ pos[k]
- A (N - P)) / E[D]``, the derivative of ``U / D`` in one label of bin ``k``. Hanley and McNeil's variance is not
used: it models the scores as drawn afresh from exponential-like class distributions, whereas a window's scores are
observed and only its labels are random, so it overstates the spread of the realized value (3-7% wider in the
simulation, for no gain in coverage; the tests check the delta method against a Monte Carlo of the labels).

Example
-------
A reference where score 0.2 is right 20% of the time and 0.8 80% of the time; a window of one 0.2 and three 0.8:
``TP = 3 * 0.8``, ``FN = 0.2``, ``TN = 0.8``, so accuracy ``(2.4 + 0.8) / 4``, recall ``2.4 / 2.6``.

>>> y_true = np.r_[np.ones(10), np.zeros(40), np.ones(40), np.zeros(10)]
>>> y_score = np.r_[np.full(50, 0.2), np.full(50, 0.8)]
>>> cal = Calibrator.fit(y_true, y_score, threshold=0.5, rng=np.random.default_rng(0))
>>> state = EstimationState.for_calibrator(cal).update(cal, np.array([0.2, 0.8, 0.8, 0.8]))
>>> out = state.compute(cal)
>>> {name: round(m["value"], 4) for name, m in out.items()}
{'accuracy': 0.8, 'precision': 0.8, 'recall': 0.9231, 'f1': 0.8571, 'roc_auc': 0.8}
>>> out["roc_auc"]["error_bound"], out["accuracy"]["method"]
(0.0, 'cbpe-bernoulli')
>>> EstimationState.for_calibrator(cal).compute()["accuracy"]["reason"]
'no rows in the window'
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy.optimize import isotonic_regression
from scipy.special import ndtri

from assay.errors import ColumnError, ConfigError, InputError, StateError, message
from assay.metrics import _serial

__all__ = ["DEFAULT_GRID", "METRICS", "MIN_REFERENCE_ROWS", "Calibrator", "EstimationState"]

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
MIN_REFERENCE_ROWS = 100
DEFAULT_GRID = 1000
_CHUNK = 1 << 16  # rows per vectorised batch in update: bounds the (B + 1, rows) probability array
_METHODS = {"accuracy": "cbpe-bernoulli", "precision": "cbpe-bernoulli", "recall": "cbpe-delta",
            "f1": "cbpe-delta", "roc_auc": "cbpe-delta-grid"}


def _scores(y_score: Any, where: str) -> np.ndarray:
    """Validate scores: a 1-D numeric array of finite values in [0, 1], as float64."""
    s = np.asarray(y_score)
    if s.ndim != 1 or s.dtype.kind not in "biuf":
        raise ColumnError(message(where=where, expected="a 1-D numeric array of scores",
                                  found=f"shape {s.shape} of dtype {s.dtype}", fix="pass one score per row"))
    s = s.astype(np.float64, copy=False)
    bad = ~((s >= 0.0) & (s <= 1.0))  # NaN fails both comparisons
    if bad.any():
        i = int(np.argmax(bad))
        raise ColumnError(message(where=f"{where}, row {i}", expected="finite scores in [0, 1]",
                                  found=f"{float(s[i])!r} ({int(bad.sum())} such rows)",
                                  fix="pass the positive-class probability; drop or impute missing scores"))
    return s


def _config_value(name: str, value: Any, ok: bool, expected: str) -> None:
    if not ok:
        raise ConfigError(message(where=f"argument {name}", expected=expected, found=repr(value)))


def _isotonic(hits: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Increasing least-squares fit of the positive share per distinct score, weighted by its rows."""
    fit = isotonic_regression(hits / rows, weights=rows, increasing=True).x
    return np.clip(fit, 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class Calibrator:
    """Score to calibrated probability, fitted on a labeled reference, with bootstrap refits.

    ``knots`` are distinct reference scores (increasing) and ``values[b]`` fit ``b`` at them: row 0 is the fit on the
    whole reference, rows 1..B refits on bootstrap resamples of it. Between knots the map is linear, beyond them
    constant, as scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``. Build it with :meth:`fit`.
    """

    knots: np.ndarray
    values: np.ndarray
    threshold: float
    method: str = "isotonic"
    n_reference: int = 0

    @classmethod
    def fit(cls, y_true: Any, y_score: Any, *, threshold: float = 0.5, method: str = "isotonic", n_boot: int = 20,
            rng: np.random.Generator) -> Calibrator:
        """Fit on a labeled reference: ``y_true`` 0/1, ``y_score`` in [0, 1], at least 100 rows of both classes.

        Ties are pooled per distinct score before the isotonic fit. Each of the ``n_boot`` refits (0, or at least 2)
        resamples the reference rows with replacement, drawn from ``rng``.
        """
        _config_value("method", method, method == "isotonic", "'isotonic' (the one method implemented)")
        _config_value("threshold", threshold, isinstance(threshold, (int, float)) and 0.0 <= threshold <= 1.0,
                      "a number in [0, 1]")
        _config_value("n_boot", n_boot, isinstance(n_boot, (int, np.integer)) and (n_boot == 0 or n_boot >= 2),
                      "0 or an integer >= 2 (the calibrator variance needs two refits)")
        s = _scores(y_score, "reference y_score")
        y = np.asarray(y_true)
        if y.ndim != 1 or len(y) != len(s):
            raise InputError(message(where="reference y_true", expected=f"one label per score ({len(s)} rows)",
                                     found=f"shape {y.shape}", fix="pass y_true and y_score of the same rows"))
        if len(s) < MIN_REFERENCE_ROWS:
            raise InputError(message(where="reference", expected=f"at least {MIN_REFERENCE_ROWS} labeled rows",
                                     found=f"{len(s)} rows", fix="fit on a larger labeled sample"))
        if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
            found = np.unique(y[~np.isin(y, (0, 1))] if y.dtype.kind in "biuf" else y)[:5].tolist()
            raise ColumnError(message(where="reference y_true", expected="0/1 labels", found=f"values {found}",
                                      fix="encode the positive class as 1 and drop rows without a label"))
        y = y.astype(np.float64)
        if y.min() == y.max():
            raise InputError(message(where="reference y_true", expected="both classes",
                                     found=f"only label {int(y[0])} in {len(y)} rows",
                                     fix="fit on a reference that holds positives and negatives"))
        knots, inverse = np.unique(s, return_inverse=True)
        k, n = len(knots), len(s)
        fits = [_isotonic(np.bincount(inverse, weights=y, minlength=k), np.bincount(inverse, minlength=k))]
        for _ in range(int(n_boot)):
            draws = np.bincount(rng.integers(0, n, size=n), minlength=n).astype(np.float64)
            rows = np.bincount(inverse, weights=draws, minlength=k)
            hits = np.bincount(inverse, weights=draws * y, minlength=k)
            keep = rows > 0
            fits.append(np.interp(knots, knots[keep], _isotonic(hits[keep], rows[keep])))
        values = np.vstack(fits)
        if k > 2:  # drop knots inside a run where every fit is flat: the same piecewise-linear maps, exactly
            flat = np.all((values[:, 1:-1] == values[:, :-2]) & (values[:, 1:-1] == values[:, 2:]), axis=0)
            keep_knot = np.r_[True, ~flat, True]
            knots, values = knots[keep_knot], values[:, keep_knot]
        return cls(np.ascontiguousarray(knots), np.ascontiguousarray(values), float(threshold), method, n)

    @property
    def n_boot(self) -> int:
        """The number of bootstrap refits ``B``."""
        return int(self.values.shape[0]) - 1

    @cached_property
    def id(self) -> str:
        """A content hash of the fitted maps and the threshold: states record it, and merge only equal ids."""
        h = hashlib.sha256(f"{self.method}|{self.threshold!r}|".encode())
        h.update(self.knots.tobytes())
        h.update(self.values.tobytes())
        return h.hexdigest()[:16]

    def predict(self, y_score: Any) -> np.ndarray:
        """Calibrated probabilities under the main fit."""
        return self._all(_scores(y_score, "y_score"))[0]

    def _all(self, s: np.ndarray) -> np.ndarray:
        """Probabilities ``(B + 1, rows)`` under every fit, for validated scores."""
        return np.clip(np.stack([np.interp(s, self.knots, v) for v in self.values]), 0.0, 1.0)

    def to_bytes(self) -> bytes:
        header = {"threshold": self.threshold, "method": self.method, "n_reference": self.n_reference}
        return _serial.dump("calibrator", 1, header, {"knots": self.knots, "values": self.values})

    @classmethod
    def from_bytes(cls, data: bytes) -> Calibrator:
        h, a = _serial.load(data, "calibrator", 1)
        try:
            knots, values = a["knots"], a["values"]
            threshold, method, n_reference = float(h["threshold"]), str(h["method"]), int(h["n_reference"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"calibrator bytes: expected knots, values and a header, found {exc!r} missing") from None
        if knots.ndim != 1 or values.ndim != 2 or values.shape[1] != len(knots) or len(knots) == 0:
            raise StateError(f"calibrator bytes: expected values (B + 1, {len(knots)}), found {values.shape}")
        return cls(knots, values, threshold, method, n_reference)


@dataclass(frozen=True, eq=False)
class EstimationState:
    """Sufficient sums of one window's calibrated predictions (see the module docstring for each array).

    ``cells[b]`` is ``(TP, FN, v1, v0)`` under fit ``b``; ``rows`` the rows per score bin, ``pos[b]`` the positive
    mass per bin under fit ``b``, ``var`` the ``Σ p (1 - p)`` per bin under the main fit, ``lo`` / ``hi`` the smallest
    and largest score per bin (+inf / -inf when empty).
    """

    calibrator_id: str
    threshold: float
    n_boot: int
    grid: int
    n: int
    n_pred_pos: int
    cells: np.ndarray
    rows: np.ndarray
    pos: np.ndarray
    var: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def empty(cls, calibrator_id: str, threshold: float, n_boot: int, grid: int = DEFAULT_GRID) -> EstimationState:
        """The state of a window without rows, the identity of :meth:`merge`."""
        _config_value("threshold", threshold, isinstance(threshold, (int, float)) and 0.0 <= threshold <= 1.0,
                      "a number in [0, 1]")
        _config_value("n_boot", n_boot, isinstance(n_boot, (int, np.integer)) and n_boot >= 0, "an integer >= 0")
        _config_value("grid", grid, isinstance(grid, (int, np.integer)) and grid >= 1, "an integer >= 1")
        f, g = int(n_boot) + 1, int(grid)
        return cls(str(calibrator_id), float(threshold), int(n_boot), g, 0, 0, np.zeros((f, 4)),
                   np.zeros(g, np.int64), np.zeros((f, g)), np.zeros(g), np.full(g, np.inf), np.full(g, -np.inf))

    @classmethod
    def for_calibrator(cls, calibrator: Calibrator, grid: int = DEFAULT_GRID) -> EstimationState:
        """``empty`` configured from ``calibrator``."""
        return cls.empty(calibrator.id, calibrator.threshold, calibrator.n_boot, grid)

    def _config(self) -> str:
        return f"calibrator {self.calibrator_id}, threshold {self.threshold}, n_boot {self.n_boot}, grid {self.grid}"

    def _check(self, calibrator: Calibrator, where: str) -> None:
        if (calibrator.id, calibrator.threshold, calibrator.n_boot) != (self.calibrator_id, self.threshold,
                                                                        self.n_boot):
            raise StateError(message(
                where=where, expected=f"the calibrator of the state ({self._config()})",
                found=f"calibrator {calibrator.id}, threshold {calibrator.threshold}, n_boot {calibrator.n_boot}",
                fix="start windows with EstimationState.for_calibrator(calibrator); a refit calibrator starts new "
                    "states"))

    def update(self, calibrator: Calibrator, y_score: Any) -> EstimationState:
        """Add a batch of predictions (scores in [0, 1]) of the window."""
        self._check(calibrator, "estimation update")
        s = _scores(y_score, "window y_score")
        state = self
        for start in range(0, len(s), _CHUNK):
            state = state.merge(self._batch(calibrator, s[start : start + _CHUNK]))
        return state

    def _batch(self, calibrator: Calibrator, s: np.ndarray) -> EstimationState:
        g = self.grid
        p = calibrator._all(s)
        q = p * (1.0 - p)
        d = (s >= self.threshold).astype(np.float64)
        cells = np.stack([p @ d, p @ (1.0 - d), q @ d, q @ (1.0 - d)], axis=1)
        bins = np.minimum((s * g).astype(np.int64), g - 1)
        flat = (np.arange(p.shape[0])[:, None] * g + bins).ravel()
        pos = np.bincount(flat, weights=p.ravel(), minlength=p.shape[0] * g).reshape(p.shape[0], g)
        lo, hi = np.full(g, np.inf), np.full(g, -np.inf)
        np.minimum.at(lo, bins, s)
        np.maximum.at(hi, bins, s)
        return EstimationState(self.calibrator_id, self.threshold, self.n_boot, g, len(s), int(d.sum()), cells,
                               np.bincount(bins, minlength=g), pos, np.bincount(bins, weights=q[0], minlength=g),
                               lo, hi)

    def merge(self, other: EstimationState) -> EstimationState:
        """The state of both windows' rows; raises :class:`StateError` for states of different configuration."""
        if self._config() != other._config():
            raise StateError(message(where="estimation merge", expected="states of one configuration",
                                     found=f"{self._config()} and {other._config()}",
                                     fix="merge only windows estimated with the same calibrator and grid"))
        return EstimationState(self.calibrator_id, self.threshold, self.n_boot, self.grid, self.n + other.n,
                               self.n_pred_pos + other.n_pred_pos, self.cells + other.cells, self.rows + other.rows,
                               self.pos + other.pos, self.var + other.var, np.minimum(self.lo, other.lo),
                               np.maximum(self.hi, other.hi))

    def compute(self, calibrator: Calibrator | None = None, confidence: float = 0.95) -> dict[str, dict[str, Any]]:
        """Each metric of :data:`METRICS` as ``{"value", "ci_low", "ci_high", "n", "method"}``.

        The interval, ``value ± (z sqrt(V_s + V_c) + |β|)`` clipped to [0, 1], is a ``confidence`` prediction
        interval for the window's realized value (see the module docstring); ``n`` is the window's rows. An
        undefined metric has ``value`` (and bounds) None and a ``reason``; ``roc_auc`` also carries the grid's
        ``error_bound``. The state holds every sum it needs: ``calibrator``, when given, is only checked to be the
        state's.
        """
        if calibrator is not None:
            self._check(calibrator, "estimation compute")
        _config_value("confidence", confidence, isinstance(confidence, float) and 0.0 < confidence < 1.0,
                      "a float in (0, 1)")
        if self.n == 0:
            return {name: _undefined(name, 0, "no rows in the window") for name in METRICS}
        z = float(ndtri(0.5 + confidence / 2.0))
        out = {}
        for name, (values, var_s, reason) in _metrics(self).items():
            if reason is not None:
                out[name] = _undefined(name, self.n, reason)
                continue
            boot = values[1:][np.isfinite(values[1:])]
            var_c, bias = 0.0, 0.0
            if len(boot) >= 2:
                var_c, bias = float(np.var(boot, ddof=1)), float(boot.mean() - values[0])
            value = min(1.0, max(0.0, float(values[0])))
            half = z * math.sqrt(max(var_s, 0.0) + var_c) + abs(bias)
            out[name] = {"value": value, "ci_low": max(0.0, value - half), "ci_high": min(1.0, value + half),
                         "n": self.n, "method": _METHODS[name]}
        out["roc_auc"]["error_bound"] = _auc_error_bound(self)
        return out

    def to_bytes(self) -> bytes:
        header = {"calibrator_id": self.calibrator_id, "threshold": self.threshold, "n_boot": self.n_boot,
                  "grid": self.grid, "n": self.n, "n_pred_pos": self.n_pred_pos}
        arrays = {"cells": self.cells, "rows": self.rows, "pos": self.pos, "var": self.var, "lo": self.lo,
                  "hi": self.hi}
        return _serial.dump("estimation", 1, header, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> EstimationState:
        h, a = _serial.load(data, "estimation", 1)
        try:
            f, g = int(h["n_boot"]) + 1, int(h["grid"])
            shapes = {"cells": (f, 4), "rows": (g,), "pos": (f, g), "var": (g,), "lo": (g,), "hi": (g,)}
            wrong = [k for k, shape in shapes.items() if a[k].shape != shape]
            config = (str(h["calibrator_id"]), float(h["threshold"]), f - 1, g, int(h["n"]), int(h["n_pred_pos"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"estimation state bytes: expected the state's header and arrays, found {exc!r} "
                             "missing") from None
        if wrong:
            raise StateError(f"estimation state bytes: expected arrays of shapes {shapes}, found {wrong} differing")
        return cls(*config, a["cells"], a["rows"], a["pos"], a["var"], a["lo"], a["hi"])


def _undefined(name: str, n: int, reason: str) -> dict[str, Any]:
    out: dict[str, Any] = {"value": None, "ci_low": None, "ci_high": None, "n": n, "method": _METHODS[name],
                           "reason": reason}
    if name == "roc_auc":
        out["error_bound"] = None
    return out


def _metrics(state: EstimationState) -> dict[str, tuple[np.ndarray, float, str | None]]:
    """Per metric: the values under every fit ``(B + 1,)`` (NaN where undefined, internal only), the sampling
    variance of the realized value under the main fit, and the reason the main value is undefined (or None)."""
    tp, fn, v1, v0 = state.cells.T
    n, n_d = float(state.n), float(state.n_pred_pos)
    m, den = tp + fn, tp + fn + n_d
    auc, var_auc, d_pairs = _auc(state)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "accuracy": ((tp + n - n_d - fn) / n, float((v1[0] + v0[0]) / n**2), None),
            "precision": (tp / n_d, float(v1[0] / n_d**2) if n_d > 0 else 0.0,
                          None if n_d > 0 else "no row is predicted positive (score >= threshold)"),
            "recall": (tp / m, float((fn[0] ** 2 * v1[0] + tp[0] ** 2 * v0[0]) / m[0] ** 4) if m[0] > 0 else 0.0,
                       None if m[0] > 0 else "the calibrated probabilities expect no positive row"),
            "f1": (2 * tp / den,
                   float(4 * ((n_d + fn[0]) ** 2 * v1[0] + tp[0] ** 2 * v0[0]) / den[0] ** 4) if den[0] > 0 else 0.0,
                   None if den[0] > 0 else "no row is predicted positive and none is expected positive"),
            "roc_auc": (auc, var_auc,
                        None if d_pairs > 0 else "the calibrated probabilities expect rows of one class only"),
        }


def _auc(state: EstimationState) -> tuple[np.ndarray, float, float]:
    """Expected AUC under every fit, the delta-method variance of the realized AUC and ``E[D]`` (main fit)."""
    pos = state.pos
    neg = state.rows - pos
    self_pairs = state.cells[:, 2] + state.cells[:, 3]
    big_p, big_n = pos.sum(axis=1), neg.sum(axis=1)
    below = np.cumsum(neg, axis=1) - neg
    above = big_p[:, None] - np.cumsum(pos, axis=1)
    pairs = big_p * big_n - self_pairs
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = ((pos * (below + 0.5 * neg)).sum(axis=1) - 0.5 * self_pairs) / pairs
    if not pairs[0] > 0:
        return auc, 0.0, float(pairs[0])
    grad = (below[0] + 0.5 * neg[0] - above[0] - 0.5 * pos[0] - auc[0] * (big_n[0] - big_p[0])) / pairs[0]
    return auc, float(grad**2 @ state.var), float(pairs[0])


def _auc_error_bound(state: EstimationState) -> float | None:
    """Half the within-bin pair mass of the bins holding distinct scores, over ``E[D]`` (main fit)."""
    pos = state.pos[0]
    pairs = float(pos.sum() * (state.n - pos.sum()) - state.cells[0, 2] - state.cells[0, 3])
    if not pairs > 0:
        return None
    spread = state.hi > state.lo
    within = (pos * (state.rows - pos) - state.var)[spread].sum()
    return max(0.0, 0.5 * float(within) / pairs)

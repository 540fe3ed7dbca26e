"""A mergeable quantile sketch for non-negative values (latency in seconds), after DDSketch.

Masson, Rim and Lee (2019), "DDSketch: a fast and fully-mergeable quantile sketch with relative-error guarantees".
With relative accuracy ``alpha`` and ``gamma = (1 + alpha) / (1 - alpha)``, a value ``x >= MIN_VALUE`` falls in
bucket ``i = ceil(log_gamma(x))``, which covers ``(gamma**(i - 1), gamma**i]``; the bucket answers with
``2 gamma**i / (gamma + 1)``, which is within relative error ``alpha`` of every value in the bucket. Values below
``MIN_VALUE`` (1e-9, zero included) are counted in a *zero bucket*, which answers ``0.0``.

Rank definition: ``quantile(q)`` estimates the *inverted-CDF* sample quantile, the ``k``-th smallest value with
``k = max(1, ceil(q n))`` (NumPy's ``np.quantile(x, q, method="inverted_cdf")``).

Guarantee: when no bucket has been collapsed (below), ``|quantile(q) - x_k| <= alpha x_k`` for the true ``x_k``
(up to floating-point rounding of the logarithm, ~1e-12 relative) when ``x_k >= MIN_VALUE``, and
``|quantile(q) - x_k| < MIN_VALUE`` below it. Bucket assignment is monotone in ``x``, so the ``k``-th smallest
value always lies in the bucket that the rank selects.

Buckets are stored sparsely: sorted ``int64`` indices with ``int64`` counts, so merging is a sorted union and is
exactly associative and commutative. The number of buckets is capped (``max_buckets``, default 2,048); beyond
it the *lowest* buckets are collapsed into the lowest kept one, as DDSketch does. Consequence: quantiles whose
rank falls in the collapsed mass are over-estimated (they answer with the lowest kept bucket); high quantiles
(p50, p95, p99 of latency) keep the guarantee. The cap is only reached when the positive values span a ratio of
more than ``gamma**max_buckets``: with ``alpha = 0.01`` that is about 6e17 (1 ns to 20 years), so latencies never
collapse at the defaults; with ``alpha = 0.001`` the span is about 60.

NaN values are ignored; negative or infinite values are rejected with :class:`~assay.errors.InputError`.

>>> s = QuantileSketch.empty(alpha=0.01).update(np.array([0.1, 0.2, 0.3, 0.4, 1.0, np.nan]))
>>> s.count
5
>>> median = s.quantile(0.5)  # the true median is 0.3
>>> abs(median - 0.3) <= 0.01 * 0.3
True
>>> round(median, 4)
0.2982
>>> QuantileSketch.empty().quantile(0.5) is None
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.errors import ConfigError, InputError, StateError, message
from assay.metrics import _serial

__all__ = ["MIN_VALUE", "QuantileSketch"]

MIN_VALUE = 1e-9  # values below go into the zero bucket
_KIND = "quantile_sketch"
_VERSION = 1


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.int64)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class QuantileSketch:
    """Log-bucketed counts of non-negative values; an immutable value (every operation returns a new sketch)."""

    alpha: float
    max_buckets: int
    zero_count: int
    index: np.ndarray  # int64, sorted, unique: bucket indices
    counts: np.ndarray  # int64, > 0, aligned with ``index``

    # -- construction ------------------------------------------------------------------------------------------

    @classmethod
    def empty(cls, alpha: float = 0.01, *, max_buckets: int = 2048) -> QuantileSketch:
        """A sketch with relative accuracy ``alpha`` in (0, 1) and at most ``max_buckets`` (>= 1) buckets."""
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
            raise ConfigError(message(where="quantile sketch alpha", expected="a relative accuracy in (0, 1)",
                                      found=repr(alpha), fix="use e.g. 0.01 for 1 %"))
        if isinstance(max_buckets, bool) or not isinstance(max_buckets, int) or max_buckets < 1:
            raise ConfigError(message(where="quantile sketch max_buckets", expected="an integer >= 1",
                                      found=repr(max_buckets), fix="use e.g. 2048"))
        return cls(float(alpha), max_buckets, 0, _frozen(np.zeros(0)), _frozen(np.zeros(0)))

    @property
    def gamma(self) -> float:
        return (1.0 + self.alpha) / (1.0 - self.alpha)

    @property
    def count(self) -> int:
        """Number of values counted (NaN excluded)."""
        return self.zero_count + int(self.counts.sum())

    # -- the state ---------------------------------------------------------------------------------------------

    def update(self, values: np.ndarray, *, name: str = "sketch values") -> QuantileSketch:
        """Add ``values`` (any shape; NaN ignored). ``name`` is what an error message calls them."""
        try:
            x = np.asarray(values, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise InputError(message(where=name, expected="numbers", found=f"values of type "
                                     f"{np.asarray(values).dtype}", fix="pass a numeric array")) from None
        x = x[~np.isnan(x)]
        bad = (x < 0) | np.isinf(x)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise InputError(message(where=name, expected="non-negative finite numbers (NaN for missing)",
                                     found=f"{int(bad.sum())} negative or infinite value(s), e.g. {x[first]!r}",
                                     fix="check the unit and the sign of the column"))
        return self._update_checked(x)

    def _update_checked(self, x: np.ndarray) -> QuantileSketch:
        """Add finite, non-negative, NaN-free float64 values (validated by the caller)."""
        if x.size == 0:
            return self
        pos = x[x >= MIN_VALUE]
        zeros = int(x.size - pos.size)
        idx, counts = np.unique(np.ceil(np.log(pos) / math.log(self.gamma)).astype(np.int64), return_counts=True)
        return self.merge(self._with(zeros, idx, counts))

    def _with(self, zero_count: int, index: np.ndarray, counts: np.ndarray) -> QuantileSketch:
        """A sketch of this configuration from sorted unique buckets, the cap applied: the lowest buckets beyond
        ``max_buckets`` are collapsed into the lowest kept one."""
        extra = index.size - self.max_buckets
        if extra > 0:
            kept = counts[extra:].copy()
            kept[0] += counts[:extra].sum()
            index, counts = index[extra:], kept
        return QuantileSketch(self.alpha, self.max_buckets, zero_count, _frozen(index), _frozen(counts))

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """The sketch of both inputs: a sorted union of the buckets (then the cap); exact, so associative."""
        if self.alpha != other.alpha or self.max_buckets != other.max_buckets:
            raise StateError(message(
                where="quantile sketch merge",
                expected="sketches of the same alpha and max_buckets",
                found=f"alpha={self.alpha!r}, max_buckets={self.max_buckets} and alpha={other.alpha!r}, "
                      f"max_buckets={other.max_buckets}",
                fix="build every state of a series with the same alpha"))
        if other.index.size == 0 and other.zero_count == 0:
            return self
        if self.index.size == 0 and self.zero_count == 0:
            return other
        index = np.concatenate([self.index, other.index])
        counts = np.concatenate([self.counts, other.counts])
        index, inverse = np.unique(index, return_inverse=True)
        summed = np.zeros(index.size, np.int64)
        np.add.at(summed, inverse, counts)
        return self._with(self.zero_count + other.zero_count, index, summed)

    def quantile(self, q: float) -> float | None:
        """The inverted-CDF ``q``-quantile, within relative error ``alpha``; ``None`` when the sketch is empty."""
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0 <= q <= 1:
            raise ConfigError(message(where="quantile q", expected="a level in [0, 1]", found=repr(q),
                                      fix="use e.g. 0.95 for p95"))
        n = self.count
        if n == 0:
            return None
        rank = min(n, max(1, math.ceil(q * n)))
        if rank <= self.zero_count:
            return 0.0
        pos = int(np.searchsorted(np.cumsum(self.counts), rank - self.zero_count, side="left"))
        gamma = self.gamma
        return float(2.0 * gamma ** int(self.index[pos]) / (gamma + 1.0))

    # -- bytes -------------------------------------------------------------------------------------------------

    def _header(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "max_buckets": self.max_buckets, "zero_count": self.zero_count}

    @classmethod
    def _from_parts(cls, header: dict[str, Any], index: np.ndarray, counts: np.ndarray) -> QuantileSketch:
        try:
            sketch = cls.empty(float(header["alpha"]), max_buckets=int(header["max_buckets"]))
            zero = int(header["zero_count"])
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise StateError(f"quantile sketch bytes: expected alpha, max_buckets and zero_count, found {exc}. "
                             "Fix: rebuild the state from its events") from None
        if index.shape != counts.shape or index.ndim != 1 or zero < 0:
            raise StateError("quantile sketch bytes: expected aligned bucket indices and counts, found shapes "
                             f"{index.shape} and {counts.shape}. Fix: rebuild the state from its events")
        return cls(sketch.alpha, sketch.max_buckets, zero, _frozen(index), _frozen(counts))

    def to_bytes(self) -> bytes:
        return _serial.dump(_KIND, _VERSION, self._header(), {"index": self.index, "counts": self.counts})

    @classmethod
    def from_bytes(cls, data: bytes) -> QuantileSketch:
        header, arrays = _serial.load(data, _KIND, _VERSION)
        if "index" not in arrays or "counts" not in arrays:
            raise StateError("quantile sketch bytes: expected the arrays index and counts, found "
                             f"{sorted(arrays)}. Fix: rebuild the state from its events")
        return cls._from_parts(header, arrays["index"], arrays["counts"])

    # -- value semantics ---------------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantileSketch):
            return NotImplemented
        return (self.alpha == other.alpha and self.max_buckets == other.max_buckets
                and self.zero_count == other.zero_count and np.array_equal(self.index, other.index)
                and np.array_equal(self.counts, other.counts))

    def __hash__(self) -> int:
        return hash((self.alpha, self.max_buckets, self.zero_count, self.index.tobytes(), self.counts.tobytes()))

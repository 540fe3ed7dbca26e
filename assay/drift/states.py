"""Mergeable per-column states of a drift profile: update with a chunk, merge with another, serialise to a dict.

One state per column, by kind:

- :class:`NumericState` (numeric and datetime columns, and the length of text): counts in the bins of a fixed fine
  grid (:func:`assay.drift.binning.fine_grid` of the reference), the reference's coarse (decile) edges, which are a
  subset of the fine edges, missing and non-finite counts, and Chan's mergeable moments (count, mean, M2, min, max);
- :class:`CategoricalState` (categorical and boolean columns): a frequency table of the values as strings, capped at
  ``max_categories`` distinct values (the rarest are folded into an ``other`` count, and the state says so);
- :class:`TextState`: a :class:`NumericState` of lengths plus counts of empty, valid-JSON and refusal texts;
- :class:`BrokenState`: a column that could not be profiled (a text column where the grid wants numbers, for
  instance), with the reason. It merges with itself only, so one bad column never stops the others.

Merging needs the same grid (the same ``edges``): integer counts add exactly, moments merge by Chan's formula
(equal up to floating-point rounding to the moments of the whole), and frequency tables add. A state never holds
rows.

>>> import numpy as np
>>> from assay.drift.binning import fine_grid
>>> grid = fine_grid(np.arange(100.0), bins=4)
>>> a = NumericState.empty(grid, np.array([49.5])).update(np.array([1.0, 2.0, np.nan]))
>>> b = NumericState.empty(grid, np.array([49.5])).update(np.array([99.0, 120.0]))
>>> m = a.merge(b)
>>> m.counts.tolist(), m.missing, m.rows
([0, 2, 0, 0, 1, 1], 1, 5)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from assay.drift.binning import sorted_bin_counts
from assay.errors import StateError, message

__all__ = ["BrokenState", "CategoricalState", "ColumnState", "Moments", "NumericState", "TextState", "state_from_dict"]

DEFAULT_MAX_CATEGORIES = 10_000


@dataclass(frozen=True)
class Moments:
    """Count, mean, sum of squared deviations (M2), min and max of the finite values; merged by Chan's formula."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    @staticmethod
    def of(values: np.ndarray, *, ordered: bool = False) -> Moments:
        if values.size == 0:
            return Moments()
        mean = float(values.mean())
        deviations = values - mean
        low, high = (values[0], values[-1]) if ordered else (values.min(), values.max())
        return Moments(int(values.size), mean, float(deviations @ deviations), float(low), float(high))

    def merge(self, other: Moments) -> Moments:
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        n = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / n
        m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / n
        return Moments(n, mean, m2, min(self.min, other.min), max(self.max, other.max))

    @property
    def sd(self) -> float | None:
        """Sample standard deviation (``ddof=1``), ``None`` below two values."""
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean, "m2": self.m2,
                "min": None if self.count == 0 else self.min, "max": None if self.count == 0 else self.max}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Moments:
        if not d["count"]:
            return Moments()
        return Moments(int(d["count"]), float(d["mean"]), float(d["m2"]), float(d["min"]), float(d["max"]))


def _check_same(what: str, a: Any, b: Any) -> None:
    if not np.array_equal(np.asarray(a), np.asarray(b)):
        raise StateError(message(where=f"merging two drift states ({what})", expected="the same grid on both sides",
                                 found="different grids",
                                 fix="profile current data with --like REFERENCE.profile to share its grid"))


@dataclass(frozen=True)
class NumericState:
    """Counts of a numeric column in the ``len(edges) + 1`` right-closed bins of a fixed fine grid.

    ``coarse`` are the reference's interior decile edges (each one of ``edges``), ``missing`` counts nulls and NaN,
    ``infinite`` counts ±inf (which also sit in the outer bins), ``rows`` counts every row seen.
    """

    edges: np.ndarray
    coarse: np.ndarray
    counts: np.ndarray
    missing: int = 0
    infinite: int = 0
    rows: int = 0
    moments: Moments = field(default_factory=Moments)
    kind: str = "numeric"

    @staticmethod
    def empty(edges: np.ndarray, coarse: np.ndarray, kind: str = "numeric") -> NumericState:
        edges = np.asarray(edges, dtype=np.float64)
        return NumericState(edges, np.asarray(coarse, dtype=np.float64),
                            np.zeros(edges.size + 1, dtype=np.int64), kind=kind)

    def update(self, values: np.ndarray) -> NumericState:
        """Add a chunk of float64 values (NaN is missing)."""
        return self.update_sorted(np.sort(np.asarray(values, dtype=np.float64)))

    def update_sorted(self, ordered: np.ndarray) -> NumericState:
        """:meth:`update` with the chunk already sorted by ``numpy.sort`` (NaN last, ±inf at the ends)."""
        nan = int(np.isnan(ordered[-1])) and int(np.isnan(ordered).sum()) if ordered.size else 0
        present = ordered[: ordered.size - nan]
        low = int(np.searchsorted(present, -np.inf, side="right"))
        high = int(np.searchsorted(present, np.inf, side="left"))
        counts = self.counts + sorted_bin_counts(present, self.edges)
        return replace(self, counts=counts, missing=self.missing + nan,
                       infinite=self.infinite + low + (present.size - high), rows=self.rows + int(ordered.size),
                       moments=self.moments.merge(Moments.of(present[low:high], ordered=True)))

    def merge(self, other: ColumnState) -> NumericState:
        if not isinstance(other, NumericState):
            raise StateError(f"cannot merge a numeric drift state with a {type(other).__name__}")
        _check_same("numeric bin edges", self.edges, other.edges)
        return replace(self, counts=self.counts + other.counts, missing=self.missing + other.missing,
                       infinite=self.infinite + other.infinite, rows=self.rows + other.rows,
                       moments=self.moments.merge(other.moments))

    @property
    def present(self) -> int:
        return int(self.counts.sum())

    def coarse_counts(self, coarse: np.ndarray | None = None) -> np.ndarray:
        """Counts in the bins of ``coarse`` (the reference deciles by default): sums of fine bins.

        Every coarse edge is a fine edge, so fine bin ``i`` (closed by ``edges[i]``) lies wholly in the coarse bin
        that ``edges[i]`` falls in.
        """
        coarse = self.coarse if coarse is None else coarse
        upper = np.append(self.edges, np.inf)
        which = np.searchsorted(coarse, upper, side="left")
        return np.bincount(which, weights=self.counts, minlength=coarse.size + 1).astype(np.int64)

    def quantile(self, q: float) -> float | None:
        """A quantile by linear interpolation within the fine bin that holds it (exact at the grid's edges; off by
        at most that bin's width otherwise); ``None`` without values."""
        n = self.present
        if n == 0:
            return None
        lo, hi = self.moments.min, self.moments.max
        inner = np.concatenate([[lo], np.clip(self.edges, lo, hi), [hi]])
        cum = np.concatenate([[0], np.cumsum(self.counts)]) / n
        return float(np.interp(q, cum, inner))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "numeric", "kind": self.kind, "edges": self.edges.tolist(), "coarse": self.coarse.tolist(),
                "counts": self.counts.tolist(), "missing": self.missing, "infinite": self.infinite,
                "rows": self.rows, "moments": self.moments.to_dict()}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> NumericState:
        return NumericState(np.asarray(d["edges"], dtype=np.float64), np.asarray(d["coarse"], dtype=np.float64),
                            np.asarray(d["counts"], dtype=np.int64), int(d["missing"]), int(d["infinite"]),
                            int(d["rows"]), Moments.from_dict(d["moments"]), str(d.get("kind", "numeric")))


@dataclass(frozen=True)
class CategoricalState:
    """A frequency table of a column's values (as strings), ``missing`` nulls, and ``other`` for values folded away
    once more than ``max_categories`` distinct values were seen (``truncated`` says it happened)."""

    counts: Mapping[str, int]
    missing: int = 0
    rows: int = 0
    other: int = 0
    truncated: bool = False
    max_categories: int = DEFAULT_MAX_CATEGORIES
    kind: str = "categorical"

    @staticmethod
    def empty(kind: str = "categorical", max_categories: int = DEFAULT_MAX_CATEGORIES) -> CategoricalState:
        return CategoricalState({}, kind=kind, max_categories=max_categories)

    def update(self, values: list[str], counts: np.ndarray, missing: int, rows: int) -> CategoricalState:
        """Add a chunk's value counts (``values[i]`` seen ``counts[i]`` times), its missing and row counts."""
        other, truncated = self.other, self.truncated
        if len(values) > self.max_categories:  # fold the chunk's rarest values in NumPy before any dict work
            keep = np.argpartition(-counts, self.max_categories - 1)[: self.max_categories]
            other += int(counts.sum() - counts[keep].sum())
            values, counts, truncated = [values[i] for i in keep.tolist()], counts[keep], True
        table = dict(self.counts)
        for value, count in zip(values, counts.tolist()):
            table[value] = table.get(value, 0) + int(count)
        return self._capped(table, self.missing + missing, self.rows + rows, other, truncated)

    def merge(self, other: ColumnState) -> CategoricalState:
        if not isinstance(other, CategoricalState):
            raise StateError(f"cannot merge a categorical drift state with a {type(other).__name__}")
        table = dict(self.counts)
        for value, count in other.counts.items():
            table[value] = table.get(value, 0) + count
        return self._capped(table, self.missing + other.missing, self.rows + other.rows, self.other + other.other,
                            self.truncated or other.truncated)

    def _capped(self, table: dict[str, int], missing: int, rows: int, other: int, truncated: bool) -> CategoricalState:
        if len(table) > self.max_categories:
            ranked = sorted(table.items(), key=lambda kv: (-kv[1], kv[0]))
            keep = dict(ranked[: self.max_categories])
            other += sum(count for _, count in ranked[self.max_categories:])
            table, truncated = keep, True
        return replace(self, counts=table, missing=missing, rows=rows, other=other, truncated=truncated)

    @property
    def present(self) -> int:
        return sum(self.counts.values()) + self.other

    def to_dict(self) -> dict[str, Any]:
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return {"type": "categorical", "kind": self.kind, "values": [k for k, _ in ranked],
                "counts": [v for _, v in ranked], "missing": self.missing, "rows": self.rows, "other": self.other,
                "truncated": self.truncated, "max_categories": self.max_categories}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> CategoricalState:
        return CategoricalState(dict(zip(d["values"], (int(c) for c in d["counts"]))), int(d["missing"]),
                                int(d["rows"]), int(d["other"]), bool(d["truncated"]), int(d["max_categories"]),
                                str(d.get("kind", "categorical")))


@dataclass(frozen=True)
class TextState:
    """Text: the length in characters as a :class:`NumericState`, and counts of empty (or blank), valid-JSON and
    refusal texts among the non-missing ones."""

    length: NumericState
    empty: int = 0
    json: int = 0
    refusal: int = 0
    kind: str = "text"

    def update(self, lengths: np.ndarray, empty: int, json: int, refusal: int) -> TextState:
        return replace(self, length=self.length.update(lengths), empty=self.empty + empty, json=self.json + json,
                       refusal=self.refusal + refusal)

    def merge(self, other: ColumnState) -> TextState:
        if not isinstance(other, TextState):
            raise StateError(f"cannot merge a text drift state with a {type(other).__name__}")
        return replace(self, length=self.length.merge(other.length), empty=self.empty + other.empty,
                       json=self.json + other.json, refusal=self.refusal + other.refusal)

    @property
    def rows(self) -> int:
        return self.length.rows

    @property
    def missing(self) -> int:
        return self.length.missing

    @property
    def present(self) -> int:
        return self.length.present

    def to_dict(self) -> dict[str, Any]:
        return {"type": "text", "kind": self.kind, "length": self.length.to_dict(), "empty": self.empty,
                "json": self.json, "refusal": self.refusal}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> TextState:
        return TextState(NumericState.from_dict(d["length"]), int(d["empty"]), int(d["json"]), int(d["refusal"]))


@dataclass(frozen=True)
class BrokenState:
    """A column that could not be profiled: its intended kind, the status and the reason; rows still counted."""

    kind: str
    status: str
    reason: str
    rows: int = 0
    missing: int = 0

    def update_rows(self, rows: int, missing: int) -> BrokenState:
        return replace(self, rows=self.rows + rows, missing=self.missing + missing)

    def merge(self, other: ColumnState) -> BrokenState:
        """Still broken: only the rows and missing counts of ``other`` (of any kind) are added."""
        return replace(self, rows=self.rows + other.rows, missing=self.missing + other.missing)

    @property
    def present(self) -> int:
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {"type": "broken", "kind": self.kind, "status": self.status, "reason": self.reason,
                "rows": self.rows, "missing": self.missing}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> BrokenState:
        return BrokenState(str(d["kind"]), str(d["status"]), str(d["reason"]), int(d["rows"]), int(d["missing"]))


ColumnState = NumericState | CategoricalState | TextState | BrokenState

_DECODERS: Mapping[str, Any] = {"numeric": NumericState.from_dict, "categorical": CategoricalState.from_dict,
                                "text": TextState.from_dict, "broken": BrokenState.from_dict}


def state_from_dict(d: Mapping[str, Any]) -> ColumnState:
    """The state a :meth:`to_dict` wrote."""
    try:
        decoded: ColumnState = _DECODERS[d["type"]](d)
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(message(where="a column state in the profile", expected="a numeric, categorical, text or "
                                 "broken state", found=f"a malformed entry ({type(exc).__name__}: {exc})",
                                 fix="re-create the profile with `assay profile`")) from None
    return decoded

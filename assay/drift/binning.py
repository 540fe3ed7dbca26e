"""Bins for numeric drift, fixed by the reference alone.

Binned drift methods (PSI, Jensen-Shannon, Hellinger, chi-square) compare two count vectors over the same bins.
The bins come from the *reference only*, so that a stored reference profile can be compared with any later data
(house rule 10); nothing here looks at the current sample.

Convention: ``edges`` are the sorted, unique *interior* edges ``e_0 < e_1 < ... < e_{m-1}``, and they define
``m + 1`` right-closed bins::

    (-inf, e_0], (e_0, e_1], ..., (e_{m-2}, e_{m-1}], (e_{m-1}, +inf)

so a value equal to an edge falls in the bin that edge closes, ``-inf`` in the first bin and ``+inf`` in the last.
NaN is not a value: it is left out of the counts (missing values are tested on their own, by
:func:`assay.drift.methods.missing_rate`). Right-closed bins keep a point mass in one bin: when a tenth of the
reference is exactly 0, the edge at 0 closes a bin that holds all of them, and the next bin starts strictly above.

- :func:`quantile_edges` — the edges of ``bins`` reference-quantile bins (deciles by default); quantiles that tie
  collapse into one edge, so a column with few distinct values gets fewer, fuller bins;
- :func:`fine_grid` — a fine grid (200 quantile bins by default) plus the reference's range, for profiles whose
  counts are merged later and coarsened to :func:`quantile_edges` bins by summing;
- :func:`bin_counts` — the counts of values in those bins, one ``searchsorted`` and one ``bincount``.

>>> ref = np.arange(1.0, 11.0)
>>> edges = quantile_edges(ref, bins=2)
>>> edges
array([5.5])
>>> bin_counts(np.array([1.0, 5.5, 6.0, np.nan, np.inf]), edges)
array([2, 2])
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from assay.errors import ConfigError, InputError, message

__all__ = ["bin_counts", "fine_grid", "grids", "grids_of_sorted", "quantile_edges", "sorted_bin_counts",
           "sorted_quantiles"]


def _finite_reference(reference: npt.ArrayLike, where: str) -> np.ndarray:
    try:
        values = np.asarray(reference, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(
            message(where=where, expected="numeric values", found=f"values that are not numbers ({exc})",
                    fix="bin numeric columns only; compare categorical columns by their frequency tables")
        ) from None
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise InputError(
            message(where=where, expected="at least one finite value to place the bins",
                    found=f"{values.size} values, none finite (all missing or infinite)",
                    fix="check the reference column; an all-missing column has no distribution to drift from")
        )
    return finite


def _check_bins(bins: int, name: str = "bins") -> None:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ConfigError(message(where=f"argument {name!r}", expected="an integer >= 1", found=repr(bins)))


def quantile_edges(reference: npt.ArrayLike, bins: int = 10) -> np.ndarray:
    """Interior edges of ``bins`` equal-frequency bins of the reference (its quantiles at ``1/bins, ...``).

    Quantiles use NumPy's default (linear) interpolation over the finite reference values; NaN and infinities do
    not place edges. Tied quantiles collapse into one edge, so there may be fewer than ``bins - 1`` edges (a
    constant reference gives one edge and two bins: "at most the constant" and "above it"). The levels are
    ``i / bins`` computed exactly, so when ``fine`` is a multiple of ``bins`` every edge here is also an edge of
    :func:`fine_grid` with ``fine`` bins, and counts on the fine grid sum exactly to counts on these bins.

    >>> quantile_edges(np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0]), bins=4)
    array([0.  , 0.5 , 2.25])
    """
    _check_bins(bins)
    finite = _finite_reference(reference, "reference column (quantile bins)")
    levels = np.arange(1, bins, dtype=np.float64) / bins
    if levels.size == 0:
        return np.empty(0, dtype=np.float64)
    return np.unique(np.quantile(finite, levels))


def fine_grid(reference: npt.ArrayLike, bins: int = 200) -> np.ndarray:
    """A fine, fixed grid for profiles: the ``bins``-quantile edges plus the reference's range.

    The edges are ``nextafter(min, -inf)``, the interior quantile edges of :func:`quantile_edges` with ``bins``,
    and ``max``, unique and sorted. With the right-closed convention the first bin therefore holds exactly the
    values *below* the reference minimum and the last bin exactly those *above* its maximum: the out-of-range
    shares come straight from the counts. Profiles of current data reuse the reference's grid (never their own),
    so their counts merge by addition; coarse bins (deciles by default) are unions of fine bins whenever ``bins``
    is a multiple of the coarse count.

    >>> g = fine_grid(np.arange(1.0, 101.0), bins=4)
    >>> g[1:]
    array([ 25.75,  50.5 ,  75.25, 100.  ])
    >>> bin_counts(np.array([0.0, 1.0, 100.0, 101.0]), g)
    array([1, 1, 0, 0, 1, 1])
    """
    _check_bins(bins)
    finite = _finite_reference(reference, "reference column (fine grid)")
    low, high = finite.min(), finite.max()
    levels = np.arange(1, bins, dtype=np.float64) / bins
    interior = np.quantile(finite, levels) if levels.size else np.empty(0)
    return np.unique(np.concatenate([[np.nextafter(low, -np.inf)], interior, [high]]))


def bin_counts(values: npt.ArrayLike, edges: npt.ArrayLike) -> np.ndarray:
    """Counts of ``values`` in the ``len(edges) + 1`` right-closed bins of ``edges``; NaN is left out.

    ``edges`` must be sorted and unique (as :func:`quantile_edges` and :func:`fine_grid` return them).

    >>> bin_counts(np.array([-5.0, 0.0, 0.5, 1.0, 7.0]), np.array([0.0, 1.0]))
    array([2, 2, 1])
    """
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or (edges.size > 1 and not np.all(np.diff(edges) > 0)) or np.isnan(edges).any():
        raise ConfigError(
            message(where="argument 'edges'", expected="a 1-D array of strictly increasing numbers",
                    found=f"shape {edges.shape}" if edges.ndim != 1 else "unsorted, repeated or NaN edges",
                    fix="build the edges with quantile_edges() or fine_grid()")
        )
    try:
        x = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(
            message(where="column to bin", expected="numeric values", found=f"values that are not numbers ({exc})")
        ) from None
    x = x[~np.isnan(x)]
    index = np.searchsorted(edges, x, side="left")
    return np.bincount(index, minlength=edges.size + 1).astype(np.int64)


def sorted_quantiles(ordered: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Quantiles of an already sorted, NaN-free array at ``levels``, bit-identical to ``numpy.quantile``'s default
    (linear) method but without its partition: the virtual index ``q (n - 1)``, then NumPy's own two-sided lerp.

    >>> x = np.array([3.0, 1.0, 2.0, 10.0])
    >>> bool(np.array_equal(sorted_quantiles(np.sort(x), np.array([0.1, 0.5, 0.9])), np.quantile(x, [0.1, 0.5, 0.9])))
    True
    """
    n = ordered.size
    virtual = np.asarray(levels, dtype=np.float64) * (n - 1)
    lo = np.floor(virtual).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    t = virtual - lo
    a, b = ordered[lo], ordered[hi]
    diff = b - a
    out = a + diff * t
    upper = t >= 0.5
    out[upper] = (b - diff * (1 - t))[upper]
    return out


def grids(values: npt.ArrayLike, fine_bins: int = 200, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """``(fine_grid(values, fine_bins), quantile_edges(values, bins))`` from one sort, bit-identical to both.

    ``fine_bins`` must be a multiple of ``bins`` so that every coarse edge is a fine edge (the coarse counts of a
    profile are then sums of its fine counts).

    >>> f, c = grids(np.arange(1.0, 101.0), fine_bins=4, bins=2)
    >>> f[1:].tolist(), c.tolist()
    ([25.75, 50.5, 75.25, 100.0], [50.5])
    """
    return grids_of_sorted(np.sort(_finite_reference(values, "reference column (bins)")), fine_bins, bins)


def grids_of_sorted(ordered: np.ndarray, fine_bins: int = 200, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """:func:`grids` of already sorted, finite, non-empty values (no copy, no sort)."""
    _check_bins(fine_bins, "fine_bins")
    _check_bins(bins)
    if fine_bins % bins:
        raise ConfigError(message(where="arguments 'fine_bins' and 'bins'", expected="fine_bins a multiple of bins",
                                  found=f"fine_bins={fine_bins}, bins={bins}", fix="use e.g. fine_bins=200, bins=10"))
    low, high = ordered[0], ordered[-1]
    fine_levels = np.arange(1, fine_bins, dtype=np.float64) / fine_bins
    coarse_levels = np.arange(1, bins, dtype=np.float64) / bins
    interior = sorted_quantiles(ordered, fine_levels) if fine_levels.size else np.empty(0)
    coarse = np.unique(sorted_quantiles(ordered, coarse_levels)) if coarse_levels.size else np.empty(0)
    fine = np.unique(np.concatenate([[np.nextafter(low, -np.inf)], interior, [high]]))
    return fine, coarse


def sorted_bin_counts(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """:func:`bin_counts` of an already sorted, NaN-free array: one ``searchsorted`` of the edges into the values.

    >>> sorted_bin_counts(np.array([-5.0, 0.0, 0.5, 1.0, 7.0]), np.array([0.0, 1.0])).tolist()
    [2, 2, 1]
    """
    at_most = np.searchsorted(ordered, edges, side="right")
    return np.diff(np.concatenate([[0], at_most, [ordered.size]])).astype(np.int64)

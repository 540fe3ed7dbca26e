"""Drift: data quality and distribution shift between a reference and a current sample, per column.

::

    binning    quantile_edges(reference, bins=10), fine_grid(reference, bins=200), bin_counts(values, edges)
    methods    ks, cramer_von_mises, wasserstein                     raw arrays  -> Test
               psi, jensen_shannon, hellinger, chi2                  counts      -> Test
               z_proportions, missing_rate                           rates       -> Test
               verdict(test, alpha=, min_effect=)                    significant AND at least the practical floor
               holm(pvalues), benjamini_hochberg(pvalues)            adjustment across columns

Every :class:`Test` carries a p-value and an effect size; :data:`DEFAULT_MIN_EFFECT` holds each method's practical
floor, and :mod:`assay.drift.methods` explains the rule, the floors and where each p-value comes from.
"""

from assay.drift.binning import bin_counts, fine_grid, quantile_edges
from assay.drift.methods import (
    DEFAULT_MIN_EFFECT,
    Test,
    benjamini_hochberg,
    chi2,
    cramer_von_mises,
    hellinger,
    holm,
    jensen_shannon,
    ks,
    missing_rate,
    psi,
    verdict,
    wasserstein,
    z_proportions,
)

__all__ = [
    "DEFAULT_MIN_EFFECT",
    "Test",
    "benjamini_hochberg",
    "bin_counts",
    "chi2",
    "cramer_von_mises",
    "fine_grid",
    "hellinger",
    "holm",
    "jensen_shannon",
    "ks",
    "missing_rate",
    "psi",
    "quantile_edges",
    "verdict",
    "wasserstein",
    "z_proportions",
]

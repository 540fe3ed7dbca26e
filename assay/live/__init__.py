"""Live comparisons (shadow, canary, A/B) over the watch service's window states, with always-valid decisions.

The statistics are pure functions in :mod:`assay.stats.sequential`; :mod:`assay.live.decide` turns them into
promote / hold / rollback; :class:`assay.live.compare.LiveComparisons` reads the two versions' states from the store
and keeps the verdict and the audit log.
"""

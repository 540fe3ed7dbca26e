"""assay watch."""

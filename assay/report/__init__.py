"""Reports of an evaluation run: a self-contained HTML page (:func:`render_run`, :func:`write_html`)."""

from assay.report.html import render_run, write_html

__all__ = ["render_run", "write_html"]

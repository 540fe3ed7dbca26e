"""When a metric's interval is approximate, and why: the run document's ``approximate`` / ``approximate_reason``.

Every interval assay reports holds its coverage goal from n = 50 up (``benchmarks/coverage.py``), but two situations
make it rougher, and a reader deciding on it should know:

- **very small n** (fewer than :data:`SMALL_N` rows): large-sample reasoning behind every method is thin;
- **the value at an end of its interval** (a cell of zero, such as no false positives, or no spread seen): the
  estimate has no variance there, so the interval comes from the score or pseudo-count treatment of that zero, not
  from a standard error.

>>> mark({"value": 1.0, "ci_low": 0.93, "ci_high": 1.0, "n": 50})["approximate_reason"][:40]
'the value is at the end of its interval '
>>> mark({"value": 0.8, "ci_low": 0.6, "ci_high": 0.9, "n": 12})["approximate_reason"][:13]
'only 12 rows '
>>> "approximate" in mark({"value": 0.9, "ci_low": 0.85, "ci_high": 0.94, "n": 200})
False
"""

from __future__ import annotations

from typing import Any

SMALL_N = 30
"""Below this many rows an interval is marked approximate."""


def reason(entry: dict[str, Any]) -> str | None:
    """Why ``entry``'s interval is approximate, or None when it is not (or the entry has no value)."""
    value, lo, hi = entry.get("value"), entry.get("ci_low"), entry.get("ci_high")
    if value is None:
        return None
    n = int(entry.get("n") or 0)
    if 0 < n < SMALL_N:
        return f"only {n} rows (fewer than {SMALL_N}): the interval is a rough guide"
    se = entry.get("se")
    no_spread = se is not None and abs(se) <= 1e-7 * max(abs(value), 1e-300)
    tol = 1e-12 * max(1.0, abs(value))
    at_end = lo is not None and hi is not None and (abs(value - lo) <= tol or abs(value - hi) <= tol)
    if no_spread or at_end:  # (a value outside its interval, as ECE's plug-in can be above it, is not this case)
        return ("the value is at the end of its interval (a cell of zero, or no spread seen): the interval comes "
                "from a score-type treatment of the boundary, not from a standard error")
    return None


def mark(entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` with ``approximate: true`` and ``approximate_reason`` added when its interval is approximate (in
    place; returned for convenience). Entries that are not approximate get neither key."""
    why = reason(entry)
    if why is not None:
        entry["approximate"] = True
        entry["approximate_reason"] = why
    return entry

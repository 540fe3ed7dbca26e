"""The result of a metric over groups: values, standard errors, intervals and reasons, as arrays.

A metric that is undefined for a group carries ``NaN`` in the arrays and a ``reason``; :meth:`Estimate.entry`
turns that into the run document's ``{"value": null, "reason": ...}``, never a bare NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _num(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass
class Estimate:
    """Per-group arrays of one metric."""

    value: np.ndarray
    se: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: np.ndarray
    method: str
    reasons: list[str | None] = field(default_factory=list)
    bound: np.ndarray | None = None

    def entry(self, g: int, *, higher_is_better: bool) -> dict[str, Any]:
        """The JSON entry of group ``g``: ``{value, ci_low, ci_high, se, n, method, higher_is_better[, reason]}``."""
        value = _num(self.value[g])
        out: dict[str, Any] = {
            "value": value,
            "ci_low": None if value is None else _num(self.low[g]),
            "ci_high": None if value is None else _num(self.high[g]),
            "se": None if value is None else _num(self.se[g]),
            "n": int(self.n[g]),
            "method": self.method,
            "higher_is_better": higher_is_better,
        }
        if value is None:
            reason = self.reasons[g] if g < len(self.reasons) and self.reasons[g] else None
            out["reason"] = reason or "undefined on these rows"
        if self.bound is not None and value is not None:
            b = _num(self.bound[g])
            if b:
                out["bound"] = b
        return out


def reasons_from(masks: list[tuple[np.ndarray, str]], size: int) -> list[str | None]:
    """First applicable reason per group from ``(mask, text)`` pairs, in order of priority."""
    out: list[str | None] = [None] * size
    for mask, text in masks:
        for g in np.flatnonzero(mask):
            if out[g] is None:
                out[g] = text
    return out

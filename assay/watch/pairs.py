"""Paired cells of shadow traffic: two versions' predictions of the same request, joined with its label.

A shadow comparison scores every request with both the control and the candidate; the watch service keys
predictions by (model, version, id), so the two predictions of a request share its id. A :class:`PairState` holds,
for the pairs of one (control, candidate) whose label has landed, per paired quantity (``correct``, ``log_loss``,
``brier``, ``abs_error``), the sums that give the mean and the variance of any ``a * candidate - b * control``
(the paired difference, or a relative margin), the number of pairs whose predictions agree, and a few example ids
of requests they disagree on. It is a mergeable state like the others, stored in the candidate's window (of the
candidate prediction's event time).

Each pair is counted once, when the last of its three events (the two predictions and the label) is folded: at the
candidate's realized fold if the control's prediction is stored by then, else at the control's realized fold if
the candidate's prediction and the label were both folded in an earlier pass.

>>> a = PairState.empty(("correct",)).add({"correct": (1.0, 0.0)}, agree=False, id_="r1")
>>> b = PairState.empty(("correct",)).add({"correct": (1.0, 1.0)}, agree=True, id_="r2")
>>> m = a.merge(b)
>>> m.n, m.agree, m.mean_difference("correct"), m.examples
(2, 1, 0.5, ('r1',))
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.errors import StateError

QUANTITIES = ("correct", "log_loss", "brier", "abs_error")
MAX_EXAMPLES = 10
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class PairState:
    """Sums over pairs: per quantity ``[sum_t, sum_c, sum_tt, sum_cc, sum_tc]``."""

    names: tuple[str, ...]
    n: int = 0
    agree: int = 0
    sums: tuple[tuple[float, ...], ...] = ()
    examples: tuple[str, ...] = field(default=())

    @classmethod
    def empty(cls, names: tuple[str, ...]) -> PairState:
        return cls(names, 0, 0, tuple((0.0,) * 5 for _ in names), ())

    def add(self, values: dict[str, tuple[float, float]], *, agree: bool, id_: str) -> PairState:
        """One pair: ``values[q] = (candidate's, control's)`` for each quantity of the state."""
        sums = []
        for name, s in zip(self.names, self.sums, strict=True):
            t, c = values[name]
            sums.append((s[0] + t, s[1] + c, s[2] + t * t, s[3] + c * c, s[4] + t * c))
        examples = self.examples if agree else _examples(self.examples, (id_,))
        return PairState(self.names, self.n + 1, self.agree + int(agree), tuple(sums), examples)

    def merge(self, other: PairState) -> PairState:
        if other.n == 0 and not other.sums:
            return self
        if self.names != other.names:
            raise StateError(f"pair merge: expected the same quantities, found {self.names} and {other.names}")
        sums = tuple(tuple(a + b for a, b in zip(x, y, strict=True)) for x, y in zip(self.sums, other.sums,
                                                                                      strict=True))
        return PairState(self.names, self.n + other.n, self.agree + other.agree, sums,
                         _examples(self.examples, other.examples))

    def linear(self, name: str, a: float = 1.0, b: float = 1.0) -> tuple[float, float]:
        """Mean and sample variance of ``a * candidate - b * control`` over the pairs."""
        if self.n == 0:
            return math.nan, math.nan
        st, sc, stt, scc, stc = self.sums[self.names.index(name)]
        n = self.n
        mean = (a * st - b * sc) / n
        if n < 2:
            return mean, math.inf
        ss = a * a * stt + b * b * scc - 2 * a * b * stc  # sum of squares of the combination
        return mean, max(ss - n * mean * mean, 0.0) / (n - 1)

    def mean_difference(self, name: str) -> float:
        return self.linear(name)[0]

    def means(self, name: str) -> tuple[float, float]:
        """The candidate's and the control's mean over the pairs."""
        st, sc = self.sums[self.names.index(name)][:2]
        return (st / self.n, sc / self.n) if self.n else (math.nan, math.nan)

    def to_json(self) -> dict[str, Any]:
        return {"names": list(self.names), "n": self.n, "agree": self.agree, "sums": [list(s) for s in self.sums],
                "examples": list(self.examples)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PairState:
        return cls(tuple(d["names"]), int(d["n"]), int(d["agree"]), tuple(tuple(float(x) for x in s)
                                                                          for s in d["sums"]),
                   tuple(d["examples"]))

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> PairState:
        try:
            return cls.from_json(json.loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            raise StateError(f"pair state bytes: expected the JSON of a pair state, found {exc}") from None


def _examples(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    """The first ids in sorted order (a deterministic, bounded set whatever the order of merges)."""
    return tuple(sorted(set(a) | set(b)))[:MAX_EXAMPLES]


def quantities(task: str, has_score: bool) -> tuple[str, ...]:
    """The paired quantities of a task."""
    if task == "binary":
        return ("correct", "log_loss", "brier") if has_score else ("correct",)
    if task == "multiclass":
        return ("correct",)
    if task == "regression":
        return ("abs_error",)
    return ()


def quantity_arrays(task: str, y: np.ndarray, pred: np.ndarray, score: np.ndarray | None) -> dict[str, np.ndarray]:
    """The paired quantities of prepared rows (labels ``y`` and predictions as the evaluation prepared them), one
    array per quantity, in one vectorised pass."""
    if task == "regression":
        return {"abs_error": np.abs(pred.astype(np.float64) - y.astype(np.float64))}
    out = {"correct": (pred == y).astype(np.float64)}
    if task == "binary" and score is not None:
        p_true = np.clip(np.where(y == 1, score, 1.0 - score), _EPS, 1 - _EPS)
        out["log_loss"] = -np.log(p_true)
        out["brier"] = (score - y) ** 2
    return out

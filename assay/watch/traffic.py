"""The label-independent *traffic* state of a monitoring window: volume, scores, latency, cost, errors, OOD, text.

One :class:`TrafficState` per (model, version, window); the service merges the states of a range on read and
calls :meth:`TrafficState.compute`. The state holds sufficient statistics only:

- row count; Chan-mergeable moments (count, mean, M2) of the score, of the latency and of each text column's length;
- counts of positives, errors, OOD rows (each with its own denominator: the rows where that input was given);
- a :class:`~assay.watch.sketch.QuantileSketch` of the latency (relative error ``alpha``), the cost sum;
- per text column: non-missing values, empty values, JSON failures, refusals
  (see :func:`assay.drift.text.text_features`).

Series (the keys of :meth:`TrafficState.compute`, in this order)::

    predictions                      rows (always present)
    score_mean, score_std            input "score"      (std with ddof=1, the sample standard deviation)
    positive_rate                    input "positive"   (hard prediction 1: score >= threshold, or the prediction)
    latency_p50, latency_p95,        input "latency"    (seconds; sketch quantiles within relative error alpha)
    latency_p99, latency_mean
    cost_total                       input "cost"
    error_rate                       input "error"      (share of the rows with a status that are errors)
    ood_rate                         input "ood"        (share of the rows flagged out of the reference's range)
    <col>_length_mean, <col>_empty_rate, <col>_json_failure_rate, <col>_refusal_rate
                                     per text column, sorted by name; rates over the non-missing values

A series is reported once its input is *configured*: declared in :meth:`TrafficState.empty` (``inputs=``,
``text_columns=``), or given to any :meth:`TrafficState.update` that went into the state. A configured series of
a window without data reports ``{"value": None, ..., "reason": "no events"}``; an input never configured has no
keys at all. Missing values (NaN) of score, latency and cost are skipped for that series only.

>>> import pyarrow as pa
>>> s = TrafficState.empty(("response",), inputs=("latency",))
>>> s.compute()["latency_p50"]
{'value': None, 'ci_low': None, 'ci_high': None, 'n': 0, 'reason': 'no events'}
>>> s = s.update(n=4, positive=np.array([0, 0, 1, 1]), latency=np.array([0.1, 0.2, 0.3, np.nan]),
...              text={"response": pa.array(['{"a": 1}', " ", "I can't help", None])})
>>> r = s.compute()
>>> list(r)  # doctest: +NORMALIZE_WHITESPACE
['predictions', 'positive_rate', 'latency_p50', 'latency_p95', 'latency_p99', 'latency_mean',
 'response_length_mean', 'response_empty_rate', 'response_json_failure_rate', 'response_refusal_rate']
>>> r["predictions"]["value"], r["positive_rate"]["value"], r["latency_mean"]["n"]
(4.0, 0.5, 3)
>>> r["response_json_failure_rate"]["value"], r["response_refusal_rate"]["n"]
(0.6666666666666666, 3)
>>> TrafficState.from_bytes(s.to_bytes()) == s
True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from assay.drift.text import DEFAULT_REFUSAL_PHRASES, text_features
from assay.errors import ConfigError, InputError, StateError, message
from assay.metrics import _serial
from assay.stats.intervals import normal, wilson, z_value
from assay.watch.sketch import QuantileSketch

__all__ = ["INPUTS", "TEXT_SERIES", "Moments", "TextCounts", "TrafficState"]

INPUTS: tuple[str, ...] = ("score", "positive", "latency", "cost", "error", "ood")
TEXT_SERIES: tuple[str, ...] = ("length_mean", "empty_rate", "json_failure_rate", "refusal_rate")
_KIND = "traffic"
_VERSION = 1


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations (M2) of a series, merged with Chan et al.'s parallel formula.

    The merge is exactly commutative, has the empty value as exact identity, and is associative up to rounding.

    >>> Moments.of(np.array([1.0, 2.0])).merge(Moments.of(np.array([3.0, 4.0])))
    Moments(count=4, mean=2.5, m2=5.0)
    """

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, x: np.ndarray) -> Moments:
        """Moments of the float64 values ``x`` (two passes: the mean, then the squared deviations)."""
        if x.size == 0:
            return cls()
        mean = float(x.mean())
        d = x - mean
        return cls(int(x.size), mean, float(d @ d))

    def merge(self, other: Moments) -> Moments:
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        n = self.count + other.count
        delta = other.mean - self.mean
        mean = (self.count * self.mean + other.count * other.mean) / n
        return Moments(n, mean, self.m2 + other.m2 + delta * delta * (self.count * other.count) / n)

    @property
    def std(self) -> float | None:
        """Sample standard deviation (ddof=1); ``None`` below 2 values."""
        return math.sqrt(self.m2 / (self.count - 1)) if self.count >= 2 else None


@dataclass(frozen=True)
class TextCounts:
    """One text column: moments of the length of non-missing values, and counts of empty, non-JSON, refusing."""

    length: Moments = Moments()  # length.count is the number of non-missing values
    empty: int = 0
    json_failures: int = 0
    refusals: int = 0

    def merge(self, other: TextCounts) -> TextCounts:
        return TextCounts(self.length.merge(other.length), self.empty + other.empty,
                          self.json_failures + other.json_failures, self.refusals + other.refusals)


_NO_TEXT = TextCounts()


@dataclass(frozen=True)
class TrafficState:
    """Sufficient statistics of the label-independent series of one window (an immutable value).

    Build with :meth:`empty`, add rows with :meth:`update`, combine with :meth:`merge`, read with :meth:`compute`.
    """

    inputs: tuple[str, ...]  # configured inputs, in the order of INPUTS
    text_columns: tuple[str, ...]  # sorted
    rows: int
    score: Moments
    positives: int
    positive_n: int
    latency: Moments
    latency_sketch: QuantileSketch
    cost_sum: float
    cost_n: int
    errors: int
    status_n: int
    ood: int
    ood_n: int
    text: tuple[TextCounts, ...]  # aligned with text_columns
    refusal_phrases: tuple[str, ...] | None  # the phrases of the text updates so far (None: no text yet)

    # -- construction ------------------------------------------------------------------------------------------

    @classmethod
    def empty(cls, text_columns: tuple[str, ...] = (), alpha: float = 0.01, *,
              inputs: Iterable[str] = ()) -> TrafficState:
        """An empty window declaring ``inputs`` (names from :data:`INPUTS`) and ``text_columns``.

        ``alpha`` is the relative accuracy of the latency quantiles. Declared series are reported even when the
        window has no data; an :meth:`update` adds the series it is given.
        """
        if isinstance(text_columns, str) or not all(isinstance(c, str) and c for c in text_columns):
            raise ConfigError(message(where="traffic text_columns", expected="a tuple of non-empty column names",
                                      found=repr(text_columns), fix='write e.g. ("prompt", "response")'))
        if isinstance(inputs, str):
            raise ConfigError(message(where="traffic inputs", expected=f"a collection of names from {INPUTS}",
                                      found=repr(inputs), fix=f'write e.g. ("{inputs}",)'))
        asked = set(inputs)
        unknown = sorted(str(i) for i in asked - set(INPUTS))
        if unknown:
            raise ConfigError(message(where="traffic inputs", expected=f"names from {INPUTS}",
                                      found=f"{unknown}", fix="declare text columns with text_columns="))
        columns = tuple(sorted(set(text_columns)))
        return cls(tuple(i for i in INPUTS if i in asked), columns, 0, Moments(), 0, 0, Moments(),
                   QuantileSketch.empty(alpha), 0.0, 0, 0, 0, 0, 0, tuple(_NO_TEXT for _ in columns), None)

    @property
    def alpha(self) -> float:
        """Relative accuracy of the latency quantiles."""
        return self.latency_sketch.alpha

    # -- the state ---------------------------------------------------------------------------------------------

    def update(
        self,
        *,
        n: int,
        score: np.ndarray | None = None,
        positive: np.ndarray | None = None,
        latency: np.ndarray | None = None,
        cost: np.ndarray | None = None,
        error: np.ndarray | None = None,
        ood: np.ndarray | None = None,
        text: Mapping[str, pa.Array | pa.ChunkedArray] | None = None,
        refusal_phrases: Sequence[str] = DEFAULT_REFUSAL_PHRASES,
        text_features: Mapping[str, np.ndarray] | None = None,
    ) -> TrafficState:
        """Add a batch of ``n`` rows; every array given has one entry per row.

        - ``score``, ``latency`` (seconds, >= 0), ``cost``: numbers, NaN for missing (skipped for that series);
        - ``positive``: bool or 0/1 integers, the hard prediction (``score >= threshold``, or the prediction column);
        - ``error``: bool or 0/1, per row with a status (``None``: no status column); ``ood``: bool or 0/1 per row;
        - ``text``: column name -> Arrow strings (null for missing), reduced by :func:`~assay.drift.text.text_features`
          with ``refusal_phrases``, which must be the same for every update of a state (a different set raises);
        - ``text_features``: instead of ``text``, column name -> an ``(n, 4)`` array of features already computed
          (length, blank, valid JSON, refusal; a negative or NaN length for a missing value), as the service
          computes them before redaction, with the default refusal phrases.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InputError(message(where="traffic update n", expected="the batch's row count, an integer >= 0",
                                     found=repr(n), fix="pass n=len(batch)"))
        n = int(n)
        given = {"score": score, "positive": positive, "latency": latency, "cost": cost, "error": error, "ood": ood}
        inputs = tuple(i for i in INPUTS if i in self.inputs or given[i] is not None)
        lat = np.zeros(0) if latency is None else _reals(latency, "latency", n)
        if (lat < 0).any():
            raise InputError(message(where="latency", expected="non-negative durations in seconds (NaN for missing)",
                                     found=f"{int((lat < 0).sum())} negative value(s), e.g. {lat[lat < 0][0]!r}",
                                     fix="check the unit and the clock of the latency column"))
        positives, positive_n = (0, 0) if positive is None else _flags(positive, "positive", n)
        errors, status_n = (0, 0) if error is None else _flags(error, "error", n)
        ood_count, ood_n = (0, 0) if ood is None else _flags(ood, "ood", n)
        if text_features:
            columns, counts, phrases = self._feature_batch(text_features, n)
        else:
            columns, counts, phrases = self._text_batch(text, n, refusal_phrases)
        sketch = QuantileSketch.empty(self.alpha, max_buckets=self.latency_sketch.max_buckets)
        cost_values = np.zeros(0) if cost is None else _reals(cost, "cost", n)
        batch = TrafficState(
            inputs, columns, n,
            Moments.of(np.zeros(0) if score is None else _reals(score, "score", n)),
            positives, positive_n,
            Moments.of(lat), sketch._update_checked(lat),
            float(cost_values.sum()), int(cost_values.size),
            errors, status_n, ood_count, ood_n, counts, phrases,
        )
        return self.merge(batch)

    def _feature_batch(self, features: Mapping[str, np.ndarray], n: int
                       ) -> tuple[tuple[str, ...], tuple[TextCounts, ...], tuple[str, ...] | None]:
        used = tuple(DEFAULT_REFUSAL_PHRASES)
        if self.refusal_phrases is not None and used != self.refusal_phrases:
            raise ConfigError(message(where="refusal_phrases", expected=f"the phrases of this state's earlier "
                                      f"updates {self.refusal_phrases}", found=f"{used}",
                                      fix="count refusals of one series with one set of phrases"))
        columns = tuple(sorted(features))
        counts = []
        for col in columns:
            f = np.asarray(features[col], dtype=np.float64).reshape(-1, 4)
            if f.shape[0] != n:
                raise InputError(message(where=f"text features of {col!r}", expected=f"{n} rows of 4 features",
                                         found=f"{f.shape[0]} rows", fix="one row of features per event"))
            present = f[:, 0] >= 0
            lengths = f[present, 0]
            valid = int(f[present, 2].sum())
            counts.append(TextCounts(Moments.of(lengths), int(f[present, 1].sum()), int(lengths.size) - valid,
                                     int(f[present, 3].sum())))
        return columns, tuple(counts), used

    def _text_batch(
        self, text: Mapping[str, pa.Array | pa.ChunkedArray] | None, n: int, phrases: Sequence[str]
    ) -> tuple[tuple[str, ...], tuple[TextCounts, ...], tuple[str, ...] | None]:
        if not text:
            return (), (), None
        if isinstance(phrases, str) or not all(isinstance(p, str) for p in phrases):
            raise ConfigError(message(where="refusal_phrases", expected="a sequence of phrases",
                                      found=repr(phrases), fix="pass e.g. (\"I can't\", \"I'm sorry\")"))
        used = tuple(phrases)
        if self.refusal_phrases is not None and used != self.refusal_phrases:
            raise ConfigError(message(where="refusal_phrases", expected=f"the phrases of this state's earlier "
                                      f"updates {self.refusal_phrases}", found=f"{used}",
                                      fix="count refusals of one series with one set of phrases"))
        columns = tuple(sorted(text))
        counts = []
        for col in columns:
            array = text[col]
            if not isinstance(col, str) or not col:
                raise InputError(message(where="traffic text", expected="non-empty column names",
                                         found=repr(col), fix="key the mapping by column name"))
            if not isinstance(array, pa.Array | pa.ChunkedArray) or len(array) != n:
                found = f"{len(array)} values" if isinstance(array, pa.Array | pa.ChunkedArray) else \
                    f"a {type(array).__name__}"
                raise InputError(message(where=f"text column {col!r}", expected=f"an Arrow string array of {n} "
                                         "values (one per row)", found=found, fix="pass pa.array(values)"))
            try:
                f = text_features(array, used)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                raise InputError(message(where=f"text column {col!r}", expected="strings (null for missing)",
                                         found=f"type {array.type} ({exc})", fix="cast the column to strings"
                                         )) from None
            lengths = f.lengths[~np.isnan(f.lengths)]
            counts.append(TextCounts(Moments.of(lengths), f.empty, int(lengths.size) - f.json, f.refusal))
        return columns, tuple(counts), used

    def merge(self, other: TrafficState) -> TrafficState:
        """The state of both windows' rows. Text columns and configured inputs are the union of both sides (a
        column or input absent on one side counts zero there). Raises :class:`StateError` for different latency
        ``alpha`` or different refusal phrases."""
        if (self.refusal_phrases is not None and other.refusal_phrases is not None
                and self.refusal_phrases != other.refusal_phrases):
            raise StateError(message(where="traffic merge", expected="the same refusal phrases",
                                     found=f"{self.refusal_phrases} and {other.refusal_phrases}",
                                     fix="count refusals of one series with one set of phrases"))
        sketch = self.latency_sketch.merge(other.latency_sketch)
        mine, theirs = dict(zip(self.text_columns, self.text)), dict(zip(other.text_columns, other.text))
        columns = tuple(sorted(set(mine) | set(theirs)))
        return TrafficState(
            tuple(i for i in INPUTS if i in self.inputs or i in other.inputs),
            columns,
            self.rows + other.rows,
            self.score.merge(other.score),
            self.positives + other.positives,
            self.positive_n + other.positive_n,
            self.latency.merge(other.latency),
            sketch,
            self.cost_sum + other.cost_sum,
            self.cost_n + other.cost_n,
            self.errors + other.errors,
            self.status_n + other.status_n,
            self.ood + other.ood,
            self.ood_n + other.ood_n,
            tuple(mine.get(c, _NO_TEXT).merge(theirs.get(c, _NO_TEXT)) for c in columns),
            self.refusal_phrases if self.refusal_phrases is not None else other.refusal_phrases,
        )

    # -- reading -----------------------------------------------------------------------------------------------

    def compute(self, confidence: float = 0.95) -> dict[str, dict[str, Any]]:
        """Every configured series -> ``{"value", "ci_low", "ci_high", "n"}`` (plus ``"reason"`` when undefined).

        Rates carry Wilson intervals and means normal intervals (``se = std / sqrt(n)``, std with ddof=1; no
        interval below 2 values). ``predictions``, ``score_std``, the latency quantiles and ``cost_total`` have
        ``ci_low = ci_high = None``. ``n`` is the series' own denominator (rows, non-missing values, rows with
        that input). Undefined values are ``None`` with a reason (``"no events"`` for a window without rows),
        never NaN. ``predictions`` is always defined (0 for an empty window).
        """
        if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 < confidence < 1:
            raise ConfigError(message(where="confidence", expected="a level in (0, 1)", found=repr(confidence),
                                      fix="use e.g. 0.95"))
        z = z_value(confidence)
        out: dict[str, dict[str, Any]] = {"predictions": _entry(float(self.rows), self.rows)}
        if "score" in self.inputs:
            out["score_mean"] = self._mean(self.score, z, "score values")
            out["score_std"] = self._std(self.score, "score values")
        if "positive" in self.inputs:
            out["positive_rate"] = self._rate(self.positives, self.positive_n, z, "positive flags")
        if "latency" in self.inputs:
            for q, name in ((0.5, "latency_p50"), (0.95, "latency_p95"), (0.99, "latency_p99")):
                value = self.latency_sketch.quantile(q)
                out[name] = self._undefined(0, "latency values") if value is None else \
                    _entry(value, self.latency_sketch.count)
            out["latency_mean"] = self._mean(self.latency, z, "latency values", lower=0.0)
        if "cost" in self.inputs:
            out["cost_total"] = _entry(self.cost_sum, self.cost_n) if self.cost_n else \
                self._undefined(0, "cost values")
        if "error" in self.inputs:
            out["error_rate"] = self._rate(self.errors, self.status_n, z, "status values")
        if "ood" in self.inputs:
            out["ood_rate"] = self._rate(self.ood, self.ood_n, z, "ood flags")
        for col, t in zip(self.text_columns, self.text):
            what = f"non-missing {col} values"
            n = t.length.count
            out[f"{col}_length_mean"] = self._mean(t.length, z, what, lower=0.0)
            out[f"{col}_empty_rate"] = self._rate(t.empty, n, z, what)
            out[f"{col}_json_failure_rate"] = self._rate(t.json_failures, n, z, what)
            out[f"{col}_refusal_rate"] = self._rate(t.refusals, n, z, what)
        return out

    def _undefined(self, n: int, what: str, reason: str | None = None) -> dict[str, Any]:
        return {"value": None, "ci_low": None, "ci_high": None, "n": n,
                "reason": reason or ("no events" if self.rows == 0 else f"no {what}")}

    def _rate(self, hits: int, n: int, z: float, what: str) -> dict[str, Any]:
        if n == 0:
            return self._undefined(0, what)
        p = hits / n
        low, high, _ = wilson(np.array(p), np.array(float(n)), z)
        return _entry(p, n, float(low), float(high))

    def _mean(self, m: Moments, z: float, what: str, lower: float = -math.inf) -> dict[str, Any]:
        if m.count == 0:
            return self._undefined(0, what)
        std = m.std
        if std is None:
            return _entry(m.mean, m.count)
        low, high = normal(np.array(m.mean), np.array(std / math.sqrt(m.count)), z, lower)
        return _entry(m.mean, m.count, float(low), float(high))

    def _std(self, m: Moments, what: str) -> dict[str, Any]:
        std = m.std
        if std is None:
            return self._undefined(m.count, what, None if m.count == 0 else f"fewer than 2 {what}")
        return _entry(std, m.count)

    # -- bytes -------------------------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        def moments(m: Moments) -> list[Any]:
            return [m.count, m.mean, m.m2]

        header = {
            "inputs": list(self.inputs), "text_columns": list(self.text_columns), "rows": self.rows,
            "score": moments(self.score), "positive": [self.positives, self.positive_n],
            "latency": moments(self.latency), "sketch": self.latency_sketch._header(),
            "cost": [self.cost_sum, self.cost_n], "error": [self.errors, self.status_n], "ood": [self.ood, self.ood_n],
            "text": [[*moments(t.length), t.empty, t.json_failures, t.refusals] for t in self.text],
            "refusal_phrases": None if self.refusal_phrases is None else list(self.refusal_phrases),
        }
        arrays = {"latency_index": self.latency_sketch.index, "latency_counts": self.latency_sketch.counts}
        return _serial.dump(_KIND, _VERSION, header, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> TrafficState:
        h, a = _serial.load(data, _KIND, _VERSION)
        try:
            sketch = QuantileSketch._from_parts(h["sketch"], a["latency_index"], a["latency_counts"])

            def moments(v: list[Any]) -> Moments:
                return Moments(int(v[0]), float(v[1]), float(v[2]))

            text = tuple(TextCounts(moments(t[:3]), int(t[3]), int(t[4]), int(t[5])) for t in h["text"])
            phrases = h["refusal_phrases"]
            state = cls(
                tuple(h["inputs"]), tuple(h["text_columns"]), int(h["rows"]), moments(h["score"]),
                int(h["positive"][0]), int(h["positive"][1]), moments(h["latency"]), sketch,
                float(h["cost"][0]), int(h["cost"][1]), int(h["error"][0]), int(h["error"][1]),
                int(h["ood"][0]), int(h["ood"][1]), text, None if phrases is None else tuple(phrases),
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise StateError(f"traffic state bytes: expected the fields of a traffic state, found a corrupt header "
                             f"({exc!r}). Fix: rebuild the state from its events") from None
        if len(state.text) != len(state.text_columns):
            raise StateError("traffic state bytes: expected one text entry per text column, found "
                             f"{len(state.text)} for {len(state.text_columns)}. Fix: rebuild the state from its events")
        return state


# -- validation at the edge ---------------------------------------------------------------------------------------

def _column(x: Any, name: str, n: int) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1 or a.shape[0] != n:
        raise InputError(message(where=name, expected=f"a 1-D array of {n} values (one per row, n={n})",
                                 found=f"shape {a.shape}", fix=f"pass one {name} value per row"))
    return a


def _reals(x: Any, name: str, n: int) -> np.ndarray:
    """The finite values of a numeric column (NaN, the missing marker, removed)."""
    a = _column(x, name, n)
    if a.dtype.kind not in "biuf":
        raise InputError(message(where=name, expected="numbers (NaN for missing)", found=f"dtype {a.dtype}",
                                 fix=f"cast the {name} column to float"))
    a = a.astype(np.float64, copy=False)
    a = a[~np.isnan(a)]
    if np.isinf(a).any():
        raise InputError(message(where=name, expected="finite numbers (NaN for missing)",
                                 found=f"{int(np.isinf(a).sum())} infinite value(s)",
                                 fix=f"replace infinite {name} values by NaN or drop them"))
    return a


def _flags(x: Any, name: str, n: int) -> tuple[int, int]:
    """``(number true, number of rows)`` of a bool or 0/1 column."""
    a = _column(x, name, n)
    if a.dtype.kind in "iu":
        if not ((a == 0) | (a == 1)).all():
            raise InputError(message(where=name, expected="bool or 0/1 values", found=f"values "
                                     f"{np.unique(a[(a != 0) & (a != 1)])[:5].tolist()}",
                                     fix=f"pass {name} as a boolean array"))
    elif a.dtype.kind != "b":
        raise InputError(message(where=name, expected="bool or 0/1 values", found=f"dtype {a.dtype}",
                                 fix=f"pass {name} as a boolean array"))
    return int(np.count_nonzero(a)), n


def _entry(value: float, n: int, low: float | None = None, high: float | None = None) -> dict[str, Any]:
    return {"value": float(value), "ci_low": low, "ci_high": high, "n": int(n)}

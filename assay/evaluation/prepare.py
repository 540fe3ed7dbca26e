"""Turn record batches into validated numpy arrays with the roles of an :class:`EvalConfig`.

Validation happens here, once, at the edge: every error names the source, the column, the first offending row
(0-based, counted over the whole table) and its value, and says how to fix it.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.data.columns import null_mask, to_codes, to_float, to_numpy
from assay.errors import ColumnError, message
from assay.evaluation.config import EvalConfig

PROBA_TOLERANCE = 1e-6
_POSITIVE_WORDS = {"1", "true", "yes", "pos", "positive"}
_BINARY_PAIRS = ({"0", "1"}, {"false", "true"}, {"no", "yes"}, {"neg", "pos"}, {"negative", "positive"})


@dataclass
class Prepared:
    """One batch, validated: arrays over its kept rows."""

    n: int
    y: np.ndarray  # binary: int8 0/1; multiclass: int64 class index; regression/ranking: float64
    pred: np.ndarray | None = None  # class index (binary, multiclass) or value (regression)
    score: np.ndarray | None = None  # binary score, ranking score
    proba: np.ndarray | None = None  # (n, K) multiclass probabilities
    weight: np.ndarray | None = None
    codes: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    query: np.ndarray | None = None
    table: pa.RecordBatch | None = None  # the kept rows (for the fingerprint and the item sidecar)


class Preparer:
    """Validates batches one after another, keeping what must be consistent across them (labels, group keys)."""

    def __init__(self, config: EvalConfig, source: str, columns: list[str]) -> None:
        self.config = config
        self.source = source
        self.columns = columns
        self.rows_seen = 0
        self.rows_missing_label = 0
        self.label_values: set[Any] = set()
        self.pos_label: Any = config.pos_label
        self.classes: list[str] = []
        self.proba_columns: list[str] = []
        self.group_keys: dict[tuple[str, str], list[Hashable]] = {}
        self._group_index: dict[tuple[str, str], dict[Hashable, int]] = {}
        self.query_keys: dict[Hashable, int] = {}
        self._check_columns()

    # -- columns ----------------------------------------------------------------------------------------------------
    def _require(self, column: str | None, role: str) -> None:
        if column is not None and column not in self.columns:
            raise ColumnError(message(
                where=f"column '{column}' ({role}) of {self.source}",
                expected=f"a column named '{column}'",
                found="columns " + ", ".join(self.columns),
                fix=f"pass the right column name to --{role}",
            ))

    def _check_columns(self) -> None:
        c = self.config
        for column, role in ((c.label, "label"), (c.score, "score"), (c.prediction, "prediction"),
                             (c.weight, "weight"), (c.id, "id"), (c.query, "query")):
            self._require(column, role)
        for column in c.segments:
            self._require(column, "segment")
        for column in c.sensitive:
            self._require(column, "sensitive")
        if c.task == "multiclass" and c.proba_prefix is not None:
            self.proba_columns = [name for name in self.columns if name.startswith(c.proba_prefix)]
            self.classes = [name[len(c.proba_prefix):] for name in self.proba_columns]
            if len(self.classes) < 2:
                raise ColumnError(message(
                    where=f"probability columns of {self.source}",
                    expected=f"at least two columns named '{c.proba_prefix}<class>'",
                    found=f"{len(self.classes)} ({', '.join(self.proba_columns) or 'none'}) among columns "
                    + ", ".join(self.columns),
                    fix="pass the prefix the probability columns share with --proba-prefix",
                ))

    def needed_columns(self) -> list[str]:
        c = self.config
        wanted = [c.label, c.score, c.prediction, c.weight, c.id, c.query, *c.segments, *c.sensitive,
                  *self.proba_columns]
        out: list[str] = []
        for name in wanted:
            if name is not None and name not in out:
                out.append(name)
        return out

    def set_classes(self, classes: list[str]) -> None:
        self.classes = classes

    # -- batches ----------------------------------------------------------------------------------------------------
    def prepare(self, batch: pa.RecordBatch) -> Prepared:
        c = self.config
        offset = self.rows_seen
        self.rows_seen += batch.num_rows
        missing = null_mask(batch.column(c.label))
        if missing.any():
            if c.missing_label == "error":
                row = offset + int(np.flatnonzero(missing)[0])
                raise ColumnError(message(
                    where=f"column '{c.label}' of {self.source}, row {row}",
                    expected="a label on every row (--missing-label error)",
                    found=f"{int(missing.sum())} rows without a label in this chunk",
                    fix="fill the labels, or use --missing-label drop to exclude those rows",
                ))
            self.rows_missing_label += int(missing.sum())
            kept_rows = np.flatnonzero(~missing)
            batch = batch.take(pa.array(kept_rows))
            row_of = kept_rows + offset
        else:
            row_of = None

        def rows(i: int) -> int:
            return int(row_of[i]) if row_of is not None else offset + i

        def floats(name: str) -> np.ndarray:
            try:
                return to_float(batch.column(name), column=name, source=self.source, row_offset=offset)
            except ColumnError as exc:
                if row_of is None:
                    raise
                raise ColumnError(f"{exc} (row numbers count only rows with a label)") from None

        out = Prepared(n=batch.num_rows, y=np.zeros(0), table=batch)
        if c.weight is not None:
            w = floats(c.weight)
            if (w < 0).any():
                i = int(np.flatnonzero(w < 0)[0])
                raise ColumnError(message(where=f"column '{c.weight}' of {self.source}, row {rows(i)}",
                                          expected="non-negative weights", found=f"{w[i]!r}",
                                          fix="weights are sample weights: use values >= 0"))
            out.weight = w
        if c.task == "binary":
            self._binary(batch, out, floats, rows)
        elif c.task == "multiclass":
            self._multiclass(batch, out, floats, rows)
        elif c.task == "regression":
            out.y = floats(c.label)
            out.pred = floats(c.prediction)  # type: ignore[arg-type]
        else:
            out.y = floats(c.label)
            if (out.y < 0).any():
                i = int(np.flatnonzero(out.y < 0)[0])
                raise ColumnError(message(where=f"column '{c.label}' of {self.source}, row {rows(i)}",
                                          expected="relevance grades >= 0", found=f"{out.y[i]!r}",
                                          fix="use 0 for irrelevant items and positive grades for relevant ones"))
            out.score = floats(c.score)  # type: ignore[arg-type]
            out.query = self._codes_for(batch.column(c.query), ("query", c.query), self.query_keys,  # type: ignore[arg-type]
                                        offset)
        for kind, cols in (("segment", c.segments), ("sensitive", c.sensitive)):
            for name in cols:
                key = (kind, name)
                index = self._group_index.setdefault(key, {})
                out.codes[key] = self._codes_for(batch.column(name), key, index, offset)
                self.group_keys[key] = list(index)
        return out

    def _codes_for(self, column: pa.Array | pa.ChunkedArray, key: tuple[str, str],
                   index: dict[Hashable, int], row_offset: int) -> np.ndarray:
        local, values = to_codes(column, column=key[1], source=self.source, row_offset=row_offset)
        lut = np.empty(len(values), np.int64)
        for i, v in enumerate(values):
            v = _plain(v)
            if v not in index:
                index[v] = len(index)
            lut[i] = index[v]
        if not len(values):
            return np.zeros(0, np.int64)
        if np.array_equal(lut, np.arange(len(values))):  # codes already those of the evaluation (a first batch)
            return local.astype(np.int64, copy=False)
        return lut[local]

    # -- binary ------------------------------------------------------------------------------------------------------
    def _binary(self, batch: pa.RecordBatch, out: Prepared, floats: Any, rows: Any) -> None:
        c = self.config
        label = batch.column(c.label)
        self._learn_binary_values(label, c.label)
        if c.prediction is not None:
            self._learn_binary_values(batch.column(c.prediction), c.prediction)
        pos = self._positive(label.type)
        out.y = _equals(label, pos)
        if c.score is not None:
            s = floats(c.score)
            if c.score_kind == "probability":
                bad = (s < 0) | (s > 1)
                if bad.any():
                    i = int(np.flatnonzero(bad)[0])
                    raise ColumnError(message(
                        where=f"column '{c.score}' of {self.source}, row {rows(i)}",
                        expected="probabilities in [0, 1]",
                        found=f"{s[i]!r} ({int(bad.sum())} rows outside [0, 1] in this chunk)",
                        fix="pass --score-kind margin for logits or margins (log loss, Brier and ECE then need "
                        "probabilities and are left out)",
                    ))
            out.score = s
        if c.prediction is not None:
            out.pred = _equals(batch.column(c.prediction), pos)
        else:
            assert out.score is not None
            out.pred = (out.score >= c.effective_threshold).astype(np.int8)

    def _learn_binary_values(self, column: pa.Array | pa.ChunkedArray, name: str) -> None:
        values = {_plain(v) for v in pc.unique(column).to_pylist() if v is not None}
        merged = self.label_values | values
        if len(merged) > 2:
            extra = sorted(map(str, values - self.label_values))[:3] if self.label_values else sorted(map(str, merged))
            raise ColumnError(message(
                where=f"column '{name}' of {self.source}",
                expected="two label values for the binary task (labels and predictions together)",
                found=f"{len(merged)} values: " + ", ".join(sorted(map(str, merged))[:10])
                + (f" (new here: {', '.join(extra)})" if self.label_values else ""),
                fix="use --task multiclass for more than two classes, or map the labels to two values",
            ))
        self.label_values = merged

    def _positive(self, arrow_type: pa.DataType) -> Any:
        if self.pos_label is not None:
            return _coerce(self.pos_label, arrow_type)
        values = self.label_values
        if pa.types.is_boolean(arrow_type):
            self.pos_label = True
        elif values <= {0, 1}:
            self.pos_label = 1
        elif (pair := next((p for p in _BINARY_PAIRS if {str(v).lower() for v in values} <= p), None)):
            word = next(iter(pair & _POSITIVE_WORDS))
            self.pos_label = {str(v).lower(): v for v in values}.get(word, word)
        else:
            raise ColumnError(message(
                where=f"column '{self.config.label}' of {self.source}",
                expected="0/1 or true/false labels, or --pos-label naming the positive class",
                found="labels " + ", ".join(sorted(map(str, values))),
                fix="pass --pos-label VALUE",
            ))
        return self.pos_label

    # -- multiclass --------------------------------------------------------------------------------------------------
    def _multiclass(self, batch: pa.RecordBatch, out: Prepared, floats: Any, rows: Any) -> None:
        c = self.config
        out.y = self._class_index(batch.column(c.label), c.label, rows)
        if self.proba_columns:
            proba = np.column_stack([floats(name) for name in self.proba_columns])
            bad = (proba < 0) | (proba > 1)
            if bad.any():
                i, j = (int(v[0]) for v in np.nonzero(bad))
                raise ColumnError(message(
                    where=f"column '{self.proba_columns[j]}' of {self.source}, row {rows(i)}",
                    expected="probabilities in [0, 1]", found=f"{proba[i, j]!r}",
                    fix="pass probabilities (apply a softmax to logits first)",
                ))
            total = proba.sum(axis=1)
            off = np.abs(total - 1.0) > PROBA_TOLERANCE
            if off.any():
                i = int(np.flatnonzero(off)[0])
                raise ColumnError(message(
                    where=f"columns {', '.join(self.proba_columns)} of {self.source}, row {rows(i)}",
                    expected=f"probabilities summing to 1 (within {PROBA_TOLERANCE})",
                    found=f"a sum of {total[i]!r} ({int(off.sum())} rows off in this chunk)",
                    fix="normalise each row of probabilities, or check that every class has a column",
                ))
            out.proba = proba
        if c.prediction is not None:
            out.pred = self._class_index(batch.column(c.prediction), c.prediction, rows)
        else:
            out.pred = np.argmax(out.proba, axis=1)  # type: ignore[arg-type]

    def _class_index(self, column: pa.Array | pa.ChunkedArray, name: str, rows: Any) -> np.ndarray:
        text = pc.cast(column, pa.string()) if not pa.types.is_string(column.type) else column
        idx = pc.index_in(text, value_set=pa.array(self.classes, pa.string()))
        missing = null_mask(idx)
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            value = text[i].as_py() if hasattr(text[i], "as_py") else text[i]
            raise ColumnError(message(
                where=f"column '{name}' of {self.source}, row {rows(i)}",
                expected="one of the classes " + ", ".join(self.classes),
                found=f"{value!r}",
                fix="check the label values against the probability columns' names",
            ))
        return np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int64) if not isinstance(
            idx, pa.ChunkedArray) else np.asarray(idx.to_numpy(), dtype=np.int64)


def _plain(v: Any) -> Hashable:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)


def _coerce(value: Any, arrow_type: pa.DataType) -> Any:
    if pa.types.is_boolean(arrow_type):
        return str(value).lower() in ("1", "true", "yes") if isinstance(value, str) else bool(value)
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        try:
            return float(value) if pa.types.is_floating(arrow_type) else int(value)
        except ValueError:
            return value
    return str(value)


def _equals(column: pa.Array | pa.ChunkedArray, value: Any) -> np.ndarray:
    kind = column.type
    if column.null_count == 0 and (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and isinstance(
            value, (int, float)):
        return (to_numpy(column) == value).astype(np.int8)  # NumPy: pyarrow's scalar path would import pandas
    try:
        hit = pc.equal(column, pa.scalar(value, column.type))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        hit = pc.equal(pc.cast(column, pa.string()), pa.scalar(str(value)))
    hit = pc.cast(hit, pa.int8())  # int8, not bool: a boolean to_numpy goes through pyarrow's pandas layer
    arr = hit.to_numpy(zero_copy_only=False) if isinstance(hit, pa.Array) else hit.to_numpy()
    return np.asarray(arr, dtype=np.int8)

"""The per-item sidecar: one Parquet row per evaluated item, for paired comparisons of two models later.

Columns: ``id`` (the ``--id`` column, or the row number), ``label``, ``weight``, the model's outputs (``score``,
``proba_<class>`` or ``prediction``; ``query`` for ranking), ``correct`` (classification), ``loss`` (log loss for
probabilistic classifiers, 0/1 error otherwise, squared error for regression, absent for ranking), and the segment
and sensitive columns under their own names. Written to a temporary file and renamed into place when complete
(:class:`~assay.data.atomic.AtomicFile`: a new file gets the umask's permissions, a replaced one keeps its own).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from assay.data.atomic import AtomicFile
from assay.evaluation.config import EvalConfig
from assay.evaluation.prepare import Prepared

if TYPE_CHECKING:
    import pyarrow.parquet as pq


class ItemsWriter:
    def __init__(self, path: str | os.PathLike[str], config: EvalConfig, classes: list[str]) -> None:
        self.path = Path(path)
        self.config = config
        self.classes = classes
        self.rows = 0
        self._pending = AtomicFile(self.path)
        self.tmp = self._pending.tmp
        self.writer: pq.ParquetWriter | None = None

    def write(self, batch: Prepared) -> None:
        c = self.config
        t = batch.table
        assert t is not None
        cols: dict[str, pa.Array | np.ndarray] = {}
        cols["id"] = t.column(c.id) if c.id is not None else pa.array(np.arange(self.rows, self.rows + batch.n))
        cols["label"] = t.column(c.label)
        cols["weight"] = batch.weight if batch.weight is not None else np.ones(batch.n)
        if c.task == "binary":
            if batch.score is not None:
                cols["score"] = batch.score
            cols["prediction"] = np.asarray(batch.pred).astype(np.int8)
            cols["correct"] = np.asarray(batch.pred == batch.y)
            if batch.score is not None and c.score_kind == "probability":
                eps = np.finfo(np.float64).eps
                p = np.where(batch.y == 1, batch.score, 1 - batch.score)
                cols["loss"] = -np.log(np.clip(p, eps, 1 - eps))
            else:
                cols["loss"] = np.asarray(batch.pred != batch.y).astype(np.float64)
        elif c.task == "multiclass":
            if batch.proba is not None:
                for j, name in enumerate(self.classes):
                    cols[f"proba_{name}"] = batch.proba[:, j]
                eps = np.finfo(np.float64).eps
                cols["loss"] = -np.log(np.clip(batch.proba[np.arange(batch.n), batch.y], eps, 1 - eps))
            cols["prediction"] = pa.array(np.asarray(self.classes, dtype=object)[batch.pred], pa.string())
            cols["correct"] = np.asarray(batch.pred == batch.y)
            if "loss" not in cols:
                cols["loss"] = np.asarray(batch.pred != batch.y).astype(np.float64)
        elif c.task == "regression":
            assert batch.pred is not None
            cols["prediction"] = batch.pred
            cols["loss"] = (batch.pred - batch.y) ** 2
        else:
            assert c.query is not None and batch.score is not None
            cols["query"] = t.column(c.query)
            cols["score"] = batch.score
        for name in (*c.segments, *c.sensitive):
            if name not in cols:
                cols[name] = t.column(name)
        table = pa.table({k: (v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v))
                          for k, v in cols.items()})
        if self.writer is None:
            import pyarrow.parquet as pq  # here, not at import: only --items needs it

            self.writer = pq.ParquetWriter(self.tmp, table.schema)
        else:
            table = table.cast(self.writer.schema)
        self.writer.write_table(table)
        self.rows += batch.n

    def close(self) -> dict[str, object]:
        """Finish the file, move it into place, return ``{path, sha256, rows}``."""
        if self.writer is None:
            import pyarrow.parquet as pq

            self.writer = pq.ParquetWriter(self.tmp, pa.schema([("id", pa.int64())]))
        self.writer.close()
        digest = hashlib.sha256()
        with open(self.tmp, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        self._pending.commit()
        return {"path": str(self.path), "sha256": digest.hexdigest(), "rows": self.rows}

    def abort(self) -> None:
        try:
            if self.writer is not None:
                self.writer.close()
        finally:
            self._pending.discard()

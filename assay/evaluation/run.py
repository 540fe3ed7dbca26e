"""``assay.evaluate``: a table and column roles in, a run document out.

>>> import numpy as np
>>> run = evaluate({"y": np.array([0, 1, 1, 0]), "s": np.array([0.2, 0.9, 0.4, 0.6])},
...                task="binary", label="y", score="s")
>>> run.metrics["accuracy"]["value"], run.metrics["roc_auc"]["value"]
(0.5, 0.75)
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay._version import __version__
from assay.data._many import GLOB_CHARS
from assay.data.tables import TableSource, open_table
from assay.errors import ColumnError, InputError, message
from assay.evaluation.accumulate import Accumulator
from assay.evaluation.config import EvalConfig
from assay.evaluation.document import sections
from assay.evaluation.fingerprint import Fingerprint
from assay.evaluation.items import ItemsWriter
from assay.evaluation.prepare import Prepared, Preparer
from assay.metrics import registry

SCHEMA = "assay.run/1"
Progress = Callable[[int, int | None], None]


@dataclass
class Run:
    """An evaluation run: the document and a few conveniences."""

    doc: dict[str, Any]

    @property
    def metrics(self) -> dict[str, Any]:
        return self.doc["metrics"]

    def to_dict(self) -> dict[str, Any]:
        """The run document, exactly as ``--out run.json`` writes it."""
        return json.loads(self.to_json())

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.doc, indent=indent, allow_nan=False)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the document atomically."""
        from assay.data.atomic import atomic_write

        atomic_write(path, self.to_json() + "\n")


def evaluate(
    data: Any,
    *,
    task: str,
    label: str = "label",
    progress: Progress | None = None,
    now: datetime | None = None,
    encoding: str | None = None,
    format: str | None = None,
    **options: Any,
) -> Run:
    """Evaluate predictions against labels.

    ``data`` is a pandas or polars DataFrame, a pyarrow Table, a dict of arrays, a path (CSV, Parquet, JSON
    Lines, Arrow IPC), or ``"-"`` for a table piped to standard input. ``options`` are the fields of
    :class:`~assay.evaluation.config.EvalConfig` (``score``, ``prediction``, ``proba_prefix``, ``weight``,
    ``segments``, ``sensitive``, ``threshold``, ``confidence``, ...). Files are read in chunks of ``chunk_rows``
    and merged, so memory stays bounded; ``progress(rows, total)`` is called after each chunk. ``encoding`` (the
    text encoding of CSV and JSON Lines, default UTF-8) and ``format`` are those of
    :func:`~assay.data.tables.open_table`.
    """
    for key in ("segments", "sensitive", "metrics"):
        if isinstance(options.get(key), str):
            options[key] = (options[key],)
        elif options.get(key) is not None:
            options[key] = tuple(options[key])
    config = EvalConfig(task=task, label=label, **options)
    source = open_table(data, chunk_rows=config.chunk_rows, name=config.dataset_name, encoding=encoding,
                        format=format)
    return _evaluate_source(source, config, progress, now or datetime.now(UTC))


def _batches(source: TableSource, config: EvalConfig, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """Batches; a table in memory is one batch; for ranking, regrouped so no query is split between batches."""
    if source.in_memory:
        table = source.read(columns).combine_chunks()
        yield from table.to_batches(max_chunksize=max(table.num_rows, 1))
        return
    if config.task != "ranking":
        yield from source.batches(columns)
        return
    carry: pa.Table | None = None
    seen: set[Any] = set()
    offset = 0
    for batch in source.batches(columns):
        table = pa.Table.from_batches([batch])
        q = table.column(config.query)
        if carry is not None:
            table = pa.concat_tables([carry, table])
            q = table.column(config.query)
        if table.num_rows == 0:
            continue
        last = q[table.num_rows - 1].as_py()
        is_last = np.asarray(pc.equal(q, pa.scalar(last, q.type)).to_numpy(zero_copy_only=False), dtype=bool)
        keep = table.filter(pa.array(~is_last))
        carry = table.filter(pa.array(is_last))
        done = set(pc.unique(keep.column(config.query)).to_pylist())
        again = (done | {last}) & seen
        if again:
            raise ColumnError(message(
                where=f"column '{config.query}' of {source.name}, near row {offset}",
                expected="the rows of each query next to each other when a file is read in chunks",
                found=f"query {sorted(map(str, again))[0]!r} again after other queries",
                fix="sort the file by the query column",
            ))
        seen |= done
        offset += batch.num_rows
        if keep.num_rows:
            yield from keep.combine_chunks().to_batches()
    if carry is not None and carry.num_rows:
        yield from carry.combine_chunks().to_batches()


def _evaluate_source(source: TableSource, config: EvalConfig, progress: Progress | None, now: datetime) -> Run:
    if source.in_memory:
        config = replace(config, max_distinct_scores=None)  # all scores are in memory: exact
    preparer = Preparer(config, source.name, source.columns)
    columns = preparer.needed_columns()
    if config.task == "multiclass" and not preparer.proba_columns:
        preparer.set_classes(_classes_from_data(source, config))
    classes = preparer.classes
    n_classes = len(classes) if config.task == "multiclass" else 2
    acc = Accumulator(config, n_classes)
    fingerprint = Fingerprint()
    items = ItemsWriter(config.items, config, classes) if config.items else None
    rows = 0
    try:
        for batch in _batches(source, config, columns):
            prepared = preparer.prepare(batch)
            acc.update(prepared, preparer.group_keys)
            fingerprint = fingerprint.merge(_fingerprint(prepared, config))
            if items is not None:
                items.write(prepared)
            rows += batch.num_rows
            if progress is not None:
                progress(rows, source.num_rows)
        if rows == 0 or preparer.rows_seen == preparer.rows_missing_label:
            raise InputError(message(
                where=f"{source.name}",
                expected="at least one row with a label",
                found="an empty table" if rows == 0 else f"{rows} rows, none with a label",
                fix="check the file and the --label column",
            ))
        items_ref = items.close() if items is not None else None
    except BaseException:
        if items is not None:
            items.abort()
        raise
    if config.task == "binary":
        pos = preparer.pos_label
        neg = next((v for v in preparer.label_values if v != pos), None)
        class_labels: list[Any] = [neg, pos]
    else:
        class_labels = list(classes)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "run_id": uuid.uuid4().hex,
        "created_at": now.isoformat(),
        "assay_version": __version__,
        "task": config.task,
        "model": {"name": config.model_name, "version": config.model_version},
        "dataset": {
            "name": config.dataset_name or _dataset_name(source),
            "path": source.name if isinstance(source.name, str) and os.path.exists(source.name) else None,
            "fingerprint": fingerprint.digest(),
            "fingerprint_basis": fingerprint.basis,
            "rows": preparer.rows_seen,
            "rows_used": preparer.rows_seen - preparer.rows_missing_label,
            "rows_missing_label": preparer.rows_missing_label,
        },
        "config": {
            **config.recorded(),
            "classes": class_labels if config.task != "binary" else None,
            "pos_label": preparer.pos_label if config.task == "binary" else None,
            "primary_metric": _primary(config),
        },
    }
    doc.update(sections(acc, config, classes, class_labels))
    notes = _notes(doc, acc, config)
    if notes:
        doc["notes"] = notes
    if items_ref is not None:
        doc["items"] = items_ref
    return Run(_jsonable(doc))


def _primary(config: EvalConfig) -> str:
    name = registry.PRIMARY[config.task]
    if config.task == "binary" and config.score is None:
        name = "accuracy"
    if config.task == "ranking":
        name = f"ndcg@{config.k}"
    return name


def _notes(doc: dict[str, Any], acc: Accumulator, config: EvalConfig) -> list[str]:
    notes = []
    for name, entry in doc["metrics"].items():
        if entry.get("bound"):
            notes.append(f"{name}: distinct scores exceeded the state's cap ({config.max_distinct_scores}); the "
                         f"value is exact to within ±{entry['bound']:.3g}")
    if doc["dataset"]["rows_missing_label"]:
        notes.append(f"{doc['dataset']['rows_missing_label']} rows without a label were excluded")
    return notes


def _dataset_name(source: TableSource) -> str:
    name = str(source.name)
    if any(c in name for c in GLOB_CHARS):  # a glob of many files: the pattern says what was read
        return name
    if os.path.isdir(name):  # a directory of many files, '.' included
        return Path(name).resolve().name or name
    return Path(name).name if os.path.sep in name or "." in name else name


def _classes_from_data(source: TableSource, config: EvalConfig) -> list[str]:
    seen: set[str] = set()
    cols = [c for c in (config.label, config.prediction) if c]
    for batch in source.batches(cols):
        for c in cols:
            seen |= {str(v) for v in pc.unique(batch.column(c)).to_pylist() if v is not None}
    return sorted(seen)


def _fingerprint(prepared: Prepared, config: EvalConfig) -> Fingerprint:
    ids = prepared.table.column(config.id) if config.id is not None and prepared.table is not None else None
    labels = prepared.y
    return Fingerprint().update(ids, labels, prepared.weight)


def _jsonable(obj: Any) -> Any:
    """``obj`` with NumPy scalars as Python ones, non-finite floats as ``None`` and keys as strings."""
    t = type(obj)
    if t is str or t is int or t is bool or obj is None:  # the common leaves first: documents hold many
        return obj
    if t is float:
        return obj if math.isfinite(obj) else None
    if t is dict:
        return {k if type(k) is str else str(k): _jsonable(v) for k, v in obj.items()}
    if t is list:
        return [_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj

"""What the importers share: reading JSON with clear errors, metric entries, the fingerprint, the run document and
the item sidecar.

A harness reports each metric with its own standard error; the entry keeps that ``se`` and the normal interval
``value ± z·se`` (clipped to [0, 1] for metrics bounded there), with ``method: "harness-stderr"``.

>>> entry = metric_entry(0.7, 0.02296791789704179, 400, z=1.959963984540054, bounded=True, higher_is_better=True)
>>> round(entry["ci_low"], 4), round(entry["ci_high"], 4), entry["method"]
(0.655, 0.745, 'harness-stderr')
>>> metric_entry(0.98, 0.02, 50, z=1.96, bounded=True, higher_is_better=True)["ci_high"]
1.0
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from assay._version import __version__
from assay.data.atomic import atomic_path
from assay.errors import ConfigError, ReadError, message
from assay.evaluation.fingerprint import Fingerprint
from assay.evaluation.run import SCHEMA, Run
from assay.stats.intervals import z_value

METHOD = "harness-stderr"
ITEM_COLUMNS = ("id", "task", "group", "doc_id", "doc_hash", "target")


def check_confidence(confidence: float) -> float:
    """The z of a two-sided interval; the level must lie in [0.5, 1) as for ``assay evaluate``."""
    if not isinstance(confidence, (int, float)) or not 0.5 <= confidence < 1:
        raise ConfigError(message(where="option --confidence", expected="a level in [0.5, 1)",
                                  found=repr(confidence), fix="use e.g. 0.95"))
    return z_value(float(confidence))


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """Parse a JSON file; a missing, unreadable or malformed file raises :class:`ReadError` naming the file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ReadError(message(where=f"{what} {str(p)!r}", expected="a readable file",
                                found=exc.strerror or type(exc).__name__,
                                fix="check the path and its permissions")) from exc
    if raw[:2] == b"PK":
        raise ReadError(message(where=f"{what} {str(p)!r}", expected="a JSON file", found="a zip archive",
                                fix="for an Inspect .eval log, convert it first: inspect log convert "
                                    f"{p.name} --to json --output-dir DIR"))
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ReadError(message(where=f"{what} {str(p)!r}, byte {exc.start}", expected="UTF-8 encoded JSON",
                                found="bytes that are not UTF-8", fix="pass the file the harness wrote")) from exc
    except json.JSONDecodeError as exc:
        raise ReadError(message(where=f"{what} {str(p)!r}, line {exc.lineno}, column {exc.colno}",
                                expected="valid JSON", found=f"a syntax error ({exc.msg})",
                                fix="the file is truncated or was edited; use the file the harness wrote")) from exc


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (for optional sections of a harness's file)."""
    return value if isinstance(value, dict) else {}


def number(value: Any) -> float | None:
    """A finite float from a JSON value, or None for anything else ("N/A", null, NaN, lists, booleans)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def metric_entry(value: Any, se: Any, n: int, *, z: float, bounded: bool, higher_is_better: bool) -> dict[str, Any]:
    """One metric of the run document from a harness's value and standard error."""
    v, s = number(value), number(se)
    entry: dict[str, Any] = {"value": v, "ci_low": None, "ci_high": None, "se": s, "n": int(n),
                             "method": METHOD, "higher_is_better": bool(higher_is_better)}
    if v is None:
        entry["reason"] = f"the harness reported {value!r} instead of a number"
        entry["se"] = None
    elif s is not None:
        low, high = v - z * s, v + z * s
        if bounded and 0.0 <= v <= 1.0:
            low, high = max(low, 0.0), min(high, 1.0)
        entry["ci_low"], entry["ci_high"] = low, high
    return entry


def fingerprint_items(ids: Sequence[str], targets: Sequence[str]) -> str:
    """Fingerprint of the evaluated items: ids and their targets (basis ``ids+targets``)."""
    return Fingerprint().update(pa.array(list(ids), pa.string()), pa.array(list(targets), pa.string()),
                                None).digest()


def fingerprint_tasks(names: Sequence[str], counts: Sequence[int], hashes: Sequence[str | None]) -> str:
    """Fingerprint without items: task names, their item counts and task hashes (basis ``tasks+counts``)."""
    labels = [f"{c}:{h or ''}" for c, h in zip(counts, hashes)]
    return Fingerprint().update(pa.array(list(names), pa.string()), pa.array(labels, pa.string()), None).digest()


@dataclass
class Items:
    """The item sidecar in memory: one entry per item, metric columns filled as samples are read."""

    ids: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    doc_ids: list[int | None] = field(default_factory=list)
    doc_hashes: list[str | None] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    metrics: dict[str, list[float | None]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, *, id: str, task: str, group: str, doc_id: int | None, doc_hash: str | None, target: str,
            values: dict[str, float | None]) -> None:
        row = len(self.ids)
        self.ids.append(id)
        self.tasks.append(task)
        self.groups.append(group)
        self.doc_ids.append(doc_id)
        self.doc_hashes.append(doc_hash)
        self.targets.append(target)
        for name in values:
            self.metrics.setdefault(name, [None] * row)
        for name, column in self.metrics.items():
            column.append(values.get(name))

    def table(self) -> pa.Table:
        columns: dict[str, pa.Array] = {
            "id": pa.array(self.ids, pa.string()),
            "task": pa.array(self.tasks, pa.string()),
            "group": pa.array(self.groups, pa.string()),
            "doc_id": pa.array(self.doc_ids, pa.int64()),
            "doc_hash": pa.array(self.doc_hashes, pa.string()),
            "target": pa.array(self.targets, pa.string()),
        }
        for name, values in self.metrics.items():
            columns[name] = pa.array(values, pa.float64())
        return pa.table(columns)

    def write(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Write the sidecar atomically; return the document's ``items`` reference ``{path, sha256, rows}``."""
        table = self.table()
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
            digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        return {"path": str(path), "sha256": digest, "rows": table.num_rows}


def build_run(
    *,
    created_at: datetime,
    model: dict[str, str | None],
    dataset: dict[str, Any],
    config: dict[str, Any],
    metrics: dict[str, dict[str, Any]],
    notes: list[str],
    items: dict[str, Any] | None = None,
    usage: dict[str, Any] | None = None,
) -> Run:
    """The run document of imported results (``task: "suite"``)."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "run_id": uuid.uuid4().hex,
        "created_at": created_at.isoformat(),
        "assay_version": __version__,
        "task": "suite",
        "model": model,
        "dataset": {"name": dataset["name"], "path": None, "fingerprint": dataset["fingerprint"],
                    "fingerprint_basis": dataset["fingerprint_basis"], "rows": dataset["rows"],
                    "rows_used": dataset["rows"], "rows_missing_label": 0},
        "config": {"confidence": config["confidence"], "seed": 0, **config},
        "metrics": metrics,
        "slices": {},
        "fairness": {},
        "notes": notes,
    }
    if usage is not None:
        doc["usage"] = usage
    if items is not None:
        doc["items"] = items
    return Run(_finite(doc))


def _finite(obj: Any) -> Any:
    """The document with non-finite floats (which a harness's JSON may hold, e.g. in its config) as null."""
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj

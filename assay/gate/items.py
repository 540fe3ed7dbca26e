"""Loading and pairing the item sidecars of two runs, and the paired difference of one metric on them."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assay.errors import InputError
from assay.metrics.classification import BINARY_CELL_METRICS
from assay.stats.paired import Difference, joint_cell_bootstrap, paired_delong, paired_mean, tango


def load_items(doc: dict[str, Any], run_path: str | Path | None) -> pa.Table | None:
    """The sidecar of a run (``None`` when the run has none); its content hash must match the run's record."""
    ref = doc.get("items")
    if not ref:
        return None
    path = Path(ref["path"])
    candidates = [path] if path.is_absolute() else [
        *([Path(run_path).parent / path] if run_path else []), Path.cwd() / path,
        *([Path(run_path).parent / path.name] if run_path else []),
    ]
    found = next((p for p in candidates if p.exists()), None)
    if found is None:
        return None
    digest = hashlib.sha256(found.read_bytes()).hexdigest()
    if digest != ref.get("sha256"):
        raise InputError(f"item sidecar {found}: expected the content recorded in the run (sha256 "
                         f"{str(ref.get('sha256'))[:12]}…), found sha256 {digest[:12]}…. Fix: re-run the evaluation "
                         "so the run and its sidecar match")
    return pq.read_table(found)


def pair(candidate: pa.Table, baseline: pa.Table) -> pa.Table:
    """Pair two sidecars on ``id``; candidate columns keep their names, baseline ones get ``__b``.

    Sidecars of one evaluation set usually list the same ids: then pairing is a sort of each (or nothing, when the
    orders already agree); otherwise the inner join keeps the shared items.
    """
    ca, cb = candidate.column("id"), baseline.column("id")
    if ca.type != cb.type:
        candidate = candidate.set_column(0, "id", pc.cast(ca, pa.string())) if ca.type != pa.string() else candidate
        baseline = baseline.set_column(0, "id", pc.cast(cb, pa.string())) if cb.type != pa.string() else baseline
        candidate = candidate.select(["id", *[c for c in candidate.column_names if c != "id"]])
        baseline = baseline.select(["id", *[c for c in baseline.column_names if c != "id"]])
    for name, t in (("candidate", candidate), ("baseline", baseline)):
        if pc.count_distinct(t.column("id")).as_py() != t.num_rows:
            raise InputError(f"item sidecar of the {name}: expected unique item ids, found duplicates. "
                             "Fix: evaluate with an --id column that identifies items")
    b = baseline.rename_columns([c if c == "id" else f"{c}__b" for c in baseline.column_names])
    if candidate.num_rows == b.num_rows:
        if not candidate.column("id").equals(b.column("id")):
            candidate = candidate.take(pc.sort_indices(candidate, [("id", "ascending")]))
            b = b.take(pc.sort_indices(b, [("id", "ascending")]))
        if candidate.column("id").equals(b.column("id")):
            joined = candidate
            for name in b.column_names:
                if name != "id":
                    joined = joined.append_column(name, b.column(name))
            return joined
    return candidate.join(b, keys="id", join_type="inner")


def _np(t: pa.Table, name: str) -> np.ndarray:
    return np.asarray(t.column(name).to_numpy(), dtype=np.float64)


CELL_METRICS = {"precision", "recall", "specificity", "fpr", "fnr", "selection_rate", "f1", "balanced_accuracy",
                "mcc"}


def paired_difference(
    task: str, metric: str, joined: pa.Table, z: float, *, k: float = 1.0, seed: int = 0
) -> Difference | None:
    """``candidate - k * baseline`` of ``metric`` on paired items, or ``None`` when no paired method applies."""
    cols = set(joined.column_names)
    w = _np(joined, "weight") if "weight" in cols else None
    if w is not None and np.all(w == 1.0):
        w = None
    if joined.num_rows == 0:
        return None
    if task == "suite":
        name = metric.rsplit("/", 1)
        if len(name) != 2:
            return None
        scope, base = name
        base = base.split("@", 1)[0]
        if base not in cols or f"{base}__b" not in cols:
            return None
        mask = np.zeros(joined.num_rows, dtype=bool)
        for col in ("task", "group"):
            if col in cols:
                mask |= np.asarray(pc.equal(joined.column(col), scope).to_numpy(zero_copy_only=False), dtype=bool)
        sub = joined.filter(pa.array(mask))
        if sub.num_rows == 0:
            return None
        a, b = _np(sub, base), _np(sub, f"{base}__b")
        if k == 1.0 and np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all():
            return _tango01(a, b, z)
        return paired_mean(a - k * b, z)
    if task in ("binary", "multiclass") and metric == "accuracy" and "correct" in cols:
        a = _np(joined, "correct")
        b = _np(joined, "correct__b")
        if k == 1.0 and w is None:
            return _tango01(a, b, z)
        return paired_mean(a - k * b, z, w)
    if task == "binary" and "correct" in cols and "prediction" in cols and "label_bin" not in cols:
        pred, correct = _np(joined, "prediction"), _np(joined, "correct")
        joined = joined.append_column("label_bin", pa.array(np.where(correct == 1, pred, 1 - pred)))
        cols.add("label_bin")
    if task == "binary" and metric in CELL_METRICS and "prediction" in cols:
        y = _np(joined, "label_bin")
        pa_, pb_ = _np(joined, "prediction"), _np(joined, "prediction__b")
        fn = BINARY_CELL_METRICS[metric]
        return joint_cell_bootstrap(y, pa_, pb_, fn, z, weight=w, seed=seed, k=k)
    if task == "binary" and metric == "roc_auc" and "score" in cols and "label_bin" in cols and k == 1.0:
        return paired_delong(_np(joined, "label_bin"), _np(joined, "score"), _np(joined, "score__b"), z, w)
    if metric == "log_loss" and "loss" in cols and task in ("binary", "multiclass"):
        return paired_mean(_np(joined, "loss") - k * _np(joined, "loss__b"), z, w)
    if task == "binary" and metric == "brier" and "score" in cols and "label_bin" in cols:
        y = _np(joined, "label_bin")
        return paired_mean((y - _np(joined, "score")) ** 2 - k * (y - _np(joined, "score__b")) ** 2, z, w)
    if task == "regression" and metric in ("mae", "mse") and "prediction" in cols:
        y = _np(joined, "label")
        ea, eb = _np(joined, "prediction") - y, _np(joined, "prediction__b") - y
        if metric == "mae":
            return paired_mean(np.abs(ea) - k * np.abs(eb), z, w)
        return paired_mean(ea * ea - k * eb * eb, z, w)
    return None


def _tango01(a: np.ndarray, b: np.ndarray, z: float) -> Difference:
    n11 = float(((a == 1) & (b == 1)).sum())
    n10 = float(((a == 1) & (b == 0)).sum())
    n01 = float(((a == 0) & (b == 1)).sum())
    n00 = float(((a == 0) & (b == 0)).sum())
    return tango(n11, n10, n01, n00, z)

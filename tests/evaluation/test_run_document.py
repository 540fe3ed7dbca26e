"""The run document: its schema, the fingerprint's invariances, the Python API's inputs and errors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import assay
from assay.errors import ColumnError, ConfigError

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "assay.run-1.schema.json").read_text())


def _data(n: int = 400, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return {"id": np.arange(n), "y": y, "s": np.clip(0.3 + 0.4 * y + rng.normal(0, 0.25, n), 0, 1),
            "seg": rng.choice(["a", "b"], n), "g": rng.choice(["x", "y", "z"], n), "w": rng.integers(1, 3, n) * 1.0}


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression", "ranking"])
def test_every_task_validates_against_the_published_schema(task: str) -> None:
    rng = np.random.default_rng(1)
    n = 300
    if task == "binary":
        run = assay.evaluate(_data(), task="binary", label="y", score="s", segments=["seg"], sensitive=["g"], id="id")
    elif task == "multiclass":
        p = rng.dirichlet([1, 1, 1], n)
        run = assay.evaluate({"label": rng.choice(["cat", "dog", "owl"], n), "proba_cat": p[:, 0],
                              "proba_dog": p[:, 1], "proba_owl": p[:, 2], "seg": rng.choice(["a", "b"], n)},
                             task="multiclass", proba_prefix="proba_", segments=["seg"])
    elif task == "regression":
        y = rng.normal(size=n)
        run = assay.evaluate({"label": y, "pred": y + rng.normal(size=n)}, task="regression", prediction="pred")
    else:
        run = assay.evaluate({"q": np.repeat(np.arange(30), 10), "label": rng.integers(0, 3, n) * 1.0,
                              "s": rng.random(n)}, task="ranking", query="q", score="s")
    doc = run.to_dict()
    jsonschema.validate(doc, SCHEMA)
    assert doc == json.loads(run.to_json())


def test_fingerprint_ignores_row_order_file_format_and_model_outputs(tmp_path: Path) -> None:
    d = _data()
    a = assay.evaluate(d, task="binary", label="y", score="s", id="id")
    perm = np.random.default_rng(3).permutation(len(d["y"]))
    other = {k: v[perm] for k, v in d.items()}
    other["s"] = np.clip(other["s"] + 0.1, 0, 1)  # another model on the same set
    pacsv.write_csv(pa.table(other), tmp_path / "other.csv")
    b = assay.evaluate(tmp_path / "other.csv", task="binary", label="y", score="s", id="id")
    assert a.doc["dataset"]["fingerprint"] == b.doc["dataset"]["fingerprint"]
    changed = dict(d)
    changed["y"] = d["y"].copy()
    changed["y"][0] = 1 - changed["y"][0]
    c = assay.evaluate(changed, task="binary", label="y", score="s", id="id")
    assert c.doc["dataset"]["fingerprint"] != a.doc["dataset"]["fingerprint"]


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow", "dict", "parquet"])
def test_table_kinds_agree(kind: str, tmp_path: Path) -> None:
    d = _data()
    ref = assay.evaluate(d, task="binary", label="y", score="s").doc["metrics"]
    if kind == "pandas":
        import pandas as pd

        src: object = pd.DataFrame(d)
    elif kind == "polars":
        import polars as pl

        src = pl.DataFrame(d)
    elif kind == "arrow":
        src = pa.table(d)
    elif kind == "dict":
        src = {k: v.tolist() for k, v in d.items()}
    else:
        pq.write_table(pa.table(d), tmp_path / "d.parquet")
        src = str(tmp_path / "d.parquet")
    got = assay.evaluate(src, task="binary", label="y", score="s").doc["metrics"]
    for name in ref:
        assert got[name]["value"] == pytest.approx(ref[name]["value"], abs=1e-12)


def test_mismatched_lengths_are_named() -> None:
    with pytest.raises(ColumnError, match="length"):
        assay.evaluate({"y": [0, 1, 1], "s": [0.1, 0.2]}, task="binary", label="y", score="s")


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="--confidence"):
        assay.evaluate(_data(), task="binary", label="y", score="s", confidence=1.5)
    with pytest.raises(ConfigError, match="roc_auc"):
        assay.evaluate(_data(), task="binary", label="y", score="s", metrics=["auroc"])
    with pytest.raises(ConfigError, match="--weight"):
        assay.evaluate({"q": [1], "label": [1.0], "s": [0.3], "w": [1.0]}, task="ranking", query="q", score="s",
                       weight="w")


def test_string_labels_need_a_positive_label() -> None:
    d = _data()
    d["y"] = np.where(d["y"] == 1, "fraud", "ok")
    with pytest.raises(ColumnError, match="--pos-label"):
        assay.evaluate(d, task="binary", label="y", score="s")
    run = assay.evaluate(d, task="binary", label="y", score="s", pos_label="fraud")
    assert run.doc["config"]["pos_label"] == "fraud"
    assert run.doc["confusion_matrix"]["labels"] == ["ok", "fraud"]


def test_ranking_file_with_a_split_query_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "rank.parquet"
    q = np.array([1, 1, 2, 2, 1, 1])
    pq.write_table(pa.table({"q": q, "label": [1.0, 0, 1, 0, 0, 1], "s": np.arange(6.0)}), path)
    with pytest.raises(ColumnError, match="sort the file by the query"):
        assay.evaluate(path, task="ranking", query="q", score="s", chunk_rows=2)


def test_ranking_chunks_keep_queries_whole(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    q = np.repeat(np.arange(50), 7)
    d = {"q": q, "label": rng.integers(0, 3, q.size) * 1.0, "s": rng.random(q.size)}
    path = tmp_path / "rank.parquet"
    pq.write_table(pa.table(d), path)
    whole = assay.evaluate(d, task="ranking", query="q", score="s").doc["metrics"]
    chunked = assay.evaluate(path, task="ranking", query="q", score="s", chunk_rows=5).doc["metrics"]
    for name in whole:
        assert chunked[name]["value"] == pytest.approx(whole[name]["value"], abs=1e-12)
        assert chunked[name]["n"] == whole[name]["n"]

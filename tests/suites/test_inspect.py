"""Importing Inspect AI eval logs: the known truths of the fixtures (tests/fixtures/inspect/README.md), the item
sidecar and its pairing, the fingerprint, usage, the CLI end to end, and every bad input (exit 2, a message naming the
file, no output left behind)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow.parquet as pq
import pytest

from assay.cli.main import main
from assay.errors import ConfigError
from assay.suites import import_inspect

FIXTURES = Path(__file__).parents[1] / "fixtures" / "inspect"
SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "assay.run-1.schema.json").read_text())
ACCURACY = {"baseline": 0.7, "candidate_worse": 0.635}


def log_file(run: str) -> Path:
    return next((FIXTURES / run).glob("*.json"))


@pytest.fixture(scope="module")
def logs() -> dict[str, dict[str, Any]]:
    """The two logs, without the per-sample transcripts (so that broken copies are small and quick to write)."""
    out = {}
    for run in ACCURACY:
        log = json.loads(log_file(run).read_text())
        for sample in log["samples"]:
            for key in ("events", "attachments", "events_data", "messages"):
                sample.pop(key, None)
        out[run] = log
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], Path]]:
    folder = tmp_path_factory.mktemp("inspect")
    out = {}
    for run in ACCURACY:
        items = folder / f"{run}.items.parquet"
        out[run] = (import_inspect(log_file(run), items=items).to_dict(), items)
    return out


def paired_counts(reference: Path, current: Path, metric: str, column: str) -> tuple[int, int, int]:
    """(n, b, c) as a gate computes them: join on id, rows whose task or group is the metric's task."""
    task = metric.split("/")[0]

    def load(path: Path) -> dict[str, float]:
        return {r["id"]: r[column] for r in pq.read_table(path).to_pylist() if task in (r["task"], r["group"])}

    a, b = load(reference), load(current)
    ids = a.keys() & b.keys()
    return (len(ids), sum(a[i] == 1 and b[i] == 0 for i in ids), sum(a[i] == 0 and b[i] == 1 for i in ids))


def _write(tmp_path: Path, log: dict[str, Any], name: str = "log.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(log))
    return path


def _cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main(["import", "inspect", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("run", list(ACCURACY))
def test_metrics_usage_and_schema(run: str, runs: dict[str, tuple[dict[str, Any], Path]]) -> None:
    doc, items = runs[run]
    jsonschema.validate(doc, SCHEMA)
    raw = json.loads(log_file(run).read_text())
    scores = raw["results"]["scores"][0]["metrics"]
    entry = doc["metrics"]["synth_mmlu_a/accuracy"]
    assert entry["value"] == ACCURACY[run] == scores["accuracy"]["value"]
    assert entry["se"] == scores["stderr"]["value"]
    assert entry["n"] == 400 and entry["method"] == "harness-stderr" and entry["higher_is_better"] is True
    assert entry["ci_low"] == pytest.approx(entry["value"] - 1.959963984540054 * entry["se"])
    assert list(doc["metrics"]) == ["synth_mmlu_a/accuracy"]  # stderr is the se, not a metric
    assert doc["task"] == "suite" and doc["created_at"] == raw["eval"]["created"]
    assert doc["model"] == {"name": f"noisyoracle/{run}", "version": None}
    assert doc["dataset"]["name"] == "synth_mmlu_a" and doc["dataset"]["rows"] == 400
    assert doc["dataset"]["fingerprint_basis"] == "ids+targets"
    config = doc["config"]
    assert config["source"] == "inspect" and config["harness_version"] == "0.3.285"
    assert config["primary_metric"] == "synth_mmlu_a/accuracy" and config["tasks"] == ["synth_mmlu_a"]
    assert doc["usage"] == raw["stats"]["model_usage"]
    assert doc["items"]["rows"] == 400 and doc["items"]["path"] == str(items)


def test_sidecar_and_paired_counts(runs: dict[str, tuple[dict[str, Any], Path]]) -> None:
    base, worse = runs["baseline"][1], runs["candidate_worse"][1]
    table = pq.read_table(base)
    assert table.column_names == ["id", "task", "group", "doc_id", "doc_hash", "target", "accuracy"]
    rows = table.to_pylist()
    assert len(rows) == 400 and rows[0]["id"] == "a-arithmetic-000" and rows[0]["target"] == "A"
    assert {r["task"] for r in rows} == {r["group"] for r in rows} == {"synth_mmlu_a"}
    assert {r["doc_id"] for r in rows} == {r["doc_hash"] for r in rows} == {None}
    assert sum(r["accuracy"] for r in rows) == 280
    assert paired_counts(base, worse, "synth_mmlu_a/accuracy", "accuracy") == (400, 45, 19)


def test_fingerprint_shared_and_changed_by_removing_a_sample(
    tmp_path: Path, logs: dict[str, dict[str, Any]], runs: dict[str, tuple[dict[str, Any], Path]]
) -> None:
    prints = {runs[r][0]["dataset"]["fingerprint"] for r in ACCURACY}
    assert len(prints) == 1
    log = copy.deepcopy(logs["baseline"])
    gone = log["samples"].pop(0)
    log["eval"]["dataset"]["sample_ids"].remove(gone["id"])
    correct = sum(s["scores"]["choice"]["value"] == "C" for s in log["samples"])
    log["results"]["scores"][0]["metrics"]["accuracy"]["value"] = correct / len(log["samples"])
    doc = import_inspect(_write(tmp_path, log)).to_dict()
    assert doc["dataset"]["rows"] == 399 and doc["dataset"]["fingerprint"] not in prints


def test_a_log_without_samples(tmp_path: Path, logs: dict[str, dict[str, Any]],
                               capsys: pytest.CaptureFixture[str]) -> None:
    log = {k: v for k, v in logs["baseline"].items() if k != "samples"}
    path = _write(tmp_path, log)
    doc = import_inspect(path).to_dict()
    jsonschema.validate(doc, SCHEMA)
    assert doc["dataset"]["fingerprint_basis"] == "tasks+counts" and "items" not in doc
    with pytest.raises(ConfigError, match="without samples"):
        import_inspect(path, items=tmp_path / "items.parquet")
    code, stdout, _ = _cli(capsys, path, "--out", tmp_path / "r.json", "--quiet")
    assert code == 0 and stdout == "" and sorted(p.name for p in tmp_path.iterdir()) == ["log.json", "r.json"]


def test_several_scorers_are_suffixed(tmp_path: Path, logs: dict[str, dict[str, Any]]) -> None:
    log = copy.deepcopy(logs["baseline"])
    second = copy.deepcopy(log["results"]["scores"][0])
    second["name"] = second["scorer"] = "strict"
    log["results"]["scores"].append(second)
    for sample in log["samples"]:
        sample["scores"]["strict"] = dict(sample["scores"]["choice"])
    items = tmp_path / "items.parquet"
    doc = import_inspect(_write(tmp_path, log), items=items).to_dict()
    assert set(doc["metrics"]) == {"synth_mmlu_a/accuracy@choice", "synth_mmlu_a/accuracy@strict"}
    assert doc["config"]["primary_metric"] == "synth_mmlu_a/accuracy@choice"
    assert {"accuracy@choice", "accuracy@strict"} <= set(pq.read_table(items).column_names)


def test_epochs_are_averaged(tmp_path: Path, logs: dict[str, dict[str, Any]]) -> None:
    log = copy.deepcopy(logs["baseline"])
    again = copy.deepcopy(log["samples"])
    for sample in again:
        sample["epoch"] = 2
    log["samples"] += again
    items = tmp_path / "items.parquet"
    doc = import_inspect(_write(tmp_path, log), items=items).to_dict()
    assert doc["items"]["rows"] == 400
    assert sum(pq.read_table(items).column("accuracy").to_pylist()) == 280


def test_cli_writes_the_run_and_the_default_sidecar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "worse.json"
    code, stdout, stderr = _cli(capsys, log_file("candidate_worse"), "--out", out, "--model-name", "w")
    assert code == 0, stderr
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["model"]["name"] == "w" and doc["metrics"]["synth_mmlu_a/accuracy"]["value"] == 0.635
    assert pq.read_table(tmp_path / "worse.items.parquet").num_rows == 400
    assert "synth_mmlu_a/accuracy" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["worse.items.parquet", "worse.json"]


def _status(log: dict[str, Any]) -> str:
    log["status"] = "error"
    log["error"] = {"message": "RuntimeError('model went away')"}
    return "'error'"


def _no_results(log: dict[str, Any]) -> str:
    del log["results"]
    return "field 'results'"


def _no_eval(log: dict[str, Any]) -> str:
    del log["eval"]
    return "field 'eval'"


def _score_flipped(log: dict[str, Any]) -> str:
    score = log["samples"][5]["scores"]["choice"]
    score["value"] = "I" if score["value"] == "C" else "C"
    return "per-sample mean"


def _sample_missing(log: dict[str, Any]) -> str:
    log["samples"].pop(3)
    return "sample_ids"


def _duplicate_sample(log: dict[str, Any]) -> str:
    log["samples"].append(log["samples"][0])
    return "again"


BREAKS = {f.__name__.lstrip("_"): f for f in (_status, _no_results, _no_eval, _score_flipped, _sample_missing,
                                                _duplicate_sample)}


@pytest.mark.parametrize("case", [*BREAKS, "malformed", "zip", "missing"])
def test_bad_input_exits_2_naming_the_file_and_writes_nothing(
    case: str, tmp_path: Path, logs: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    path = source / "log.json"
    if case == "malformed":
        path.write_text(json.dumps(logs["baseline"], indent=1)[:5000])
        expected = "line "
    elif case == "zip":
        path = source / "log.eval"
        path.write_bytes(b"PK\x03\x04" + b"\0" * 40)
        expected = "inspect log convert"
    elif case == "missing":
        path = source / "nowhere.json"
        expected = "readable file"
    else:
        log = copy.deepcopy(logs["baseline"])
        expected = BREAKS[case](log)
        path.write_text(json.dumps(log))
    out = tmp_path / "run.json"
    code, stdout, stderr = _cli(capsys, path, "--out", out)
    assert code == 2, stdout
    assert stderr.startswith("assay: error: ") and "Traceback" not in stderr
    assert str(path) in stderr and expected in stderr and "Fix:" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]

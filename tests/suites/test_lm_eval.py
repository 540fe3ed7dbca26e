"""Importing lm-evaluation-harness output: the known truths of the fixtures (tests/fixtures/lm-eval/README.md), the
item sidecar and its pairing, the fingerprint, the CLI end to end, and every bad input (exit 2, a message naming the
file, no output left behind)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow.parquet as pq
import pytest

from assay.cli.main import main
from assay.errors import ConfigError
from assay.suites import import_lm_eval

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lm-eval"
SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "assay.run-1.schema.json").read_text())
RUNS = ("baseline", "candidate_same", "candidate_worse")
SUBTASKS = ("arithmetic", "unit_conversion", "world_capitals", "chemical_elements")
GROUP_ACC = {"baseline": 0.70, "candidate_same": 0.74, "candidate_worse": 0.635}
SUBTASK_ACC = {  # (acc, acc_norm), from the README
    "baseline": {"arithmetic": (0.69, 0.66), "unit_conversion": (0.73, 0.70), "world_capitals": (0.65, 0.63),
                 "chemical_elements": (0.73, 0.69)},
    "candidate_same": {"arithmetic": (0.74, 0.71), "unit_conversion": (0.77, 0.75), "world_capitals": (0.70, 0.66),
                       "chemical_elements": (0.75, 0.72)},
    "candidate_worse": {"arithmetic": (0.62, 0.59), "unit_conversion": (0.68, 0.66), "world_capitals": (0.56, 0.52),
                        "chemical_elements": (0.68, 0.62)},
}


def results_file(run: str, folder: Path = FIXTURES) -> Path:
    return next((folder / run).glob("results_*.json"))


def samples_file(run: str, subject: str, folder: Path = FIXTURES) -> Path:
    return next((folder / run).glob(f"samples_synth_mmlu_a_{subject}_*.jsonl"))


def copy_run(tmp_path: Path, run: str = "baseline") -> Path:
    """A writable copy of a run's folder (results and samples)."""
    target = tmp_path / "in" / run
    shutil.copytree(FIXTURES / run, target)
    return target


def _read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_lines(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["import", "lm-eval", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], Path]]:
    """Every fixture run imported with its samples: (document, sidecar path)."""
    folder = tmp_path_factory.mktemp("lm-eval")
    out = {}
    for run in RUNS:
        items = folder / f"{run}.items.parquet"
        doc = import_lm_eval(results_file(run), FIXTURES / run, items=items).to_dict()
        out[run] = (doc, items)
    return out


# ---- the known truths -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", RUNS)
def test_metrics_equal_the_results_file(run: str, runs: dict[str, tuple[dict[str, Any], Path]]) -> None:
    doc, _ = runs[run]
    raw = json.loads(results_file(run).read_text())
    metrics = doc["metrics"]
    group = metrics["synth_mmlu_a/acc"]
    assert group["value"] == pytest.approx(GROUP_ACC[run], abs=1e-12)
    assert group["se"] == raw["groups"]["synth_mmlu_a"]["acc_stderr,none"]
    assert group["n"] == 400
    assert "synth_mmlu_a/acc_norm" not in metrics  # the group reports only acc
    for subject, (acc, acc_norm) in SUBTASK_ACC[run].items():
        task = f"synth_mmlu_a_{subject}"
        assert metrics[f"{task}/acc"]["value"] == pytest.approx(acc, abs=1e-12)
        assert metrics[f"{task}/acc_norm"]["value"] == pytest.approx(acc_norm, abs=1e-12)
        assert metrics[f"{task}/acc"]["se"] == raw["results"][task]["acc_stderr,none"]
        assert metrics[f"{task}/acc_norm"]["se"] == raw["results"][task]["acc_norm_stderr,none"]
        assert metrics[f"{task}/acc"]["n"] == 100
    for entry in metrics.values():
        assert entry["method"] == "harness-stderr" and entry["higher_is_better"] is True
        z = 1.959963984540054
        assert entry["ci_low"] == pytest.approx(max(0.0, entry["value"] - z * entry["se"]))
        assert entry["ci_high"] == pytest.approx(min(1.0, entry["value"] + z * entry["se"]))
    assert len(metrics) == 9


@pytest.mark.parametrize("run", RUNS)
def test_document_shape_and_schema(run: str, runs: dict[str, tuple[dict[str, Any], Path]]) -> None:
    doc, items = runs[run]
    jsonschema.validate(doc, SCHEMA)
    raw = json.loads(results_file(run).read_text())
    assert doc["schema"] == "assay.run/1" and doc["task"] == "suite"
    assert len(doc["run_id"]) == 32
    assert doc["created_at"].startswith("2026-11-22T08:44")
    assert doc["model"] == {"name": f"noisy-oracle-a-{run}", "version": None}
    ds = doc["dataset"]
    assert ds["name"] == "synth_mmlu_a" and ds["path"] is None and ds["fingerprint_basis"] == "ids+targets"
    assert ds["rows"] == ds["rows_used"] == 400 and ds["rows_missing_label"] == 0
    config = doc["config"]
    assert config["confidence"] == 0.95 and config["seed"] == 0 and config["source"] == "lm-eval"
    assert config["harness_version"] == "0.4.13"
    assert config["tasks"] == [f"synth_mmlu_a_{s}" for s in SUBTASKS]
    assert config["task_hashes"] == raw["task_hashes"] and config["n_shot"] == raw["n-shot"]
    assert config["primary_metric"] == "synth_mmlu_a/acc"
    assert config["filters"]["synth_mmlu_a_arithmetic"] == ["none"]
    assert doc["slices"] == {} and doc["fairness"] == {} and doc["notes"] == []
    assert doc["items"]["path"] == str(items) and doc["items"]["rows"] == 400
    assert doc["items"]["sha256"] == hashlib.sha256(items.read_bytes()).hexdigest()


def test_sidecar_has_one_row_per_item(runs: dict[str, tuple[dict[str, Any], Path]]) -> None:
    _, items = runs["baseline"]
    table = pq.read_table(items)
    assert table.column_names == ["id", "task", "group", "doc_id", "doc_hash", "target", "acc", "acc_norm"]
    assert table.num_rows == 400
    rows = table.to_pylist()
    assert len({r["id"] for r in rows}) == 400
    assert rows[0]["id"] == "synth_mmlu_a_arithmetic/0" and rows[0]["doc_id"] == 0 and rows[0]["target"] == "0"
    assert {r["group"] for r in rows} == {"synth_mmlu_a"}
    assert {r["task"] for r in rows} == {f"synth_mmlu_a_{s}" for s in SUBTASKS}
    assert str(table.schema.field("acc").type) == "double"
    assert sum(r["acc"] for r in rows) == 280
    for subject, (acc, acc_norm) in SUBTASK_ACC["baseline"].items():
        mine = [r for r in rows if r["task"] == f"synth_mmlu_a_{subject}"]
        assert len(mine) == 100
        assert sum(r["acc"] for r in mine) / 100 == pytest.approx(acc)
        assert sum(r["acc_norm"] for r in mine) / 100 == pytest.approx(acc_norm)


def paired_counts(reference: Path, current: Path, metric: str, column: str) -> tuple[int, int, int]:
    """(n, b, c) as a gate computes them: join on id, rows whose task or group is the metric's task."""
    task = metric.split("/")[0]

    def load(path: Path) -> dict[str, float]:
        return {r["id"]: r[column] for r in pq.read_table(path).to_pylist() if task in (r["task"], r["group"])}

    a, b = load(reference), load(current)
    ids = a.keys() & b.keys()
    return (len(ids), sum(a[i] == 1 and b[i] == 0 for i in ids), sum(a[i] == 0 and b[i] == 1 for i in ids))


@pytest.mark.parametrize(("candidate", "b", "c"), [("candidate_same", 20, 36), ("candidate_worse", 45, 19)])
def test_paired_counts_from_the_sidecars(candidate: str, b: int, c: int,
                                         runs: dict[str, tuple[dict[str, Any], Path]]) -> None:
    assert paired_counts(runs["baseline"][1], runs[candidate][1], "synth_mmlu_a/acc", "acc") == (400, b, c)
    n, _, _ = paired_counts(runs["baseline"][1], runs[candidate][1], "synth_mmlu_a_arithmetic/acc", "acc")
    assert n == 100


# ---- the fingerprint --------------------------------------------------------------------------------------------


def test_fingerprint_is_shared_by_runs_over_the_same_items(runs: dict[str, tuple[dict[str, Any], Path]]) -> None:
    prints = {runs[r][0]["dataset"]["fingerprint"] for r in RUNS}
    assert len(prints) == 1
    without = {import_lm_eval(results_file(r)).to_dict()["dataset"]["fingerprint"] for r in RUNS}
    assert len(without) == 1 and without != prints


def _drop_item(folder: Path, subject: str = "arithmetic", doc_id: int = 0) -> None:
    """Remove one item consistently: its sample line, and the results' count and means of the subtask."""
    path = samples_file(folder.name, subject, folder.parent)
    records = [r for r in _read_lines(path) if r["doc_id"] != doc_id]
    _write_lines(path, records)
    results = results_file(folder.name, folder.parent)
    raw = json.loads(results.read_text())
    task = f"synth_mmlu_a_{subject}"
    raw["n-samples"][task]["effective"] = len(records)
    for metric in ("acc", "acc_norm"):
        raw["results"][task][f"{metric},none"] = sum(r[metric] for r in records) / len(records)
    results.write_text(json.dumps(raw))


def test_fingerprint_changes_when_an_item_is_removed(tmp_path: Path,
                                                     runs: dict[str, tuple[dict[str, Any], Path]]) -> None:
    folder = copy_run(tmp_path)
    _drop_item(folder)
    doc = import_lm_eval(results_file("baseline", folder.parent), folder).to_dict()
    assert doc["dataset"]["rows"] == 399
    assert doc["dataset"]["fingerprint"] != runs["baseline"][0]["dataset"]["fingerprint"]
    assert doc["metrics"]["synth_mmlu_a_arithmetic/acc"]["n"] == 99
    jsonschema.validate(doc, SCHEMA)


def test_results_alone_give_a_task_level_fingerprint_and_no_sidecar() -> None:
    doc = import_lm_eval(results_file("baseline")).to_dict()
    jsonschema.validate(doc, SCHEMA)
    assert doc["dataset"]["fingerprint_basis"] == "tasks+counts" and doc["dataset"]["rows"] == 400
    assert "items" not in doc and any("no samples" in n for n in doc["notes"])
    assert doc["metrics"]["synth_mmlu_a/acc"]["value"] == 0.7


# ---- options and format variants --------------------------------------------------------------------------------


def test_samples_given_as_files_and_options(tmp_path: Path) -> None:
    files = [samples_file("baseline", s) for s in SUBTASKS]
    doc = import_lm_eval(results_file("baseline"), files, model_name="m", model_version="3",
                         confidence=0.9).to_dict()
    assert doc["model"] == {"name": "m", "version": "3"} and doc["config"]["confidence"] == 0.9
    e = doc["metrics"]["synth_mmlu_a/acc"]
    assert e["ci_high"] - e["value"] == pytest.approx(1.6448536269514722 * e["se"])
    with pytest.raises(ConfigError, match="--confidence"):
        import_lm_eval(results_file("baseline"), confidence=1.5)
    with pytest.raises(ConfigError, match="--items"):
        import_lm_eval(results_file("baseline"), items=tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


def test_missing_direction_and_stderr_are_recorded(tmp_path: Path) -> None:
    folder = copy_run(tmp_path)
    results = results_file("baseline", folder.parent)
    raw = json.loads(results.read_text())
    del raw["higher_is_better"]["synth_mmlu_a_arithmetic"]
    raw["results"]["synth_mmlu_a_world_capitals"]["acc_stderr,none"] = "N/A"
    results.write_text(json.dumps(raw))
    doc = import_lm_eval(results, folder).to_dict()
    jsonschema.validate(doc, SCHEMA)
    assert doc["metrics"]["synth_mmlu_a_arithmetic/acc"]["higher_is_better"] is True
    assert any("higher_is_better missing" in n and "synth_mmlu_a_arithmetic/acc" in n for n in doc["notes"])
    entry = doc["metrics"]["synth_mmlu_a_world_capitals/acc"]
    assert entry["value"] == 0.65 and entry["se"] is None and entry["ci_low"] is None and entry["ci_high"] is None
    assert any("no stderr" in n for n in doc["notes"])


def test_a_filter_other_than_none_is_named_and_gets_its_own_column(tmp_path: Path) -> None:
    folder = copy_run(tmp_path)
    results = results_file("baseline", folder.parent)
    raw = json.loads(results.read_text())
    entry = raw["results"]["synth_mmlu_a_arithmetic"]
    for key in [k for k in entry if k.endswith(",none")]:
        entry[key.replace(",none", ",strict-match")] = entry.pop(key)
    results.write_text(json.dumps(raw))
    path = samples_file("baseline", "arithmetic", folder.parent)
    _write_lines(path, [{**r, "filter": "strict-match"} for r in _read_lines(path)])
    items = tmp_path / "items.parquet"
    doc = import_lm_eval(results, folder, items=items).to_dict()
    assert doc["metrics"]["synth_mmlu_a_arithmetic/acc@strict-match"]["value"] == 0.69
    assert "synth_mmlu_a_arithmetic/acc" not in doc["metrics"]
    table = pq.read_table(items)
    assert "acc@strict-match" in table.column_names
    rows = [r for r in table.to_pylist() if r["task"] == "synth_mmlu_a_arithmetic"]
    assert {r["acc"] for r in rows} == {None} and sum(r["acc@strict-match"] for r in rows) == 69


def test_two_filters_of_one_item_make_one_row(tmp_path: Path) -> None:
    folder = copy_run(tmp_path)
    results = results_file("baseline", folder.parent)
    raw = json.loads(results.read_text())
    entry = raw["results"]["synth_mmlu_a_arithmetic"]
    entry["acc,other"], entry["acc_stderr,other"] = entry["acc,none"], entry["acc_stderr,none"]
    results.write_text(json.dumps(raw))
    path = samples_file("baseline", "arithmetic", folder.parent)
    records = _read_lines(path)
    _write_lines(path, records + [{**r, "filter": "other", "metrics": ["acc"]} for r in records])
    items = tmp_path / "items.parquet"
    doc = import_lm_eval(results, folder, items=items).to_dict()
    assert doc["items"]["rows"] == 400
    assert doc["metrics"]["synth_mmlu_a_arithmetic/acc@other"]["n"] == 100
    rows = [r for r in pq.read_table(items).to_pylist() if r["task"] == "synth_mmlu_a_arithmetic"]
    assert all(r["acc"] == r["acc@other"] for r in rows)


def test_a_folder_with_several_runs_takes_the_results_datetime(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(FIXTURES / "baseline", folder)
    for path in (FIXTURES / "candidate_worse").iterdir():
        shutil.copy(path, folder)
    doc = import_lm_eval(results_file("baseline"), folder).to_dict()
    assert doc["metrics"]["synth_mmlu_a/acc"]["value"] == 0.7
    assert any("4 samples files of other runs" in n for n in doc["notes"])


# ---- the command line -------------------------------------------------------------------------------------------


def test_cli_writes_the_run_and_the_default_sidecar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "base.json"
    code, stdout, stderr = _cli(capsys, results_file("baseline"), "--samples", FIXTURES / "baseline",
                                "--out", out, "--model-name", "oracle", "--model-version", "1")
    assert code == 0, stderr
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SCHEMA)
    sidecar = tmp_path / "base.items.parquet"
    assert doc["items"]["path"] == str(sidecar) and pq.read_table(sidecar).num_rows == 400
    assert doc["model"] == {"name": "oracle", "version": "1"}
    assert "synth_mmlu_a/acc" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.items.parquet", "base.json"]


def test_cli_explicit_items_files_and_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, items = tmp_path / "run.json", tmp_path / "elsewhere.parquet"
    files = [samples_file("candidate_worse", s) for s in SUBTASKS]
    code, stdout, stderr = _cli(capsys, results_file("candidate_worse"), "--samples", *files, "--out", out,
                                "--items", items, "--quiet")
    assert (code, stdout, stderr) == (0, "", "")
    assert json.loads(out.read_text())["items"]["path"] == str(items) and items.exists()


def test_cli_without_samples_writes_no_sidecar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = _cli(capsys, results_file("baseline"), "--out", tmp_path / "run.json", "--quiet")
    assert code == 0 and [p.name for p in tmp_path.iterdir()] == ["run.json"]


@pytest.mark.parametrize("option", ["--out", "--items"])
@pytest.mark.parametrize("where", ["missing folder", "the input"])
def test_cli_rejects_bad_output_paths_before_writing(option: str, where: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    results = results_file("baseline")
    target = results if where == "the input" else tmp_path / "missing" / "out.json"
    outputs = {"--out": tmp_path / "run.json", "--items": tmp_path / "run.items.parquet", option: target}
    code, _, stderr = _cli(capsys, results, "--samples", FIXTURES / "baseline", "--out", outputs["--out"],
                           "--items", outputs["--items"])
    assert code == 2 and f"option {option}" in stderr and "Fix:" in stderr
    assert list(tmp_path.iterdir()) == []


# ---- bad inputs: exit 2, a message naming the file, nothing written ----------------------------------------------


def _break_results_field(folder: Path) -> tuple[list[object], str]:
    results = results_file("baseline", folder.parent)
    raw = json.loads(results.read_text())
    del raw["results"]
    results.write_text(json.dumps(raw))
    return [results], "field 'results'"


def _break_results_json(folder: Path) -> tuple[list[object], str]:
    results = results_file("baseline", folder.parent)
    text = results.read_text()
    results.write_text(text[: len(text) // 2])
    return [results], "line "


def _break_not_a_results_file(folder: Path) -> tuple[list[object], str]:
    bogus = folder / "results_other.json"
    bogus.write_text(json.dumps({"metrics": {"accuracy": 0.9}}))
    return [bogus], "expected an object of per-task metrics"


def _break_sample_line(folder: Path) -> tuple[list[object], str]:
    path = samples_file("baseline", "world_capitals", folder.parent)
    lines = path.read_text().splitlines(keepends=True)
    lines[4] = lines[4][:40] + "\n"
    path.write_text("".join(lines))
    return [results_file("baseline", folder.parent), "--samples", folder], "line 5"


def _break_unknown_task(folder: Path) -> tuple[list[object], str]:
    src = samples_file("baseline", "arithmetic", folder.parent)
    shutil.copy(src, folder / src.name.replace("arithmetic", "geometry"))
    return [results_file("baseline", folder.parent), "--samples", folder], "synth_mmlu_a_geometry"


def _break_duplicate(folder: Path) -> tuple[list[object], str]:
    path = samples_file("baseline", "unit_conversion", folder.parent)
    records = _read_lines(path)
    _write_lines(path, [*records[:50], records[10], *records[50:]])
    return [results_file("baseline", folder.parent), "--samples", folder], "doc_id 10"


def _break_doc_hash(folder: Path) -> tuple[list[object], str]:
    path = samples_file("baseline", "arithmetic", folder.parent)
    records = _read_lines(path)
    other = {**records[3], "filter": "other", "doc_hash": "0" * 64}
    _write_lines(path, [*records, other])
    return [results_file("baseline", folder.parent), "--samples", folder], "doc_hash"


def _break_mean(folder: Path) -> tuple[list[object], str]:
    files = [samples_file("candidate_worse", s) for s in SUBTASKS]
    return [results_file("baseline", folder.parent), "--samples", *files], "per-item mean"


def _break_mean_one_item(folder: Path) -> tuple[list[object], str]:
    path = samples_file("baseline", "chemical_elements", folder.parent)
    records = _read_lines(path)
    records[7]["acc_norm"] = 1.0 - records[7]["acc_norm"]
    _write_lines(path, records)
    return [results_file("baseline", folder.parent), "--samples", folder], "acc_norm"


def _break_count(folder: Path) -> tuple[list[object], str]:
    path = samples_file("baseline", "arithmetic", folder.parent)
    _write_lines(path, _read_lines(path)[:-1])
    return [results_file("baseline", folder.parent), "--samples", folder], "n-samples"


def _break_missing_task(folder: Path) -> tuple[list[object], str]:
    samples_file("baseline", "world_capitals", folder.parent).unlink()
    return [results_file("baseline", folder.parent), "--samples", folder], "synth_mmlu_a_world_capitals"


def _break_no_samples_of_this_run(folder: Path) -> tuple[list[object], str]:
    for path in folder.glob("samples_*"):
        path.rename(path.with_name(path.name.replace("2026-11-22T08-44-45", "2026-01-01T00-00-00")))
    return [results_file("baseline", folder.parent), "--samples", folder], "none of this run"


def _break_sample_name(folder: Path) -> tuple[list[object], str]:
    path = samples_file("baseline", "arithmetic", folder.parent)
    renamed = path.with_name("arithmetic.jsonl")
    path.rename(renamed)
    return [results_file("baseline", folder.parent), "--samples", renamed], "samples_<task>_<datetime>.jsonl"


def _break_missing_file(folder: Path) -> tuple[list[object], str]:
    return [folder / "results_nowhere.json"], "results_nowhere.json"


def _break_items_without_samples(folder: Path) -> tuple[list[object], str]:
    return [results_file("baseline", folder.parent), "--items", folder.parent.parent / "run.items.parquet"], "--items"


BREAKS = {f.__name__.removeprefix("_break_"): f for f in (
    _break_results_field, _break_results_json, _break_not_a_results_file, _break_sample_line, _break_unknown_task,
    _break_duplicate, _break_doc_hash, _break_mean, _break_mean_one_item, _break_count, _break_missing_task,
    _break_no_samples_of_this_run, _break_sample_name, _break_missing_file, _break_items_without_samples)}


@pytest.mark.parametrize("case", list(BREAKS))
def test_bad_input_exits_2_naming_the_file_and_writes_nothing(case: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_run(tmp_path)
    argv, expected = BREAKS[case](folder)
    out = tmp_path / "run.json"
    code, stdout, stderr = _cli(capsys, *argv, "--out", out)
    assert code == 2, stdout
    assert stderr.startswith("assay: error: ") and "Traceback" not in stderr
    assert expected in stderr
    named = [str(a) for a in argv if isinstance(a, Path) and a.suffix in (".json", ".jsonl", "")]
    assert any(name in stderr for name in named) or "--items" in stderr
    assert "expected" in stderr and "Fix:" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no run.json, no sidecar, no temporary file

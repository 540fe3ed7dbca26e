"""The `assay evaluate` command end to end, including every bad input of the issue: exit 2, a message naming the
file, column and row, no traceback, and no output file left behind."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from assay.cli.main import main


def _binary(tmp_path: Path, n: int = 300, **extra: object) -> Path:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    s = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, n), 0, 1)
    cols = {"id": np.arange(n), "y": y, "s": s, "seg": rng.choice(["a", "b", "c"], n),
            "grp": rng.choice(["x", "y"], n), "w": rng.integers(1, 4, n)}
    cols.update(extra)  # type: ignore[arg-type]
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table(cols), path)
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_binary_end_to_end_writes_run_items_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _binary(tmp_path)
    out, html, items = tmp_path / "run.json", tmp_path / "report.html", tmp_path / "items.parquet"
    code, stdout, _ = _run(capsys, "evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s",
                           "--segment", "seg", "--sensitive", "grp", "--id", "id", "--model-name", "fraud",
                           "--model-version", "7", "--out", str(out), "--html", str(html), "--items", str(items))
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "assay.run/1"
    assert doc["model"] == {"name": "fraud", "version": "7"}
    assert set(doc["slices"]["seg"]) == {"a", "b", "c"}
    assert doc["items"]["rows"] == 300
    assert pq.read_table(items).num_rows == 300
    assert "<svg" in html.read_text()
    assert "roc_auc" in stdout and "worst slices of seg" in stdout
    assert not list(tmp_path.glob(".*tmp"))


def test_quiet_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _binary(tmp_path)
    code, stdout, stderr = _run(capsys, "evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s",
                                "--quiet", "--out", str(tmp_path / "r.json"))
    assert code == 0 and stdout == "" and stderr == ""


def test_metrics_subset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _binary(tmp_path)
    out = tmp_path / "r.json"
    code, _, _ = _run(capsys, "evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s",
                      "--metrics", "accuracy,roc_auc", "--out", str(out), "--quiet")
    assert code == 0
    assert set(json.loads(out.read_text())["metrics"]) == {"accuracy", "roc_auc"}


def _bad(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> str:
    out = tmp_path / "never.json"
    html = tmp_path / "never.html"
    code, stdout, stderr = _run(capsys, *argv, "--out", str(out), "--html", str(html))
    text = stdout + stderr
    assert code == 2, text
    assert "Traceback" not in text
    assert not out.exists() and not html.exists()
    assert not list(tmp_path.glob(".*tmp"))
    return text


def test_missing_column_lists_existing_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _binary(tmp_path)
    text = _bad(capsys, tmp_path, "evaluate", str(data), "--task", "binary", "--label", "nope", "--score", "s")
    assert "nope" in text and "data.parquet" in text and "id, y, s, seg" in text


def test_label_set_that_does_not_match_the_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _binary(tmp_path, y=np.arange(300) % 3)
    text = _bad(capsys, tmp_path, "evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s")
    assert "column 'y'" in text and "3 values" in text and "multiclass" in text


def test_probabilities_outside_unit_interval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = np.full(300, 0.5)
    s[17] = 1.7
    data = _binary(tmp_path, s=s)
    text = _bad(capsys, tmp_path, "evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s")
    assert "column 's'" in text and "row 17" in text and "1.7" in text and "--score-kind margin" in text


def test_margins_are_accepted_with_score_kind_margin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    data = _binary(tmp_path, s=rng.normal(0, 3, 300))
    out = tmp_path / "m.json"
    code, _, _ = _run(capsys, "evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s",
                      "--score-kind", "margin", "--out", str(out), "--quiet")
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["metrics"]["roc_auc"]["value"] is not None
    assert doc["metrics"]["log_loss"]["value"] is None and "margin" in doc["metrics"]["log_loss"]["reason"]
    assert doc["config"]["threshold"] == 0.0


def test_multiclass_rows_not_summing_to_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "multi.csv"
    rows = ["label,proba_a,proba_b", "a,0.2,0.8", "b,0.5,0.4", "a,0.9,0.1"]
    path.write_text("\n".join(rows) + "\n")
    text = _bad(capsys, tmp_path, "evaluate", str(path), "--task", "multiclass", "--label", "label",
                "--proba-prefix", "proba_")
    assert "multi.csv" in text and "row 1" in text and "summing to 1" in text and "0.9" in text


def test_multiclass_label_not_a_class(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "multi.csv"
    path.write_text("label,proba_a,proba_b\na,0.2,0.8\nc,0.5,0.5\n")
    text = _bad(capsys, tmp_path, "evaluate", str(path), "--task", "multiclass", "--label", "label",
                "--proba-prefix", "proba_")
    assert "row 1" in text and "'c'" in text and "a, b" in text


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_infinite_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: float) -> None:
    s = np.full(300, 0.5)
    s[42] = bad
    data = _binary(tmp_path, s=s)
    text = _bad(capsys, tmp_path, "evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s")
    assert "column 's'" in text and "row 42" in text


def test_empty_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("y,s\n")
    text = _bad(capsys, tmp_path, "evaluate", str(path), "--task", "binary", "--label", "y", "--score", "s")
    assert "empty.csv" in text and "empty" in text


def test_truncated_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _binary(tmp_path, n=5000)
    raw = data.read_bytes()
    data.write_bytes(raw[: len(raw) // 2])
    text = _bad(capsys, tmp_path, "evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s")
    assert "data.parquet" in text


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _bad(capsys, tmp_path, "evaluate", str(tmp_path / "nowhere.csv"), "--task", "binary", "--label", "y",
                "--score", "s")
    assert "nowhere.csv" in text


def test_unknown_metric_name_lists_the_known(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _binary(tmp_path)
    text = _bad(capsys, tmp_path, "evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s",
                "--metrics", "accuracy,auroc")
    assert "auroc" in text and "roc_auc" in text


def test_missing_label_error_names_the_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("y,s\n1,0.9\n,0.2\n0,0.1\n")
    text = _bad(capsys, tmp_path, "evaluate", str(path), "--task", "binary", "--label", "y", "--score", "s",
                "--missing-label", "error")
    assert "row 1" in text and "gaps.csv" in text


def test_missing_labels_are_dropped_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("y,s\n1,0.9\n,0.2\n0,0.1\n")
    out = tmp_path / "r.json"
    assert _run(capsys, "evaluate", str(path), "--task", "binary", "--label", "y", "--score", "s", "--out",
                str(out), "--quiet")[0] == 0
    doc = json.loads(out.read_text())
    assert doc["dataset"]["rows_missing_label"] == 1 and doc["dataset"]["rows_used"] == 2


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "x.csv", "--task", "nonsense"])
    assert exc.value.code == 2


def test_negative_weight(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = np.ones(300)
    w[5] = -1
    data = _binary(tmp_path, w=w)
    text = _bad(capsys, tmp_path, "evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s",
                "--weight", "w")
    assert "column 'w'" in text and "row 5" in text


def test_a_bad_thread_count_in_the_environment_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    data = _binary(tmp_path)
    monkeypatch.setenv("ASSAY_THREADS", "many")
    text = _bad(capsys, tmp_path, "evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s",
                "--segment", "seg")
    assert "ASSAY_THREADS" in text and "'many'" in text and "ASSAY_THREADS=1" in text


@pytest.fixture(params=[0o022, 0o027], ids=["umask-022", "umask-027"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """The process umask set for the test (and restored after it)."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_outputs_get_the_permissions_of_a_plain_write(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      umask: int) -> None:
    """--out, --html and --items: a new file gets 0o666 filtered by the umask (the sidecar was 0o600, the report
    0o644 whatever the umask), and a file that is replaced keeps its mode."""
    data = _binary(tmp_path)
    outputs = {"--out": tmp_path / "run.json", "--html": tmp_path / "report.html",
               "--items": tmp_path / "items.parquet"}
    argv = ["evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s", "--quiet"]
    argv += [str(part) for option, path in outputs.items() for part in (option, path)]
    assert _run(capsys, *argv)[0] == 0
    assert {o: oct(stat.S_IMODE(p.stat().st_mode)) for o, p in outputs.items()} == dict.fromkeys(
        outputs, oct(0o666 & ~umask))
    for path in outputs.values():
        path.chmod(0o640 if umask == 0o022 else 0o600)  # a mode a new file would not get under this umask
    assert _run(capsys, *argv)[0] == 0
    assert {o: oct(stat.S_IMODE(p.stat().st_mode)) for o, p in outputs.items()} == dict.fromkeys(
        outputs, oct(0o640 if umask == 0o022 else 0o600))
    assert not list(tmp_path.glob(".*tmp"))


# -- standard input and text encodings -----------------------------------------------------------------------------


def _assay(*argv: str | Path, stdin: bytes = b"", cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """``assay ARGV`` in a fresh interpreter with ``stdin`` piped in."""
    return subprocess.run([sys.executable, "-m", "assay.cli.main", *map(str, argv)], input=stdin,
                          capture_output=True, timeout=120, check=False, cwd=cwd)


def _as(table: pa.Table, fmt: str) -> bytes:
    sink = pa.BufferOutputStream()
    if fmt == "csv":
        pcsv.write_csv(table, sink)
    elif fmt == "jsonl":
        return "".join(json.dumps(row) + "\n" for row in table.to_pylist()).encode()
    elif fmt == "arrow-stream":
        with ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    elif fmt == "arrow-file":
        with ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    else:
        pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


EVALUATE = ("evaluate", "-", "--task", "binary", "--label", "y", "--score", "s", "--segment", "seg", "--quiet")


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "arrow-stream", "arrow-file", "parquet"])
def test_dash_reads_the_table_from_standard_input(fmt: str, tmp_path: Path) -> None:
    """Each format piped in, told apart by content, gives the metrics of the same table read from a file."""
    data = _binary(tmp_path)
    from_file = _assay(*EVALUATE[:1], data, *EVALUATE[2:], "--out", "file.json", cwd=tmp_path)
    assert from_file.returncode == 0, from_file.stderr
    piped = _assay(*EVALUATE, "--out", "run.json", stdin=_as(pq.read_table(data), fmt), cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr
    expected, doc = (json.loads((tmp_path / name).read_text()) for name in ("file.json", "run.json"))
    assert doc["metrics"] == expected["metrics"] and doc["slices"] == expected["slices"]
    assert doc["dataset"]["name"] == "<stdin>" and doc["dataset"]["rows"] == expected["dataset"]["rows"]


def test_format_reads_standard_input_as_told(tmp_path: Path) -> None:
    table = pq.read_table(_binary(tmp_path))
    ok = _assay(*EVALUATE, "--format", "jsonl", "--out", "run.json", stdin=_as(table, "jsonl"), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    wrong = _assay(*EVALUATE, "--format", "jsonl", stdin=_as(table, "csv"), cwd=tmp_path)
    assert wrong.returncode == 2 and b"<stdin>, row 0 (line 1): expected one JSON object per line" in wrong.stderr


def test_empty_standard_input_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    result = _assay(*EVALUATE, "--out", "run.json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode().startswith("assay: error: <stdin>: expected a table on standard input")
    assert b"Traceback" not in result.stderr and not (tmp_path / "run.json").exists()


def test_format_without_standard_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _binary(tmp_path)
    code, _, err = _run(capsys, "evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s",
                        "--format", "csv")
    assert code == 2 and "option --format csv: expected a table read from standard input ('-')" in err


def _latin1(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    n = 200
    y = rng.integers(0, 2, n)
    s = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, n), 0, 1).round(4)
    seg = np.where(np.arange(n) % 3 == 0, "bar", "café")
    path = tmp_path / "latin1.csv"
    text = "y,s,seg\n" + "".join(f"{a},{b},{c}\n" for a, b, c in zip(y, s, seg))
    path.write_bytes(text.encode("latin-1"))
    return path


def test_latin1_csv_with_its_encoding_names_the_groups_by_their_text(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = _latin1(tmp_path)
    out = tmp_path / "run.json"
    code, stdout, _ = _run(capsys, "evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s",
                           "--segment", "seg", "--encoding", "latin-1", "--out", str(out))
    assert code == 0
    assert set(json.loads(out.read_text())["slices"]["seg"]) == {"café", "bar"}
    assert "café" in stdout and "b'" not in stdout


def test_latin1_csv_without_its_encoding_exits_2_naming_file_column_row_byte_and_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _latin1(tmp_path)
    out = tmp_path / "run.json"
    code, stdout, err = _run(capsys, "evaluate", str(data), "--task", "binary", "--label", "y", "--score", "s",
                             "--segment", "seg", "--out", str(out))
    assert code == 2 and stdout == "" and not out.exists()
    assert err.startswith(f"assay: error: column 'seg' of {data}, row 1 (line 3): expected UTF-8 text, found byte "
                          "0xe9")
    assert "--encoding latin-1" in err and "Traceback" not in err


def test_latin1_piped_in_with_its_encoding(tmp_path: Path) -> None:
    result = _assay(*EVALUATE, "--encoding", "latin-1", "--out", "run.json", stdin=_latin1(tmp_path).read_bytes(),
                    cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert set(json.loads((tmp_path / "run.json").read_text())["slices"]["seg"]) == {"café", "bar"}


def test_unknown_encoding_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "evaluate", str(_latin1(tmp_path)), "--task", "binary", "--label", "y", "--score",
                        "s", "--encoding", "klingon")
    assert code == 2 and "encoding 'klingon': expected a text encoding Python knows" in err

"""`assay drift` and `assay profile` end to end: the drift document, every option, profiles made once and reused,
per-column problems that never stop the report, and every bad input (exit 2, a message naming the file or column,
no traceback, no output file)."""

from __future__ import annotations

import gzip
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from scipy import stats

from assay.cli.main import main
from assay.drift.profile import load_profile

N = 3000


# --- data ----------------------------------------------------------------------------------------------------------

def _columns(seed: int, n: int = N, shift: float = 0.0) -> dict[str, Any]:
    """x: normal moved by ``shift`` sd; y: normal; c: three categories; z: small integer codes; pred, label."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    return {"x": rng.normal(shift, 1.0, n), "y": rng.normal(0.0, 1.0, n),
            "c": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]), "z": rng.integers(0, 5, n),
            "pred": np.clip(0.3 + 0.4 * label + rng.normal(0, 0.2, n), 0, 1), "label": label}


def _write(path: Path, cols: dict[str, Any]) -> Path:
    table = pa.table({k: pa.array(v) if not isinstance(v, pa.Array) else v for k, v in cols.items()})
    suffix = path.suffix
    if suffix == ".csv":
        pcsv.write_csv(table, path)
    elif suffix == ".parquet":
        pq.write_table(table, path)
    elif suffix == ".jsonl":
        with open(path, "w", encoding="utf-8") as f:
            for row in table.to_pylist():
                f.write(json.dumps(row) + "\n")
    else:  # pragma: no cover
        raise ValueError(suffix)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """ref: the reference; cur: x moved by 1 sd; same: an independent sample of the reference's distribution;
    moderate: x moved by 0.3 sd (significant at 3000 rows, PSI about 0.1)."""
    d = tmp_path_factory.mktemp("drift")
    out = {"dir": d}
    for name, seed, shift in (("ref", 1, 0.0), ("cur", 2, 1.0), ("same", 3, 0.0), ("moderate", 4, 0.3)):
        out[name] = _write(d / f"{name}.csv", _columns(seed, shift=shift))
    return out


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _doc(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str | Path,
         expect: int = 0) -> dict[str, Any]:
    out = tmp_path / "d.json"
    code, stdout, stderr = _run(capsys, "drift", *argv, "--out", out, "--quiet")
    assert code == expect, stdout + stderr
    assert "Traceback" not in stdout + stderr
    return json.loads(out.read_text())


def _test(entry: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in entry["tests"] if t["name"] == name)


# --- the document and the exit code --------------------------------------------------------------------------------

def test_document_schema_and_columns(data: dict[str, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d.json"
    code, stdout, stderr = _run(capsys, "drift", data["ref"], data["cur"], "--out", out)
    assert code == 0, stderr  # drift, but no --fail-on-drift
    doc = json.loads(out.read_text())
    assert doc["schema"] == "assay.drift/1"
    assert doc["drifted"] is True
    assert set(doc["columns"]) == {"x", "y", "c", "z", "pred", "label"}
    for name, entry in doc["columns"].items():
        assert {"drifted", "kind", "method", "status", "reason", "tests", "p_value", "p_adjusted", "effect",
                "threshold", "role", "quality", "summary"} <= set(entry), name
        assert entry["status"] == "ok"
        assert entry["tests"], name
    assert doc["columns"]["x"]["drifted"] is True
    assert doc["columns"]["x"]["kind"] == "numeric" and doc["columns"]["x"]["method"] == "psi"
    assert doc["columns"]["c"]["kind"] == "categorical" and doc["columns"]["c"]["method"] == "jensen_shannon"
    assert [n for n, e in doc["columns"].items() if e["drifted"]] == ["x"]
    assert doc["n_drifted"] == 1 and doc["n_columns"] == 6
    assert doc["reference"]["rows"] == N and doc["current"]["rows"] == N
    assert doc["reference"]["type"] == "table" and doc["current"]["type"] == "table"
    assert doc["config"]["correction"] == "holm" and doc["config"]["alpha"] == 0.05
    assert "x" in stdout and str(out) in stdout
    assert "Traceback" not in stderr


def test_fail_on_drift_exits_1_when_a_column_moved(data: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, stderr = _run(capsys, "drift", data["ref"], data["cur"], "--fail-on-drift")
    assert code == 1, stderr
    assert "x" in stdout


def test_fail_on_drift_exits_0_on_a_sample_of_the_same_distribution(
        data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d.json"
    code, _, stderr = _run(capsys, "drift", data["ref"], data["same"], "--fail-on-drift", "--out", out, "--quiet")
    assert code == 0, stderr
    doc = json.loads(out.read_text())
    assert doc["drifted"] is False and doc["n_drifted"] == 0


@pytest.mark.parametrize(("ref_ext", "cur_ext"), [(".parquet", ".parquet"), (".jsonl", ".jsonl"),
                                                  (".csv", ".parquet"), (".parquet", ".jsonl")])
def test_parquet_and_json_lines_inputs(ref_ext: str, cur_ext: str, data: dict[str, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    ref = _write(tmp_path / f"ref{ref_ext}", _columns(1))
    cur = _write(tmp_path / f"cur{cur_ext}", _columns(2, shift=1.0))
    doc = _doc(capsys, tmp_path, ref, cur, "--fail-on-drift", expect=1)
    csv_doc = _doc(capsys, tmp_path, data["ref"], data["cur"])
    assert doc["schema"] == "assay.drift/1"
    assert set(doc["columns"]) == set(csv_doc["columns"])
    for name, entry in doc["columns"].items():
        other = csv_doc["columns"][name]
        assert (entry["drifted"], entry["kind"], entry["method"]) == (other["drifted"], other["kind"],
                                                                     other["method"]), name
        assert entry["statistic"] == pytest.approx(other["statistic"], rel=1e-9), name
    assert doc["reference"]["source"] == str(ref) and doc["current"]["source"] == str(cur)


# --- options -------------------------------------------------------------------------------------------------------

def test_columns_and_exclude(data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _doc(capsys, tmp_path, data["ref"], data["cur"], "--columns", "x,c")
    assert set(doc["columns"]) == {"x", "c"}
    assert doc["n_columns"] == 2
    doc = _doc(capsys, tmp_path, data["ref"], data["cur"], "--exclude", "x,pred")
    assert set(doc["columns"]) == {"y", "c", "z", "label"}
    assert doc["drifted"] is False
    doc = _doc(capsys, tmp_path, data["ref"], data["cur"], "--columns", "x,y,c", "--exclude", "y")
    assert set(doc["columns"]) == {"x", "c"}


def test_kind_override(data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    default = _doc(capsys, tmp_path, data["ref"], data["same"])
    assert default["columns"]["z"]["kind"] == "numeric"
    doc = _doc(capsys, tmp_path, data["ref"], data["same"], "--kind", "z=categorical", "--kind", "label=boolean")
    z = doc["columns"]["z"]
    assert z["kind"] == "categorical" and z["method"] == "jensen_shannon"
    assert z["histogram"]["type"] == "categorical"
    assert set(z["histogram"]["categories"]) >= {"0", "1", "2", "3", "4"}
    assert doc["columns"]["label"]["kind"] == "boolean" and doc["columns"]["label"]["method"] == "z"


def test_datetime_and_boolean_columns_from_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(9)
    start = np.datetime64("2024-01-01T00:00:00", "s")
    day = 86_400

    def table(lo: int, hi: int, p: float) -> dict[str, Any]:
        return {"when": start + rng.integers(lo * day, hi * day, 2000).astype("timedelta64[s]"),
                "flag": rng.random(2000) < p}

    ref = _write(tmp_path / "ref.parquet", table(0, 30, 0.3))
    cur = _write(tmp_path / "cur.parquet", table(10, 40, 0.5))
    same = _write(tmp_path / "same.parquet", table(0, 30, 0.3))
    doc = _doc(capsys, tmp_path, ref, cur, "--fail-on-drift", expect=1)
    # a timestamp's values move with time: reported, but tested only on request
    assert (doc["columns"]["when"]["kind"], doc["columns"]["when"]["method"]) == ("datetime", None)
    assert not doc["columns"]["when"]["drifted"] and "--method when=psi" in doc["columns"]["when"]["reason"]
    assert doc["columns"]["when"]["quality"]["above_range_current"] > 0.2
    assert (doc["columns"]["flag"]["kind"], doc["columns"]["flag"]["method"]) == ("boolean", "z")
    assert doc["columns"]["flag"]["drifted"]
    asked = _doc(capsys, tmp_path, ref, cur, "--method", "datetime=psi", expect=0)
    assert asked["columns"]["when"]["method"] == "psi" and asked["columns"]["when"]["drifted"]
    assert _doc(capsys, tmp_path, ref, same, "--fail-on-drift")["drifted"] is False


def test_method_ks_equals_scipy_on_the_raw_columns(data: dict[str, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    for cur, seed, shift in ((data["cur"], 2, 1.0), (data["same"], 3, 0.0), (data["moderate"], 4, 0.3)):
        doc = _doc(capsys, tmp_path, data["ref"], cur, "--method", "x=ks")
        x = doc["columns"]["x"]
        expected = stats.ks_2samp(_columns(1)["x"], _columns(seed, shift=shift)["x"])
        assert x["method"] == "ks" and _test(x, "value")["method"] == "ks"
        assert x["statistic"] == pytest.approx(float(expected.statistic), rel=1e-12)
        assert x["p_value"] == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-300)
        assert x["effect_name"] == "ks_d" and x["effect"] == pytest.approx(float(expected.statistic), rel=1e-12)
        assert x["threshold"] == 0.04
        assert doc["columns"]["y"]["method"] == "psi"  # only x was asked
        assert doc["config"]["methods"]["x"] == "ks"
    assert doc["columns"]["x"]["drifted"] is True  # the 0.3-sd shift: D about 0.12 >= 0.04


def test_method_ks_with_a_profile_reference_uses_the_fine_grid(
        data: dict[str, Path], ref_profile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = _doc(capsys, tmp_path, data["ref"], data["moderate"], "--method", "x=ks")
    binned = _doc(capsys, tmp_path, ref_profile, data["moderate"], "--method", "x=ks")
    x = binned["columns"]["x"]
    assert x["method"] == "ks" and x["drifted"] is True
    assert any("x" in w and "fine grid" in w for w in binned["warnings"])
    # D on 200 fine bins is within the largest fine-bin share (about 1/200 of the reference) of the exact D
    assert x["statistic"] == pytest.approx(raw["columns"]["x"]["statistic"], abs=0.011)
    assert x["statistic"] <= raw["columns"]["x"]["statistic"] + 1e-12


def test_method_per_kind(data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _doc(capsys, tmp_path, data["ref"], data["cur"], "--method", "categorical=chi2",
               "--method", "numeric=hellinger,y=wasserstein")
    assert doc["columns"]["c"]["method"] == "chi2"
    assert doc["columns"]["x"]["method"] == "hellinger"
    assert doc["columns"]["y"]["method"] == "wasserstein"  # a column's method beats its kind's
    c = doc["columns"]["c"]
    table = np.array([[np.sum(_columns(1)["c"] == v) for v in ("a", "b", "c")],
                      [np.sum(_columns(2)["c"] == v) for v in ("a", "b", "c")]])
    assert c["p_value"] == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue, rel=1e-9)


def test_min_effect_floor_keeps_a_significant_moderate_shift_from_drifting(
        data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    default = _doc(capsys, tmp_path, data["ref"], data["moderate"])
    assert default["columns"]["x"]["drifted"] is True
    doc = _doc(capsys, tmp_path, data["ref"], data["moderate"], "--min-effect", "psi=0.5", "--fail-on-drift")
    x = doc["columns"]["x"]
    value = _test(x, "value")
    assert value["significant"] is True and value["drifted"] is False
    assert x["drifted"] is False and x["threshold"] == 0.5 and value["threshold"] == 0.5
    assert 0.01 < x["effect"] < 0.5
    assert "0.5" in x["reason"] and "too small" in x["reason"] and "significant" in x["reason"]
    assert doc["config"]["min_effect"]["psi"] == 0.5
    assert doc["config"]["min_effect"]["jensen_shannon"] == 0.04  # the other defaults stay


@pytest.mark.parametrize("correction", ["holm", "bh", "none"])
def test_correction(correction: str, data: dict[str, Path], tmp_path: Path,
                    capsys: pytest.CaptureFixture[str]) -> None:
    doc = _doc(capsys, tmp_path, data["ref"], data["moderate"], "--correction", correction)
    assert doc["config"]["correction"] == correction
    tests = [t for e in doc["columns"].values() for t in e["tests"]]
    p = np.array([t["p_value"] for t in tests])
    adj = np.array([t["p_adjusted"] for t in tests])
    if correction == "none":
        np.testing.assert_array_equal(adj, p)
    else:
        assert np.all(adj >= p - 1e-15) and np.all(adj <= 1.0)
    if correction == "holm":
        order = np.argsort(p)
        expected = np.minimum(1, np.maximum.accumulate(p[order] * (len(p) - np.arange(len(p)))))
        np.testing.assert_allclose(adj[order], expected, rtol=1e-12)
    if correction == "bh":
        order = np.argsort(p)[::-1]
        ranks = len(p) - np.arange(len(p))
        expected = np.minimum(1, np.minimum.accumulate(p[order] * len(p) / ranks))
        np.testing.assert_allclose(adj[order], expected, rtol=1e-12)
    for t in tests:
        assert t["significant"] == (t["p_adjusted"] < 0.05)


def test_alpha(data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _doc(capsys, tmp_path, data["ref"], data["same"], "--alpha", "0.5")
    assert doc["config"]["alpha"] == 0.5
    for e in doc["columns"].values():
        for t in e["tests"]:
            assert t["significant"] == (t["p_adjusted"] < 0.5)
    # the 0.3-sd shift drifts at the default alpha; an alpha below its adjusted p-value leaves it alone
    default = _doc(capsys, tmp_path, data["ref"], data["moderate"])
    p_adj = default["columns"]["x"]["p_adjusted"]
    assert default["columns"]["x"]["drifted"] is True and 0 < p_adj < 1e-6
    doc = _doc(capsys, tmp_path, data["ref"], data["moderate"], "--alpha", f"{p_adj / 10:.3g}", "--fail-on-drift")
    assert doc["columns"]["x"]["p_adjusted"] == p_adj
    assert doc["columns"]["x"]["drifted"] is False and doc["drifted"] is False
    assert _test(doc["columns"]["x"], "value")["significant"] is False


def test_prediction_and_label_roles(data: dict[str, Path], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    doc = _doc(capsys, tmp_path, data["ref"], data["cur"], "--prediction", "pred", "--label", "label")
    roles = {n: e["role"] for n, e in doc["columns"].items()}
    assert roles == {"x": "feature", "y": "feature", "c": "feature", "z": "feature", "pred": "prediction",
                     "label": "label"}
    assert doc["columns"]["pred"]["tests"] and doc["columns"]["label"]["tests"]  # tested like any column
    doc = _doc(capsys, tmp_path, data["ref"], data["cur"], "--columns", "x", "--prediction", "pred",
               "--label", "label")
    assert set(doc["columns"]) == {"x", "pred", "label"}  # the roles' columns join --columns
    assert doc["columns"]["pred"]["role"] == "prediction"


def test_html_report_is_self_contained(data: dict[str, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    html = tmp_path / "r.html"
    out = tmp_path / "d.json"
    code, stdout, _ = _run(capsys, "drift", data["ref"], data["cur"], "--html", html, "--out", out)
    assert code == 0
    text = html.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith(("<!doctype html", "<html"))
    assert text.rstrip().endswith("</html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text, re.IGNORECASE)
    assert not re.search(r"<link\b[^>]*stylesheet", text, re.IGNORECASE)
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", text, re.IGNORECASE)
    assert "@import" not in text
    for name in ("x", "y", "c"):
        assert f">{name}<" in text
    assert str(html) in stdout


def test_html_escapes_column_names_and_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    evil = "<img src=x onerror=alert(1)>"
    ref = _write(tmp_path / "r.csv", {evil: rng.normal(size=500), "c": rng.choice(["<script>alert(2)</script>",
                                                                                  "b"], 500)})
    cur = _write(tmp_path / "c.csv", {evil: rng.normal(1, 1, size=500), "c": rng.choice(
        ["<script>alert(2)</script>", "b", "<i>new</i>"], 500)})
    html = tmp_path / "r.html"
    code, _, _ = _run(capsys, "drift", ref, cur, "--html", html, "--quiet")
    assert code == 0
    text = html.read_text(encoding="utf-8")
    assert evil not in text and "<script>alert" not in text and "<i>new" not in text


def test_save_profile_is_reusable(data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "ref.profile"
    first = _doc(capsys, tmp_path, data["ref"], data["cur"], "--save-profile", saved)
    prof = load_profile(saved)
    assert prof.rows == N and set(prof.columns) == set(first["columns"])
    again = _doc(capsys, tmp_path, saved, data["cur"])
    assert again["reference"]["type"] == "profile"
    for name, entry in first["columns"].items():
        assert again["columns"][name]["p_value"] == entry["p_value"], name


def test_quiet_prints_nothing(data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, html, saved = tmp_path / "d.json", tmp_path / "d.html", tmp_path / "d.profile"
    code, stdout, stderr = _run(capsys, "drift", data["ref"], data["cur"], "--out", out, "--html", html,
                                "--save-profile", saved, "--quiet")
    assert code == 0 and stdout == "" and stderr == ""
    assert out.exists() and html.exists() and saved.exists()
    code, stdout, stderr = _run(capsys, "profile", data["ref"], "--out", tmp_path / "p.profile", "--quiet")
    assert code == 0 and stdout == "" and stderr == ""


# --- profiles ------------------------------------------------------------------------------------------------------

def _verdicts(doc: dict[str, Any]) -> dict[str, Any]:
    return {n: (e["status"], e["drifted"], e["kind"], e["method"], e["statistic"], e["p_value"], e["p_adjusted"],
                e["effect"], [(t["name"], t["statistic"], t["p_value"], t["drifted"]) for t in e["tests"]])
            for n, e in doc["columns"].items()}


@pytest.fixture(scope="module")
def ref_profile(data: dict[str, Path]) -> Path:
    path = data["dir"] / "ref.profile"
    assert main(["profile", str(data["ref"]), "--out", str(path), "--quiet"]) == 0
    return path


@pytest.mark.parametrize("cur", ["cur", "same", "moderate"])
def test_profile_reference_gives_the_same_verdicts(cur: str, data: dict[str, Path], ref_profile: Path,
                                                   tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tables = _doc(capsys, tmp_path, data["ref"], data[cur])
    from_profile = _doc(capsys, tmp_path, ref_profile, data[cur])
    assert from_profile["reference"]["type"] == "profile"
    assert from_profile["reference"]["profile_id"] == tables["reference"]["profile_id"]
    assert _verdicts(from_profile) == _verdicts(tables)
    assert from_profile["drifted"] == tables["drifted"]

    cur_profile = tmp_path / "cur.profile"
    code, _, err = _run(capsys, "profile", data[cur], "--like", ref_profile, "--out", cur_profile, "--quiet")
    assert code == 0, err
    both = _doc(capsys, tmp_path, ref_profile, cur_profile)
    assert both["current"]["type"] == "profile"
    assert _verdicts(both) == _verdicts(tables)


@pytest.mark.parametrize("depth", [0, 12])
def test_profile_output_summary(data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                depth: int) -> None:
    """Output that is not a terminal never breaks a path or a phrase across lines, however long the path."""
    folder = tmp_path.joinpath(*[f"a-deliberately-long-folder-name-{i}" for i in range(depth)])
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "p.profile"
    code, stdout, _ = _run(capsys, "profile", data["ref"], "--out", out)
    assert code == 0
    assert f"{N:,} rows" in stdout and "6 columns" in stdout and str(out) in stdout
    with gzip.open(out, "rt", encoding="utf-8") as f:
        raw = json.load(f)
    assert raw["format"] == "assay.profile" and raw["version"] == 1 and raw["rows"] == N


def _counts(path: Path) -> dict[str, Any]:
    prof = load_profile(path)
    out: dict[str, Any] = {"rows": prof.rows, "grid": prof.grid_id}
    for name, state in prof.columns.items():
        d = state.to_dict()
        d.pop("moments", None)
        out[name] = d
    return out


def test_profiles_of_days_merge_to_the_profile_of_the_month(data: dict[str, Path], ref_profile: Path,
                                                            tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cols = _columns(2, shift=1.0)
    day1 = _write(tmp_path / "day1.csv", {k: v[:1200] for k, v in cols.items()})
    day2 = _write(tmp_path / "day2.parquet", {k: v[1200:] for k, v in cols.items()})
    both = _write(tmp_path / "both.csv", cols)
    month, whole = tmp_path / "month.profile", tmp_path / "whole.profile"
    assert _run(capsys, "profile", day1, day2, "--like", ref_profile, "--out", month, "--quiet")[0] == 0
    assert _run(capsys, "profile", both, "--like", ref_profile, "--out", whole, "--quiet")[0] == 0
    assert _counts(month) == _counts(whole)
    m, w = load_profile(month), load_profile(whole)
    assert m.sources == (str(day1), str(day2))
    for name in ("x", "y", "pred"):
        assert m.columns[name].moments.mean == pytest.approx(w.columns[name].moments.mean, rel=1e-9)

    # profiles merge: day profiles made one by one, then `assay profile a.profile b.profile`
    p1, p2, merged = tmp_path / "d1.profile", tmp_path / "d2.profile", tmp_path / "m.profile"
    assert _run(capsys, "profile", day1, "--like", ref_profile, "--out", p1, "--quiet")[0] == 0
    assert _run(capsys, "profile", day2, "--like", ref_profile, "--out", p2, "--quiet")[0] == 0
    code, stdout, _ = _run(capsys, "profile", p1, p2, "--out", merged)
    assert code == 0 and f"{N:,} rows" in stdout
    assert _counts(merged) == _counts(whole)
    assert load_profile(p1).rows == 1200 and load_profile(p2).rows == N - 1200

    # and the month drifts against the reference like the table it profiles
    assert _verdicts(_doc(capsys, tmp_path, ref_profile, merged)) == _verdicts(
        _doc(capsys, tmp_path, ref_profile, both))


def _fails(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> str:
    code, stdout, stderr = _run(capsys, *argv)
    text = stdout + stderr
    assert code == 2, text
    assert "Traceback" not in text and "internal error" not in text
    assert stderr.startswith(("assay: error:", "usage:")), stderr
    return stderr


def test_merging_two_reference_profiles_names_both(data: dict[str, Path], ref_profile: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.profile"
    assert _run(capsys, "profile", data["same"], "--out", other, "--quiet")[0] == 0
    out = tmp_path / "m.profile"
    err = _fails(capsys, "profile", ref_profile, other, "--out", out)
    assert str(data["ref"]) in err and str(data["same"]) in err
    assert not out.exists()
    # a current profile that is itself a reference, not made --like: drift refuses it too
    err = _fails(capsys, "drift", ref_profile, other)
    assert str(data["same"]) in err and "--like" in err


def test_profile_of_another_version_is_refused(data: dict[str, Path], ref_profile: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with gzip.open(ref_profile, "rt", encoding="utf-8") as f:
        raw = json.load(f)
    raw["version"] = 2
    bumped = tmp_path / "bumped.profile"
    with gzip.open(bumped, "wt", encoding="utf-8") as f:
        json.dump(raw, f)
    for argv in (("drift", bumped, data["cur"]), ("profile", bumped, "--out", tmp_path / "x.profile"),
                 ("profile", data["cur"], "--like", bumped, "--out", tmp_path / "y.profile")):
        err = _fails(capsys, *argv)
        assert str(bumped) in err and "version 2" in err and "version 1" in err
    assert not (tmp_path / "x.profile").exists() and not (tmp_path / "y.profile").exists()


@pytest.mark.parametrize("content", [b"not a profile at all\n", gzip.compress(b'{"format": "something else"}'),
                                     gzip.compress(b"[1, 2]"), gzip.compress(b'{"format": "assay.profile", '
                                                                             b'"version": 1, "columns": {}}')],
                         ids=["text", "other-format", "json-list", "truncated"])
def test_non_profile_file_is_refused(content: bytes, data: dict[str, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.profile"
    bad.write_bytes(content)
    out = tmp_path / "d.json"
    err = _fails(capsys, "drift", bad, data["cur"], "--out", out)
    assert str(bad) in err
    assert not out.exists()
    err = _fails(capsys, "profile", bad, "--out", tmp_path / "m.profile")
    assert str(bad) in err


# --- bad input -----------------------------------------------------------------------------------------------------

BAD_CASES: dict[str, tuple[list[str], list[str]]] = {
    # name: (argv after "drift" with {ref}, {cur}, {missing}, {empty} substituted; fragments the message must hold)
    "missing-current": (["{ref}", "{missing}"], ["{missing}", "no file"]),
    "missing-reference": (["{missing}", "{cur}"], ["{missing}", "no file"]),
    "missing-profile": (["{dir}/nope.profile", "{cur}"], ["nope.profile"]),
    "empty-current": (["{ref}", "{empty}"], ["current", "row"]),
    "empty-reference": (["{empty}", "{cur}"], ["reference", "row"]),
    "unknown-column": (["{ref}", "{cur}", "--columns", "nope"], ["nope"]),
    "unknown-kind": (["{ref}", "{cur}", "--kind", "x=weird"], ["'x'", "weird", "categorical"]),
    "kind-without-value": (["{ref}", "{cur}", "--kind", "x"], ["--kind", "'x'"]),
    "ks-on-categorical": (["{ref}", "{cur}", "--method", "c=ks"], ["'c'", "categorical", "ks"]),
    "unknown-method": (["{ref}", "{cur}", "--method", "x=magic"], ["'x'", "magic"]),
    "min-effect-not-a-number": (["{ref}", "{cur}", "--min-effect", "psi=abc"], ["--min-effect", "abc"]),
    "min-effect-unknown-method": (["{ref}", "{cur}", "--min-effect", "magic=0.1"], ["magic"]),
    "out-is-input": (["{ref}", "{cur}", "--out", "{cur}"], ["--out", "{cur}"]),
    "html-is-input": (["{ref}", "{cur}", "--html", "{ref}"], ["--html", "{ref}"]),
    "save-profile-is-input": (["{ref}", "{cur}", "--save-profile", "{ref}"], ["--save-profile", "{ref}"]),
    "no-current": (["{ref}"], ["current"]),
    "bad-correction": (["{ref}", "{cur}", "--correction", "weird"], ["--correction", "weird"]),
    "alpha-out-of-range": (["{ref}", "{cur}", "--alpha", "1.5"], ["alpha", "1.5"]),
    "alpha-not-a-number": (["{ref}", "{cur}", "--alpha", "abc"], ["--alpha"]),
    "unknown-prediction": (["{ref}", "{cur}", "--prediction", "nope"], ["'nope'", "prediction"]),
    "unknown-label": (["{ref}", "{cur}", "--label", "nope"], ["'nope'", "label"]),
    "kind-with-profile-reference": (["{profile}", "{cur}", "--kind", "z=categorical"], ["z", "profile"]),
    "bad-bins": (["{ref}", "{cur}", "--bins", "0"], ["bins"]),
    "refusal-phrases-file-missing": (["{ref}", "{cur}", "--refusal-phrases", "@{dir}/phrases.txt"],
                                     ["{dir}/phrases.txt"]),
    "simulate-with-current": (["--simulate", "{ref}", "{cur}"], ["--simulate", "{cur}"]),
    "simulate-bad-sizes": (["--simulate", "{ref}", "--sizes", "5k"], ["--sizes", "5k"]),
    "simulate-bad-repeats": (["--simulate", "{ref}", "--repeats", "0"], ["repeats"]),
}


@pytest.fixture(scope="module")
def bad_inputs(data: dict[str, Path], ref_profile: Path) -> dict[str, str]:
    empty = data["dir"] / "empty.csv"
    empty.write_text("x,y,c,z,pred,label\n")
    return {"ref": str(data["ref"]), "cur": str(data["cur"]), "missing": str(data["dir"] / "nope.csv"),
            "empty": str(empty), "dir": str(data["dir"]), "profile": str(ref_profile)}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_exits_2_with_a_clear_message(case: str, bad_inputs: dict[str, str], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    argv, fragments = BAD_CASES[case]
    args = [a.format(**bad_inputs) for a in argv]
    out = tmp_path / "never.json"
    extra = [] if "--out" in args else ["--out", str(out)]
    before = {p: p.stat().st_mtime_ns for p in Path(bad_inputs["dir"]).iterdir()}
    err = _fails(capsys, "drift", *args, *extra)
    for fragment in fragments:
        assert fragment.format(**bad_inputs) in err, (fragment, err)
    assert not out.exists()
    assert not list(tmp_path.iterdir())
    after = {p: p.stat().st_mtime_ns for p in Path(bad_inputs["dir"]).iterdir()}
    assert after == before  # no input overwritten, no stray temporary file


def test_empty_current_message_names_the_file(bad_inputs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(capsys, "drift", bad_inputs["ref"], bad_inputs["empty"])
    assert bad_inputs["empty"] in err


def test_empty_parquet_current_names_the_file(data: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    empty = _write(tmp_path / "empty.parquet", {k: v[:0] for k, v in _columns(1).items()})
    err = _fails(capsys, "drift", data["ref"], empty)
    assert str(empty) in err


def test_unwritable_out_names_the_given_path(data: dict[str, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "no-such-dir" / "d.json"
    err = _fails(capsys, "drift", data["ref"], data["cur"], "--out", out)
    assert str(out) in err


@pytest.mark.parametrize("option", ["--kind", "--method"])
def test_option_for_an_unknown_column_is_refused(option: str, data: dict[str, Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    value = "nope=categorical" if option == "--kind" else "nope=ks"
    err = _fails(capsys, "drift", data["ref"], data["cur"], option, value)
    assert "nope" in err


def test_profile_bad_inputs(data: dict[str, Path], ref_profile: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p.profile"
    assert str(tmp_path / "nope.csv") in _fails(capsys, "profile", tmp_path / "nope.csv", "--out", out)
    assert "nope" in _fails(capsys, "profile", data["ref"], "--columns", "nope", "--out", out)
    assert "nope" in _fails(capsys, "profile", data["ref"], "--kind", "nope=categorical", "--out", out)
    assert "weird" in _fails(capsys, "profile", data["ref"], "--kind", "x=weird", "--out", out)
    assert "--out" in _fails(capsys, "profile", data["ref"], "--out", data["ref"])
    assert "--like" in _fails(capsys, "profile", data["ref"], data["cur"], "--out", out)  # two tables, no grid
    assert "nope" in _fails(capsys, "profile", data["cur"], "--like", ref_profile, "--columns", "nope",
                            "--out", out)
    assert "--out" in _fails(capsys, "profile", data["ref"])  # argparse: --out is required
    assert not out.exists()


# --- per-column problems -------------------------------------------------------------------------------------------

def test_per_column_problems_do_not_stop_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = 2000
    rng = np.random.default_rng(7)
    base = {"fine": rng.normal(size=n), "retyped": rng.normal(size=n), "gone": rng.normal(size=n),
            "empty": pa.nulls(n, pa.float64()), "holes": rng.normal(size=n)}
    cur = dict(base)
    cur["retyped"] = rng.choice(["low", "high"], n)
    del cur["gone"]
    cur["new"] = rng.normal(size=n)
    holes = np.array(base["holes"], dtype=float)
    holes[rng.permutation(n)[: n // 5]] = np.nan  # 0% -> 20% missing, the other values unchanged
    cur["holes"] = pa.array(holes, from_pandas=True)
    ref_path = _write(tmp_path / "ref.csv", base)
    cur_path = _write(tmp_path / "cur.csv", cur)
    out, html = tmp_path / "d.json", tmp_path / "d.html"
    code, stdout, stderr = _run(capsys, "drift", ref_path, cur_path, "--out", out, "--html", html)
    assert code == 0, stderr
    assert "Traceback" not in stdout + stderr
    assert html.exists()
    doc = json.loads(out.read_text())
    cols = doc["columns"]
    assert set(cols) == {"fine", "retyped", "gone", "empty", "holes", "new"}
    assert cols["fine"]["status"] == "ok" and cols["fine"]["drifted"] is False

    assert cols["retyped"]["status"] == "type_mismatch"
    assert "current" in cols["retyped"]["reason"] and "text" in cols["retyped"]["reason"]
    assert cols["retyped"]["drifted"] is False and cols["retyped"]["method"] is None

    assert cols["gone"]["status"] == "missing_in_current" and cols["gone"]["drifted"] is False
    assert cols["new"]["status"] == "missing_in_reference" and cols["new"]["drifted"] is False
    assert "double" in cols["new"]["reason"]

    assert cols["empty"]["status"] == "all_missing" and cols["empty"]["drifted"] is False
    assert "reference" in cols["empty"]["reason"]

    h = cols["holes"]
    assert h["drifted"] is True and h["status"] == "ok"
    assert _test(h, "missing_rate")["drifted"] is True
    assert _test(h, "value")["drifted"] is False  # the values present are the reference's
    assert h["quality"]["missing_reference"] == 0.0 and h["quality"]["missing_current"] == pytest.approx(0.2)
    assert "missing_rate" in h["reason"]
    assert doc["drifted"] is True and doc["n_drifted"] == 1
    for name in ("retyped", "gone", "empty", "new"):
        assert name in stdout

    # and --fail-on-drift holds the missing-rate jump against it
    assert _run(capsys, "drift", ref_path, cur_path, "--fail-on-drift", "--quiet")[0] == 1


def test_all_missing_in_the_current_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(8)
    ref = _write(tmp_path / "ref.csv", {"a": rng.normal(size=500), "b": rng.normal(size=500)})
    cur = _write(tmp_path / "cur.csv", {"a": pa.nulls(500, pa.float64()), "b": rng.normal(size=500)})
    doc = _doc(capsys, tmp_path, ref, cur)
    a = doc["columns"]["a"]
    assert a["status"] == "all_missing" and "current" in a["reason"]
    assert a["drifted"] is True and _test(a, "missing_rate")["drifted"] is True  # 0% -> 100% missing
    assert doc["columns"]["b"]["status"] == "ok"


@pytest.mark.parametrize("args", [(), ("--columns", "x,extra")], ids=["all columns", "requested"])
def test_column_only_in_the_current_is_reported_and_not_called_categorical(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    cols = _columns(2)
    cols["extra"] = cols["x"] * 2
    cur = _write(tmp_path / "cur.csv", cols)
    doc = _doc(capsys, tmp_path, data["ref"], cur, *args)
    assert doc["columns"]["extra"]["status"] == "missing_in_reference"
    assert doc["columns"]["extra"]["kind"] in (None, "numeric")


# --- simulation ----------------------------------------------------------------------------------------------------

def test_simulate_writes_rates(data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sim.json"
    code, stdout, stderr = _run(capsys, "drift", "--simulate", data["ref"], "--sizes", "300,2000", "--repeats", "5",
                                "--columns", "x,y,c", "--out", out)
    assert code == 0, stderr
    doc = json.loads(out.read_text())
    assert doc["schema"] == "assay.drift-simulation/1"
    assert {"reference", "reference_rows", "alpha", "correction", "seed", "kinds", "results", "skipped"} <= set(doc)
    assert doc["reference"] == str(data["ref"]) and doc["reference_rows"] == N
    assert doc["kinds"] == {"x": "numeric", "y": "numeric", "c": "categorical"}
    assert doc["skipped"] == ["longer_prompts"]  # no text column
    shifts = ["identical", "mean_shift_0.2sd", "variance_x1.5", "category_mix_10pt", "missing_jump_20pct"]
    assert [(r["shift"], r["n"]) for r in doc["results"]] == [(s, n) for s in shifts for n in (300, 2000)]
    for r in doc["results"]:
        assert r["repeats"] == 5 and 0 <= r["table_flag_rate"] <= 1
        if r["shift"] == "identical":
            assert r["column"] is None and "detection_rate" not in r
            assert 0 <= r["column_flag_rate"] <= r["column_flag_rate_upper95"] <= 1
            assert r["table_flag_rate"] <= r["table_flag_rate_upper95"] <= 1
            assert r["column_flag_rate"] <= 0.2  # false alarms on identical resamples are rare
        else:
            assert r["column"] in doc["kinds"] and 0 <= r["detection_rate"] <= 1
    by = {(r["shift"], r["n"]): r for r in doc["results"]}
    assert by[("mean_shift_0.2sd", 300)]["column"] == "x"
    assert by[("category_mix_10pt", 2000)]["column"] == "c"
    assert by[("missing_jump_20pct", 2000)]["detection_rate"] == 1.0
    assert by[("mean_shift_0.2sd", 2000)]["detection_rate"] >= 0.8
    assert "identical" in stdout and "false alarms" in stdout

    code, stdout, _ = _run(capsys, "drift", "--simulate", data["ref"], "--sizes", "300", "--repeats", "2",
                           "--columns", "x", "--quiet")
    assert code == 0 and stdout == ""


def test_simulate_with_a_text_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = _write(tmp_path / "t.csv", {"prompt": _texts(np.random.default_rng(11), 800, 0.02, 1.0)[0]})
    out = tmp_path / "sim.json"
    code, _, stderr = _run(capsys, "drift", "--simulate", ref, "--sizes", "400", "--repeats", "3", "--out", out,
                           "--quiet")
    assert code == 0, stderr
    doc = json.loads(out.read_text())
    assert doc["kinds"] == {"prompt": "text"}
    by = {r["shift"]: r for r in doc["results"]}
    assert set(by) == {"identical", "missing_jump_20pct", "longer_prompts"}
    assert by["longer_prompts"]["detection_rate"] == 1.0


# --- text columns --------------------------------------------------------------------------------------------------

_WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta"]


def _texts(rng: np.random.Generator, n: int, refusal_share: float, json_share: float) -> tuple[list[str], list[str]]:
    """Answers (a share of them refusals) and structured outputs (a share of them valid JSON, the rest cut short)."""
    answers, outputs = [], []
    for i in range(n):
        words = " ".join(rng.choice(_WORDS, 6))
        if rng.random() < refusal_share:
            answers.append(f"I'm sorry, I can't help with that. ({words}, request {i})")
        else:
            answers.append(f"Here is what I found about {words}: see item {i}.")
        full = json.dumps({"answer": words, "id": i, "ok": True})
        outputs.append(full if rng.random() < json_share else full[: len(full) - 8])
    return answers, outputs


@pytest.mark.parametrize("ext", [".csv", ".jsonl"])
def test_text_refusals_and_broken_json_drift(ext: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(12)
    a, o = _texts(rng, 2000, 0.02, 1.0)
    ref = _write(tmp_path / f"ref{ext}", {"answer": a, "output": o})
    a, o = _texts(rng, 2000, 0.30, 0.6)
    cur = _write(tmp_path / f"cur{ext}", {"answer": a, "output": o})
    a, o = _texts(rng, 2000, 0.02, 1.0)
    same = _write(tmp_path / f"same{ext}", {"answer": a, "output": o})

    doc = _doc(capsys, tmp_path, ref, cur, "--fail-on-drift", expect=1)
    answer, output = doc["columns"]["answer"], doc["columns"]["output"]
    assert answer["kind"] == "text" and output["kind"] == "text"
    refusal = _test(answer, "refusal_share")
    assert refusal["drifted"] is True and refusal["effect"] == pytest.approx(0.28, abs=0.04)
    assert answer["summary"]["reference"]["refusal_share"] == pytest.approx(0.02, abs=0.01)
    assert answer["summary"]["current"]["refusal_share"] == pytest.approx(0.30, abs=0.03)
    assert "refusal_share" in answer["reason"]
    js = _test(output, "json_share")
    assert js["drifted"] is True and js["effect"] == pytest.approx(0.4, abs=0.04)
    assert output["summary"]["reference"]["json_share"] == 1.0
    assert output["summary"]["current"]["json_share"] == pytest.approx(0.6, abs=0.03)
    assert "json_share" in output["reason"]

    calm = _doc(capsys, tmp_path, ref, same, "--fail-on-drift")
    assert calm["drifted"] is False
    assert _test(calm["columns"]["answer"], "refusal_share")["drifted"] is False

    # custom refusal phrases: nothing in these texts matches, so no refusal test at all
    custom = _doc(capsys, tmp_path, ref, cur, "--refusal-phrases", "cannot comply|not permitted")
    assert custom["config"]["refusal_phrases"] == ["cannot comply", "not permitted"]
    assert all(t["name"] != "refusal_share" for t in custom["columns"]["answer"]["tests"])


def test_exclude_of_an_unknown_column_and_kind_with_like_are_refused(capsys, tmp_path, data) -> None:
    code, _, err = _run(capsys, "drift", data["ref"], data["same"], "--exclude", "nope")
    assert code == 2 and "nope" in err and "Traceback" not in err
    prof = tmp_path / "ref.profile"
    assert _run(capsys, "profile", data["ref"], "--out", prof, "--quiet")[0] == 0
    code, _, err = _run(capsys, "profile", data["same"], "--like", prof, "--kind", "z=categorical",
                        "--out", tmp_path / "cur.profile")
    assert code == 2 and "--kind" in err and not (tmp_path / "cur.profile").exists()


def test_markdown_junit_and_step_summary_for_ci(capsys, tmp_path, data, monkeypatch) -> None:
    from xml.etree import ElementTree as ET

    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    md, xml, out = tmp_path / "d.md", tmp_path / "d.xml", tmp_path / "d.json"
    code, _, _ = _run(capsys, "drift", data["ref"], data["cur"], "--markdown", md, "--junit", xml, "--out", out,
                      "--quiet", "--fail-on-drift")
    doc = json.loads(out.read_text())
    assert code == 1 and doc["drifted"]
    text = md.read_text()
    assert text.startswith(f"## ❌ assay drift: **{doc['n_drifted']} of {doc['n_columns']} columns drifted**")
    assert summary.read_text().strip() == text.strip()
    suite = ET.parse(xml).getroot().find("testsuite")
    assert suite is not None and int(suite.get("failures")) == doc["n_drifted"]
    failed = {case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None}
    assert failed == {name for name, col in doc["columns"].items() if col["drifted"]}


@pytest.fixture(params=[0o022, 0o027], ids=["umask-022", "umask-027"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """The process umask set for the test (and restored after it)."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_outputs_get_the_permissions_of_a_plain_write(data: dict[str, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str], umask: int) -> None:
    """Every file drift and profile write: a new one gets 0o666 filtered by the umask, a replaced one keeps its
    mode."""
    outputs = {option: tmp_path / name for option, name in (
        ("--out", "d.json"), ("--html", "d.html"), ("--markdown", "d.md"), ("--junit", "d.xml"),
        ("--save-profile", "ref.profile"))}
    drift_argv = ["drift", data["ref"], data["cur"], "--quiet",
                  *[part for option, path in outputs.items() for part in (option, path)]]
    profile_out = tmp_path / "p.profile"
    profile_argv = ["profile", data["ref"], "--out", profile_out, "--quiet"]
    paths = [*outputs.values(), profile_out]
    for expected in (0o666 & ~umask, 0o640 if umask == 0o022 else 0o600):
        if expected != 0o666 & ~umask:
            for path in paths:
                path.chmod(expected)
        assert _run(capsys, *drift_argv)[0] == 0
        assert _run(capsys, *profile_argv)[0] == 0
        assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in paths} == {p.name: oct(expected) for p in paths}
    assert not list(tmp_path.glob(".*tmp"))


# -- output to a file, standard input, text encodings --------------------------------------------------------------


def _assay(*argv: str | Path, cwd: Path, stdin: bytes = b"", stdout: Any = subprocess.PIPE,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "assay.cli.main", *map(str, argv)], input=stdin, stdout=stdout,
                          stderr=subprocess.PIPE, timeout=120, check=False, cwd=cwd, env=env)


def test_drift_piped_to_a_file_prints_full_names(data: dict[str, Path], tmp_path: Path) -> None:
    """Output that is not a terminal (a CI log, a file) shows every cell in full: Rich's 80 columns cut the kind
    and the method to 'categoric…' and 'jensen_sh…'."""
    cols = _columns(1)
    cols["customer_segment_of_the_account"] = cols.pop("c")
    ref = _write(tmp_path / "ref.csv", cols)
    cur_cols = _columns(2, shift=1.0)
    cur_cols["customer_segment_of_the_account"] = np.where(cur_cols.pop("c") == "a", "c", "a")
    cur = _write(tmp_path / "cur.csv", cur_cols)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    log = tmp_path / "drift.log"
    with open(log, "wb") as f:
        result = _assay("drift", ref, cur, cwd=tmp_path, stdout=f, env=env)
    assert result.returncode == 0, result.stderr
    text = log.read_text(encoding="utf-8")
    assert "…" not in text
    lines = text.splitlines()
    row = next(line for line in lines if "customer_segment_of_the_account" in line and "│" in line)
    assert "categorical" in row and "jensen_shannon" in row and "drifted" in row  # one table row, one line
    assert any("numeric" in line and "psi" in line for line in lines)
    assert max(map(len, lines)) > 80  # wider than Rich's default: the table took the width it needs


def _latin1_tables(folder: Path) -> tuple[Path, Path]:
    """A reference and a current table in Latin-1 whose column 'city' holds 'Zürich' and 'Genève'."""
    paths = []
    for name, seed, share in (("ref", 1, 0.5), ("cur", 2, 0.5)):
        rng = np.random.default_rng(seed)
        city = np.where(rng.random(N) < share, "Zürich", "Genève")
        city[0] = "Zürich"  # the first bad byte: 0xfc (ü)
        x = rng.normal(0, 1, N).round(5)
        path = folder / f"{name}-latin1.csv"
        path.write_bytes(("city,x\n" + "".join(f"{c},{v}\n" for c, v in zip(city, x))).encode("latin-1"))
        paths.append(path)
    return paths[0], paths[1]


def test_drift_of_latin1_tables_with_their_encoding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, cur = _latin1_tables(tmp_path)
    doc = _doc(capsys, tmp_path, ref, cur, "--encoding", "latin-1")
    city = doc["columns"]["city"]
    assert (city["kind"], city["status"], city["method"]) == ("categorical", "ok", "jensen_shannon")
    assert set(city["histogram"]["categories"]) == {"Zürich", "Genève"}
    assert city["quality"]["type_reference"] == city["quality"]["type_current"] == "string"
    assert "nested or binary" not in json.dumps(doc)


def test_drift_of_latin1_tables_without_their_encoding_exits_2(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    ref, cur = _latin1_tables(tmp_path)
    out = tmp_path / "d.json"
    code, _, err = _run(capsys, "drift", ref, cur, "--out", out)
    assert code == 2 and not out.exists()
    assert err.startswith(f"assay: error: column 'city' of {ref}, row 0 (line 2): expected UTF-8 text, found byte "
                          "0xfc")
    assert "--encoding latin-1" in err and "nested or binary" not in err


def test_profile_of_a_latin1_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, _ = _latin1_tables(tmp_path)
    out = tmp_path / "p.profile"
    code, _, err = _run(capsys, "profile", ref, "--out", out)
    assert code == 2 and not out.exists()
    assert f"column 'city' of {ref}, row 0 (line 2): expected UTF-8 text, found byte 0xfc" in err
    assert "--encoding latin-1" in err
    code, stdout, _ = _run(capsys, "profile", ref, "--out", out, "--encoding", "latin-1")
    assert code == 0 and "1 categorical" in stdout
    assert set(dict(load_profile(out).columns["city"].counts)) == {"Zürich", "Genève"}  # type: ignore[union-attr]


def test_drift_reads_the_current_table_from_standard_input(data: dict[str, Path], ref_profile: Path,
                                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = _doc(capsys, tmp_path, ref_profile, data["cur"])
    for fmt in ((), ("--format", "csv")):
        result = _assay("drift", ref_profile, "-", *fmt, "--out", "d.json", "--quiet", cwd=tmp_path,
                        stdin=data["cur"].read_bytes())
        assert result.returncode == 0, result.stderr
        doc = json.loads((tmp_path / "d.json").read_text())
        assert doc["current"]["source"] == "<stdin>"
        assert _verdicts(doc) == _verdicts(expected)


def test_profile_reads_a_table_from_standard_input(data: dict[str, Path], tmp_path: Path) -> None:
    result = _assay("profile", "-", "--out", "p.profile", cwd=tmp_path, stdin=data["ref"].read_bytes())
    assert result.returncode == 0, result.stderr
    assert load_profile(tmp_path / "p.profile").rows == N


def test_standard_input_twice_or_format_without_it_is_refused(data: dict[str, Path],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "drift", "-", "-")
    assert code == 2 and "standard input ('-') at most once" in err
    code, _, err = _run(capsys, "drift", data["ref"], data["cur"], "--format", "csv")
    assert code == 2 and "option --format csv: expected a table read from standard input" in err

"""`assay runs` end to end: add, list, show, promote and diff, and every bad input ending in exit 2 with a message
and no traceback.

Until ``assay.cli.main`` registers ``runs``, the tests wire it into main's own parser (so main's error handling is
what runs); one test uses main exactly as it is and is skipped until the command is registered.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import assay
from assay.cli import main as cli_main
from assay.cli import runs as runs_cli

COMMIT = "ab" * 20
BUILD_PARSER = cli_main.build_parser  # main's own, before the fixture below wires `runs` in


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _main_knows_runs() -> bool:
    return "runs" in _subcommands(BUILD_PARSER()).choices


@pytest.fixture(autouse=True)
def _wired(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``assay runs`` in main's parser, the store in tmp_path/home by default, and a fixed git commit."""
    def build_with_runs() -> argparse.ArgumentParser:
        parser = BUILD_PARSER()
        sub = _subcommands(parser)
        if "runs" not in sub.choices:
            runs_cli.add_parser(sub)
        return parser

    monkeypatch.setattr(cli_main, "build_parser", build_with_runs)
    monkeypatch.setattr("assay.store._base.current_git_commit", lambda: COMMIT)
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")  # Rich's width when not on a terminal, so that no cell is cut
    monkeypatch.chdir(tmp_path)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli_main.main(list(argv))
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _bad(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = _cli(capsys, *argv)
    assert code == 2, out + err
    assert err.startswith("assay: error: ") or "usage:" in err
    return " ".join(err.split())  # Rich and argparse may wrap


def _write_run(folder: Path, name: str, *, model: str = "fraud", seed: int = 0, version: str | None = None,
               shift: float = 0.0) -> tuple[Path, dict[str, Any]]:
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.array([0, 1] * 30))
    s = np.clip(0.3 + (0.4 + shift) * y + rng.normal(0, 0.2, 60), 0, 1)
    doc = assay.evaluate({"y": y, "s": s, "id": np.arange(60)}, task="binary", label="y", score="s",
                         model_name=model, model_version=version, id="id",
                         dataset_name=f"holdout-{seed}").to_dict()
    path = folder / name
    path.write_text(json.dumps(doc))
    return path, doc


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[tuple[Path, dict[str, Any]], tuple[Path, dict[str, Any]]]:
    return (_write_run(tmp_path, "a.json", version="1"),
            _write_run(tmp_path, "b.json", version="2", shift=0.2))


def test_add_prints_the_run_ids_and_list_shows_them(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                    two_runs: Any) -> None:
    (pa, a), (pb, b) = two_runs
    code, out, _ = _cli(capsys, "runs", "add", str(pa), str(pb))
    assert code == 0
    assert out.split() == [a["run_id"], b["run_id"]]
    assert (tmp_path / "home" / "runs.sqlite").is_file()  # ASSAY_HOME
    code, out, _ = _cli(capsys, "runs", "add", str(pa))  # adding again is harmless
    assert code == 0 and out.split() == [a["run_id"]]
    code, out, _ = _cli(capsys, "runs", "list", "--json")
    listed = json.loads(out)
    assert {r["run_id"] for r in listed} == {a["run_id"], b["run_id"]}
    assert listed[0]["source"] in (str(pa.resolve()), str(pb.resolve()))
    assert listed[0]["git_commit"] == COMMIT
    code, out, _ = _cli(capsys, "runs", "list")
    assert code == 0
    for doc in (a, b):
        assert doc["run_id"][:12] in out and doc["run_id"][:13] not in out
    assert a["dataset"]["fingerprint"][7:19] in out
    assert "fraud" in out and "holdout-0" in out
    assert not any("★" in row for row in out.splitlines()[1:])  # nothing promoted: the star is only the header


def test_list_filters_limits_and_marks_the_promoted_run(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                        two_runs: Any) -> None:
    (pa, a), (pb, _) = two_runs
    pc, c = _write_run(tmp_path, "c.json", model="churn", seed=2)
    _cli(capsys, "runs", "add", str(pa), str(pb), str(pc))
    _, out, _ = _cli(capsys, "runs", "list", "--model", "churn", "--json")
    assert [r["run_id"] for r in json.loads(out)] == [c["run_id"]]
    _, out, _ = _cli(capsys, "runs", "list", "--limit", "1", "--json")
    assert len(json.loads(out)) == 1
    _cli(capsys, "runs", "promote", a["run_id"])
    _, out, _ = _cli(capsys, "runs", "list")
    line = next(row for row in out.splitlines() if a["run_id"][:12] in row)
    assert "★" in line
    assert sum("★" in row for row in out.splitlines()) == 3  # the header, the run and the caption
    assert "★ promoted" in out


def test_list_of_an_empty_store(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _cli(capsys, "runs", "list")
    assert code == 0 and "no runs in" in out and "assay runs add" in out
    assert not (tmp_path / "home").exists()
    code, out, _ = _cli(capsys, "runs", "list", "--json")
    assert json.loads(out) == []


def test_home_option_wins_over_assay_home(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          two_runs: Any) -> None:
    (pa, a), _ = two_runs
    assert _cli(capsys, "runs", "add", str(pa), "--home", str(tmp_path / "other"))[0] == 0
    assert (tmp_path / "other" / "runs.sqlite").is_file()
    assert not (tmp_path / "home").exists()
    code, out, _ = _cli(capsys, "runs", "show", a["run_id"][:8], "--home", str(tmp_path / "other"), "--json")
    assert code == 0 and json.loads(out)["run_id"] == a["run_id"]


def test_show_prints_lineage_and_metrics(capsys: pytest.CaptureFixture[str], two_runs: Any) -> None:
    (pa, a), _ = two_runs
    _cli(capsys, "runs", "add", str(pa))
    _cli(capsys, "runs", "promote", "@latest", "--note", "first [bold]model[/]")
    code, out, _ = _cli(capsys, "runs", "show", a["run_id"][:6])
    assert code == 0
    for part in (a["run_id"], "fraud v1", a["dataset"]["fingerprint"], COMMIT, "roc_auc", "95% interval",
                 "first [bold]model[/]", str(pa.resolve().name)):
        assert part in out, part
    auc = a["metrics"]["roc_auc"]
    assert f"{auc['ci_low']:.4g}" in out and f"{auc['value']:.4g}" in out
    code, out, _ = _cli(capsys, "runs", "show", "@promoted", "--json")
    shown = json.loads(out)
    assert shown["metrics"] == a["metrics"]
    assert shown["model"] == {"name": "fraud", "version": "1"}
    assert shown["promotions"][0]["note"] == "first [bold]model[/]"
    assert shown["git_commit"] == COMMIT and shown["config"] == a["config"]


def test_promote_says_what_it_replaced(capsys: pytest.CaptureFixture[str], two_runs: Any) -> None:
    (pa, a), (pb, b) = two_runs
    _cli(capsys, "runs", "add", str(pa), str(pb))
    code, out, _ = _cli(capsys, "runs", "promote", a["run_id"])
    assert code == 0 and f"promoted {a['run_id'][:12]}" in out and "previously" not in out
    code, out, _ = _cli(capsys, "runs", "promote", b["run_id"], "--note", "better")
    assert f"previously {a['run_id'][:12]}" in out
    code, out, _ = _cli(capsys, "runs", "promote", b["run_id"])
    assert "already" in out
    code, out, _ = _cli(capsys, "runs", "show", "@promoted:fraud", "--json")
    assert json.loads(out)["run_id"] == b["run_id"]
    code, out, _ = _cli(capsys, "runs", "show", a["run_id"], "--json")
    assert json.loads(out)["promotions"][0]["superseded_by"] == b["run_id"]


def test_diff_table_and_json(capsys: pytest.CaptureFixture[str], two_runs: Any) -> None:
    (pa, a), (pb, b) = two_runs
    _cli(capsys, "runs", "add", str(pa), str(pb))
    code, out, _ = _cli(capsys, "runs", "diff", a["run_id"], b["run_id"], "--json")
    assert code == 0
    result = json.loads(out)
    assert (result["a"], result["b"], result["same_data"]) == (a["run_id"], b["run_id"], True)
    rows = {r["metric"]: r for r in result["metrics"]}
    assert rows["roc_auc"]["better"] == "b"  # b separates the classes more
    assert rows["roc_auc"]["difference"] == pytest.approx(b["metrics"]["roc_auc"]["value"]
                                                          - a["metrics"]["roc_auc"]["value"])
    code, out, _ = _cli(capsys, "runs", "diff", a["run_id"], "@latest")
    assert code == 0
    for part in ("metric", "difference", "better", "roc_auc", a["run_id"][:12], b["run_id"][:12]):
        assert part in out


def test_diff_refuses_different_data_unless_allowed(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     two_runs: Any) -> None:
    (pa, a), _ = two_runs
    pc, c = _write_run(tmp_path, "c.json", seed=5)
    _cli(capsys, "runs", "add", str(pa), str(pc))
    text = _bad(capsys, "runs", "diff", a["run_id"], c["run_id"])
    assert a["dataset"]["fingerprint"] in text and c["dataset"]["fingerprint"] in text
    assert "holdout-0" in text and "holdout-5" in text and "--allow-different-data" in text
    code, out, _ = _cli(capsys, "runs", "diff", a["run_id"], c["run_id"], "--allow-different-data")
    assert code == 0 and "different data" in out
    code, out, _ = _cli(capsys, "runs", "diff", a["run_id"], c["run_id"], "--allow-different-data", "--json")
    assert json.loads(out)["same_data"] is False


@pytest.mark.parametrize("ref", ["nope00", "abc", "@promoted:", "@oldest"])
def test_bad_references_exit_2_with_a_message(capsys: pytest.CaptureFixture[str], two_runs: Any,
                                              ref: str) -> None:
    (pa, _), _ = two_runs
    _cli(capsys, "runs", "add", str(pa))
    for argv in (("show", ref), ("promote", ref), ("diff", ref, "@latest")):
        text = _bad(capsys, "runs", *argv)
        assert repr(ref) in text and "assay runs list" in text


def test_an_ambiguous_prefix_lists_the_candidates(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                  two_runs: Any) -> None:
    (pa, _), (pb, _) = two_runs
    for path, run_id in ((pa, "feedface01"), (pb, "feedface02")):
        doc = json.loads(path.read_text()) | {"run_id": run_id}
        path.write_text(json.dumps(doc))
    _cli(capsys, "runs", "add", str(pa), str(pb))
    text = _bad(capsys, "runs", "show", "feedface")
    assert "feedface01" in text and "feedface02" in text and "more characters" in text


def test_promoted_when_nothing_is_promoted(capsys: pytest.CaptureFixture[str], two_runs: Any) -> None:
    (pa, _), _ = two_runs
    _cli(capsys, "runs", "add", str(pa))
    text = _bad(capsys, "runs", "show", "@promoted")
    assert "no promoted run yet: promote one with `assay runs promote <run-id>`" in text
    assert "no promoted run of model 'fraud' yet" in _bad(capsys, "runs", "diff", "@promoted:fraud", "@latest")


def test_a_file_that_is_not_a_run_adds_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                               two_runs: Any) -> None:
    (pa, _), _ = two_runs
    other = tmp_path / "policy.json"
    other.write_text(json.dumps({"rules": []}))
    text = _bad(capsys, "runs", "add", str(pa), str(other))
    assert str(other) in text and "expected an assay run document" in text and "no 'schema'" in text
    _, out, _ = _cli(capsys, "runs", "list", "--json")
    assert json.loads(out) == []  # every file is checked before any is added


@pytest.mark.parametrize(("content", "found"), [
    (None, "no such file"),
    ("{not json", "invalid JSON"),
    ("[1, 2]", "a JSON array"),
    (b"\xff\xfe\x00", "not UTF-8"),
])
def test_unreadable_run_files(capsys: pytest.CaptureFixture[str], tmp_path: Path, content: Any,
                              found: str) -> None:
    path = tmp_path / "run.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    text = _bad(capsys, "runs", "add", str(path))
    assert str(path) in text and found in text


def test_a_second_document_under_a_known_run_id(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                two_runs: Any) -> None:
    (pa, a), (pb, _) = two_runs
    pb.write_text(json.dumps(json.loads(pb.read_text()) | {"run_id": a["run_id"]}))
    _cli(capsys, "runs", "add", str(pa))
    text = _bad(capsys, "runs", "add", str(pb))
    assert "different document" in text and a["run_id"] in text


def test_usage_errors(capsys: pytest.CaptureFixture[str], two_runs: Any) -> None:
    assert "limit" in _bad(capsys, "runs", "list", "--limit", "0")
    assert _bad(capsys, "runs")  # no subcommand: the help, exit 2
    assert _bad(capsys, "runs", "add")  # no file


def test_the_handlers_can_be_called_directly(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             two_runs: Any) -> None:
    (pa, a), _ = two_runs
    args = argparse.Namespace(files=[str(pa)], home=str(tmp_path / "direct"))
    assert runs_cli.run_add(args) == 0
    assert capsys.readouterr().out.split() == [a["run_id"]]


@pytest.mark.skipif(not _main_knows_runs(), reason="assay.cli.main does not register `runs` yet")
def test_main_registers_runs(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                             two_runs: Any) -> None:
    monkeypatch.setattr(cli_main, "build_parser", BUILD_PARSER)  # main exactly as it is
    (pa, _), _ = two_runs
    home = str(pa.parent / "main-home")
    assert cli_main.main(["runs", "add", str(pa), "--home", home]) == 0
    assert cli_main.main(["runs", "show", "@promoted", "--home", home]) == 2
    err = capsys.readouterr().err
    assert "no promoted run yet" in err and "Traceback" not in err

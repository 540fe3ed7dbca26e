"""``assay demo`` end to end: two runs, their reports, a reference profile and two drift checks."""

from __future__ import annotations

import json

from assay.cli.main import main
from assay.drift.profile import load_profile


def test_demo_writes_runs_reports_and_drift(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "roc_auc" in text and "no drift in 30 columns" in text
    for name in ("logistic", "boosted"):
        run = json.loads((out / f"{name}.run.json").read_text())
        assert run["schema"] == "assay.run/1" and run["metrics"]["roc_auc"]["value"] > 0.9
        assert (out / f"{name}.html").read_text().lstrip().lower().startswith("<!doctype html")
    assert len(load_profile(out / "reference.profile").columns) == 30
    same = json.loads((out / "drift-test.json").read_text())
    shifted = json.loads((out / "drift-referred.json").read_text())
    assert same["schema"] == "assay.drift/1" and not same["drifted"]
    assert shifted["drifted"] and shifted["columns"]["mean_radius"]["drifted"]
    assert (out / "drift-referred.html").exists()
    series = json.loads((out / "watch-series.json").read_text())
    assert series["schema"] == "assay.series/1" and len(series["windows"]) == 6
    labeled = [w for w in series["windows"] if w["labeled"]]
    assert len(labeled) == 4 and all(w["metrics"]["accuracy"]["value"] > 0.85 for w in labeled)
    assert all(w["estimated"]["accuracy"]["ci_low"] < w["estimated"]["accuracy"]["value"]
               for w in series["windows"])
    assert sum(w["predictions"] for w in series["windows"]) == 24 * 120
    assert "watch: drift of the last 12 hours" in text

"""Gate decisions end to end: directions, floors, paired vs unpaired, simulations, monotonicity, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import assay
from assay.cli.main import main
from assay.errors import ConfigError, InputError
from assay.gate.decide import gate
from assay.gate.policy import parse_policy

ROOT = Path(__file__).parents[2]


def _paired_runs(tmp: Path, rng: np.random.Generator, n: int, p_base: float, p_only_base: float,
                 p_only_cand: float, tag: str = "") -> tuple[dict[str, Any], dict[str, Any], Path, Path]:
    """Two binary runs on the same n items; per item: both right, only baseline right, only candidate right."""
    y = rng.integers(0, 2, n)
    u = rng.random(n)
    base_right = u < p_base
    cand_right = base_right.copy()
    only_b = u < p_only_base  # a slice of the baseline-right items the candidate gets wrong
    cand_right[only_b] = False
    only_c = (u >= p_base) & (u < p_base + p_only_cand)
    cand_right[only_c] = True
    docs = []
    paths = []
    for name, right in (("cand", cand_right), ("base", base_right)):
        pred = np.where(right, y, 1 - y)
        score = np.clip(np.where(pred == 1, 0.7, 0.3) + rng.normal(0, 0.1, n), 0, 1)
        items = tmp / f"{name}{tag}.items.parquet"
        run = assay.evaluate({"id": np.arange(n), "y": y, "s": score, "p": pred}, task="binary", label="y",
                             score="s", prediction="p", id="id", items=str(items), model_name=name)
        path = tmp / f"{name}{tag}.json"
        run.write(path)
        docs.append(run.to_dict())
        paths.append(path)
    return docs[0], docs[1], paths[0], paths[1]


POLICY = parse_policy("checks:\n  - {metric: accuracy, max_drop: 0.02}\n")


def test_equal_models_are_not_failed(tmp_path: Path) -> None:
    """Paired, 15% disagreement, equal accuracy, 1,000 items: not failed at least 95% of the time."""
    rng = np.random.default_rng(2026)
    reps, failed = 60, 0
    for r in range(reps):
        c, b, cp, bp = _paired_runs(tmp_path, rng, 1000, 0.8, 0.075, 0.075, tag=str(r % 2))
        result = gate(c, POLICY, b, candidate_path=cp, baseline_path=bp)
        assert result.paired
        failed += result.decision == "fail"
    # the true false-fail rate is far below 5%; binomial margin for 60 draws at 5%: 3 sd ~ 0.084
    assert failed / reps <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)


def test_a_model_five_points_worse_fails(tmp_path: Path) -> None:
    """Paired, 15% disagreement, 5 points worse, 2,000 items: fails at least 90% of the time."""
    rng = np.random.default_rng(7)
    reps, failed = 60, 0
    for r in range(reps):
        c, b, cp, bp = _paired_runs(tmp_path, rng, 2000, 0.8, 0.10, 0.05, tag=str(r % 2))
        failed += gate(c, POLICY, b, candidate_path=cp, baseline_path=bp).decision == "fail"
    assert failed / reps >= 0.90 - 3 * np.sqrt(0.9 * 0.1 / reps)


def test_paired_is_sharper_than_unpaired(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    c, b, cp, bp = _paired_runs(tmp_path, rng, 1500, 0.8, 0.08, 0.03)
    paired = gate(c, POLICY, b, candidate_path=cp, baseline_path=bp).outcomes[0]
    c.pop("items")
    unpaired = gate(c, POLICY, b).outcomes[0]
    assert paired.method == "paired-tango" and unpaired.method == "unpaired-normal"
    assert (paired.ci_high - paired.ci_low) < (unpaired.ci_high - unpaired.ci_low)
    assert paired.p_value is not None


def _unpaired_doc(acc: float, n: int, **metrics: Any) -> dict[str, Any]:
    rng = np.random.default_rng(int(acc * 1000) + n)
    y = rng.integers(0, 2, n)
    right = rng.random(n) < acc
    pred = np.where(right, y, 1 - y)
    s = np.clip(np.where(pred == 1, 0.8, 0.2) + rng.normal(0, 0.05, n), 0, 1)
    return assay.evaluate({"y": y, "s": s, "p": pred, "seg": rng.choice(["a", "b"], n)}, task="binary", label="y",
                          score="s", prediction="p", segments=["seg"]).to_dict()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 60), st.integers(1, 30))
def test_decision_is_monotone(worse_by: int, step: int) -> None:
    """A strictly better candidate never fails where a worse one passed."""
    policy = parse_policy("checks:\n  - {metric: accuracy, max_drop: 0.02}\n  - {metric: accuracy, min: 0.7}\n")
    rank = {"fail": 0, "inconclusive": 1, "pass": 2}
    base = _unpaired_doc(0.8, 500)
    worse = _unpaired_doc(0.8 - worse_by / 1000, 500)
    worse["dataset"] = base["dataset"]  # unpaired docs standing for the same evaluation set
    better = json.loads(json.dumps(worse))
    e = better["metrics"]["accuracy"]
    e["value"] = min(e["value"] + step / 1000, 1.0)
    e["ci_low"] = min(e["ci_low"] + step / 1000, 1.0)
    e["ci_high"] = min(e["ci_high"] + step / 1000, 1.0)
    rw, rb = gate(worse, policy, base), gate(better, policy, base)
    for ow, ob in zip(rw.outcomes, rb.outcomes, strict=True):
        assert rank[ob.decision] >= rank[ow.decision]
    assert rank[rb.decision] >= rank[rw.decision]


def test_lower_is_better_reads_a_rise_as_a_drop() -> None:
    base = _unpaired_doc(0.8, 2000)
    cand = json.loads(json.dumps(base))
    for key in ("value", "ci_low", "ci_high"):
        cand["metrics"]["log_loss"][key] += 0.5
    cand["metrics"]["log_loss"]["se"] = base["metrics"]["log_loss"]["se"]
    result = gate(cand, parse_policy("checks:\n  - {metric: log_loss, max_drop: 0.05}\n"), base)
    assert result.decision == "fail" and result.exit_code == 1
    improved = json.loads(json.dumps(base))
    improved["metrics"]["log_loss"]["value"] -= 0.5
    assert gate(improved, parse_policy("checks:\n  - {metric: log_loss, max_drop: 0.05}\n"), base).decision == "pass"


def test_floors_ceilings_and_inconclusive_mapping() -> None:
    doc = _unpaired_doc(0.85, 3000)
    assert gate(doc, parse_policy("checks:\n  - {metric: accuracy, min: 0.5}\n")).decision == "pass"
    assert gate(doc, parse_policy("checks:\n  - {metric: accuracy, min: 0.95}\n")).decision == "fail"
    acc = doc["metrics"]["accuracy"]["value"]
    r = gate(doc, parse_policy(f"checks:\n  - {{metric: accuracy, min: {acc:.4f}}}\n"))
    assert r.decision == "inconclusive" and r.exit_code == 3
    r = gate(doc, parse_policy(f"inconclusive: pass\nchecks:\n  - {{metric: accuracy, min: {acc - 0.005:.4f}}}\n"))
    assert r.decision == "inconclusive" and r.exit_code == 0
    assert r.outcomes[0].items_needed and r.outcomes[0].items_needed > 3000


def test_undefined_metric_is_inconclusive_with_reason() -> None:
    doc = _unpaired_doc(0.8, 200)
    doc["metrics"]["mcc"] = {**doc["metrics"]["mcc"], "value": None, "ci_low": None, "ci_high": None,
                             "reason": "no row is predicted positive"}
    o = gate(doc, parse_policy("checks:\n  - {metric: mcc, min: 0.1}\n")).outcomes[0]
    assert o.decision == "inconclusive" and "no row is predicted positive" in o.why


def test_slice_checks_cover_every_group_and_holm_softens_fails() -> None:
    base = _unpaired_doc(0.8, 800)
    cand = _unpaired_doc(0.76, 800)
    cand["dataset"] = base["dataset"]
    r = gate(cand, parse_policy("checks:\n  - {metric: accuracy, slice: seg, max_drop: 0.0}\n"), base)
    assert sorted(o.group for o in r.outcomes) == ["a", "b"]
    many = "checks:\n" + "".join("  - {metric: accuracy, max_drop: 0.0}\n" for _ in range(40))
    plain = gate(cand, parse_policy(many), base)
    holm = gate(cand, parse_policy("correction: holm\n" + many), base)
    assert sum(o.decision == "fail" for o in holm.outcomes) <= sum(o.decision == "fail" for o in plain.outcomes)


def test_bad_inputs() -> None:
    doc = _unpaired_doc(0.8, 100)
    with pytest.raises(InputError, match="schema"):
        gate({"schema": "other/1"}, POLICY, doc)
    with pytest.raises(ConfigError, match="no_such_metric") as exc:
        gate(doc, parse_policy("checks:\n  - {metric: no_such_metric, min: 0.1}\n"))
    assert "accuracy" in str(exc.value)
    with pytest.raises(ConfigError, match="country"):
        gate(doc, parse_policy("checks:\n  - {metric: recall, slice: country, max_drop: 0.1}\n"), doc)
    with pytest.raises(ConfigError, match="baseline"):
        gate(doc, POLICY)
    other = _unpaired_doc(0.8, 101)
    with pytest.raises(InputError, match="fingerprints"):
        gate(doc, POLICY, other)


def test_cli_exit_codes_and_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    _, _, cp, bp = _paired_runs(tmp_path, rng, 2000, 0.8, 0.12, 0.02)
    policy = tmp_path / "policy.yaml"
    policy.write_text("checks:\n  - {metric: accuracy, max_drop: 0.02}\n  - {metric: roc_auc, max_drop: 0.5}\n")
    summary = tmp_path / "summary.md"
    summary.write_text("previous\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    md, xml, js = tmp_path / "g.md", tmp_path / "g.xml", tmp_path / "g.json"
    code = main(["gate", str(cp), "--baseline", str(bp), "--policy", str(policy), "--markdown", str(md),
                 "--junit", str(xml), "--json", str(js)])
    assert code == 1
    assert "fail" in md.read_text() and summary.read_text().startswith("previous\n")
    assert "assay gate" in summary.read_text()
    assert xml.read_text().count("<testcase") == 2 and "<failure" in xml.read_text()
    decisions = json.loads(js.read_text())
    assert decisions["decision"] == "fail" and decisions["paired"] is True
    same = main(["gate", str(bp), "--baseline", str(bp), "--policy", str(policy)])
    assert same == 0
    capsys.readouterr()
    bad = tmp_path / "bad.yaml"
    bad.write_text("checks:\n  - {metric: nope, max_drop: 0.02}\n")
    assert main(["gate", str(cp), "--baseline", str(bp), "--policy", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "line 2" in err and "Traceback" not in err
    notrun = tmp_path / "not-a-run.json"
    notrun.write_text('{"schema": "something/2"}')
    assert main(["gate", str(notrun), "--baseline", str(bp), "--policy", str(policy)]) == 2
    assert "assay.run/1" in capsys.readouterr().err


def test_github_actions_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The example workflow's assay steps, run for real on the demo's models."""
    from assay.cli.demo import build_table

    tables, _ = build_table(0)
    monkeypatch.chdir(tmp_path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"label": tables["boosted"]["is_benign"], **{k: v for k, v in tables["boosted"].items()
                                                                        if k != "is_benign"}}), "predictions.parquet")
    base = assay.evaluate(tables["logistic"], task="binary", label="is_benign", score="score", id="id",
                          segments=["tumour_size"], sensitive=["texture_band"], items="baseline.items.parquet")
    base.write("baseline.json")
    production = {"label": tables["logistic"]["is_benign"], **{k: v for k, v in tables["logistic"].items()
                                                              if k != "is_benign"}}
    assay.profile(production).save("reference.profile")
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "policy.yaml").write_text((ROOT / "examples" / "policy.yaml").read_text())
    workflow = yaml.safe_load((ROOT / "examples" / "github-actions.yml").read_text())
    steps = [s["run"] for s in workflow["jobs"]["gate"]["steps"] if "run" in s and "assay " in s["run"]
             and "pip install" not in s["run"]]
    assert len(steps) == 3
    codes = []
    for step in steps:
        argv = step.replace("${{ github.sha }}", "abc123").split()
        assert argv[0] == "assay"
        codes.append(main(argv[1:]))
    assert codes[0] == 0 and codes[1] in (0, 1, 3) and codes[2] == 0
    for out in ("candidate.json", "report.html", "gate.md", "gate.xml", "drift.md", "drift.xml", "drift.html"):
        assert (tmp_path / out).exists()


def test_gate_against_the_promoted_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """assay runs add + promote, then assay gate --baseline @promoted; without a promoted run: exit 2."""
    rng = np.random.default_rng(5)
    _, b, cp, bp = _paired_runs(tmp_path, rng, 800, 0.8, 0.02, 0.02)
    home = tmp_path / "store"
    policy = tmp_path / "policy.yaml"
    policy.write_text("checks:\n  - {metric: accuracy, max_drop: 0.2}\n")
    assert main(["gate", str(cp), "--baseline", "@promoted", "--policy", str(policy), "--home", str(home)]) == 2
    assert "no promoted run yet" in capsys.readouterr().err
    assert main(["runs", "add", str(bp), "--home", str(home)]) == 0
    assert main(["runs", "promote", b["run_id"], "--home", str(home)]) == 0
    capsys.readouterr()
    code = main(["gate", str(cp), "--baseline", "@promoted", "--policy", str(policy), "--home", str(home),
                 "--json", str(tmp_path / "g.json")])
    assert code == 0
    decisions = json.loads((tmp_path / "g.json").read_text())
    assert decisions["baseline"]["run_id"] == b["run_id"]

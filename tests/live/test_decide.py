"""Decision rules, the config of comparisons, and the metrics read from window states (against scikit-learn)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, precision_score, recall_score

from assay.errors import ConfigError
from assay.live.compare import LiveComparisons, UnknownComparison, rollback_payload
from assay.live.config import Comparison, comparisons
from assay.live.decide import decide, metric_decision
from assay.stats.sequential import Arm
from assay.watch.config import parse_config
from assay.watch.monitor import Monitor

T0 = 1_800_000_000
MODELS = """models:
  fraud: {task: binary, score: s, label: y, latency: latency_s, outcomes: [revenue], text: [response]}
"""


def _cmp(**kw: object) -> Comparison:
    base = {"name": "c", "model": "fraud", "mode": "canary", "control": {"version": "7"},
            "candidate": {"version": "8"}, "metrics": [{"metric": "accuracy", "margin": 0.02}], "min_outcomes": 100}
    return Comparison.model_validate({**base, **kw})


def _spec(**kw: object) -> object:
    return _cmp(metrics=[{"metric": "accuracy", **kw}]).metrics[0]


def test_rollback_when_worse_whatever_the_margin_promote_within_it_hold_otherwise() -> None:
    spec = _spec(margin=0.02)
    kw = {"alpha": 0.05, "t_star": 5000, "min_outcomes": 2000}
    worse = metric_decision(spec, True, Arm.proportion(9000, 10_000), Arm.proportion(8850, 10_000), **kw)
    assert worse["decision"] == "rollback" and "worse" in worse["reason"]  # 1.5 points: inside the margin
    same = metric_decision(spec, True, Arm.proportion(9000, 10_000), Arm.proportion(9010, 10_000), **kw)
    assert same["decision"] == "promote"
    early = metric_decision(spec, True, Arm.proportion(900, 1000), Arm.proportion(905, 1000), **kw)
    assert early["decision"] == "hold"
    tiny = metric_decision(spec, True, Arm.proportion(5, 5), Arm.proportion(0, 5), **kw)
    assert tiny["decision"] == "hold" and "too few" in tiny["reason"]
    # lower is better: a higher latency rolls back
    lat = metric_decision(_spec(margin=0.01), False, Arm.sums(5000, 500.0, 60.0), Arm.sums(5000, 700.0, 110.0),
                          **kw)
    assert lat["decision"] == "rollback" and lat["difference"] == pytest.approx(0.04)


def test_relative_margins_test_the_scaled_control() -> None:
    kw = {"alpha": 0.05, "t_star": 5000, "min_outcomes": 100}
    spec = _cmp(metrics=[{"metric": "latency_mean", "margin_relative": 0.10}]).metrics[0]
    # lower is better: a candidate as fast (within noise) clears the 10% margin; 30% slower rolls back; one that
    # is noisy enough to reach past (1 + r) * control holds
    c = Arm(5000, 0.100, 0.0004)
    assert metric_decision(spec, False, c, Arm(5000, 0.1002, 0.0004), **kw)["decision"] == "promote"
    assert metric_decision(spec, False, c, Arm(5000, 0.130, 0.0004), **kw)["decision"] == "rollback"
    assert metric_decision(spec, False, c, Arm(5000, 0.1002, 0.5), **kw)["decision"] == "hold"
    e = metric_decision(spec, False, c, Arm(5000, 0.1002, 0.0004), **kw)
    assert e["margin"] == pytest.approx(0.01) and e["margin_relative"] == 0.10


def test_the_comparison_rolls_back_on_a_critical_metric_or_a_low_score_and_promotes_when_all_critical_do() -> None:
    c = _cmp(metrics=[{"metric": "accuracy", "margin": 0.02},
                      {"metric": "latency_mean", "margin": 0.01},
                      {"metric": "response_refusal_rate", "margin": 0.01, "critical": False, "weight": 0.1}])
    good = Arm.proportion(9000, 10_000)
    fast = Arm(10_000, 0.1, 0.0004)
    refuse_ok, refuse_bad = Arm.proportion(100, 10_000), Arm.proportion(400, 10_000)
    hib = {"accuracy": True, "latency_mean": False, "response_refusal_rate": False}
    out = decide(c, {"accuracy": (good, good), "latency_mean": (fast, fast),
                     "response_refusal_rate": (refuse_ok, refuse_ok)}, hib)
    assert out["decision"] == "promote" and out["score"] == 100 and out["alpha_per_metric"] == pytest.approx(0.05 / 3)
    # the advisory metric rolls back: only the score drops (weight 0.1 of 2.1 -> 95.2, above pass 95)
    out = decide(c, {"accuracy": (good, good), "latency_mean": (fast, fast),
                     "response_refusal_rate": (refuse_ok, refuse_bad)}, hib)
    assert out["decision"] == "promote" and out["score"] == pytest.approx(100 * 2 / 2.1, abs=0.01)
    bad = Arm.proportion(8500, 10_000)
    out = decide(c, {"accuracy": (good, bad), "latency_mean": (fast, fast),
                     "response_refusal_rate": (refuse_ok, refuse_ok)}, hib)
    assert out["decision"] == "rollback" and "accuracy" in out["reason"]
    # no data at all: hold, never an error, never a pass
    empty = Arm(0.0, math.nan, math.nan)
    out = decide(c, {k: (empty, empty) for k in hib}, hib)
    assert out["decision"] == "hold"


@pytest.mark.parametrize(("entry", "message"), [
    ("{name: c, model: nope, mode: canary, control: {version: '1'}, candidate: {version: '2'}, "
     "metrics: [{metric: accuracy, margin: 0.02}]}", "expected a model of `models:`"),
    ("{name: c, model: fraud, mode: canary, control: {version: '1'}, candidate: {version: '2'}, "
     "metrics: [{metric: rmse, margin: 0.02}]}", "expected a metric model 'fraud' can compare"),
    ("{name: c, model: fraud, mode: canary, control: {version: '1'}, candidate: {version: '2'}, "
     "metrics: [{metric: accuracy, margin: -0.02}]}", "a number >= 0"),
    ("{name: c, model: fraud, mode: canary, control: {version: '1'}, candidate: {version: '1'}, "
     "metrics: [{metric: accuracy, margin: 0.02}]}", "the same version"),
    ("{name: c, model: fraud, mode: canary, control: {version: '1'}, candidate: {version: '2'}, "
     "metrics: [{metric: accuracy, margin: 0.02, margin_relative: 0.1}]}", "exactly one of"),
    ("{name: c, model: fraud, mode: canary, control: {version: '1'}, candidate: {version: '2'}, "
     "metrics: [{metric: latency_above, margin: 0.02}]}", "needs `seconds:`"),
    ("{name: c, model: fraud, mode: canary, control: {version: '1'}, candidate: {version: '2'}, "
     "metrics: [{metric: score_mean, margin: 0.02}]}", "higher_is_better"),
    ("{name: c, model: fraud, mode: canary, control: {version: '1'}, candidate: {version: '2'}, "
     "metrics: [{metric: response_refusal_rate, margin_relative: 0.1}]}", "rates compare by an absolute"),
    ("{name: c, model: fraud, mode: canary, control: {version: '1'}, candidate: {version: '2'}, "
     "metrics: [{metric: accuracy, margin: 0.02}], colour: red}", "an unknown key"),
])
def test_bad_comparisons_are_config_errors_naming_the_line(entry: str, message: str) -> None:
    cfg = parse_config(f"store: sqlite:///x.sqlite\n{MODELS}comparisons:\n  - {entry}\n")
    with pytest.raises(ConfigError, match=r"watch\.yaml, line 5") as err:
        comparisons(cfg)
    assert message in str(err.value)


def _monitor(tmp_path: Path, extra: str = "", alerting: str = "", mode: str = "canary") -> Monitor:
    text = (f"store: sqlite:///{tmp_path / 'w.sqlite'}\nwindow: 5m\nretention: {{events: 3650d, windows: 3650d}}\n"
            f"{MODELS}{alerting}comparisons:\n  - {{name: c, model: fraud, mode: {mode}, control: {{version: '7'}}, "
            "candidate: {version: '8'}, min_outcomes: 500, metrics: [{metric: accuracy, margin: 0.02}, "
            "{metric: precision, margin: 0.05}, {metric: recall, margin: 0.05}, "
            "{metric: latency_above, seconds: 0.2, margin: 0.05}, {metric: outcome_revenue_mean, margin: 1.0}]"
            f"{extra}}}\n")
    return Monitor(parse_config(text), now=lambda: T0 + 10 * 86400)


def _fill(mon: Monitor, version: str, n: int, acc: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < acc, y, 1 - y)
    s = np.where(pred == 1, 0.75, 0.25)
    lat = rng.gamma(2.0, 0.06, n).round(4)
    revenue = rng.exponential(10.0, n).round(2)
    mon.ingest_predictions("fraud", [{"id": f"{version}-{i}", "timestamp": T0 + i * 7, "version": version,
                                      "s": float(s[i]), "latency_s": float(lat[i]), "response": "ok"}
                                     for i in range(n)])
    mon.ingest_labels("fraud", [{"id": f"{version}-{i}", "y": int(y[i]), "revenue": float(revenue[i])}
                                for i in range(n)])
    return {"y": y, "pred": pred, "lat": lat, "revenue": revenue}


def test_arm_metrics_equal_scikit_learn_and_numpy_on_the_same_rows(tmp_path: Path) -> None:
    mon = _monitor(tmp_path)
    control = _fill(mon, "7", 1500, 0.9, 1)
    candidate = _fill(mon, "8", 1200, 0.85, 2)
    mon.materialize()
    doc = LiveComparisons(mon).evaluate("c")
    by = {m["metric"]: m for m in doc["metrics"]}
    for arm, d in (("control", control), ("candidate", candidate)):
        assert by["accuracy"][arm]["value"] == pytest.approx(accuracy_score(d["y"], d["pred"]))
        assert by["precision"][arm]["value"] == pytest.approx(precision_score(d["y"], d["pred"]))
        assert by["recall"][arm]["value"] == pytest.approx(recall_score(d["y"], d["pred"]))
        assert by["recall"][arm]["n"] == int(d["y"].sum())
        assert by["outcome_revenue_mean"][arm]["value"] == pytest.approx(d["revenue"].mean())
        # the sketch's buckets: within its relative accuracy (1%) of the bound
        lo, hi = (d["lat"] > 0.2 * 1.01).mean(), (d["lat"] > 0.2 / 1.01).mean()
        assert lo - 1e-12 <= by["latency_above_0.2s"][arm]["value"] <= hi + 1e-12
    assert doc["control"]["predictions"] == 1500 and doc["candidate"]["labeled"] == 1200
    assert by["accuracy"]["ci_low"] < by["accuracy"]["difference"] < by["accuracy"]["ci_high"]


def test_the_first_verdict_stands_until_reset_and_the_webhook_is_called_once(tmp_path: Path) -> None:
    mon = _monitor(tmp_path, ", on_rollback: {webhook: 'http://127.0.0.1:9/abort'}")
    calls: list[dict[str, object]] = []
    live = LiveComparisons(mon, notify=lambda c, doc: calls.append(rollback_payload(c, doc)))
    assert live.decision("c")["decision"] == "hold"  # nothing yet: hold, with warnings
    assert any("no predictions yet" in w for w in live.decision("c")["warnings"])
    _fill(mon, "7", 3000, 0.92, 3)
    _fill(mon, "8", 3000, 0.70, 4)
    mon.materialize()
    first = live.decision("c")
    assert first["decision"] == "rollback" and first["verdict"]["decision"] == "rollback"
    for _ in range(3):
        assert live.decision("c")["decision"] == "rollback"
    assert len(calls) == 1
    alert = calls[0]["alerts"][0]  # type: ignore[index]
    assert calls[0]["version"] == "4" and alert["labels"]["severity"] == "page"
    assert alert["labels"]["version"] == "8"
    events = [e["event"] for e in live.history("c")["entries"]]
    assert events.count("verdict") == 1
    assert live.reset("c")["reset"] is True
    assert live.history("c")["entries"][0]["event"] == "reset"
    again = live.decision("c")  # decided afresh from the same outcomes: rolled back again, notified again
    assert again["decision"] == "rollback" and len(calls) == 2
    with pytest.raises(UnknownComparison, match="expected one of the config's comparisons"):
        live.decision("nope")


def test_a_rollback_pages_the_alert_receivers_once(tmp_path: Path, webhook: tuple[str, list[Any]]) -> None:
    url, got = webhook
    mon = _monitor(tmp_path, alerting=(
        f"alerting:\n  receivers: [{{name: oncall, webhook: '{url}'}}]\n"
        "  routes: [{severity: page, receivers: [oncall]}]\n"))
    live = LiveComparisons(mon, notify=lambda c, doc: None)
    _fill(mon, "7", 3000, 0.92, 3)
    _fill(mon, "8", 3000, 0.70, 4)
    mon.materialize()
    for _ in range(3):
        assert live.decision("c")["decision"] == "rollback"
    live._notifier.drain()
    assert len(got) == 1
    alert = got[0]["alerts"][0]  # type: ignore[index]
    assert alert["labels"] == {"alertname": "AssayComparisonRollback", "model": "fraud", "version": "8",
                               "comparison": "c", "severity": "page"}
    assert "accuracy" in alert["annotations"]["description"]


def test_an_ab_test_reports_every_metric_of_the_arms_business_kpis_included(tmp_path: Path) -> None:
    mon = _monitor(tmp_path, mode="ab")
    _fill(mon, "7", 1500, 0.9, 5)
    _fill(mon, "8", 1500, 0.9, 6)
    mon.materialize()
    doc = LiveComparisons(mon).evaluate("c")
    report = {r["metric"]: r for r in doc["report"]}
    assert {"accuracy", "precision", "recall", "log_loss", "brier", "latency_mean", "outcome_revenue_mean",
            "response_length_mean"} <= set(report)
    r = report["outcome_revenue_mean"]
    assert r["ci_low"] < r["difference"] < r["ci_high"] and r["control"]["n"] == 1500

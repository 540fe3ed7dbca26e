"""`assay dashboards grafana`: valid JSON for current Grafana, checked structurally (uids, schemaVersion, gridPos
without overlaps, templated model and version, the provisioned data source, and only metrics /metrics exposes)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from assay.cli.main import main
from assay.service import exposition

CONFIG = """store: sqlite:///{store}
models:
  fraud: {{task: binary, score: s, label: y, latency: latency_s}}
  chat: {{task: llm, text: [response]}}
slos:
  - {{name: fraud-latency, model: fraud, sli: {{event: latency_below, seconds: 0.3}}, objective: 0.99}}
  - {{name: chat-refusals, model: chat, sli: {{event: not_refusal, column: response}}, objective: 0.98, period: 7d}}
"""
EXPOSED = set(re.findall(r"``(assay_[a-z_]+)``", exposition.__doc__ or "")) | {"assay_slo_good_events_total"}


def _metrics_of(expr: str) -> set[str]:
    return {m.removesuffix("_bucket") for m in re.findall(r"\b(assay_[a-z_]+)", expr)}


def test_three_dashboards_per_model_and_provisioning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "watch.yaml"
    cfg.write_text(CONFIG.format(store=tmp_path / "w.sqlite"))
    out = tmp_path / "grafana"
    assert main(["dashboards", "grafana", "--config", str(cfg), "--out", str(out),
                 "--prometheus-url", "http://prom:9090"]) == 0
    assert "8 files" in capsys.readouterr().out
    files = sorted((out / "dashboards").glob("*.json"))
    docs = [json.loads(f.read_text()) for f in files]
    assert sorted(d["uid"] for d in docs) == sorted(f"assay-{m}-{v}" for m in ("fraud", "chat")
                                                    for v in ("executive", "on-call", "debug"))
    ds = yaml.safe_load((out / "provisioning" / "datasources" / "assay.yaml").read_text())
    uid = ds["datasources"][0]["uid"]
    assert ds["datasources"][0]["url"] == "http://prom:9090" and ds["datasources"][0]["type"] == "prometheus"
    prov = yaml.safe_load((out / "provisioning" / "dashboards" / "assay.yaml").read_text())
    assert Path(prov["providers"][0]["options"]["path"]) == (out / "dashboards").resolve()
    for d in docs:
        assert d["schemaVersion"] >= 39 and d["title"].startswith("assay · ")
        names = [v["name"] for v in d["templating"]["list"]]
        assert names == ["model", "version"]
        cells: set[tuple[int, int]] = set()
        ids = [p["id"] for p in d["panels"]]
        assert len(set(ids)) == len(ids)
        for p in d["panels"]:
            g = p["gridPos"]
            assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] >= 1
            mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            assert not mine & cells, f"panel {p.get('title')} overlaps another in {d['uid']}"
            cells |= mine
            if p["type"] == "row":
                continue
            assert p["datasource"]["uid"] == uid and p["targets"]
            for t in p["targets"]:
                assert _metrics_of(t["expr"]) <= EXPOSED, (d["uid"], t["expr"])
    # the on-call view of a model has one error-ratio panel per event SLO of that model
    oncall = next(d for d in docs if d["uid"] == "assay-chat-on-call")
    assert any("chat-refusals" in p.get("title", "") for p in oncall["panels"])
    assert not any("fraud-latency" in p.get("title", "") for p in oncall["panels"])
    # the same config writes the same files (stable uids and ids: provisioning replaces, never duplicates)
    before = {f.name: f.read_text() for f in files}
    assert main(["dashboards", "grafana", "--config", str(cfg), "--out", str(out),
                 "--prometheus-url", "http://prom:9090"]) == 0
    assert {f.name: f.read_text() for f in sorted((out / "dashboards").glob("*.json"))} == before

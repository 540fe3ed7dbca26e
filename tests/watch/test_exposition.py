"""``/metrics`` of a real `assay serve`: Prometheus' text format that `promtool check metrics` accepts, the store's
numbers (the same for every worker), the request histogram, and its scopes."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.watch.conftest import Server, make_token

PROMTOOL = shutil.which("promtool")


def _families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_metrics_pass_promtool_and_hold_the_store_numbers(serve: Callable[..., Server], tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store, "slos:\n  - {name: fraud-latency, model: fraud, sli: {event: latency_below, seconds: 0.3},"
                   " objective: 0.99, period: 30d}\n")
    token = make_token(server.config, store, "ci", "ingest", "read")
    scraper = make_token(server.config, store, "prom", "metrics")
    writer = make_token(server.config, store, "w", "ingest")
    h = {"Authorization": f"Bearer {token}"}
    rng = np.random.default_rng(0)
    now = time.time()
    n = 300
    y = rng.integers(0, 2, n)
    events = [{"id": f"e{i}", "timestamp": now - 1200 + i, "latency_s": 0.05, "amount": 1.0, "country": "DE",
               # v1 always right, v2 always wrong: each version's series holds its own numbers
               "score": float(0.8 if y[i] == (i % 3 != 0) else 0.2), "version": "v2" if i % 3 == 0 else "v1"}
              for i in range(n)]
    assert httpx.post(f"{server.url}/v1/models/fraud/predictions", json={"events": events}, headers=h,
                      timeout=30).status_code == 200
    assert httpx.post(f"{server.url}/v1/models/fraud/labels", json={"events": [
        {"id": f"e{i}", "is_fraud": int(y[i])} for i in range(n)]}, headers=h, timeout=30).status_code == 200
    assert httpx.get(f"{server.url}/metrics", timeout=30).status_code == 401
    assert httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {writer}"},
                     timeout=30).status_code == 403
    deadline = time.monotonic() + 30
    fams: dict[str, list[tuple[dict[str, str], float]]] = {}
    while time.monotonic() < deadline:
        r = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {scraper}"}, timeout=30)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        fams = _families(r.text)
        if fams.get("assay_labels_total") and fams["assay_labels_total"][0][1] == n:
            break
        time.sleep(1.0)  # the rendering is cached for a few seconds
    assert fams["assay_predictions_total"] == [({"model": "fraud"}, float(n))]
    assert fams["assay_labels_total"] == [({"model": "fraud"}, float(n))]
    # the per-model gauges have one series per version (the Grafana dashboards' version variable lists them)
    realized = {(lab["version"], lab["metric"]): v for lab, v in fams["assay_model_metric"]
                if lab["kind"] == "realized"}
    assert {v for v, _ in realized} == {"v1", "v2"}
    assert realized["v1", "accuracy"] == pytest.approx(1.0) and realized["v2", "accuracy"] == pytest.approx(0.0)
    assert ("v2", "roc_auc") in realized
    assert sorted(fams["assay_label_coverage_ratio"], key=str) == [({"model": "fraud", "version": "v1"}, 1.0),
                                                                   ({"model": "fraud", "version": "v2"}, 1.0)]
    slo = {"slo": "fraud-latency", "model": "fraud", "version": ""}  # the SLO names no version: all of them
    assert fams["assay_slo_sli_ratio"] == [(slo, 1.0)]
    assert fams["assay_slo_events_total"] == [(slo, float(n))]
    assert fams["assay_slo_good_events_total"] == [(slo, float(n))]
    # every alert window with events (the last 5 minutes have none: no data is no sample, never a 0)
    assert {lab["window"] for lab, _ in fams["assay_slo_burn_rate"]} == {"1h", "6h", "30m", "1d", "2h", "3d"}
    assert any(lab.get("route") == "/v1/models/{model}/predictions"
               for lab, _ in fams.get("assay_http_request_duration_seconds_count", []))
    assert fams["assay_materialization_lag_events"]
    # the read scope may scrape too
    assert httpx.get(f"{server.url}/metrics", headers=h, timeout=30).status_code == 200
    if PROMTOOL is None:
        pytest.fail("promtool is not on PATH: scripts/install-debian.sh prometheus:promtool installs it")
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=r.text, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr

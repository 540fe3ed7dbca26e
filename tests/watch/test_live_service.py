"""Live comparisons on a real `assay serve`: the decision route for Argo Rollouts, Flagger's webhooks with the token
in the body, the audit log, reset, the rollback webhook once, and the CLI over them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import numpy as np
import pytest

from tests.watch.conftest import ASSAY, BINARY_CONFIG, Server, make_token

T0 = 1_800_000_000


def _comparison(url: str) -> str:
    return ("comparisons:\n"
            "  - {name: fraud-canary, model: fraud, mode: canary, control: {version: '7'}, candidate: {version: '8'},\n"
            "     metrics: [{metric: accuracy, margin: 0.02}, {metric: latency_mean, margin_relative: 0.2}],\n"
            f"     min_outcomes: 300, on_rollback: {{webhook: '{url}'}}}}\n")


def _send(server: Server, token: str, version: str, n: int, acc: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < acc, y, 1 - y)
    events = [{"id": f"{version}-{i}", "timestamp": T0 + i, "version": version,
               "score": 0.8 if pred[i] else 0.2, "latency_s": 0.05, "amount": 1.0, "country": "DE"}
              for i in range(n)]
    h = {"Authorization": f"Bearer {token}"}
    assert httpx.post(f"{server.url}/v1/models/fraud/predictions", json={"events": events}, headers=h,
                      timeout=30).status_code == 200
    labels = [{"id": f"{version}-{i}", "is_fraud": int(y[i])} for i in range(n)]
    assert httpx.post(f"{server.url}/v1/models/fraud/labels", json={"events": labels}, headers=h,
                      timeout=30).status_code == 200


def _wait_labeled(server: Server, token: str, want: int) -> None:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        doc = httpx.get(f"{server.url}/v1/comparisons/fraud-canary/decision",
                        headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        if doc["control"]["labeled"] + doc["candidate"]["labeled"] >= want:
            return
        time.sleep(0.2)
    raise AssertionError("the materializer did not catch up in 30 s")


def test_decision_flagger_history_reset_and_the_rollback_hook(serve: Callable[..., Server], tmp_path: Path,
                                                             webhook: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = webhook
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store, _comparison(url))
    token = make_token(server.config, store, "ci", "ingest", "read")
    admin = make_token(server.config, store, "ops", "admin")
    h = {"Authorization": f"Bearer {token}"}
    base = f"{server.url}/v1/comparisons/fraud-canary"
    # before any traffic: 200, a hold, JSON for Argo; Flagger's check passes (keep gathering), promote is refused
    first = httpx.get(f"{base}/decision", headers=h, timeout=30)
    assert first.status_code == 200 and first.json()["decision"] == "hold"
    assert first.json()["metrics"][0]["reason"].startswith("too few outcomes")
    flagger = {"name": "fraud", "namespace": "default", "phase": "Progressing", "metadata": {"token": token}}
    assert httpx.post(f"{base}/flagger/check", json=flagger, timeout=30).status_code == 200
    assert httpx.post(f"{base}/flagger/promote", json=flagger, timeout=30).status_code == 403
    assert httpx.post(f"{base}/flagger/rollback", json=flagger, timeout=30).status_code == 403
    assert httpx.post(f"{base}/flagger/check", json={"metadata": {}}, timeout=30).status_code == 401
    assert httpx.get(f"{server.url}/v1/comparisons/nope/decision", headers=h, timeout=30).status_code == 404
    listed = httpx.get(f"{server.url}/v1/comparisons", headers=h, timeout=30).json()["comparisons"]
    assert [(c["name"], c["current"]) for c in listed] == [("fraud-canary", "hold")]
    # a candidate 25 points worse: rolled back, the hook called once however often it is polled
    _send(server, token, "7", 1500, 0.92, 1)
    _send(server, token, "8", 1500, 0.67, 2)
    _wait_labeled(server, token, 3000)
    for _ in range(4):
        doc = httpx.get(f"{base}/decision", headers=h, timeout=30).json()
    assert doc["decision"] == "rollback" and doc["verdict"]["decision"] == "rollback"
    schema = json.loads((Path(__file__).parents[2] / "schemas" / "assay.decision-1.schema.json").read_text())
    jsonschema.validate(doc, schema)
    jsonschema.validate(first.json(), schema)
    by = {m["metric"]: m for m in doc["metrics"]}
    assert by["accuracy"]["decision"] == "rollback" and by["accuracy"]["ci_high"] < 0
    assert set(by["accuracy"]) >= {"metric", "control", "candidate", "difference", "ci_low", "ci_high", "margin",
                                   "decision", "reason"}
    assert httpx.post(f"{base}/flagger/check", json=flagger, timeout=30).status_code == 409
    assert httpx.post(f"{base}/flagger/rollback", json=flagger, timeout=30).status_code == 200
    import time

    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    assert len(received) == 1
    assert received[0]["alerts"][0]["labels"]["alertname"] == "AssayComparisonRollback"
    assert received[0]["decision"]["decision"] == "rollback"
    history = httpx.get(f"{base}/history", headers=h, timeout=30).json()["entries"]
    assert [e["event"] for e in history].count("verdict") == 1
    # reset needs the admin scope
    assert httpx.post(f"{base}/reset", headers=h, timeout=30).status_code == 403
    r = httpx.post(f"{base}/reset", headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    assert r.status_code == 200 and r.json()["reset"] is True
    # the CLI over the same routes
    out = subprocess.run([ASSAY, "compare", "status", "fraud-canary", "--url", server.url, "--token", token],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "rollback" in out.stdout and "accuracy" in out.stdout
    js = subprocess.run([ASSAY, "compare", "status", "fraud-canary", "--url", server.url, "--token", token, "--json"],
                        capture_output=True, text=True, timeout=60)
    assert json.loads(js.stdout)["schema"] == "assay.decision/1"
    bad = subprocess.run([ASSAY, "compare", "status", "nope", "--url", server.url, "--token", token],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "404" in bad.stderr and "Traceback" not in bad.stderr


def test_serve_refuses_a_bad_comparison_before_it_listens(tmp_path: Path) -> None:
    cfg = tmp_path / "watch.yaml"
    store = f"sqlite:///{tmp_path / 'w.sqlite'}"
    cfg.write_text(BINARY_CONFIG.format(store=store, extra=(
        "comparisons:\n  - {name: c, model: fraud, mode: canary, control: {version: '7'}, candidate: {version: '7'},"
        " metrics: [{metric: accuracy, margin: 0.02}]}\n")))
    r = subprocess.run([ASSAY, "serve", "--config", str(cfg), "--port", "1"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "line 13" in r.stderr and "the same version" in r.stderr
    assert not (tmp_path / "w.sqlite").exists()


def test_slos_on_the_service_and_the_cli(serve: Callable[..., Server], tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store, "slos:\n  - {name: fraud-latency, model: fraud, sli: {event: latency_below, seconds: 0.3},"
                   " objective: 0.99, period: 30d, min_events: 10}\n")
    token = make_token(server.config, store, "ci", "ingest", "read")
    h = {"Authorization": f"Bearer {token}"}
    import time

    now = time.time()
    events = [{"id": f"e{i}", "timestamp": now - 600 + i, "score": 0.5, "latency_s": 2.0 if i % 2 else 0.05,
               "amount": 1.0, "country": "DE"} for i in range(200)]
    assert httpx.post(f"{server.url}/v1/models/fraud/predictions", json={"events": events}, headers=h,
                      timeout=30).status_code == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        doc = httpx.get(f"{server.url}/v1/slos/fraud-latency", headers=h, timeout=30).json()
        if doc["total"] == 200:
            break
        time.sleep(0.2)
    assert doc["schema"] == "assay.slo/1" and doc["sli_value"] == pytest.approx(0.5)
    assert doc["status"] == "firing" and any(a["firing"] and a["severity"] == "page" for a in doc["alerts"])
    assert doc["series"] and sum(p["total"] for p in doc["series"]) == 200
    listed = httpx.get(f"{server.url}/v1/slos", headers=h, timeout=30).json()
    assert [s["name"] for s in listed["slos"]] == ["fraud-latency"]
    assert httpx.get(f"{server.url}/v1/slos/nope", headers=h, timeout=30).status_code == 404
    assert httpx.get(f"{server.url}/v1/slos", timeout=30).status_code == 401
    r = subprocess.run([ASSAY, "slo", "status", "--config", str(server.config), "--store", store],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "fraud-latency" in r.stdout and "page" in r.stdout, r.stderr


def test_alerts_and_silences_on_the_service_and_the_cli(serve: Callable[..., Server], tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store, "slos:\n  - {name: fraud-latency, model: fraud, sli: {event: latency_below, seconds: 0.3},"
                   " objective: 0.99, period: 30d, min_events: 10}\nalerting: {evaluation_interval: 1s}\n")
    token = make_token(server.config, store, "ci", "ingest", "read")
    admin = make_token(server.config, store, "ops", "admin")
    h = {"Authorization": f"Bearer {token}"}
    import time

    now = time.time()
    events = [{"id": f"e{i}", "timestamp": now - 200 + i, "score": 0.5, "latency_s": 2.0, "amount": 1.0,
               "country": "DE"} for i in range(150)]
    assert httpx.post(f"{server.url}/v1/models/fraud/predictions", json={"events": events}, headers=h,
                      timeout=30).status_code == 200
    deadline = time.monotonic() + 30
    listed: list[Any] = []
    while time.monotonic() < deadline:
        listed = httpx.get(f"{server.url}/v1/alerts", headers=h, timeout=30).json()["alerts"]
        if any(a["labels"]["severity"] == "page" for a in listed):
            break
        time.sleep(0.3)
    page = next(a for a in listed if a["labels"]["severity"] == "page")
    assert page["state"] == "firing" and page["labels"]["slo"] == "fraud-latency" and not page["silenced"]
    # silences: admin only; a malformed matcher is a 400 (and exit 2 in the CLI) naming it
    bad = httpx.post(f"{server.url}/v1/silences", headers={"Authorization": f"Bearer {admin}"}, timeout=30,
                     json={"matchers": ["model"], "comment": "x"})
    assert bad.status_code == 400 and "matcher 'model'" in bad.json()["detail"]["message"]
    assert httpx.post(f"{server.url}/v1/silences", headers=h, timeout=30,
                      json={"matchers": ["model=fraud"], "comment": "x"}).status_code == 403
    garbled = httpx.post(f"{server.url}/v1/silences", content=b"59\xe9vp", timeout=30,
                         headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"})
    assert garbled.status_code == 400 and "expected JSON in UTF-8" in garbled.json()["detail"]["message"]
    common = ["--url", server.url, "--token", admin]
    r = subprocess.run([ASSAY, "alerts", "silence", "--matcher", "model=fraud", "--for", "2h", "--comment",
                        "retraining", *common], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    sid = r.stdout.split()[1].rstrip(":")
    r = subprocess.run([ASSAY, "alerts", "silence", "--matcher", "model", "--comment", "x", *common],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "label=value" in r.stderr
    listed = httpx.get(f"{server.url}/v1/alerts", headers=h, timeout=30).json()["alerts"]
    assert all(a["silenced"] for a in listed if a["state"] == "firing")
    r = subprocess.run([ASSAY, "alerts", "list", "--url", server.url, "--token", token], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "AssaySLOBurnPage" in r.stdout and "yes" in r.stdout
    assert subprocess.run([ASSAY, "alerts", "unsilence", sid, *common], capture_output=True, text=True,
                          timeout=60).returncode == 0
    assert httpx.delete(f"{server.url}/v1/silences/{sid}", headers={"Authorization": f"Bearer {admin}"},
                        timeout=30).status_code == 404  # expired already

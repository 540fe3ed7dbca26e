"""`assay watch simulate` against a real `assay serve`: nothing fires before the injections; the accuracy drop pages
(the label-based SLO), the covariate shift, a missing-rate jump and longer LLM responses raise drift tickets."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa

from tests.watch.conftest import ASSAY, Server, make_token

CONFIG = """store: {store}
window: 5m
models:
  fraud:
    task: binary
    score: score
    label: is_fraud
    features: [amount]
    reference: {{profile: ref.profile}}
slos:
  - {{name: fraud-correct, model: fraud, sli: {{event: correct}}, objective: 0.95, min_events: 50}}
alerting:
  evaluation_interval: 1s
  drift: {{range: 8s, consecutive: 3}}
"""


def test_simulate_injections_fire_their_alerts_and_nothing_before(serve: Callable[..., Server],
                                                                  tmp_path: Path) -> None:
    import assay

    rng = np.random.default_rng(0)
    assay.profile(pa.table({"amount": rng.normal(50, 10, 5000)})).save(tmp_path / "ref.profile")
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store, config_text=CONFIG.format(store=store))
    token = make_token(server.config, store, "sim", "ingest", "read")
    started = time.time()
    r = subprocess.run([ASSAY, "watch", "simulate", "--config", str(server.config), "--model", "fraud", "--url",
                        server.url, "--token", token, "--rate", "200", "--duration", "40s", "--inject",
                        "accuracy@14s,shift@14s"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "injecting accuracy" in r.stderr and "sent" in r.stdout
    injected = started + 14
    h = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 40
    alerts: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        alerts = httpx.get(f"{server.url}/v1/alerts", headers=h, timeout=30).json()["alerts"]
        names = {(a["labels"]["alertname"], a["labels"]["severity"]) for a in alerts}
        if ("AssaySLOBurnPage", "page") in names and ("AssayDrift", "ticket") in names:
            break
        time.sleep(1)
    names = {(a["labels"]["alertname"], a["labels"]["severity"]) for a in alerts}
    assert ("AssaySLOBurnPage", "page") in names, alerts
    assert ("AssayDrift", "ticket") in names, alerts
    slo = httpx.get(f"{server.url}/v1/slos/fraud-correct", headers=h, timeout=30).json()
    for a in alerts:  # nothing fired before the injections
        assert datetime.fromisoformat(a["starts_at"].replace("Z", "+00:00")).timestamp() >= injected, (a, slo)
    bad = subprocess.run([ASSAY, "watch", "simulate", "--config", str(server.config), "--model", "fraud", "--url",
                          server.url, "--token", token, "--inject", "flood@1m"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "KIND@OFFSET" in bad.stderr


CONFIG_INPUTS = """store: {store}
window: 5m
models:
  fraud:
    task: binary
    score: score
    label: is_fraud
    features: [amount]
    reference: {{profile: ref.profile}}
  chat:
    task: llm
    text: [response]
    reference: {{profile: chat.profile}}
alerting:
  evaluation_interval: 1s
  drift: {{range: 8s, consecutive: 3}}
"""


def test_simulate_missing_values_and_longer_prompts_raise_drift_tickets(serve: Callable[..., Server],
                                                                        tmp_path: Path) -> None:
    """The other two injections: a missing-rate jump (a numeric feature) and longer responses (an LLM's text) each
    raise their model's drift ticket after the injection and none before, and the drift document the dashboard's
    views read (on-call missing rates, debug distributions) shows the column that moved."""
    import assay
    from assay.watch.config import load_config
    from assay.watch.simulate import Traffic

    rng = np.random.default_rng(0)
    assay.profile(pa.table({"amount": rng.normal(50, 10, 5000)})).save(tmp_path / "ref.profile")
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    (tmp_path / "probe.yaml").write_text(CONFIG_INPUTS.format(store=store).replace("chat.profile", "ref.profile"))
    chat = load_config(tmp_path / "probe.yaml").models["chat"]
    preds, _ = Traffic(chat, 7).batch(2000, time.time(), set())  # the simulator's own baseline responses
    assay.profile(pa.table({"response": [p["response"] for p in preds]})).save(tmp_path / "chat.profile")
    server = serve(store, config_text=CONFIG_INPUTS.format(store=store))
    token = make_token(server.config, store, "sim", "ingest", "read")
    started = time.time()
    runs = [subprocess.Popen([ASSAY, "watch", "simulate", "--config", str(server.config), "--model", model, "--url",
                              server.url, "--token", token, "--rate", "100", "--duration", "35s", "--inject",
                              f"{kind}@12s", "--seed", str(k)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
            for k, (model, kind) in enumerate([("fraud", "missing"), ("chat", "prompts")])]
    for r in runs:
        out, err = r.communicate(timeout=120)
        assert r.returncode == 0, err
        assert "injecting" in err and "sent" in out
    injected = started + 12
    h = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 40
    tickets: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline and len(tickets) < 2:
        alerts = httpx.get(f"{server.url}/v1/alerts", headers=h, timeout=30).json()["alerts"]
        tickets = {a["labels"]["model"]: a for a in alerts if a["labels"]["alertname"] == "AssayDrift"}
        time.sleep(1)
    assert set(tickets) == {"fraud", "chat"}, tickets
    for a in tickets.values():
        assert a["labels"]["severity"] == "ticket"
        assert datetime.fromisoformat(a["starts_at"].replace("Z", "+00:00")).timestamp() >= injected, a
    end = time.time() + 1
    fraud = httpx.get(f"{server.url}/v1/models/fraud/drift", params={"from": end - 15, "to": end}, headers=h,
                      timeout=30).json()["columns"]["amount"]
    assert fraud["drifted"] and fraud["quality"]["missing_current"] > 0.15 > fraud["quality"]["missing_reference"]
    chat_doc = httpx.get(f"{server.url}/v1/models/chat/drift", params={"from": end - 15, "to": end}, headers=h,
                         timeout=30).json()["columns"]["response"]
    assert chat_doc["drifted"] and chat_doc["histogram"] is not None  # the debug view's length distribution
    # (the range is widened to whole 5-minute windows: the whole run, before and after the injection)
    assert chat_doc["summary"]["current"]["mean_length"] > 2 * chat_doc["summary"]["reference"]["mean_length"]


def test_each_simulated_run_has_its_own_ids() -> None:
    """Two runs against one store send new events, not repeats of the first run's ids (refused as conflicts)."""
    from assay.watch.config import parse_config
    from assay.watch.simulate import Traffic

    model = parse_config(CONFIG.format(store="sqlite:///x.sqlite")).models["fraud"]
    a, _ = Traffic(model, 0).batch(50, time.time(), set())
    b, _ = Traffic(model, 0).batch(50, time.time(), set())
    assert len({e["id"] for e in a}) == 50 and not {e["id"] for e in a} & {e["id"] for e in b}

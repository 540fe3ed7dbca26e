"""`assay watch simulate` against a real `assay serve`: nothing fires before the injections; the accuracy drop pages
(the label-based SLO), the covariate shift raises a drift ticket."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
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
    from datetime import datetime

    slo = httpx.get(f"{server.url}/v1/slos/fraud-correct", headers=h, timeout=30).json()
    for a in alerts:  # nothing fired before the injections
        assert datetime.fromisoformat(a["starts_at"].replace("Z", "+00:00")).timestamp() >= injected, (a, slo)
    bad = subprocess.run([ASSAY, "watch", "simulate", "--config", str(server.config), "--model", "fraud", "--url",
                          server.url, "--token", token, "--inject", "flood@1m"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "KIND@OFFSET" in bad.stderr

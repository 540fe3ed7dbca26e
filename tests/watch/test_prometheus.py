"""A real Prometheus (Debian's `prometheus`) scrapes a running `assay serve` with a bearer token and evaluates the
rules of `assay slo rules`: the recording rules see the SLO's counters move."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.watch.conftest import ASSAY, Server, make_token

PROMETHEUS = shutil.which("prometheus")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _query(url: str, expr: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    r.raise_for_status()
    return list(r.json()["data"]["result"])


def test_prometheus_scrapes_assay_and_evaluates_the_generated_rules(serve: Callable[..., Server],
                                                                    tmp_path: Path) -> None:
    if PROMETHEUS is None:
        pytest.fail("prometheus is not on PATH: scripts/install-debian.sh prometheus:prometheus installs it")
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store, "slos:\n  - {name: fraud-latency, model: fraud, sli: {event: latency_below, seconds: 0.3},"
                   " objective: 0.99, period: 30d, min_events: 10}\n")
    token = make_token(server.config, store, "ci", "ingest", "read")
    scraper = make_token(server.config, store, "prom", "metrics")
    rules = tmp_path / "rules.yml"
    r = subprocess.run([ASSAY, "slo", "rules", "--config", str(server.config), "--out", str(rules)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    (tmp_path / "token").write_text(scraper)
    port = _free_port()
    (tmp_path / "prometheus.yml").write_text(f"""global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{rules}]
scrape_configs:
  - job_name: assay
    metrics_path: /metrics
    authorization: {{type: Bearer, credentials_file: {tmp_path / 'token'}}}
    static_configs: [{{targets: ["127.0.0.1:{server.port}"]}}]
""")
    prom = subprocess.Popen([PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        h = {"Authorization": f"Bearer {token}"}
        now = time.time()
        sent = 0
        # traffic in three rounds, a third of it slow, so the counters grow between scrapes
        for k in range(3):
            events = [{"id": f"e{k}-{i}", "timestamp": now - 60 + i * 0.1, "score": 0.5,
                       "latency_s": 2.0 if i % 3 == 0 else 0.05, "amount": 1.0, "country": "DE"} for i in range(300)]
            assert httpx.post(f"{server.url}/v1/models/fraud/predictions", json={"events": events}, headers=h,
                              timeout=30).status_code == 200
            sent += len(events)
            time.sleep(4)
        deadline = time.monotonic() + 60
        up: list[dict[str, Any]] = []
        total: list[dict[str, Any]] = []
        ratio: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            up = _query(url, 'up{job="assay"}')
            total = _query(url, 'assay_slo_events_total{slo="fraud-latency"}')
            ratio = _query(url, 'slo:sli_error:ratio_rate5m{sloth_slo="fraud-latency"}')
            if total and float(total[0]["value"][1]) == sent and ratio and ratio[0]["value"][1] not in ("NaN",):
                break
            time.sleep(1)
        assert up and up[0]["value"][1] == "1", "Prometheus could not scrape assay with its token"
        assert total and float(total[0]["value"][1]) == sent
        assert ratio, "the recording rule has no value"
        assert float(ratio[0]["value"][1]) == pytest.approx(1 / 3, abs=0.02)  # a third of the events are slow
        assert ratio[0]["metric"]["sloth_window"] == "5m" and ratio[0]["metric"]["sloth_service"] == "fraud"
        rules_api = httpx.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"]
        assert all(rule["health"] == "ok" for g in rules_api for rule in g["rules"])
    finally:
        prom.terminate()
        prom.wait(15)

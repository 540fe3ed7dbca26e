"""``assay demo watch``: a monitoring service on a temporary SQLite store with a day of synthetic production traffic.

The day is shifted onto the last 24 hours, so the service's wall-clock alert evaluator sees it as live: a fraud model
that is right about 98% of the time, whose inputs shift three hours before the end (a covariate shift, on the debug
view; the drift ticket itself needs three drifted evaluations of the trailing hour, one an hour, so it fires only
after hours of live traffic) and whose predictions turn wrong two hours before the end (a regression: the page of the
window SLI on hourly accuracy, whose windows are on prediction time). The labels are delivered during the replay, so the
label-based event SLI ``correct`` burns them at their arrival time, now: the README's two clocks, side by side.

The service is a real ``assay serve`` process on a loopback port; the demo waits for the materializer and the alert
evaluator, prints the dashboard's address, a read token and the alerts that fired, then serves until Ctrl-C (or for
``serve_for`` seconds).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from assay.errors import AssayError, InputError

__all__ = ["CONFIG", "DemoService", "replay_day", "write_inputs"]

CONFIG = """# written by `assay demo watch`
store: sqlite:///{store}
window: 5m
models:
  fraud:
    task: binary
    score: score
    label: is_fraud
    threshold: 0.5
    segments: [country]
    features: [amount]
    latency: latency_s
    reference: {{profile: reference.profile, labeled: reference.parquet}}
slos:
  - {{name: fraud-accuracy-hourly, model: fraud, sli: {{metric: accuracy, min: 0.9, per: 1h}}, objective: 0.95,
     min_events: 1}}
  - {{name: fraud-correct, model: fraud, sli: {{event: correct}}, objective: 0.95}}
  - {{name: fraud-latency, model: fraud, sli: {{event: latency_below, seconds: 0.3}}, objective: 0.99}}
alerting:
  evaluation_interval: 2s
  drift: {{range: 1h, consecutive: 3}}
"""
DAY = 24 * 3600.0
SHIFT_AT = 3 * 3600.0  # seconds before the end
REGRESSION_AT = 2 * 3600.0


def write_inputs(folder: Path, *, seed: int = 0) -> Path:
    """The demo's config, reference profile and labeled reference rows in ``folder``; returns the config's path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from assay.drift.profile import profile
    from assay.watch.config import load_config
    from assay.watch.simulate import Traffic

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "watch.yaml"
    config.write_text(CONFIG.format(store=folder / "watch.sqlite"))
    model = load_config(config).models["fraud"]
    preds, labels = Traffic(model, seed + 1).batch(5000, time.time() - DAY, set())
    profile(pa.table({"amount": [p["amount"] for p in preds]}), name="demo reference").save(
        folder / "reference.profile")
    pq.write_table(pa.table({"score": [p["score"] for p in preds], "is_fraud": [lb["is_fraud"] for lb in labels]}),
                   folder / "reference.parquet")
    return config


def replay_day(client: Any, model: Any, *, end: float, per_minute: int = 20, seed: int = 0,
               progress: Callable[[int], None] = lambda _: None) -> dict[str, int]:
    """A day of traffic ending at ``end``, a batch per minute with its labels, through a :class:`assay.watch.Client`:
    the covariate shift from ``SHIFT_AT`` and the regression from ``REGRESSION_AT`` before the end."""
    from assay.watch.simulate import Traffic

    traffic = Traffic(model, seed)
    rng = np.random.default_rng(seed)
    sent = 0
    minutes = int(DAY // 60)
    for k in range(minutes):
        t = end - DAY + (k + 1) * 60.0
        active = {kind for kind, at in (("shift", SHIFT_AT), ("accuracy", REGRESSION_AT)) if end - t < at}
        preds, labels = traffic.batch(per_minute, t, active)
        for j, p in enumerate(preds):  # spread the minute's events over the minute
            p[model.timestamp] = t - 60.0 + 60.0 * (j + rng.random()) / per_minute
        client.log_predictions("fraud", preds)
        client.log_labels("fraud", labels)
        sent += len(preds)
        if k % 60 == 59:
            progress(sent)
    client.flush()
    return {"predictions": sent, "labels": sent}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DemoService:
    """``assay serve`` of the demo's config, started as a process of its own."""

    config: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.port = self.port or _free_port()
        self.log = self.config.parent / "serve.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _assay(self, *args: str) -> list[str]:
        return [sys.executable, "-c", "import sys; from assay.cli.main import main; sys.exit(main())", *args]

    def token(self) -> str:
        r = subprocess.run(self._assay("tokens", "create", "demo", "--scope", "ingest", "--scope", "read",
                                       "--scope", "admin", "--config", str(self.config)),
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise AssayError(f"assay demo watch: could not create a token: {r.stderr.strip()}")
        return r.stdout.strip().splitlines()[-1]

    def start(self, timeout: float = 60.0) -> None:
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(self._assay("serve", "--config", str(self.config), "--port", str(self.port)),
                                         cwd=self.config.parent, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssayError(f"assay demo watch: `assay serve` exited with {self.proc.returncode}; its log "
                                 f"({self.log}) says: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssayError(f"assay demo watch: `assay serve` did not answer on {self.url} within {timeout:.0f} s "
                         f"(port {self.port} taken? choose another with --port); log: {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy; an :class:`InputError` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise InputError(f"assay demo watch: expected {what} within {timeout:.0f} s, found none yet")
        time.sleep(0.5)

"""The Python client and `assay watch replay` against a real `assay serve`: what a user sends arrives once."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from assay.watch.client import Client
from assay.watch.ids import timestamp_ms

from .conftest import ASSAY, Server, make_token
from .test_service import T0, client, poll


def test_client_sends_dataframes_and_generates_time_ordered_ids(serve: Callable[..., Server], tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store)
    token = make_token(server.config, store, "app", "ingest", "read")
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"timestamp": pd.to_datetime(T0 + np.arange(500), unit="s", utc=True),
                          "score": rng.random(500), "country": rng.choice(["DE", "FR"], 500),
                          "amount": rng.random(500) * 100, "version": "7"})
    with Client(server.url, token=token, batch_size=128, flush_interval=0.05) as c:
        ids = c.log_predictions("fraud", frame)
        c.log_labels("fraud", [{"id": i, "is_fraud": int(s > 0.5)} for i, s in zip(ids, frame["score"], strict=True)])
        c.flush()
        assert c.stats.accepted == 1000 and c.stats.rejected == 0
        c.log_predictions("fraud", frame.assign(id=ids))  # resent with their ids: duplicates, nothing new
        c.flush()
        assert c.stats.duplicates == 500
    assert len(set(ids)) == 500 and [timestamp_ms(i) for i in ids] == sorted(timestamp_ms(i) for i in ids)
    http = client(server, token)
    status = poll(lambda: http.get("/v1/models/fraud/status").json(),
                  lambda s: s["materialization_lag"]["predictions"] == 0 and s["materialization_lag"]["labels"] == 0
                  and s["events"] == 500)
    assert (status["labels"], status["duplicates"]) == (500, 500)
    doc = http.get(f"/v1/models/fraud/metrics?from={T0}&to={T0 + 600}").json()
    assert doc["metrics"]["accuracy"]["value"] == 1.0 and doc["dataset"]["rows_used"] == 500
    http.close()


def test_replay_streams_a_file_and_its_labels(serve: Callable[..., Server], tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store)
    token = make_token(server.config, store, "replay", "ingest", "read")
    rng = np.random.default_rng(2)
    n = 3000
    ids = [f"r{i}" for i in range(n)]
    pq.write_table(pa.table({"id": ids, "timestamp": T0 + np.arange(n), "score": rng.random(n),
                             "country": rng.choice(["DE", "FR"], n)}), tmp_path / "preds.parquet")
    pq.write_table(pa.table({"id": ids, "is_fraud": rng.integers(0, 2, n)}), tmp_path / "labels.parquet")
    env = {**os.environ, "ASSAY_URL": server.url, "ASSAY_TOKEN": token}
    for args in (["preds.parquet", "--model", "fraud"], ["labels.parquet", "--model", "fraud", "--labels"]):
        r = subprocess.run([ASSAY, "watch", "replay", *args, "--batch-size", "500"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert f"sent {n} events: accepted {n}, duplicates 0, conflicts 0, rejected 0" in r.stdout + r.stderr
    http = client(server, token)
    status = poll(lambda: http.get("/v1/models/fraud/status").json(),
                  lambda s: s["materialization_lag"]["predictions"] == 0 and s["materialization_lag"]["labels"] == 0)
    assert (status["events"], status["labels"], status["pending_labels"]) == (n, n, 0)
    again = subprocess.run([ASSAY, "watch", "replay", "preds.parquet", "--model", "fraud"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and f"duplicates {n}" in again.stdout + again.stderr
    bad = subprocess.run([ASSAY, "watch", "replay", "missing.parquet", "--model", "fraud"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "missing.parquet" in bad.stderr and "Traceback" not in bad.stderr
    http.close()

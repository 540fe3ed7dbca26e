"""`assay demo watch`: a real service on a temporary SQLite store, a replayed day whose regression pages, the
dashboard's address, and the service stopped afterwards; its bad input exits 2 with a message."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

ASSAY = str(Path(sys.executable).with_name("assay"))


def test_demo_watch_pages_on_the_regression_and_stops(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    r = subprocess.run([ASSAY, "demo", "watch", "--out", str(out), "--serve-for", "0", "--per-minute", "10"],
                       capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "replayed 14,400 predictions" in r.stdout
    assert re.search(r"AssaySLOBurnPage\s+│\s+page\s+│\s+fraud-accuracy-hourly", r.stdout), r.stdout
    assert "drifted in amount" in r.stdout
    url = re.search(r"dashboard: (http://127\.0\.0\.1:\d+)/ui/models/fraud/executive", r.stdout)
    assert url is not None, r.stdout
    token = re.search(r"token \(scopes ingest, read, admin\): (assay_\S+)", r.stdout)
    assert token is not None
    # the day is in the store, shifted onto the last 24 hours; the service is gone
    with sqlite3.connect(out / "watch.sqlite") as db:
        n, lo, hi = db.execute("SELECT count(*), min(event_time), max(event_time) FROM predictions").fetchone()
    assert n == 14_400 and 23.9 * 3600 < hi - lo <= 24 * 3600
    try:
        httpx.get(url.group(1) + "/healthz", timeout=2)
        raise AssertionError("the demo's service still answers after --serve-for 0")
    except httpx.HTTPError:
        pass


def test_demo_watch_bad_input_exits_2(tmp_path: Path) -> None:
    r = subprocess.run([ASSAY, "demo", "watch", "--per-minute", "0", "--serve-for", "0"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "--per-minute: expected 1 to 2000" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "watch.sqlite").write_bytes(b"")
    r = subprocess.run([ASSAY, "demo", "watch", "--out", str(tmp_path), "--serve-for", "0"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "exists already" in r.stderr and "Traceback" not in r.stderr

"""The dashboard's first paint: the executive view of a model in headless Chromium (Debian's, driven by Playwright)
against a real `assay serve` whose store holds 30 days of 5-minute windows, for 20 models x 10 SLOs.

    .venv/bin/python benchmarks/bench_ui.py [--models 20] [--slos 10] [--days 30] [--per-window 30]

The store (SQLite) gets the per-window SLI counts of every SLO as the materializer writes them (as in bench_slo.py),
and the viewed model `m0` real window states: `--per-window` labeled predictions in each 5-minute window of the
period, ingested and folded in-process by the service's own Monitor before the service starts. Then, per range of the
picker (24 hours, 7 days, 30 days), the median of 5 navigations of: the browser's first contentful paint (the shell),
and the time from navigation to every chart drawn with data (`#view[data-ready='1']`: the figure the issue's "first
paint under 1 s" is held against). Writes benchmarks/results/ui-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from assay.service.auth import new_token, token_digest
from assay.watch.config import parse_config
from assay.watch.materialize import _rolled_up
from assay.watch.monitor import Monitor
from assay.watch.window import sli_key


def _config(tmp: Path, models: int, slos: int, days: int) -> str:
    head = "  m0: {task: binary, score: s, label: y, latency: lat, status: st, segments: [seg]}\n"
    rest = "".join(f"  m{i}: {{task: binary, score: s, label: y, latency: lat, status: st}}\n"
                   for i in range(1, models))
    lat = "".join(f"  - {{name: m{i}-lat{j}, model: m{i}, sli: {{event: latency_below, seconds: {0.1 * (j + 1):.1f}}},"
                  f" objective: 0.99, period: {days}d}}\n" for i in range(models) for j in range(slos - 1))
    err = "".join(f"  - {{name: m{i}-err, model: m{i}, sli: {{event: not_error}}, objective: 0.999, period: {days}d}}\n"
                  for i in range(models))
    return (f"store: sqlite:///{tmp / 'w.sqlite'}\nwindow: 5m\nretention: {{events: 3650d, windows: 3650d}}\n"
            f"models:\n{head}{rest}slos:\n{lat}{err}")


def fill(cfg_text: str, days: int, per_window: int, now: float) -> tuple[float, int, str]:
    cfg = parse_config(cfg_text)
    mon = Monitor(cfg)
    t0 = time.perf_counter()
    windows = days * 288
    start = now - days * 86400
    keys = sorted({(s["model"], sli_key(s["sli"]) or "") for s in cfg.slos or []})
    with mon.store.materializing(locked=True) as m:
        batch: dict[tuple[str, str, str, float], tuple[int, int]] = {}
        for model, key in keys:
            for w in range(windows):
                batch[(model, "", key, start + 300 * w)] = (98 + (w % 3), 100)
        m.add_sli_counts(_rolled_up(batch, (300, 3600, 86400)))
    rng = np.random.default_rng(0)
    n = windows * per_window
    t = start + np.sort(rng.uniform(0, days * 86400, n))
    y = rng.integers(0, 2, n)
    s = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.2, n), 0.001, 0.999)
    for a in range(0, n, 10_000):
        b = min(a + 10_000, n)
        mon.ingest_predictions("m0", [{"id": f"e{i}", "timestamp": float(t[i]), "s": float(s[i]),
                                       "lat": float(rng.gamma(2, 0.05)), "st": "ok", "seg": f"g{i % 10}"}
                                      for i in range(a, b)])
        mon.ingest_labels("m0", [{"id": f"e{i}", "y": int(y[i])} for i in range(a, b)])
        mon.materialize(limit=50_000)
    token = new_token()
    mon.store.add_token("bench", token_digest(token), ["read"], now=time.time())
    mon.close()
    return time.perf_counter() - t0, n, token


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--slos", type=int, default=10)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--per-window", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        print("bench_ui: chromium is not on PATH (scripts/install-debian.sh chromium:chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="assay-bench-ui-"))
    cfg_text = _config(tmp, args.models, args.slos, args.days)
    (tmp / "watch.yaml").write_text(cfg_text)
    now = float(int(time.time() // 300 * 300))
    fill_s, events, token = fill(cfg_text, args.days, args.per_window, now)
    port = _free_port()
    assay = str(Path(sys.executable).with_name("assay"))
    log = open(tmp / "serve.log", "wb")
    proc = subprocess.Popen([assay, "serve", "--config", str(tmp / "watch.yaml"), "--port", str(port)], cwd=tmp,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    results: dict[str, dict[str, float]] = {}
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"bench_ui: assay serve did not start: {(tmp / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + "/ui/")
            page.fill("#token", token)
            page.click("#login button")
            page.wait_for_selector("#view[data-ready='1']", timeout=60_000)
            for label, span in (("24h", "86400"), ("7d", "604800"), ("30d", "2592000")):
                drawn, fcp = [], []
                for i in range(args.repeat + 1):  # the first is a warm-up
                    page.goto(url + "/ui/models/m0/executive")
                    page.wait_for_selector("#view[data-ready='1']", timeout=60_000)
                    if span != "86400":
                        t0 = time.perf_counter()
                        page.select_option("#range", span)
                        page.wait_for_selector("#view[data-ready='0']", state="attached", timeout=60_000)
                        page.wait_for_selector("#view[data-ready='1']", timeout=60_000)
                        seconds = time.perf_counter() - t0
                    else:
                        t0 = time.perf_counter()
                        page.goto(url + "/ui/models/m0/executive")
                        page.wait_for_selector("#view[data-ready='1']", timeout=60_000)
                        seconds = time.perf_counter() - t0
                    paint = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime")
                    if i:
                        drawn.append(seconds)
                        if paint is not None:
                            fcp.append(float(paint) / 1000)
                results[label] = {"drawn_median_s": round(statistics.median(drawn), 3),
                                  "drawn_max_s": round(max(drawn), 3),
                                  "first_contentful_paint_median_s": round(statistics.median(fcp), 3) if fcp else None}
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        log.close()
    out = {"benchmark": "ui", "started": datetime.now(UTC).isoformat(), "models": args.models,
           "slos": args.models * args.slos, "days": args.days, "m0_events": events, "fill_s": round(fill_s, 1),
           "executive": results}
    print(f"{args.models} models x {args.slos} SLOs, {args.days} days of 5-minute windows; m0 holds {events:,} "
          f"labeled predictions (store filled in {fill_s:.0f} s)")
    for label, r in results.items():
        verdict = "PASS" if r["drawn_median_s"] < 1 else "MISS"
        how = "navigation" if label == "24h" else "picker change"
        print(f"  executive view, range {label}: every chart drawn {r['drawn_median_s'] * 1000:.0f} ms after the "
              f"{how} (median of {args.repeat}; max {r['drawn_max_s'] * 1000:.0f} ms; target < 1 s: {verdict}); "
              f"first contentful paint {r['first_contentful_paint_median_s']} s")
    path = Path(args.out or Path(__file__).parent / "results" / f"ui-{datetime.now(UTC):%Y-%m-%d}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

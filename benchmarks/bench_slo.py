"""SLOs at scale: one evaluation of every SLO's alert conditions and one `/metrics` render, for 20 models x 10 event
SLOs over 30 days of 5-minute windows.

    .venv/bin/python benchmarks/bench_slo.py [--models 20] [--slos 10] [--days 30]

The store (SQLite) holds the per-window SLI counts the materializer writes as it folds events (`sli_counts`), filled
here directly (30 days x 288 windows x models x SLOs rows); the reads are the service's own: `SLOs.all()` (what the
alert evaluator runs every interval) and `StoreCollector` through prometheus-client (what `/metrics` renders when its
5-second cache is cold), medians of 5. Prints the figures and writes benchmarks/results/slo-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry, generate_latest

from assay.service.exposition import StoreCollector
from assay.slo.status import SLOs
from assay.watch.config import parse_config
from assay.watch.materialize import _rolled_up
from assay.watch.monitor import Monitor

NOW = 1_800_000_000.0 + 400 * 86400


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--slos", type=int, default=10)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="assay-bench-slo-"))
    models = "".join(f"  m{i}: {{task: binary, score: s, label: y, latency: lat, status: st}}\n"
                     for i in range(args.models))
    slos = "".join(f"  - {{name: m{i}-lat{j}, model: m{i}, sli: {{event: latency_below, seconds: {0.1 * (j + 1):.1f}}},"
                   f" objective: 0.99, period: {args.days}d}}\n"
                   for i in range(args.models) for j in range(args.slos - 1))
    slos += "".join(f"  - {{name: m{i}-err, model: m{i}, sli: {{event: not_error}}, objective: 0.999, "
                    f"period: {args.days}d}}\n" for i in range(args.models))
    cfg = parse_config(f"store: sqlite:///{tmp / 'w.sqlite'}\nretention: {{events: 3650d, windows: 3650d}}\n"
                       f"models:\n{models}slos:\n{slos}")
    mon = Monitor(cfg, now=lambda: NOW)
    t0 = time.perf_counter()
    windows = args.days * 288
    start = NOW - args.days * 86400
    from assay.watch.window import sli_key

    keys = sorted({(s["model"], sli_key(s["sli"]) or "") for s in cfg.slos or []})
    with mon.store.materializing(locked=True) as m:
        batch: dict[tuple[str, str, str, float], tuple[int, int]] = {}
        for model, key in keys:
            for w in range(windows):
                batch[(model, "", key, start + 300 * w)] = (98 + (w % 3), 100)
        m.add_sli_counts(_rolled_up(batch, (300, 3600, 86400)))  # as the materializer writes them
    fill = time.perf_counter() - t0
    s = SLOs(mon)
    evals = []
    for _ in range(5):
        t = time.perf_counter()
        docs = s.all()
        evals.append(time.perf_counter() - t)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(mon, s))
    renders = []
    for _ in range(5):
        t = time.perf_counter()
        text = generate_latest(registry)
        renders.append(time.perf_counter() - t)
    from assay.service.exposition import Exposition

    expo = Exposition(mon, s)
    expo.render()  # the first scrape renders; later ones read the background-refreshed text
    warm = []
    for _ in range(20):
        t = time.perf_counter()
        expo.render()
        warm.append(time.perf_counter() - t)
    expo.close()
    n_slos = len(s.slos)
    out = {"benchmark": "slo", "started": datetime.now(UTC).isoformat(), "models": args.models, "slos": n_slos,
           "days": args.days, "rows": len(keys) * windows, "fill_s": round(fill, 1),
           "evaluate_all_median_s": round(statistics.median(evals), 3),
           "metrics_render_cold_median_s": round(statistics.median(renders), 3),
           "metrics_request_median_s": round(statistics.median(warm), 6), "metrics_bytes": len(text),
           "firing": sum(any(a["firing"] for a in d["alerts"]) for d in docs)}
    print(f"{args.models} models x {args.slos} SLOs ({n_slos}), {args.days} days of 5-minute windows "
          f"({out['rows']:,} window count rows plus their rollups, filled in {out['fill_s']} s)")
    print(f"  one evaluation of every SLO's alert conditions: {out['evaluate_all_median_s'] * 1000:.0f} ms "
          f"(target < 1 s: {'PASS' if out['evaluate_all_median_s'] < 1 else 'MISS'})")
    print(f"  /metrics request (the text the background refresher renders every 5 s): "
          f"{out['metrics_request_median_s'] * 1e6:.0f} us (target < 50 ms: "
          f"{'PASS' if out['metrics_request_median_s'] < 0.05 else 'MISS'})")
    print(f"  /metrics render of the store (the refresher's work, every 5 s while scraped): "
          f"{out['metrics_render_cold_median_s'] * 1000:.0f} ms ({len(text):,} bytes)")
    path = Path(args.out or Path(__file__).parent / "results" / f"slo-{datetime.now(UTC):%Y-%m-%d}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

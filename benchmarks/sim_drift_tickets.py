"""Drift tickets on a stable model: 30 simulated days of hourly evaluations of the trailing hour against the
reference; a ticket needs 3 drifted hours in a row. Target: at most one false ticket in 30 days.

    .venv/bin/python benchmarks/sim_drift_tickets.py [--days 30] [--per-hour 500] [--seed 0]

The events come from the reference's own distribution (an amount column, normal; a country column, categorical),
through the watch service's ingest, materializer and drift read; the evaluator's drift rule runs at every hour.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import assay
from assay.slo.alerts import AlertEvaluator
from assay.watch.config import parse_config
from assay.watch.monitor import Monitor

T0 = 1_800_000_000.0


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Silent:
    def __init__(self) -> None:
        self.tickets: list[str] = []

    def notify(self, severity: str, alerts: list, status: str) -> None:
        if status == "firing" and alerts[0]["labels"]["alertname"] == "AssayDrift":
            self.tickets.append(alerts[0]["labels"]["model"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--per-hour", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="assay-sim-drift-"))
    countries = np.array(["DE", "FR", "US", "GB"])
    p = np.array([0.4, 0.3, 0.2, 0.1])
    ref = pa.table({"amount": rng.normal(50, 10, 20_000), "country": rng.choice(countries, 20_000, p=p)})
    assay.profile(ref).save(tmp / "ref.profile")
    cfg = parse_config(f"store: sqlite:///{tmp / 'w.sqlite'}\nwindow: 5m\nretention: {{events: 3650d, windows: 3650d}}"
                       "\nmodels:\n  m: {task: binary, score: s, label: y, features: [amount, country],"
                       " reference: {profile: ref.profile}}\nslos:\n  - {name: s, model: m, sli: {event: correct},"
                       " objective: 0.99}\n", base_dir=tmp)
    clock = Clock(T0)
    mon = Monitor(cfg, now=clock)
    silent = Silent()
    ev = AlertEvaluator(mon, notifier=silent)  # type: ignore[arg-type]
    t_start = time.perf_counter()
    drifted_hours = 0
    hours = args.days * 24
    for h in range(hours):
        n = args.per_hour
        amount = rng.normal(50, 10, n)
        country = rng.choice(countries, n, p=p)
        mon.ingest_predictions("m", [{"id": f"h{h}-{i}", "timestamp": T0 + h * 3600 + i * 3600 / n, "s": 0.5,
                                      "amount": float(amount[i]), "country": str(country[i])} for i in range(n)])
        mon.materialize()
        clock.t = T0 + (h + 1) * 3600
        ev.evaluate()
        drifted_hours += ev.drift_streak.get("m", 0) > 0
    out = {"benchmark": "sim_drift_tickets", "started": datetime.now(UTC).isoformat(), "days": args.days,
           "per_hour": args.per_hour, "evaluations": hours, "drifted_evaluations": drifted_hours,
           "false_tickets": len(silent.tickets), "seconds": round(time.perf_counter() - t_start, 1)}
    print(f"{hours} hourly evaluations over {args.days} days at {args.per_hour} events/hour: {drifted_hours} drifted "
          f"hours ({drifted_hours / hours:.1%}), {len(silent.tickets)} false drift tickets "
          f"(target <= 1: {'PASS' if len(silent.tickets) <= 1 else 'MISS'}); {out['seconds']} s")
    path = Path(__file__).parent / "results" / f"sim-drift-tickets-{datetime.now(UTC):%Y-%m-%d}.json"
    path.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

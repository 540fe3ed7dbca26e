"""Live comparisons: the always-valid decision rule by seeded simulation, beside the naive per-look z-test, and the
decision endpoint's speed on a store with 1M outcomes per arm.

    .venv/bin/python benchmarks/bench_live.py [--reps 2000] [--only sims,speed]

Simulations (one critical metric, accuracy, alpha = 0.05, control accuracy 0.90, 20,000 outcomes per arm per day,
a look every 100 outcomes over both arms, t* = 5,000 per arm, margin 0.02, min_outcomes 2,000): the rate at which
each decision is taken, the median outcomes per arm at a promotion, and the coverage of the true difference by the
interval at every look. Prints the tables and writes benchmarks/results/live-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assay.stats.sequential import margins

ALPHA, T_STAR, MARGIN, MIN_OUT, PER_DAY = 0.05, 5000, 0.02, 2000, 20_000


def simulate(p_c: float, p_t: float, *, reps: int, seed: int, per_arm: int = PER_DAY, every: int = 100,
             split: float = 0.5, alpha: float = ALPHA, naive: bool = False, chunk: int = 250) -> dict[str, Any]:
    """Decisions over a stream of looks; the first promote or rollback stands."""
    rng = np.random.default_rng(seed)
    total = int(per_arm / max(split, 1 - split) * 1) if split != 0.5 else 2 * per_arm
    looks = np.arange(every, total + 1, every)
    n_t = np.maximum(np.floor(looks * split).astype(np.int64), 1)
    n_c = np.maximum(looks - n_t, 1)
    dt, dc = np.diff(np.concatenate([[0], n_t])), np.diff(np.concatenate([[0], n_c]))
    m = margins(looks.astype(np.float64), alpha=alpha, t_star=2 * T_STAR)
    z = stats.norm.ppf(1 - alpha / 2)
    res = {"rollback": 0, "promote": 0, "covered": 0, "rollback_within_5000": 0, "promote_n": []}
    for start in range(0, reps, chunk):
        r = min(chunk, reps - start)
        xt = rng.binomial(np.broadcast_to(dt, (r, dt.size)), p_t).cumsum(1)
        xc = rng.binomial(np.broadcast_to(dc, (r, dc.size)), p_c).cumsum(1)
        pt, pc = xt / n_t, xc / n_c
        d = pt - pc
        if naive:
            rad = z * np.sqrt(pt * (1 - pt) / n_t + pc * (1 - pc) / n_c)
        else:
            qt, qc = (xt + 1) / (n_t + 2), (xc + 1) / (n_c + 2)
            rad = np.sqrt(looks * (qt * (1 - qt) / n_t + qc * (1 - qc) / n_c)) * m
        lo, hi = d - rad, d + rad
        ok = (n_t >= 10) & (n_c >= 10)
        rb = (hi < 0) & ok
        pr = (lo > -MARGIN) & (n_t >= MIN_OUT) & (n_c >= MIN_OUT) & ok
        big = looks.size + 1
        first_rb = np.where(rb.any(1), rb.argmax(1), big)
        first_pr = np.where(pr.any(1), pr.argmax(1), big)
        rolled = first_rb < first_pr
        promoted = first_pr < first_rb
        res["rollback"] += int(rolled.sum())
        res["promote"] += int(promoted.sum())
        within = np.searchsorted(np.minimum(n_t, n_c), 5000, side="right")
        res["rollback_within_5000"] += int((rolled & (first_rb < within)).sum())
        truth = p_t - p_c
        res["covered"] += int(((lo <= truth) & (hi >= truth)).all(1).sum())
        res["promote_n"] += n_t[first_pr[promoted]].tolist()
    out = {"reps": reps, "rollback": res["rollback"] / reps, "promote": res["promote"] / reps,
           "hold": 1 - (res["rollback"] + res["promote"]) / reps,
           "rollback_within_5000_per_arm": res["rollback_within_5000"] / reps,
           "coverage_at_every_look": res["covered"] / reps,
           "median_outcomes_per_arm_at_promotion": float(np.median(res["promote_n"])) if res["promote_n"] else None}
    return out


def simulate_paired(*, reps: int, seed: int, disagree: float = 0.10, drop: float = 0.03, pairs: int = 2500,
                    every: int = 100) -> dict[str, Any]:
    """Shadow: per-request differences in {-1, 0, +1} (10% of requests disagree), the paired sequence."""
    rng = np.random.default_rng(seed)
    up, down = (disagree - drop) / 2, (disagree + drop) / 2
    looks = np.arange(every, pairs + 1, every)
    m = margins(looks.astype(np.float64), alpha=ALPHA, t_star=T_STAR)
    caught = 0
    for start in range(0, reps, 500):
        r = min(500, reps - start)
        u = rng.random((r, pairs))
        dvals = np.where(u < up, 1.0, np.where(u < up + down, -1.0, 0.0))
        s1 = dvals.cumsum(1)[:, looks - 1]
        s2 = np.abs(dvals).cumsum(1)[:, looks - 1]
        mean = s1 / looks
        var = np.maximum(s2 - looks * mean ** 2, 0) / (looks - 1)
        hi = mean + np.sqrt(var) * m
        caught += int((hi < 0).any(1).sum())
    return {"reps": reps, "pairs": pairs, "disagreement": disagree, "drop": drop, "rollback_within": caught / reps}


def speed(outcomes: int, comparisons: int) -> dict[str, Any]:
    """A store with ``outcomes`` labeled predictions per arm over 10 days; the decision read, and 100 comparisons."""
    import tempfile

    from assay.live.compare import LiveComparisons
    from assay.watch.config import parse_config
    from assay.watch.monitor import Monitor

    tmp = Path(tempfile.mkdtemp(prefix="assay-bench-live-"))
    t0 = 1_800_000_000
    entries = "".join(
        f"  - {{name: c{i}, model: fraud, mode: canary, control: {{version: '7'}}, candidate: {{version: '8'}}, "
        "metrics: [{metric: accuracy, margin: 0.02}, {metric: latency_mean, margin_relative: 0.1}]}\n"
        for i in range(comparisons))
    cfg = parse_config(f"store: sqlite:///{tmp / 'w.sqlite'}\nretention: {{events: 3650d, windows: 3650d}}\n"
                       "models:\n  fraud: {task: binary, score: s, label: y, latency: lat}\n"
                       f"comparisons:\n{entries}")
    mon = Monitor(cfg, now=lambda: t0 + 11 * 86400)
    rng = np.random.default_rng(0)
    fill = time.perf_counter()
    batch = 10_000
    span = 10 * 86400
    for version in ("7", "8"):
        for b in range(0, outcomes, batch):
            n = min(batch, outcomes - b)
            y = rng.integers(0, 2, n)
            s = np.clip(y * 0.6 + rng.random(n) * 0.4, 0, 1).round(3)
            ts = t0 + (b + np.arange(n)) * (span / outcomes)
            mon.ingest_predictions("fraud", [{"id": f"{version}-{b + i}", "timestamp": float(ts[i]),
                                              "version": version, "s": float(s[i]), "lat": 0.05}
                                             for i in range(n)])
            mon.ingest_labels("fraud", [{"id": f"{version}-{b + i}", "y": int(y[i])} for i in range(n)])
            mon.materialize(200_000)
    fill = time.perf_counter() - fill
    live = LiveComparisons(mon)
    live.decision("c0")
    one = []
    for _ in range(7):
        t = time.perf_counter()
        doc = live.decision("c0")
        one.append(time.perf_counter() - t)
    t = time.perf_counter()
    for name in live.names():
        live.evaluate(name)
    each = time.perf_counter() - t
    t = time.perf_counter()
    live.evaluate_all()
    many = time.perf_counter() - t
    return {"outcomes_per_arm": outcomes, "fill_seconds": round(fill, 1),
            "decision_median_ms": round(1000 * float(np.median(one)), 1),
            "decision_n": [m["control"]["n"] for m in doc["metrics"]][:1],
            f"{comparisons}_comparisons_s": round(many, 3), f"{comparisons}_comparisons_one_by_one_s": round(each, 3),
            "decision": doc["decision"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=2000, help="replications per simulated cell (2000)")
    ap.add_argument("--only", default="sims,speed", help="sims, speed or both (default)")
    ap.add_argument("--outcomes", type=int, default=1_000_000, help="outcomes per arm of the speed store (1M)")
    ap.add_argument("--out", default=None, help="JSON output (default benchmarks/results/live-<date>.json)")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    report: dict[str, Any] = {"benchmark": "live", "started": datetime.now(UTC).isoformat(), "reps": args.reps}
    rows: list[tuple[str, str, str, str]] = []
    if "sims" in parts:
        r = args.reps
        cells = {
            "identical, looks every 100 (1 day)": simulate(0.90, 0.90, reps=r, seed=1),
            "identical, looks every 10 (1 day)": simulate(0.90, 0.90, reps=max(r // 4, 100), seed=2, every=10),
            "identical, 7 days": simulate(0.90, 0.90, reps=max(r // 4, 100), seed=3, per_arm=7 * PER_DAY),
            "identical, 10/90 split": simulate(0.90, 0.90, reps=r, seed=4, split=0.1),
            "identical, naive z-test every look": simulate(0.90, 0.90, reps=r, seed=5, naive=True),
            "3-point drop": simulate(0.90, 0.87, reps=r, seed=6),
            "at the margin (2 points worse)": simulate(0.90, 0.88, reps=r, seed=7),
            "1 point better": simulate(0.90, 0.91, reps=r, seed=8),
        }
        three = {name: simulate(p_c, p_t, reps=r, seed=9 + i, alpha=ALPHA / 3)
                 for i, (name, p_c, p_t) in enumerate((("identical, alpha/3", 0.9, 0.9),
                                                      ("3-point drop, alpha/3", 0.9, 0.87)))}
        paired = simulate_paired(reps=r, seed=20)
        report["simulations"] = {**cells, **three, "shadow paired, 3-point drop, 10% disagreement": paired}
        print(f"{'cell':44} {'rollback':>9} {'promote':>8} {'hold':>6} {'rb<=5k/arm':>10} {'coverage':>9} "
              f"{'median n at promote':>20}")
        for name, c in {**cells, **three}.items():
            print(f"{name:44} {c['rollback']:9.4f} {c['promote']:8.4f} {c['hold']:6.3f} "
                  f"{c['rollback_within_5000_per_arm']:10.4f} {c['coverage_at_every_look']:9.4f} "
                  f"{c['median_outcomes_per_arm_at_promotion'] or '—'!s:>20}")
        print(f"shadow (paired, 10% disagreement), 3-point drop: rolled back within {paired['pairs']} pairs in "
              f"{paired['rollback_within']:.4f} of {paired['reps']} runs")
        checks = [
            ("identical rolled back (every 100)", cells["identical, looks every 100 (1 day)"]["rollback"], "<= 0.05"),
            ("identical rolled back (every 10)", cells["identical, looks every 10 (1 day)"]["rollback"], "<= 0.05"),
            ("identical rolled back (7 days)", cells["identical, 7 days"]["rollback"], "<= 0.05"),
            ("identical rolled back (10/90)", cells["identical, 10/90 split"]["rollback"], "<= 0.05"),
            ("naive z-test: identical 'rolled back'", cells["identical, naive z-test every look"]["rollback"],
             "fails: > 0.05"),
            ("3-point drop rolled back within the day", cells["3-point drop"]["rollback"], ">= 0.99"),
            ("3-point drop rolled back within 5,000/arm", cells["3-point drop"]["rollback_within_5000_per_arm"],
             ">= 0.90"),
            ("at the margin promoted", cells["at the margin (2 points worse)"]["promote"], "<= 0.05"),
            ("3-point drop promoted", cells["3-point drop"]["promote"], "<= 0.01"),
            ("better candidate rolled back", cells["1 point better"]["rollback"], "== 0"),
            ("no difference promoted within the day", cells["identical, looks every 100 (1 day)"]["promote"],
             ">= 0.98"),
            ("median outcomes/arm at promotion",
             cells["identical, looks every 100 (1 day)"]["median_outcomes_per_arm_at_promotion"], "<= 4500"),
            ("shadow: 3-point drop caught within 2,500 pairs", paired["rollback_within"], ">= 0.90"),
            ("coverage at every look (identical)", cells["identical, looks every 100 (1 day)"]
             ["coverage_at_every_look"], ">= 0.95"),
        ]
        for name, value, target in checks:
            rows.append((name, f"{value}", target, _judge(value, target)))
    if "speed" in parts:
        sp = speed(args.outcomes, 100)
        report["speed"] = sp
        rows.append(("decision endpoint at 1M outcomes/arm (median)", f"{sp['decision_median_ms']} ms", "< 50 ms",
                     "PASS" if sp["decision_median_ms"] < 50 else "MISS"))
        rows.append(("100 comparisons one by one", f"{sp['100_comparisons_one_by_one_s']} s", "—", "info"))
        rows.append(("100 comparisons evaluated (evaluate_all)", f"{sp['100_comparisons_s']} s", "< 1 s",
                     "PASS" if sp["100_comparisons_s"] < 1 else "MISS"))
        print(f"speed store: {sp['outcomes_per_arm']:,} outcomes per arm filled in {sp['fill_seconds']} s")
    print()
    for row in rows:
        print(f"{row[0]:48} {row[1]:>12}  {row[2]:>14}  {row[3]}")
    report["checks"] = [dict(zip(("measure", "value", "target", "result"), r, strict=True)) for r in rows]
    out = Path(args.out or Path(__file__).parent / "results" / f"live-{datetime.now(UTC):%Y-%m-%d}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"figures written to {out}")
    return 0


def _judge(value: Any, target: str) -> str:
    if value is None:
        return "MISS"
    op, _, num = target.partition(" ")
    if op == "fails:":
        return "PASS" if value > float(num.split()[-1]) else "MISS"
    x = float(num)
    ok = {"<=": value <= x, ">=": value >= x, "==": value == x, "<": value < x}[op]
    return "PASS" if ok else "MISS"


if __name__ == "__main__":
    sys.exit(main())

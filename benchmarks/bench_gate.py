"""Paired gate on two runs of 1M items each, every binary metric checked (target: under 5 s on 2 cores).

    .venv/bin/python benchmarks/bench_gate.py [--n 1000000]

Builds two binary runs with item sidecars (not timed), then times `assay gate` (reading both sidecars, joining them on
item ids, and deciding every binary metric paired where a paired method exists) in a child process, and prints the
time and peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

METRICS = ("accuracy balanced_accuracy precision recall f1 specificity fpr fnr mcc selection_rate roc_auc "
           "average_precision log_loss brier ece").split()


def build(folder: Path, n: int) -> tuple[Path, Path, Path]:
    import assay

    rng = np.random.default_rng(0)
    y = (rng.random(n) < 0.3).astype(np.int8)
    base = np.clip(0.3 + 0.35 * y + rng.normal(0, 0.2, n), 0, 1)
    cand = np.clip(base + rng.normal(0, 0.05, n), 0, 1)
    ids = np.arange(n)
    paths = []
    for name, s in (("candidate", cand), ("baseline", base)):
        run = assay.evaluate({"id": ids, "y": y, "s": s}, task="binary", label="y", score="s", id="id",
                             items=str(folder / f"{name}.items.parquet"))
        run.write(folder / f"{name}.json")
        paths.append(folder / f"{name}.json")
    policy = folder / "policy.yaml"
    policy.write_text("checks:\n" + "".join(f"  - {{metric: {m}, max_drop: 0.01}}\n" for m in METRICS))
    return paths[0], paths[1], policy


def child(cand: str, base: str, policy: str) -> None:
    from assay.gate.decide import gate
    from assay.gate.policy import load_policy

    t0 = time.perf_counter()
    result = gate(json.loads(Path(cand).read_text()), load_policy(policy), json.loads(Path(base).read_text()),
                  candidate_path=cand, baseline_path=base)
    seconds = time.perf_counter() - t0
    methods = sorted({o.method for o in result.outcomes})
    print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "decision": result.decision, "paired": result.paired, "methods": methods}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        cand, base, policy = build(Path(tmp), args.n)
        out = subprocess.run([sys.executable, __file__, "--child", str(cand), str(base), str(policy)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
    status = "PASS" if r["seconds"] < 5 else "MISS"
    print(f"paired gate, {args.n:,} items x 2 runs, {len(METRICS)} metrics: {r['seconds']:.2f} s "
          f"(target < 5 s: {status}), peak {r['peak_mib']:.0f} MiB, paired={r['paired']}, methods {r['methods']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Benchmark ``assay.evaluate`` against the tools people use instead (scikit-learn, pandas, fairlearn).

Run from the repository root::

    .venv/bin/python benchmarks/bench_evaluate.py            # every scenario at full size (~10 minutes)
    .venv/bin/python benchmarks/bench_evaluate.py --quick    # small sizes: a smoke run (< 1 minute)
    .venv/bin/python benchmarks/bench_evaluate.py --only binary-10m,fairness-1m

Every measurement runs in a fresh child process (this file with ``--child``), so the peak resident set size
(``ru_maxrss``, read at the end of the child) belongs to that tool alone. Both sides of a comparison build their
input from the same seeded generator, identically, before the clock starts; ``time.perf_counter()`` brackets the
computation only. The parent prints a table (seconds, peak RSS, ratios, targets, PASS/MISS) and writes the figures
to ``benchmarks/results/evaluate-<date>.json``. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _harness import (  # the benchmarks folder is on sys.path when a benchmark runs
    _cpu_seconds,
    _fmt_mib,
    _fmt_s,
    _human,
    _print_profile,
    _rss_mib,
    act_as_child,
    child_env,
    finish_report,
    row_overrides,
    scenario_names,
    start_report,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA_DIR = ROOT / "bench-data"  # git-ignored cache of generated files
RESULTS_DIR = HERE / "results"
SEED = 20_240_601
GEN_CHUNK = 1 << 20  # rows generated per step (also the Parquet row-group size below is 1M rows)
ROW_GROUP = 1_000_000
THRESHOLD = 0.5
BINS = 10

BINARY_METRICS = (
    "accuracy", "balanced_accuracy", "precision", "recall", "f1", "specificity", "fpr", "fnr", "mcc",
    "selection_rate", "roc_auc", "average_precision", "log_loss", "brier", "ece",
)
COUNTING_METRICS = BINARY_METRICS[:12]  # functions of integer counts only (confusion cells, sorted-score table)
FLOAT_SUMMED_METRICS = ("log_loss", "brier", "ece")  # sums of per-row floats: order of addition matters
AGREEMENT_TOLERANCE = 1e-6
PACKAGES = ("assay", "numpy", "scipy", "pyarrow", "pandas", "scikit-learn", "fairlearn")  # versions in the report


# --------------------------------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    rows: int
    quick_rows: int
    sides: tuple[str, ...]  # first side is assay; the second (if any) is what it is compared with
    about: str
    speed_target: float | None = None  # assay at least this many times faster than the second side
    memory_target: float | None = None  # assay peak RSS at most this multiple of the second side's
    rss_limit_mib: float | None = None  # assay peak RSS below this many MiB
    budget_s: float | None = None  # default child time limit at full size (--timeout overrides)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("binary-10m", 10_000_000, 500_000, ("assay", "sklearn"),
                 "all 15 binary metrics: assay with intervals vs scikit-learn point values",
                 speed_target=10.0, memory_target=1.0),
        Scenario("segments-10m", 10_000_000, 500_000, ("assay", "pandas+sklearn"),
                 "20 segments: assay segments=['seg'] vs pandas groupby + the scikit-learn metric set per group",
                 speed_target=8.0),
        Scenario("fairness-1m", 1_000_000, 50_000, ("assay", "fairlearn"),
                 "3 sensitive groups: assay sensitive=['g'] vs fairlearn MetricFrame + 4 disparity functions",
                 speed_target=50.0),
        Scenario("parquet-100m", 100_000_000, 5_000_000, ("assay",),
                 "streaming a Parquet file (1M-row row groups, 10 segments) with segments=['segment']",
                 rss_limit_mib=1024.0, budget_s=360.0),
        Scenario("merge-chunks", 1_000_000, 100_000, ("whole", "chunked"),
                 "one table evaluated whole vs as 100 chunks merged (max_distinct_scores=None)"),
    )
}


# ------------------------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class Groups:
    """A categorical column of the generated data and how it shifts labels and scores."""

    column: str
    names: tuple[str, ...]
    probs: tuple[float, ...]
    rate: tuple[float, ...]  # P(label = 1) in the group
    shift: tuple[float, ...]  # logit shift of the score
    noise: tuple[float, ...]  # sd of the score's logit noise


def _groups(column: str, names: list[str], skew: float) -> Groups:
    k = len(names)
    w = [1.0 / (i + 1) ** skew for i in range(k)]
    total = sum(w)
    return Groups(
        column,
        tuple(names),
        tuple(x / total for x in w),
        tuple(0.3 + 0.12 * math.sin(1.7 * i) for i in range(k)),
        tuple(0.35 * math.cos(1.3 * i) for i in range(k)),
        tuple(1.0 + 0.04 * i for i in range(k)),
    )


NO_GROUPS = None
SEGMENTS_20 = _groups("seg", [f"seg-{i:02d}" for i in range(20)], skew=0.8)
SENSITIVE_3 = Groups("g", ("group-a", "group-b", "group-c"), (0.55, 0.3, 0.15), (0.25, 0.3, 0.4),
                     (0.0, 0.15, -0.1), (1.0, 1.1, 1.25))
REGIONS_10 = _groups("segment", [f"region-{i}" for i in range(10)], skew=0.6)
MERGE_5 = _groups("seg", [f"part-{i}" for i in range(5)], skew=0.5)


def generate_chunks(n: int, seed: int, groups: Groups | None, chunk: int = GEN_CHUNK) -> Any:
    """Yield ``(y int8, s float64, codes int8 | None)`` in chunks: label ~ Bernoulli(rate), score = a clipped
    logistic of (label signal + group shift + Gaussian noise), float64 in (0, 1) with ~all values distinct."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if groups is not None:
        cdf = np.cumsum(groups.probs)
        cdf[-1] = 1.0
        rate, shift, noise = (np.asarray(v) for v in (groups.rate, groups.shift, groups.noise))
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        if groups is None:
            codes = None
            y = rng.random(m) < 0.3
            logit = rng.standard_normal(m)
            logit += -1.2 + 1.8 * y
        else:
            codes = np.searchsorted(cdf, rng.random(m), side="right").astype(np.int8)
            y = rng.random(m) < rate[codes]
            logit = rng.standard_normal(m) * noise[codes]
            logit += -1.2 + 1.8 * y + shift[codes]
        s = 1.0 / (1.0 + np.exp(-logit))
        np.clip(s, 1e-6, 1 - 1e-6, out=s)
        yield y.astype(np.int8), s, codes


def generate(n: int, seed: int, groups: Groups | None) -> dict[str, Any]:
    """The whole table as numpy arrays, filled chunk by chunk into preallocated arrays (bounded temporaries)."""
    import numpy as np

    y = np.empty(n, np.int8)
    s = np.empty(n, np.float64)
    codes = np.empty(n, np.int8) if groups is not None else None
    at = 0
    for yc, sc, cc in generate_chunks(n, seed, groups):
        m = yc.shape[0]
        y[at:at + m] = yc
        s[at:at + m] = sc
        if codes is not None:
            codes[at:at + m] = cc
        at += m
    return {"y": y, "s": s, "codes": codes}


def parquet_path(n: int) -> Path:
    return DATA_DIR / f"evaluate-{n}-seed{SEED}-v1.parquet"


def ensure_parquet(n: int) -> dict[str, Any]:
    """Write the Parquet file of ``n`` rows once (chunk by chunk with a ParquetWriter) and reuse it afterwards."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = parquet_path(n)
    if path.exists():
        return {"path": str(path), "bytes": path.stat().st_size, "generated": False, "seconds": 0.0}
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.partial")
    names = pa.array(list(REGIONS_10.names), pa.string())
    schema = pa.schema([("label", pa.int8()), ("score", pa.float64()),
                        ("segment", pa.dictionary(pa.int8(), pa.string()))])
    t0 = time.perf_counter()
    with pq.ParquetWriter(tmp, schema) as writer:
        buf: list[tuple[Any, Any, Any]] = []
        pending = 0
        for y, s, codes in generate_chunks(n, SEED, REGIONS_10, chunk=ROW_GROUP):
            buf.append((y, s, codes))
            pending += y.shape[0]
            if pending >= ROW_GROUP:
                _write(writer, schema, names, buf, np)
                buf, pending = [], 0
        if buf:
            _write(writer, schema, names, buf, np)
    tmp.rename(path)
    return {"path": str(path), "bytes": path.stat().st_size, "generated": True,
            "seconds": round(time.perf_counter() - t0, 2)}


def _write(writer: Any, schema: Any, names: Any, buf: list[tuple[Any, Any, Any]], np: Any) -> None:
    import pyarrow as pa

    y = np.concatenate([b[0] for b in buf])
    s = np.concatenate([b[1] for b in buf])
    codes = np.concatenate([b[2] for b in buf])
    seg = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int8()), names)
    writer.write_table(pa.Table.from_arrays([pa.array(y), pa.array(s), seg], schema=schema),
                       row_group_size=ROW_GROUP)


# ------------------------------------------------------------------------------------------- peer metrics


def sklearn_binary(y: Any, s: Any) -> dict[str, Any]:
    """The 15 binary metrics and the confusion matrix with scikit-learn (and numpy for ECE), no intervals."""
    import numpy as np
    from sklearn import metrics as skm

    p = (s >= THRESHOLD).astype(np.int8)
    cm = skm.confusion_matrix(y, p, labels=[0, 1])
    tn, fp, fn, tp = (int(v) for v in cm.ravel())
    edges = np.linspace(0.0, 1.0, BINS + 1)
    sum_s = np.histogram(s, bins=edges, weights=s)[0]
    sum_y = np.histogram(s, bins=edges, weights=y.astype(np.float64))[0]
    values = {
        "accuracy": skm.accuracy_score(y, p),
        "balanced_accuracy": skm.balanced_accuracy_score(y, p),
        "precision": skm.precision_score(y, p),
        "recall": skm.recall_score(y, p),
        "f1": skm.f1_score(y, p),
        "specificity": skm.recall_score(y, p, pos_label=0),
        "fpr": fp / (fp + tn),
        "fnr": fn / (fn + tp),
        "mcc": skm.matthews_corrcoef(y, p),
        "selection_rate": p.mean(),
        "roc_auc": skm.roc_auc_score(y, s),
        "average_precision": skm.average_precision_score(y, s),
        "log_loss": skm.log_loss(y, s, labels=[0, 1]),
        "brier": skm.brier_score_loss(y, s),
        "ece": np.abs(sum_y - sum_s).sum() / len(s),
    }
    return {"metrics": {k: float(v) for k, v in values.items()}, "confusion_matrix": cm.tolist()}


# ------------------------------------------------------------------------------------------------- children


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one side of one scenario in this (fresh) process and return its figures."""
    import numpy as np

    name, side, n, repeat = spec["scenario"], spec["side"], spec["rows"], spec["repeat"]
    rss_start = _rss_mib()
    if side in ("assay", "whole", "chunked"):
        import pyarrow as pa

        import assay
    if side == "sklearn" or side == "pandas+sklearn":
        import sklearn.metrics  # noqa: F401
    if side == "pandas+sklearn":
        import pandas as pd
    if side == "fairlearn":
        import fairlearn.metrics as flm
        import pandas as pd
        from sklearn.metrics import accuracy_score
    rss_imports = _rss_mib()

    # -- the input, built identically for both sides before the clock starts ---------------------------------
    groups = {"binary-10m": NO_GROUPS, "segments-10m": SEGMENTS_20, "fairness-1m": SENSITIVE_3,
              "merge-chunks": MERGE_5}.get(name)
    data = generate(n, SEED, groups) if name != "parquet-100m" else None
    if data is not None and groups is not None:
        if side in ("assay", "whole", "chunked"):  # Arrow's categorical (what a pandas categorical becomes)
            data[groups.column] = pa.DictionaryArray.from_arrays(pa.array(data["codes"], pa.int8()),
                                                                 pa.array(list(groups.names)))
        else:  # pandas' categorical over the very same codes
            data[groups.column] = pd.Categorical.from_codes(data["codes"], categories=list(groups.names))
    if data is not None:
        data.pop("codes")
    if name == "segments-10m" and side == "pandas+sklearn":
        frame = pd.DataFrame(data, copy=False)
        del data
    if name == "fairness-1m" and side == "fairlearn":
        sensitive = pd.Series(data["g"], name="g")
    if name == "merge-chunks" and side == "chunked":
        import tempfile

        import pyarrow.parquet as pq

        merge_path = os.path.join(tempfile.mkdtemp(prefix="assay-bench-"), "merge.parquet")
        pq.write_table(pa.table(data), merge_path, row_group_size=max(n // 100, 1))
        spec = {**spec, "merge_path": merge_path}
    rss_data = _rss_mib()
    clock: dict[str, float] = {"t0": 0.0}

    def progress(rows: int, total: int | None) -> None:
        """Rows streamed so far, seconds and peak RSS: read by the parent if the child runs out of time."""
        if spec.get("progress"):
            with open(spec["progress"], "a") as fh:
                fh.write(f"{rows} {time.perf_counter() - clock['t0']:.3f} {_rss_mib():.1f}\n")

    def run_once() -> Any:
        if name == "binary-10m" and side == "assay":
            return assay.evaluate(data, task="binary", label="y", score="s").to_dict()
        if name == "binary-10m" and side == "sklearn":
            return sklearn_binary(data["y"], data["s"])
        if name == "segments-10m" and side == "assay":
            return assay.evaluate(data, task="binary", label="y", score="s", segments=["seg"]).to_dict()
        if name == "segments-10m" and side == "pandas+sklearn":
            out = {}
            for key, sub in frame.groupby("seg", observed=True, sort=True):
                out[str(key)] = sklearn_binary(sub["y"].to_numpy(), sub["s"].to_numpy())
            return out
        if name == "fairness-1m" and side == "assay":
            return assay.evaluate(data, task="binary", label="y", score="s", sensitive=["g"]).to_dict()
        if name == "fairness-1m" and side == "fairlearn":
            y = data["y"]
            p = (data["s"] >= THRESHOLD).astype(np.int8)
            frame_ = flm.MetricFrame(
                metrics={"selection_rate": flm.selection_rate, "tpr": flm.true_positive_rate,
                         "fpr": flm.false_positive_rate, "accuracy": accuracy_score},
                y_true=y, y_pred=p, sensitive_features=sensitive)
            by_group = frame_.by_group
            disparities = {
                "demographic_parity_difference": flm.demographic_parity_difference(y, p, sensitive_features=sensitive),
                "demographic_parity_ratio": flm.demographic_parity_ratio(y, p, sensitive_features=sensitive),
                "equalized_odds_difference": flm.equalized_odds_difference(y, p, sensitive_features=sensitive),
                "equalized_odds_ratio": flm.equalized_odds_ratio(y, p, sensitive_features=sensitive),
            }
            return {"groups": {str(k): {m: float(v) for m, v in row.items()} for k, row in by_group.iterrows()},
                    "disparities": {k: float(v) for k, v in disparities.items()}}
        if name == "parquet-100m":
            return assay.evaluate(spec["path"], task="binary", label="label", score="score",
                                  segments=["segment"], progress=progress).to_dict()
        if name == "merge-chunks":
            # whole: the table in memory, one exact batch; chunked: the same rows streamed from a Parquet file
            # (written before the clock) in 100 chunks whose states are merged, with no cap on distinct scores
            source = data if side == "whole" else spec["merge_path"]
            run = assay.evaluate(source, task="binary", label="y", score="s", segments=["seg"],
                                 max_distinct_scores=None, chunk_rows=max(n // 100, 1),
                                 now=datetime(2000, 1, 1, tzinfo=UTC))
            return run.to_dict()
        raise SystemExit(f"unknown scenario/side {name}/{side}")

    times = []
    result = None
    profiler = None
    if spec.get("profile") and side in ("assay", "whole", "chunked"):
        import cProfile

        profiler = cProfile.Profile()
    cpu_before = _cpu_seconds()
    for _ in range(repeat):
        result = None
        clock["t0"] = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        result = run_once()
        times.append(time.perf_counter() - clock["t0"])
        if profiler is not None:
            profiler.disable()
    if profiler is not None:
        profiler.dump_stats(spec["profile"])
    cpu = _cpu_seconds() - cpu_before
    out: dict[str, Any] = {
        "scenario": name, "side": side, "rows": n, "seconds": min(times), "times": times,
        "cpu_seconds": cpu, "cpu_per_wall": cpu / sum(times) if sum(times) > 0 else None,
        "rss_start_mib": rss_start, "rss_imports_mib": rss_imports, "rss_data_mib": rss_data,
    }
    out["values"] = _extract(name, side, result)
    out["peak_rss_mib"] = _rss_mib()
    return out


def _extract(name: str, side: str, result: Any) -> Any:
    """What the parent compares: metric values (peers' and assay's under the same names)."""
    if side in ("assay", "whole", "chunked"):
        doc = result
        if name == "merge-chunks":
            return {k: doc[k] for k in ("metrics", "slices", "confusion_matrix", "calibration", "curves") if k in doc}
        metrics = {m: e["value"] for m, e in doc["metrics"].items()}
        out: dict[str, Any] = {"metrics": metrics, "confusion_matrix": doc.get("confusion_matrix", {}).get("matrix"),
                               "notes": doc.get("notes", [])}
        if name in ("segments-10m", "parquet-100m"):
            col = "seg" if name == "segments-10m" else "segment"
            out["slices"] = {g: {m: e["value"] for m, e in entry["metrics"].items()}
                             for g, entry in doc["slices"][col].items()}
        if name == "fairness-1m":
            fair = doc["fairness"]["g"]
            out["groups"] = {g: {m: fair["groups"][g][m]["value"] for m in ("selection_rate", "tpr", "fpr", "accuracy")}
                             for g in fair["groups"]}
            out["disparities"] = {k: v["value"] for k, v in fair.items() if k != "groups"}
        return out
    return result


# --------------------------------------------------------------------------------------------------- parent


def run_child(spec: dict[str, Any], env: dict[str, str], timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="assay-bench-") as tmp:
        result_path = Path(tmp) / "result.json"
        progress_path = Path(tmp) / "progress.txt"
        spec = {**spec, "progress": str(progress_path)}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec), "--result", str(result_path)]
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        except subprocess.TimeoutExpired:
            out: dict[str, Any] = {"wall": time.perf_counter() - t0, "timed_out": True, "timeout_s": timeout,
                                   "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0]}
            lines = progress_path.read_text().split() if progress_path.exists() else []
            if len(lines) >= 3:  # the last progress line: rows, seconds, peak RSS so far
                rows, secs, rss = int(lines[-3]), float(lines[-2]), float(lines[-1])
                out.update(rows_done=rows, seconds_at_last_chunk=secs, peak_rss_mib=rss,
                           projected_seconds=secs * spec["rows"] / rows if rows else None)
            else:
                out["error"] = f"timed out after {timeout:.0f} s"
            return out
        if proc.returncode != 0 or not result_path.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
            return {"error": f"exit code {proc.returncode}", "stderr": tail}
        out = json.loads(result_path.read_text())
        out["wall"] = time.perf_counter() - t0
        out["loadavg_before"], out["loadavg_after"] = load_before, os.getloadavg()[0]
        return out


def _diffs(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """|a - b| for every metric both define (None = undefined is skipped)."""
    out = {}
    for k, va in a.items():
        vb = b.get(k)
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
            out[prefix + k] = abs(float(va) - float(vb))
    return out


def compare(name: str, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Agreement figures of a scenario's sides."""
    if name == "merge-chunks":
        return compare_merge(results["whole"]["values"], results["chunked"]["values"])
    if name == "parquet-100m":
        return {}
    sides = SCENARIOS[name].sides
    a, b = results[sides[0]]["values"], results[sides[1]]["values"]
    diffs: dict[str, float] = {}
    extra: dict[str, Any] = {}
    if name == "binary-10m":
        diffs = _diffs(a["metrics"], b["metrics"])
        extra["confusion_matrix_equal"] = a["confusion_matrix"] == b["confusion_matrix"]
        extra["assay_notes"] = a.get("notes", [])
    elif name == "segments-10m":
        for g, peer in b.items():
            diffs.update(_diffs(a["slices"].get(g, {}), peer["metrics"], prefix=f"{g}/"))
        extra["groups_assay"], extra["groups_peer"] = len(a["slices"]), len(b)
        extra["assay_notes"] = a.get("notes", [])
    elif name == "fairness-1m":
        for g, peer in b["groups"].items():
            diffs.update(_diffs(a["groups"].get(g, {}), peer, prefix=f"{g}/"))
        diffs.update(_diffs(a["disparities"], b["disparities"]))
    worst = max(diffs, key=diffs.get) if diffs else None
    return {"compared": len(diffs), "max_abs_diff": diffs[worst] if worst else None, "worst": worst,
            "diffs": diffs, **extra}


def _ulps(a: float, b: float) -> int:
    def key(x: float) -> int:
        bits = struct.unpack("<q", struct.pack("<d", x + 0.0))[0]
        return bits if bits >= 0 else -(bits & 0x7FFFFFFFFFFFFFFF)

    return abs(key(a) - key(b))


def compare_merge(whole: dict[str, Any], chunked: dict[str, Any]) -> dict[str, Any]:
    """Bit-equality of counting metrics, ulps of float-summed ones, over the overall metrics and every slice."""
    def entries(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out = {f"overall/{m}": e for m, e in doc["metrics"].items()}
        for col, groups in doc.get("slices", {}).items():
            for g, entry in groups.items():
                out.update({f"{col}={g}/{m}": e for m, e in entry["metrics"].items()})
        return out

    ea, eb = entries(whole), entries(chunked)
    fields = ("value", "ci_low", "ci_high", "se", "n")
    counting_unequal: list[str] = []
    counting_fields = 0
    ulps: dict[str, dict[str, int]] = {m: {} for m in FLOAT_SUMMED_METRICS}
    for key in sorted(set(ea) | set(eb)):
        metric = key.rsplit("/", 1)[1]
        a, b = ea.get(key, {}), eb.get(key, {})
        for f in fields:
            va, vb = a.get(f), b.get(f)
            if metric in COUNTING_METRICS:
                counting_fields += 1
                if va != vb or type(va) is not type(vb):
                    counting_unequal.append(f"{key}.{f}: {va!r} vs {vb!r}")
            elif metric in FLOAT_SUMMED_METRICS and isinstance(va, float) and isinstance(vb, float):
                u = _ulps(va, vb)
                ulps[metric][f] = max(ulps[metric].get(f, 0), u)
    return {
        "counting_bit_equal": not counting_unequal,
        "counting_fields_compared": counting_fields,
        "counting_unequal": counting_unequal[:20],
        "confusion_matrix_equal": whole.get("confusion_matrix") == chunked.get("confusion_matrix"),
        "curves_equal": whole.get("curves") == chunked.get("curves"),
        "max_ulps": ulps,
        "max_ulps_value": {m: u.get("value", 0) for m, u in ulps.items()},
    }


# ---------------------------------------------------------------------------------------------------- table


def build_rows(name: str, rec: dict[str, Any], quick: bool) -> list[list[str]]:
    sc = SCENARIOS[name]
    res = rec["results"]
    rows: list[list[str]] = []
    label = f"{name} ({_human(rec['rows'])})"
    err = {side: r.get("error") for side, r in res.items() if r.get("error")}
    err.update({side: f"timed out after {r['timeout_s']:.0f} s" for side, r in res.items()
                if r.get("timed_out") and len(sc.sides) > 1})
    if err:
        return [[label, "error", "", "", "", "", "; ".join(f"{k}: {v}" for k, v in err.items())]]
    a = res[sc.sides[0]]
    checks = rec.setdefault("checks", [])

    def check(measure: str, ok: bool | None, target: str, value: Any) -> str:
        checks.append({"measure": measure, "target": target, "value": value, "pass": ok})
        return "info" if ok is None else ("PASS" if ok else "MISS")

    if name == "merge-chunks":
        b = res["chunked"]
        cmp = rec["comparison"]
        ratio = b["seconds"] / a["seconds"]
        rows.append([label, "time (s) whole | 100 chunks", _fmt_s(a["seconds"]), _fmt_s(b["seconds"]),
                     f"{ratio:.2f}x slower", "—", check("chunked/whole time", None, "", ratio)])
        rows.append(["", "peak RSS (MiB) whole | chunks", _fmt_mib(a["peak_rss_mib"]), _fmt_mib(b["peak_rss_mib"]),
                     f"{b['peak_rss_mib'] / a['peak_rss_mib']:.2f}", "—",
                     check("chunked/whole RSS", None, "", b["peak_rss_mib"] / a["peak_rss_mib"])])
        ok = cmp["counting_bit_equal"] and cmp["confusion_matrix_equal"] and cmp["curves_equal"]
        rows.append(["", "counting metrics bit-equal", f"{cmp['counting_fields_compared']} fields",
                     "equal" if ok else f"{len(cmp['counting_unequal'])}+ differ", "—", "bit-equal",
                     check("counting metrics bit-equal", ok, "bit-equal", ok)])
        u = cmp["max_ulps_value"]
        text = ", ".join(f"{m} {u[m]}" for m in FLOAT_SUMMED_METRICS)
        all_fields = max((max(v.values(), default=0) for v in cmp["max_ulps"].values()), default=0)
        rows.append(["", "max ulp, value (float sums)", text, f"any field: {all_fields}", "—", "report",
                     check("max ulp float-summed", None, "", cmp["max_ulps"])])
        return rows

    if len(sc.sides) == 1:
        if a.get("timed_out"):
            done, total = a["rows_done"], rec["rows"]
            rows.append([label, "time (s)", f"> {a['timeout_s']:.0f}", "—",
                         f"stopped at {_human(done)} of {_human(total)} rows", "—",
                         check("time", None, "", None)])
            rows.append(["", "  projected (linear)", f"~{a['projected_seconds']:.0f}", "—",
                         f"{done / a['seconds_at_last_chunk'] / 1e6:.2f}M rows/s", "—", ""])
            over = a["peak_rss_mib"] >= sc.rss_limit_mib if sc.rss_limit_mib else False
            rows.append(["", "peak RSS (MiB) so far", f">= {a['peak_rss_mib']:.0f}", "—", "—",
                         f"< {sc.rss_limit_mib:.0f}",
                         check("peak RSS", False if over else None, f"< {sc.rss_limit_mib} MiB", a["peak_rss_mib"])])
            return rows
        rows.append([label, "time (s)", _fmt_s(a["seconds"]), "—", f"{rec['rows'] / a['seconds'] / 1e6:.2f}M rows/s",
                     "—", check("time", None, "", a["seconds"])])
        ok = a["peak_rss_mib"] < sc.rss_limit_mib if sc.rss_limit_mib else None
        rows.append(["", "peak RSS (MiB)", _fmt_mib(a["peak_rss_mib"]), "—", "—",
                     f"< {sc.rss_limit_mib:.0f}",
                     check("peak RSS", ok, f"< {sc.rss_limit_mib} MiB", a["peak_rss_mib"])])
        return rows

    peer = sc.sides[1]
    b = res[peer]
    speed = b["seconds"] / a["seconds"]
    ok = speed >= sc.speed_target if sc.speed_target else None
    rows.append([label, f"time (s) vs {peer}", _fmt_s(a["seconds"]), _fmt_s(b["seconds"]),
                 f"{speed:.2f}x faster" if speed >= 1 else f"{1 / speed:.2f}x slower",
                 f">= {sc.speed_target:g}x" if sc.speed_target else "—",
                 check("speed-up", ok, f">= {sc.speed_target}x", speed)])
    mem = a["peak_rss_mib"] / b["peak_rss_mib"]
    ok = mem <= sc.memory_target if sc.memory_target else None
    rows.append(["", "peak RSS (MiB)", _fmt_mib(a["peak_rss_mib"]), _fmt_mib(b["peak_rss_mib"]), f"{mem:.2f}",
                 f"<= {sc.memory_target:.2f}" if sc.memory_target else "—",
                 check("memory ratio", ok, f"<= {sc.memory_target}", mem)])
    rows.append(["", "  before the clock (imports, input)", _fmt_mib(a["rss_data_mib"]), _fmt_mib(b["rss_data_mib"]),
                 "", "", ""])
    rows.append(["", "  added by the computation", _fmt_mib(a["peak_rss_mib"] - a["rss_data_mib"]),
                 _fmt_mib(b["peak_rss_mib"] - b["rss_data_mib"]),
                 f"{(a['peak_rss_mib'] - a['rss_data_mib']) / max(b['peak_rss_mib'] - b['rss_data_mib'], 1):.2f}",
                 "", "info"])
    cmp = rec["comparison"]
    if cmp.get("max_abs_diff") is not None:
        ok = cmp["max_abs_diff"] <= AGREEMENT_TOLERANCE
        rows.append(["", f"max |Δ| of {cmp['compared']} values", f"{cmp['max_abs_diff']:.1e}", f"({cmp['worst']})",
                     "—", f"<= {AGREEMENT_TOLERANCE:g}", check("agreement", ok, f"<= {AGREEMENT_TOLERANCE}",
                                                                 cmp["max_abs_diff"])])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small inputs: a smoke run in under a minute")
    parser.add_argument("--only", default="", help="comma-separated scenario names: " + ", ".join(SCENARIOS))
    parser.add_argument("--rows", action="append", default=[], metavar="NAME=N",
                        help="override a scenario's row count (repeatable)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per child; the fastest is reported")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds before a child is stopped (default: 1800, and 360 for parquet-100m at full "
                        "size, which then reports how far it got)")
    parser.add_argument("--profile", action="store_true",
                        help="run assay's side under cProfile; stats go to benchmarks/results/profile-*.pstats")
    parser.add_argument("--out", default=None,
                        help="JSON output path (default benchmarks/results/evaluate-<date>.json)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if act_as_child(args, child):
        return 0

    names = scenario_names(parser, args.only, SCENARIOS)
    overrides = row_overrides(parser, args.rows, SCENARIOS)
    env, scrubbed = child_env()
    started, report = start_report("evaluate", args, seed=SEED, packages=PACKAGES, scrubbed=scrubbed)
    rows: list[list[str]] = []
    t_all = time.perf_counter()
    for name in names:
        sc = SCENARIOS[name]
        n = overrides.get(name, sc.quick_rows if args.quick else sc.rows)
        rec: dict[str, Any] = {"rows": n, "about": sc.about, "results": {}}
        spec_base: dict[str, Any] = {"scenario": name, "rows": n, "repeat": args.repeat}
        timeout = args.timeout or (sc.budget_s if sc.budget_s and not args.quick and name not in overrides else 1800.0)
        if name == "parquet-100m":
            print(f"[{name}] preparing {parquet_path(n)} ...", flush=True)
            rec["file"] = ensure_parquet(n)
            spec_base["path"] = rec["file"]["path"]
            if rec["file"]["generated"]:
                print(f"[{name}]   written in {rec['file']['seconds']} s, {rec['file']['bytes'] / 2**20:.0f} MiB",
                      flush=True)
        for side in sc.sides:
            print(f"[{name}] {side} on {_human(n)} rows ...", end=" ", flush=True)
            spec = {**spec_base, "side": side}
            if args.profile:
                spec["profile"] = str(RESULTS_DIR / f"profile-{name}-{side}.pstats")
                RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            r = run_child(spec, env, timeout)
            rec["results"][side] = r
            if r.get("error"):
                print(f"FAILED ({r['error']})\n  " + "\n  ".join(r.get("stderr", [])), flush=True)
            elif r.get("timed_out"):
                print(f"stopped at the {timeout:.0f} s limit after {r['rows_done']:,} rows "
                      f"(peak {r['peak_rss_mib']:.0f} MiB so far)", flush=True)
            else:
                print(f"{r['seconds']:.2f} s, peak {r['peak_rss_mib']:.0f} MiB", flush=True)
                if args.profile and Path(spec.get("profile", "")).exists():
                    _print_profile(spec["profile"])
        if not any(r.get("error") or r.get("timed_out") for r in rec["results"].values()):
            rec["comparison"] = compare(name, rec["results"])
        rows.extend(build_rows(name, rec, args.quick))
        report["scenarios"][name] = rec
    report["total_seconds"] = round(time.perf_counter() - t_all, 1)
    suffix = ("-quick" if args.quick else "") + ("-" + "+".join(names) if args.only or overrides else "")
    default = RESULTS_DIR / f"evaluate-{started:%Y-%m-%d}{suffix}.json"
    finish_report(report, rows, quick=args.quick, out=args.out, default=default, root=ROOT)
    failed = any(r.get("error") for rec in report["scenarios"].values() for r in rec["results"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Benchmark ``assay.drift`` against Evidently's ``DataDriftPreset`` and a hand-written numpy/scipy loop.

Run from the repository root (``bash benchmarks/setup-peers.sh`` first: Evidently lives in ``.venv-peers``)::

    .venv/bin/python benchmarks/bench_drift.py            # every scenario at full size
    .venv/bin/python benchmarks/bench_drift.py --quick    # small sizes: a smoke run
    .venv/bin/python benchmarks/bench_drift.py --only univariate-1m,profile-1m

The reference and current tables (N rows x 25 columns: 20 numeric, 5 categorical; the current table has clear
shifts in 7 columns) are generated once from a seeded generator and written to Parquet files in a temporary folder,
untimed. Every measurement runs in a fresh child process (this file with ``--child``; Evidently's under
``.venv-peers/bin/python``), so the peak resident set size (``ru_maxrss``, read at the end of the child) belongs to
that tool alone. Each tool reads the two Parquet files itself inside its timed region, as a user would. The parent
prints a table (seconds, peak RSS, ratios, targets, PASS/MISS), the columns each tool flags, and writes the
figures to ``benchmarks/results/drift.json``. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
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
    versions,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS_DIR = HERE / "results"
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
SEED = 20_240_611
GEN_CHUNK = 1_000_000  # rows generated per step; also the Parquet row-group size
ALPHA = 0.05
ASSAY_SIDES = ("assay", "assay-multivariate", "assay-profile", "assay-raw", "make-profile")


# --------------------------------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    rows: int
    quick_rows: int
    sides: tuple[str, ...]  # first side is assay's; the second (if any) is what the targets compare it with
    about: str
    speed_target: float | None = None  # assay at least this many times faster than the second side
    memory_target: float | None = None  # assay peak RSS at most this multiple of the second side's
    agreement: bool = False  # compare the per-column verdicts of assay and the second side


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("univariate-1m", 1_000_000, 100_000, ("assay", "evidently", "numpy-scipy"),
                 "per-column drift of 25 columns: assay.drift(ref.parquet, cur.parquet) vs Evidently "
                 "DataDriftPreset vs a numpy/scipy loop (KS + PSI + chi-square)",
                 speed_target=20.0, memory_target=0.25, agreement=True),
        Scenario("multivariate-1m", 1_000_000, 100_000, ("assay-multivariate",),
                 "assay.drift(..., multivariate=True): the per-column tests plus the domain classifier"),
        Scenario("profile-1m", 1_000_000, 100_000, ("assay-profile", "assay-raw"),
                 "assay.drift('ref.profile', cur.parquet) vs assay.drift(ref.parquet, cur.parquet); the profile is "
                 "made beforehand, untimed"),
        Scenario("univariate-10m", 10_000_000, 500_000, ("assay", "numpy-scipy"),
                 "per-column drift at 10M rows: assay vs the numpy/scipy loop (Evidently only with "
                 "--with-evidently-10m)"),
    )
}


# ------------------------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class Column:
    """One generated column: its distribution, and how the current table differs from the reference."""

    name: str
    kind: str  # normal, lognormal, uniform, exponential, poisson, categorical
    params: tuple[float, ...] = ()
    levels: tuple[float, ...] = ()  # categorical: the reference shares
    shift: str = ""  # "", "mean", "variance", "mix", "missing"
    missing: float = 0.0  # missing share on both sides
    current_levels: tuple[float, ...] = ()  # categorical with shift="mix": the current shares
    shift_about: str = field(default="", compare=False)


def _zipf(k: int, s: float) -> tuple[float, ...]:
    w = [1.0 / (i + 1) ** s for i in range(k)]
    return tuple(x / sum(w) for x in w)


COLUMNS: tuple[Column, ...] = (
    Column("num_00", "normal", (10.0, 2.0), shift="mean", shift_about="mean +0.5 sd"),
    Column("num_01", "lognormal", (0.0, 0.5), shift="mean", shift_about="mean +0.5 sd"),
    Column("num_02", "uniform", (0.0, 100.0), shift="mean", shift_about="mean +0.5 sd"),
    Column("num_03", "exponential", (3.0,), shift="mean", shift_about="mean +0.5 sd"),
    Column("num_04", "normal", (0.0, 1.0), shift="variance", shift_about="variance x2"),
    Column("num_05", "normal", (50.0, 10.0), shift="missing", shift_about="missing 0% -> 20%"),
    Column("num_06", "normal", (-3.0, 0.5)),
    Column("num_07", "lognormal", (1.0, 0.8)),
    Column("num_08", "uniform", (-1.0, 1.0)),
    Column("num_09", "exponential", (0.5,)),
    Column("num_10", "normal", (100.0, 15.0), missing=0.05),
    Column("num_11", "lognormal", (2.0, 0.3), missing=0.10),
    Column("num_12", "poisson", (4.0,)),
    Column("num_13", "poisson", (20.0,)),
    Column("num_14", "normal", (0.0, 5.0)),
    Column("num_15", "exponential", (10.0,)),
    Column("num_16", "uniform", (5.0, 6.0)),
    Column("num_17", "normal", (1e6, 2e4)),
    Column("num_18", "lognormal", (-1.0, 1.2)),
    Column("num_19", "normal", (0.0, 1.0), missing=0.02),
    Column("cat_0", "categorical", levels=(0.40, 0.30, 0.20, 0.10), shift="mix",
           current_levels=(0.25, 0.30, 0.20, 0.25), shift_about="shares 40/30/20/10 -> 25/30/20/25"),
    Column("cat_1", "categorical", levels=(0.5, 0.3, 0.2)),
    Column("cat_2", "categorical", levels=_zipf(10, 1.0)),
    Column("cat_3", "categorical", levels=(0.3, 0.2, 0.2, 0.1, 0.1, 0.1), missing=0.03),
    Column("cat_4", "categorical", levels=_zipf(50, 0.8)),
)
NUMERIC = tuple(c.name for c in COLUMNS if c.kind != "categorical")
CATEGORICAL = tuple(c.name for c in COLUMNS if c.kind == "categorical")
SHIFTED = tuple(c.name for c in COLUMNS if c.shift)
# distribution shifts every tool is meant to see; a missing-rate jump is invisible to tools that drop missing values
CLEAR_SHIFTS = tuple(c.name for c in COLUMNS if c.shift in ("mean", "variance", "mix"))
UNSHIFTED = tuple(c.name for c in COLUMNS if not c.shift)


def _sd(c: Column) -> float:
    if c.kind == "normal":
        return c.params[1]
    if c.kind == "lognormal":
        mu, s = c.params
        return math.sqrt((math.exp(s * s) - 1) * math.exp(2 * mu + s * s))
    if c.kind == "uniform":
        return (c.params[1] - c.params[0]) / math.sqrt(12)
    if c.kind == "exponential":
        return c.params[0]
    return math.sqrt(c.params[0])  # poisson


def _mean(c: Column) -> float:
    if c.kind == "normal":
        return c.params[0]
    if c.kind == "lognormal":
        return math.exp(c.params[0] + c.params[1] ** 2 / 2)
    if c.kind == "uniform":
        return (c.params[0] + c.params[1]) / 2
    return c.params[0]  # exponential (scale), poisson


def _levels(c: Column) -> list[str]:
    return [f"{c.name}-{chr(97 + i)}" if i < 26 else f"{c.name}-z{i}" for i in range(len(c.levels))]


def generate_chunk(rng: Any, m: int, current: bool) -> Any:
    """One chunk of the reference (``current=False``) or current table as a pyarrow Table (nulls for missing)."""
    import numpy as np
    import pyarrow as pa

    arrays, names = [], []
    for c in COLUMNS:
        if c.kind == "categorical":
            shares = c.current_levels if current and c.shift == "mix" else c.levels
            cdf = np.cumsum(shares)
            cdf[-1] = 1.0
            codes = np.searchsorted(cdf, rng.random(m), side="right").astype(np.int8)
            mask = rng.random(m) < c.missing if c.missing else None
            arr: Any = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int8(), mask=mask),
                                                      pa.array(_levels(c), pa.string()))
        else:
            if c.kind == "normal":
                x = rng.normal(c.params[0], c.params[1], m)
            elif c.kind == "lognormal":
                x = rng.lognormal(c.params[0], c.params[1], m)
            elif c.kind == "uniform":
                x = rng.uniform(c.params[0], c.params[1], m)
            elif c.kind == "exponential":
                x = rng.exponential(c.params[0], m)
            else:
                x = rng.poisson(c.params[0], m).astype(np.int64)
            if current and c.shift == "mean":
                x += 0.5 * _sd(c)
            elif current and c.shift == "variance":
                mu = _mean(c)
                x = mu + (x - mu) * math.sqrt(2.0)
            rate = 0.2 if current and c.shift == "missing" else c.missing
            mask = rng.random(m) < rate if rate else None
            arr = pa.array(x, mask=mask)
        arrays.append(arr)
        names.append(c.name)
    return pa.Table.from_arrays(arrays, names=names)


def write_tables(folder: Path, n: int) -> dict[str, Any]:
    """Write ``ref-<n>.parquet`` and ``cur-<n>.parquet`` (1M-row row groups) chunk by chunk; return their facts."""
    import numpy as np
    import pyarrow.parquet as pq

    out: dict[str, Any] = {"rows": n, "seed": SEED}
    t0 = time.perf_counter()
    for side, current in (("ref", False), ("cur", True)):
        path = folder / f"{side}-{n}.parquet"
        rng = np.random.default_rng([SEED, int(current)])
        decoded = 0
        writer = None
        for start in range(0, n, GEN_CHUNK):
            chunk = generate_chunk(rng, min(GEN_CHUNK, n - start), current)
            decoded += chunk.nbytes
            if writer is None:
                writer = pq.ParquetWriter(path, chunk.schema)
            writer.write_table(chunk, row_group_size=GEN_CHUNK)
        assert writer is not None
        writer.close()
        out[side] = {"path": str(path), "bytes": path.stat().st_size, "arrow_bytes": decoded}
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


# ------------------------------------------------------------------------------------------------------ peers


def numpy_scipy_drift(ref_path: str, cur_path: str) -> dict[str, Any]:
    """The hand-written loop: read with pyarrow, convert to numpy; per numeric column ``ks_2samp`` and PSI on the
    reference's deciles, per categorical column ``chi2_contingency`` (missing is a category of its own). A column
    drifts when its test's p-value is below ``ALPHA / columns`` (Bonferroni)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from scipy import stats

    ref, cur = pq.read_table(ref_path), pq.read_table(cur_path)
    level = ALPHA / len(ref.column_names)
    out: dict[str, Any] = {}
    for name in ref.column_names:
        a, b = ref.column(name), cur.column(name)
        if pa.types.is_dictionary(a.type):
            counts = []
            for col in (a, b):  # codes -> counts -> one row of the contingency table, keyed by the level's string
                table: dict[str | None, int] = {}
                for chunk in col.chunks:
                    codes = chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
                    tally = np.bincount(codes + 1, minlength=len(chunk.dictionary) + 1)
                    words = [None, *chunk.dictionary.to_pylist()]
                    for word, k in zip(words, tally.tolist()):
                        if k:
                            table[word] = table.get(word, 0) + k
                counts.append(table)
            keys = sorted(set(counts[0]) | set(counts[1]), key=str)
            grid = np.array([[c.get(k, 0) for k in keys] for c in counts])
            chi = stats.chi2_contingency(grid, correction=False)
            out[name] = {"method": "chi2", "p_value": float(chi.pvalue), "statistic": float(chi.statistic),
                         "drifted": bool(chi.pvalue < level)}
            continue
        x = a.to_numpy().astype(np.float64)  # nulls come out as NaN
        y = b.to_numpy().astype(np.float64)
        x, y = x[~np.isnan(x)], y[~np.isnan(y)]
        ks = stats.ks_2samp(x, y)
        edges = np.unique(np.quantile(x, np.linspace(0, 1, 11)[1:-1]))
        p = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1) / len(x)
        q = np.bincount(np.searchsorted(edges, y, side="right"), minlength=len(edges) + 1) / len(y)
        p, q = np.clip(p, 1e-4, None), np.clip(q, 1e-4, None)
        psi = float(np.sum((q - p) * np.log(q / p)))
        out[name] = {"method": "ks", "p_value": float(ks.pvalue), "statistic": float(ks.statistic), "psi": psi,
                     "drifted": bool(ks.pvalue < level)}
    return out


def evidently_drift(ref_path: str, cur_path: str) -> dict[str, Any]:
    """Evidently's DataDriftPreset with its own defaults (method and threshold chosen per column), told which
    columns are numeric and which categorical; the per-column verdict is the status of its per-column test."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
    definition = DataDefinition(numerical_columns=list(NUMERIC), categorical_columns=list(CATEGORICAL))
    report = Report([DataDriftPreset()], include_tests=True)
    snapshot = report.run(Dataset.from_pandas(cur, data_definition=definition),
                          Dataset.from_pandas(ref, data_definition=definition))
    doc = snapshot.dict()
    out: dict[str, Any] = {}
    for m in doc["metrics"]:
        cfg = m["config"]
        if cfg.get("type", "").endswith("ValueDrift"):
            out[cfg["column"]] = {"method": cfg.get("method"), "score": m["value"], "threshold": cfg.get("threshold")}
        elif cfg.get("type", "").endswith("DriftedColumnsCount"):
            out["__count__"] = m["value"]
    for t in doc.get("tests", []):
        column = t.get("metric_config", {}).get("params", {}).get("column")
        if t.get("id") == "drift" and column in out:
            out[column]["drifted"] = t["status"] == "FAIL"
    missing = [c for c in NUMERIC + CATEGORICAL if "drifted" not in out.get(c, {})]
    if missing:
        raise RuntimeError(f"no per-column verdict from Evidently for {missing}")
    return out


# ------------------------------------------------------------------------------------------------- children


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one side of one scenario in this (fresh) process and return its figures."""
    side = spec["side"]
    rss_start = _rss_mib()
    if side == "write-tables":  # the data, generated in a child so that the parent's RSS stays small
        return write_tables(Path(spec["folder"]), spec["rows"])
    if side in ASSAY_SIDES:
        import assay
    elif side == "evidently":
        import evidently  # noqa: F401
        import pandas  # noqa: F401
        from evidently.presets import DataDriftPreset  # noqa: F401
    elif side == "numpy-scipy":
        import numpy  # noqa: F401
        import pyarrow.parquet  # noqa: F401
        import scipy.stats  # noqa: F401
    rss_imports = _rss_mib()
    repeat, ref_path, cur_path = spec["repeat"], spec["ref"], spec["cur"]

    def run_once() -> Any:
        if side == "make-profile":
            assay.profile(ref_path).save(spec["profile_path"])
            return None
        if side in ("assay", "assay-raw"):
            return assay.drift(ref_path, cur_path).to_dict()
        if side == "assay-multivariate":
            return assay.drift(ref_path, cur_path, multivariate=True).to_dict()
        if side == "assay-profile":
            return assay.drift(spec["profile_path"], cur_path).to_dict()
        if side == "evidently":
            return evidently_drift(ref_path, cur_path)
        if side == "numpy-scipy":
            return numpy_scipy_drift(ref_path, cur_path)
        raise SystemExit(f"unknown side {side}")

    times = []
    result = None
    profiler = None
    if spec.get("profile") and side in ASSAY_SIDES:
        import cProfile

        profiler = cProfile.Profile()
    cpu_before = _cpu_seconds()
    for _ in range(repeat):
        result = None
        t0 = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        result = run_once()
        times.append(time.perf_counter() - t0)
        if profiler is not None:
            profiler.disable()
    if profiler is not None:
        profiler.dump_stats(spec["profile"])
    cpu = _cpu_seconds() - cpu_before
    out: dict[str, Any] = {
        "side": side, "rows": spec["rows"], "seconds": min(times), "times": times,
        "cpu_seconds": cpu, "cpu_per_wall": cpu / sum(times) if sum(times) > 0 else None,
        "rss_start_mib": rss_start, "rss_imports_mib": rss_imports, "rss_data_mib": rss_imports,
        "python": sys.executable,
        "versions": versions(("assay", "numpy", "scipy", "pyarrow") if side in ASSAY_SIDES or side == "numpy-scipy"
                              else ("evidently", "pandas", "numpy", "scipy", "pyarrow")),
    }
    out["columns"], out["extra"] = _extract(side, result)
    out["peak_rss_mib"] = _rss_mib()
    return out


def _extract(side: str, result: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-column verdicts under one shape: ``{column: {"drifted", "method", "score", "p_value"}}``, and extras."""
    if result is None:
        return {}, {}
    if side in ASSAY_SIDES:
        cols = {name: {"drifted": bool(e.get("drifted")), "method": e.get("method"), "score": e.get("effect"),
                       "p_value": e.get("p_value")} for name, e in result.get("columns", {}).items()}
        extra = {k: result.get(k) for k in ("schema", "drifted", "n_drifted")}
        if result.get("multivariate") is not None:
            extra["multivariate"] = result["multivariate"]
        return cols, extra
    if side == "evidently":
        count = result.pop("__count__", None)
        cols = {name: {"drifted": e["drifted"], "method": e["method"], "score": e["score"],
                       "threshold": e["threshold"]} for name, e in result.items()}
        return cols, {"drifted_columns_count": count}
    cols = {name: {"drifted": e["drifted"], "method": e["method"], "score": e["statistic"], "p_value": e["p_value"],
                   **({"psi": e["psi"]} if "psi" in e else {})} for name, e in result.items()}
    return cols, {}


# --------------------------------------------------------------------------------------------------- parent


def python_for(side: str) -> Path:
    return PEERS_PYTHON if side == "evidently" else Path(sys.executable)


def run_child(spec: dict[str, Any], env: dict[str, str], timeout: float) -> dict[str, Any]:
    python = python_for(spec["side"])
    if not python.exists():
        return {"error": f"{python.relative_to(ROOT)} not found: run `bash benchmarks/setup-peers.sh` first",
                "skipped": True}
    with tempfile.TemporaryDirectory(prefix="assay-bench-") as tmp:
        result_path = Path(tmp) / "result.json"
        cmd = [str(python), str(Path(__file__).resolve()), "--child", json.dumps(spec), "--result", str(result_path)]
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s", "timed_out": True, "timeout_s": timeout,
                    "wall": time.perf_counter() - t0, "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg()[0]}
        if proc.returncode != 0 or not result_path.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
            why = f"exit code {proc.returncode}"
            if proc.returncode in (-9, 137):
                why += " (killed: out of memory?)"
            return {"error": why, "stderr": tail}
        out = json.loads(result_path.read_text())
        out["wall"] = time.perf_counter() - t0
        out["loadavg_before"], out["loadavg_after"] = load_before, os.getloadavg()[0]
        return out


def compare(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Which columns each side flags, against the known shifts, and where assay and each peer disagree."""
    out: dict[str, Any] = {"expected_shifted": list(SHIFTED), "clear_shifts": list(CLEAR_SHIFTS), "sides": {}}
    for side, r in results.items():
        cols = r.get("columns") or {}
        if not cols:
            continue
        flagged = sorted(c for c, e in cols.items() if e["drifted"])
        out["sides"][side] = {
            "flagged": flagged,
            "shifted_found": [c for c in SHIFTED if c in flagged],
            "shifted_missed": [c for c in SHIFTED if c not in flagged],
            "unshifted_flagged": [c for c in UNSHIFTED if c in flagged],
        }
    base = next(iter(results))
    a = results[base].get("columns") or {}
    for side, r in list(results.items())[1:]:
        b = r.get("columns") or {}
        if not a or not b:
            continue
        judged = [c for c in CLEAR_SHIFTS + UNSHIFTED if c in a and c in b]
        disagree = [{"column": c, base: a[c]["drifted"], side: b[c]["drifted"]}
                    for c in judged if a[c]["drifted"] != b[c]["drifted"]]
        other = [{"column": c, base: a[c]["drifted"], side: b[c]["drifted"]}
                 for c in SHIFTED if c not in CLEAR_SHIFTS and c in a and c in b and a[c]["drifted"] != b[c]["drifted"]]
        out[f"vs_{side}"] = {"judged": len(judged), "agree": len(judged) - len(disagree), "disagreements": disagree,
                             "other_disagreements": other}
    return out


# ---------------------------------------------------------------------------------------------------- table


def build_rows(name: str, rec: dict[str, Any]) -> list[list[str]]:
    sc = SCENARIOS[name]
    res = rec["results"]
    label = f"{name} ({_human(rec['rows'])})"
    rows: list[list[str]] = []
    checks = rec.setdefault("checks", [])

    def check(measure: str, ok: bool | None, target: str, value: Any) -> str:
        checks.append({"measure": measure, "target": target, "value": value, "pass": ok})
        return "info" if ok is None else ("PASS" if ok else "MISS")

    def first() -> str:
        return "" if rows else label

    main = sc.sides[0]
    a = res.get(main, {})
    if a.get("error"):
        rows.append([label, "error", "", "", "", "", f"{main}: {a['error']}"])
        for peer in list(res)[1:]:
            b = res[peer]
            if not b.get("error"):
                rows.append(["", f"{peer}: time (s) | peak RSS (MiB)", "—",
                             f"{_fmt_s(b['seconds'])} | {_fmt_mib(b['peak_rss_mib'])}", "", "", "info"])
        return rows

    if name == "profile-1m":
        b = res.get("assay-raw", {})
        if b.get("error"):
            return [[label, "error", "", "", "", "", f"assay-raw: {b['error']}"]]
        ratio = a["seconds"] / b["seconds"]
        cpu = (a["cpu_seconds"] / len(a["times"])) / max(b["cpu_seconds"] / len(b["times"]), 1e-9)
        rows.append([first(), "time (s) profile | raw ref", _fmt_s(a["seconds"]), _fmt_s(b["seconds"]),
                     f"{ratio:.2f}x the raw time (CPU-s {cpu:.2f}x)", "<= 1.00x",
                     check("profile/raw time", ratio <= 1.0, "<= 1.0", ratio)])
        rows.append(["", "peak RSS (MiB) profile | raw", _fmt_mib(a["peak_rss_mib"]), _fmt_mib(b["peak_rss_mib"]),
                     f"{a['peak_rss_mib'] / b['peak_rss_mib']:.2f}", "—",
                     check("profile/raw RSS", None, "", a["peak_rss_mib"] / b["peak_rss_mib"])])
        prep = rec.get("make_profile", {})
        if prep and not prep.get("error"):
            rows.append(["", "  making the profile (untimed above)", _fmt_s(prep["seconds"]), "", "", "", "info"])
        va = {c: e["drifted"] for c, e in a["columns"].items()}
        vb = {c: e["drifted"] for c, e in b["columns"].items()}
        same = va == vb
        rows.append(["", "same verdicts per column", f"{sum(va.values())} flagged", f"{sum(vb.values())} flagged",
                     "same" if same else "differ", "same", check("profile vs raw verdicts", same, "same", same)])
        return rows

    rows.append([first(), "time (s)", _fmt_s(a["seconds"]), "—", f"{rec['rows'] / a['seconds'] / 1e6:.2f}M rows/s",
                 "—", check("time", None, "", a["seconds"])])
    rows.append(["", "peak RSS (MiB)", _fmt_mib(a["peak_rss_mib"]), "—", "—", "—",
                 check("peak RSS", None, "", a["peak_rss_mib"])])
    if name == "univariate-10m":
        arrow = rec["input"]["ref"]["arrow_bytes"] + rec["input"]["cur"]["arrow_bytes"]
        ok = a["peak_rss_mib"] < arrow / 2**20
        rows[-1][4:] = [f"inputs in memory: {arrow / 2**20:.0f}", f"< {arrow / 2**20:.0f}",
                        check("bounded memory: peak RSS below the two tables' Arrow size", ok,
                              f"< {arrow / 2**20:.0f} MiB", a["peak_rss_mib"])]
    if name == "multivariate-1m":
        mv = a.get("extra", {}).get("multivariate") or {}
        shown = ("drifted", "auc", "ci_low", "ci_high", "p_value", "n_reference", "n_current")
        scalars = {k: mv[k] for k in shown if isinstance(mv.get(k), (bool, int, float, str))}
        text = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in scalars.items())
        rows.append(["", "multivariate result", text or "(none)", "", "", "", "info"])
        return rows

    for peer in list(res)[1:]:
        b = res.get(peer, {})
        if b.get("error"):
            rows.append(["", f"vs {peer}", "", "error", "", "", b["error"]])
            continue
        primary = peer == sc.sides[1]
        speed = b["seconds"] / a["seconds"]
        target = sc.speed_target if primary else None
        cpu = (b["cpu_seconds"] / len(b["times"])) / max(a["cpu_seconds"] / len(a["times"]), 1e-9)
        rows.append(["", f"time (s) vs {peer}", _fmt_s(a["seconds"]), _fmt_s(b["seconds"]),
                     (f"{speed:.2f}x faster" if speed >= 1 else f"{1 / speed:.2f}x slower") + f" (CPU-s {cpu:.2f}x)",
                     f">= {target:g}x" if target else "—",
                     check(f"speed-up vs {peer}", speed >= target if target else None,
                           f">= {target}x" if target else "", speed)])
        mem = a["peak_rss_mib"] / b["peak_rss_mib"]
        target = sc.memory_target if primary else None
        rows.append(["", f"peak RSS (MiB) vs {peer}", _fmt_mib(a["peak_rss_mib"]), _fmt_mib(b["peak_rss_mib"]),
                     f"{mem:.2f}", f"<= {target:.2f}" if target else "—",
                     check(f"memory ratio vs {peer}", mem <= target if target else None,
                           f"<= {target}" if target else "", mem)])
        rows.append(["", "  RSS before the clock (imports)", _fmt_mib(a["rss_data_mib"]), _fmt_mib(b["rss_data_mib"]),
                     "", "", ""])
    cmp = rec.get("comparison", {})
    for side, s in cmp.get("sides", {}).items():
        rows.append(["", f"{side} flags: shifted | unshifted", f"{len(s['shifted_found'])}/{len(SHIFTED)}",
                     f"{len(s['unshifted_flagged'])}/{len(UNSHIFTED)}",
                     "; ".join(([f"misses {','.join(s['shifted_missed'])}"] if s["shifted_missed"] else [])
                               + ([f"flags {','.join(s['unshifted_flagged'])}"] if s["unshifted_flagged"] else [])),
                     f"{len(SHIFTED)}/{len(SHIFTED)} | 0/{len(UNSHIFTED)}", "info"])
    for peer in list(res)[1:]:
        vs = cmp.get(f"vs_{peer}")
        if not vs:
            continue
        target_here = sc.agreement and peer == sc.sides[1]
        ok = not vs["disagreements"]
        text = ", ".join(f"{d['column']} ({'assay' if d[main] else peer} only)" for d in vs["disagreements"])
        rows.append(["", f"agree with {peer} (clear shifts + unshifted)", f"{vs['agree']}/{vs['judged']}",
                     text or "no disagreement", "", "all" if target_here else "—",
                     check(f"agreement with {peer}", ok if target_here else None, "all", vs["agree"])])
        for d in vs["other_disagreements"]:
            rows.append(["", f"  also differs on {d['column']}", "flagged" if d[main] else "not flagged",
                         "flagged" if d[peer] else "not flagged", "(missing-rate shift)", "—", "info"])
    return rows


def verdict_table(name: str, rec: dict[str, Any]) -> str:
    """Per column: the shift put in, and each side's method, score and verdict (* = flagged)."""
    sides = [s for s, r in rec["results"].items() if r.get("columns")]
    if not sides:
        return ""
    about = {c.name: c.shift_about or ("missing " + f"{c.missing:.0%}" + " both" if c.missing else "") for c in COLUMNS}
    head = ["column", "shift", *sides]
    rows = []
    for c in COLUMNS:
        cells = [c.name, about[c.name]]
        for s in sides:
            e = rec["results"][s]["columns"].get(c.name)
            if e is None:
                cells.append("—")
                continue
            score = e.get("score")
            text = f"{e.get('method')} {score:.3g}" if isinstance(score, (int, float)) else str(e.get("method"))
            if e.get("p_value") is not None:
                text += f" p={e['p_value']:.2g}"
            cells.append(("* " if e["drifted"] else "  ") + text)
        rows.append(cells)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = [f"{name}: per-column verdicts (* = flagged as drifted)",
             "  ".join(h.ljust(w) for h, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip() for r in rows]
    text = "\n".join(lines)
    print("\n" + text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small inputs: a smoke run")
    parser.add_argument("--only", default="", help="comma-separated scenario names: " + ", ".join(SCENARIOS))
    parser.add_argument("--rows", action="append", default=[], metavar="NAME=N",
                        help="override a scenario's row count (repeatable)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per child; the fastest is reported")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a child is stopped")
    parser.add_argument("--with-evidently-10m", action="store_true",
                        help="also run Evidently in univariate-10m (it may run out of memory; --timeout applies)")
    parser.add_argument("--profile", action="store_true",
                        help="run assay's sides under cProfile; stats go to benchmarks/results/profile-drift-*.pstats")
    parser.add_argument("--out", default=None, help="JSON output path (default benchmarks/results/drift.json)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if act_as_child(args, child):
        return 0

    names = scenario_names(parser, args.only, SCENARIOS)
    overrides = row_overrides(parser, args.rows, SCENARIOS)
    env, scrubbed = child_env()
    env.pop("VIRTUAL_ENV", None)
    _, report = start_report(
        "drift", args, seed=SEED, packages=("assay", "numpy", "scipy", "pyarrow"), scrubbed=scrubbed,
        columns={c.name: {"kind": c.kind, "shift": c.shift, "about": c.shift_about, "missing": c.missing}
                 for c in COLUMNS},
    )
    rows: list[list[str]] = []
    t_all = time.perf_counter()
    inputs: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="assay-bench-drift-") as tmp:
        folder = Path(tmp)
        for name in names:
            sc = SCENARIOS[name]
            n = overrides.get(name, sc.quick_rows if args.quick else sc.rows)
            if n not in inputs:
                print(f"[{name}] writing reference and current tables of {_human(n)} rows x {len(COLUMNS)} "
                      "columns to Parquet (untimed) ...", end=" ", flush=True)
                made = run_child({"side": "write-tables", "folder": str(folder), "rows": n}, env, args.timeout)
                if made.get("error"):
                    print(f"FAILED ({made['error']})\n  " + "\n  ".join(made.get("stderr", [])), flush=True)
                    return 1
                inputs[n] = made
                print(f"{inputs[n]['seconds']:.1f} s, {inputs[n]['ref']['bytes'] / 2**20:.0f} + "
                      f"{inputs[n]['cur']['bytes'] / 2**20:.0f} MiB on disk", flush=True)
            rec: dict[str, Any] = {"rows": n, "about": sc.about, "input": inputs[n], "results": {}}
            spec_base: dict[str, Any] = {"scenario": name, "rows": n, "repeat": args.repeat,
                                         "ref": inputs[n]["ref"]["path"], "cur": inputs[n]["cur"]["path"]}
            sides = list(sc.sides)
            if name == "univariate-10m" and args.with_evidently_10m:
                sides.insert(1, "evidently")
            if name == "profile-1m":
                spec_base["profile_path"] = str(folder / f"ref-{n}.profile")
                print(f"[{name}] making the reference profile (untimed) ...", end=" ", flush=True)
                prep = run_child({**spec_base, "side": "make-profile"}, env, args.timeout)
                rec["make_profile"] = prep
                print(f"FAILED ({prep['error']})" if prep.get("error") else f"{prep['seconds']:.2f} s", flush=True)
            for side in sides:
                print(f"[{name}] {side} on {_human(n)} rows ...", end=" ", flush=True)
                spec = {**spec_base, "side": side}
                if args.profile and side in ASSAY_SIDES:
                    spec["profile"] = str(RESULTS_DIR / f"profile-drift-{name}-{side}.pstats")
                    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
                r = run_child(spec, env, args.timeout)
                rec["results"][side] = r
                if r.get("error"):
                    print(f"FAILED ({r['error']})" + ("\n  " + "\n  ".join(r["stderr"]) if r.get("stderr") else ""),
                          flush=True)
                else:
                    print(f"{r['seconds']:.2f} s, peak {r['peak_rss_mib']:.0f} MiB", flush=True)
                    if spec.get("profile") and Path(spec["profile"]).exists():
                        _print_profile(spec["profile"])
            if name != "profile-1m":
                rec["comparison"] = compare({s: rec["results"][s] for s in sides})
            rows.extend(build_rows(name, rec))
            if sc.agreement or name == "univariate-10m":
                rec["verdict_table"] = verdict_table(name, rec)
            report["scenarios"][name] = rec
    for rec in report["scenarios"].values():
        for side, r in rec["results"].items():
            key = "versions_peers_env" if side == "evidently" else "versions"
            for pkg, v in (r.get("versions") or {}).items():
                report.setdefault(key, {}).setdefault(pkg, v)
    report["total_seconds"] = round(time.perf_counter() - t_all, 1)
    suffix = ("-quick" if args.quick else "") + ("-" + "+".join(names) if args.only or overrides else "")
    finish_report(report, rows, quick=args.quick, out=args.out, default=RESULTS_DIR / f"drift{suffix}.json", root=ROOT)
    failed = any(r.get("error") and not r.get("skipped")
                 for rec in report["scenarios"].values() for r in rec["results"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Measuring helpers shared by the benchmarks (standard library only: peers' environments import it too)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "SCRUBBED_ENV",
    "_cpu_seconds",
    "_fmt_mib",
    "_fmt_s",
    "_human",
    "_mem_gib",
    "_print_profile",
    "_rss_mib",
    "act_as_child",
    "child_env",
    "contention",
    "finish_report",
    "print_table",
    "row_overrides",
    "scenario_names",
    "start_report",
    "versions",
]

SCRUBBED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")



def _rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _fmt_s(x: float | None) -> str:
    return "—" if x is None else (f"{x:.2f}" if x < 100 else f"{x:.0f}")


def _fmt_mib(x: float | None) -> str:
    return "—" if x is None else f"{x:.0f}"


def _human(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n / 1e3:g}k"


def print_table(rows: list[list[str]], quick: bool) -> str:
    head = ["scenario", "measure", "assay", "peer", "ratio", "target", "result"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    sep = "  "
    lines = [sep.join(h.ljust(w) for h, w in zip(head, widths)), sep.join("-" * w for w in widths)]
    for r in rows:
        if r[0] and len(lines) > 2:
            lines.append("")
        lines.append(sep.join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    text = "\n".join(lines)
    print(text)
    if quick:
        print("\n(--quick: small inputs; the targets are meant for the full sizes, PASS/MISS here is not meaningful)")
    return text


def contention(report: dict[str, Any], cpus: int) -> list[str]:
    """Signs that something else was using the machine while a child ran (timings then overstate costs)."""
    out = []
    for name, rec in report["scenarios"].items():
        for side, r in rec["results"].items():
            load = max(r.get("loadavg_before") or 0.0, r.get("loadavg_after") or 0.0)
            ratio = r.get("cpu_per_wall")
            if load > cpus + 0.5 or (ratio is not None and ratio < 0.8):
                out.append(f"{name}/{side}: load average {load:.1f} on {cpus} cpus"
                           + (f", the child got {ratio:.2f} cpu-seconds per second" if ratio is not None else "")
                           + " — other processes were competing; rerun on a quiet machine")
    return out


def _print_profile(path: str, top: int = 12) -> None:
    import io
    import pstats

    buf = io.StringIO()
    pstats.Stats(path, stream=buf).sort_stats("tottime").print_stats(top)
    body = buf.getvalue()
    start = body.find("   ncalls")
    print("\n    " + "\n    ".join(body[start:].rstrip().splitlines()), flush=True)


def _mem_gib() -> float | None:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return round(pages * size / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def scenario_names(parser: argparse.ArgumentParser, only: str, scenarios: Collection[str]) -> list[str]:
    """The scenarios ``--only`` names (all by default); an argparse error for an unknown one."""
    names = [s.strip() for s in only.split(",") if s.strip()] or list(scenarios)
    unknown = [s for s in names if s not in scenarios]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(scenarios)}")
    return names


def row_overrides(parser: argparse.ArgumentParser, rows: list[str], scenarios: Collection[str]) -> dict[str, int]:
    """``--rows NAME=N`` options as ``{NAME: N}``; an argparse error for a malformed one."""
    overrides = {}
    for item in rows:
        key, _, value = item.partition("=")
        if key not in scenarios or not value.replace("_", "").isdigit():
            parser.error(f"--rows expects NAME=N with NAME one of {', '.join(scenarios)}, got {item!r}")
        overrides[key] = int(value.replace("_", ""))
    return overrides


def child_env() -> tuple[dict[str, str], dict[str, str]]:
    """The environment every child gets, the same for every side: without the OpenBLAS tuning variables (returned,
    so that the report can say what was removed) and with ``PYTHONHASHSEED=0``."""
    env = dict(os.environ)
    scrubbed = {k: env.pop(k) for k in SCRUBBED_ENV if k in env}
    env["PYTHONHASHSEED"] = "0"
    return env, scrubbed


def versions(packages: Collection[str]) -> dict[str, str]:
    """Installed version of each package (``not installed`` when absent)."""
    out = {}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def act_as_child(args: argparse.Namespace, child: Callable[[dict[str, Any]], dict[str, Any]]) -> bool:
    """When this process is a child (``--child SPEC --result PATH``): run it, write its figures, return ``True``."""
    if not args.child:
        return False
    Path(args.result).write_text(json.dumps(child(json.loads(args.child))))
    return True


def start_report(benchmark: str, args: argparse.Namespace, *, seed: int, packages: Collection[str],
                 scrubbed: dict[str, str], **extra: Any) -> tuple[datetime, dict[str, Any]]:
    """The report's header (what ran, on which machine, with which versions; ``extra`` fields after the machine)
    and the banner printed above the run."""
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "benchmark": benchmark, "started": started.isoformat(), "quick": args.quick, "repeat": args.repeat,
        "seed": seed, "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "memory_gib": _mem_gib()},
        **extra,
        "versions": versions(packages), "env_removed_for_children": scrubbed, "scenarios": {},
    }
    print(f"assay {benchmark} benchmark — {started:%Y-%m-%d %H:%M} UTC, python {platform.python_version()}, "
          f"{os.cpu_count()} cpus" + (f", removed {', '.join(scrubbed)} from the children's env" if scrubbed else ""),
          flush=True)
    return started, report


def finish_report(report: dict[str, Any], rows: list[list[str]], *, quick: bool, out: str | None, default: Path,
                  root: Path) -> Path:
    """Print the table, the total time and any contention warnings, then write the report's JSON (to ``out``, or
    ``default``) and say where."""
    print()
    report["table"] = print_table(rows, quick)
    print(f"\ntotal {report['total_seconds']:.0f} s")
    busy = contention(report, os.cpu_count() or 1)
    report["contention_warnings"] = busy
    for line in busy:
        print("warning: " + line)
    out_path = Path(out) if out else default
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"figures written to {out_path.relative_to(root) if out_path.is_relative_to(root) else out_path}")
    return out_path

"""Measuring helpers shared by the benchmarks (standard library only: peers' environments import it too)."""

from __future__ import annotations

import os
import resource
import sys
from typing import Any

__all__ = ["_cpu_seconds", "_fmt_mib", "_fmt_s", "_human", "_mem_gib", "_print_profile", "_rss_mib", "contention",
           "print_table"]


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

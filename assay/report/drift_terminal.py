"""Terminal rendering of a drift document with Rich: the verdict, then the columns sorted by severity."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from assay.report.terminal import fmt

MAX_ROWS = 30


def missing_cell(q: dict[str, Any]) -> str:
    """Missing rate reference → current, ``0%`` when neither has any, empty when unknown."""
    a, b = q.get("missing_reference"), q.get("missing_current")
    if a is None and b is None:
        return ""
    if a == b == 0:
        return "0%"
    return f"{(a or 0):.1%} → {(b or 0):.1%}"


def column_order(item: tuple[str, Any]) -> tuple[bool, bool, float, str]:
    """Sort key of every drift view: drifted first, then columns that could not be compared, then the rest; by
    decreasing severity within each, then by name."""
    name, col = item
    return (col.get("drifted") is not True, (col.get("status") or "ok") == "ok", -float(col.get("severity") or 0.0),
            str(name))


def render_drift(doc: dict[str, Any], console: Console | None = None, *, max_rows: int = MAX_ROWS) -> None:
    console = console or Console()
    ref, cur = doc["reference"], doc["current"]
    console.print(f"[bold]drift[/] · reference {ref['source']} ({ref['rows']:,} rows, {ref['type']}) · "
                  f"current {cur['source']} ({cur['rows']:,} rows)")
    cfg = doc["config"]
    if doc["drifted"]:
        console.print(f"[bold red]DRIFT[/]: {doc['n_drifted']} of {doc['n_columns']} columns drifted "
                      f"({doc['drifted_share']:.0%}); {cfg['correction']} correction at alpha {cfg['alpha']:g}")
    else:
        console.print(f"[bold green]no drift[/] in {doc['n_columns']} columns; {cfg['correction']} correction at "
                      f"alpha {cfg['alpha']:g}")
    table = Table(show_edge=False, header_style="bold")
    for name, justify in (("column", "left"), ("kind", "left"), ("method", "left"), ("effect", "right"),
                          ("floor", "right"), ("p adj", "right"), ("missing", "right"), ("verdict", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    items = sorted(doc["columns"].items(), key=column_order)
    for name, col in items[:max_rows]:
        role = "" if col["role"] == "feature" else f" ({col['role']})"
        if col["drifted"]:
            verdict = "[red]drifted[/]"
            tests = [t["name"] for t in col["tests"] if t["drifted"]]
            if tests != ["value"]:
                verdict += f" [dim]{', '.join(tests)}[/]"
        elif col["status"] != "ok":
            verdict = f"[yellow]{col['status']}[/]"
        else:
            verdict = "[green]ok[/]"
        table.add_row(f"{name}{role}", col["kind"], col.get("method") or "", fmt(col.get("effect"), 3),
                      fmt(col.get("threshold"), 3), fmt(col.get("p_adjusted"), 2), missing_cell(col["quality"]),
                      verdict)
    console.print(table)
    if len(items) > max_rows:
        console.print(f"[dim]… {len(items) - max_rows} more columns in the JSON and HTML outputs[/]")
    for name, col in items:
        if col["status"] not in ("ok",):
            console.print(f"[yellow]{name}[/]: {col['reason']}")
    multi = doc.get("multivariate")
    if multi:
        top = ", ".join(f"{c['column']} ({c['importance']:.3f})" for c in multi.get("top_columns", [])[:5])
        mark = "[red]drifted[/]" if multi["drifted"] else "[green]ok[/]"
        console.print(f"multivariate: domain classifier AUC {multi['auc']:.3f} "
                      f"[{multi['ci_low']:.3f}, {multi['ci_high']:.3f}] {mark}; most separating: {top}")
    for w in doc.get("warnings", []):
        console.print(f"[yellow]warning:[/] {w}")

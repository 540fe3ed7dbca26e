"""Terminal rendering of a run document with Rich: the metric table, the worst slices, fairness."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def fmt(x: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits, or an em dash for None.

    >>> fmt(0.123456), fmt(None), fmt(12345.678)
    ('0.1235', '—', '1.235e+04')
    """
    if x is None:
        return "—"
    return f"{x:.{digits}g}"


def interval(entry: dict[str, Any]) -> str:
    if entry.get("ci_low") is None or entry.get("ci_high") is None:
        return ""
    return f"[{fmt(entry['ci_low'])}, {fmt(entry['ci_high'])}]"


def worst_groups(doc: dict[str, Any], column: str, metric: str, count: int = 3) -> list[tuple[str, dict[str, Any]]]:
    """The ``count`` groups of a slice column with the worst value of ``metric`` (respecting its direction)."""
    groups = doc.get("slices", {}).get(column, {})
    rows = [(g, v["metrics"].get(metric, {})) for g, v in groups.items()]
    rows = [(g, e) for g, e in rows if e.get("value") is not None]
    hib = rows[0][1].get("higher_is_better", True) if rows else True
    rows.sort(key=lambda r: r[1]["value"], reverse=not hib)
    return rows[:count]


def below_overall(entry: dict[str, Any], overall: dict[str, Any]) -> bool:
    """Whether a group's whole interval lies on the worse side of the overall value."""
    value = overall.get("value")
    if value is None or entry.get("ci_high") is None or entry.get("ci_low") is None:
        return False
    return entry["ci_high"] < value if entry.get("higher_is_better", True) else entry["ci_low"] > value


def render(doc: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    model = doc.get("model", {})
    ds = doc.get("dataset", {})
    conf = doc.get("config", {}).get("confidence", 0.95)
    title = f"{model.get('name') or 'model'}"
    if model.get("version"):
        title += f" v{model['version']}"
    console.print(f"[bold]{title}[/] · {doc.get('task')} · {ds.get('name')} · {ds.get('rows_used'):,} rows")
    table = Table(title=None, show_edge=False, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column(f"{conf:.0%} interval", justify="right")
    table.add_column("n", justify="right")
    table.add_column("note", style="dim")
    for name, e in doc.get("metrics", {}).items():
        note = (
            e.get("reason", "")
            if e.get("value") is None
            else (f"±{fmt(e['bound'], 2)} (capped)" if e.get("bound") else "")
        )
        if e.get("approximate"):  # marked on the interval (~) and explained in the note
            note = "; ".join(x for x in (note, f"approximate: {e.get('approximate_reason', '')}") if x)
        ci = interval(e)
        table.add_row(name, fmt(e.get("value")), f"~{ci}" if ci and e.get("approximate") else ci,
                      f"{e.get('n', 0):,}", note)
    console.print(table)
    primary = doc.get("config", {}).get("primary_metric")
    overall = doc.get("metrics", {}).get(primary, {})
    for column in doc.get("slices", {}):
        worst = worst_groups(doc, column, primary)
        if not worst:
            continue
        t = Table(
            title=f"worst slices of {column} by {primary} (overall {fmt(overall.get('value'))})",
            show_edge=False,
            header_style="bold",
            title_justify="left",
        )
        t.add_column(column)
        t.add_column(primary, justify="right")
        t.add_column("interval", justify="right")
        t.add_column("n", justify="right")
        t.add_column("")
        for g, e in worst:
            flag = "[red]below overall[/]" if below_overall(e, overall) else ""
            t.add_row(g, fmt(e["value"]), interval(e), f"{e.get('n', 0):,}", flag)
        console.print(t)
    for attr, f in doc.get("fairness", {}).items():
        t = Table(title=f"fairness by {attr}", show_edge=False, header_style="bold", title_justify="left")
        t.add_column("disparity")
        t.add_column("value", justify="right")
        t.add_column("interval", justify="right")
        t.add_column("note", style="dim")
        for name in (
            "demographic_parity_difference",
            "demographic_parity_ratio",
            "equalized_odds_difference",
            "equalized_odds_ratio",
        ):
            e = f.get(name, {})
            t.add_row(name, fmt(e.get("value")), interval(e), e.get("reason", ""))
        console.print(t)
    for note in doc.get("notes", []):
        console.print(f"[yellow]note:[/] {note}")

"""Rendering of gate decisions: a Rich table for the terminal, Markdown for CI summaries, JUnit XML."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assay.gate.decide import GateResult, Outcome
from assay.report.junit import JUnitCase, junit

_STYLE = {"pass": "green", "fail": "bold red", "inconclusive": "yellow"}
_ICON = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️"}


def _f(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


def _interval(o: Outcome) -> str:
    if o.ci_low is None or o.ci_high is None:
        return ""
    return f"[{o.ci_low:.4g}, {o.ci_high:.4g}]"


def _diff(o: Outcome) -> str:
    if o.bound in ("min", "max"):
        return ""
    sign = "+" if (o.difference or 0) >= 0 else ""
    if o.bound == "max_drop_relative" and o.ci_low is not None:
        return f"{sign}{_f(o.difference)}; contrast {_interval(o)}"
    return f"{sign}{_f(o.difference)} {_interval(o)}".strip()


def render_terminal(result: GateResult, console: Console | None = None) -> None:
    console = console or Console()
    t = Table(show_edge=False, header_style="bold", title_justify="left",
              title=f"gate: {result.decision.upper()}" + (" (paired)" if result.paired else ""))
    for col in ("check", "baseline", "candidate", "difference / interval", "decision", "method"):
        t.add_column(col, overflow="fold")
    for o in result.outcomes:
        shown = _diff(o) if o.bound not in ("min", "max") else _interval(o)
        t.add_row(escape(o.label), _f(o.baseline), _f(o.candidate), shown,
                  f"[{_STYLE[o.decision]}]{o.decision}[/]", o.method)
    console.print(t)
    for o in result.outcomes:
        if o.decision != "pass":
            console.print(f"[{_STYLE[o.decision]}]{o.decision}[/] {escape(o.label)}: {escape(o.why)}")
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}")


def render_markdown(result: GateResult) -> str:
    head = f"## {_ICON[result.decision]} assay gate: **{result.decision}**"
    cand = result.candidate.get("model") or {}
    lines = [head, "",
             f"Candidate `{cand.get('name')}` v{cand.get('version')} (run `{str(result.candidate.get('run_id'))[:12]}`)"
             + (f" against baseline run `{str(result.baseline.get('run_id'))[:12]}`" if result.baseline else "")
             + f"; comparisons are {'paired on items' if result.paired else 'unpaired'}, "
             f"confidence {result.policy.get('confidence')}.", "",
             "| check | baseline | candidate | difference / interval | decision | why |",
             "| --- | ---: | ---: | --- | --- | --- |"]
    for o in result.outcomes:
        shown = _diff(o) if o.bound not in ("min", "max") else _interval(o)
        why = o.why.replace("|", "\\|")
        lines.append(f"| {o.label} | {_f(o.baseline)} | {_f(o.candidate)} | {shown} | {_ICON[o.decision]} "
                     f"{o.decision} | {why} |")
    for w in result.warnings:
        lines += ["", f"> warning: {w}"]
    return "\n".join(lines) + "\n"


def render_junit(result: GateResult) -> str:
    cases = []
    for o in result.outcomes:
        text = (f"baseline={_f(o.baseline)} candidate={_f(o.candidate)} difference={_f(o.difference)} "
                f"interval={_interval(o)} method={o.method}: {o.why}")
        if o.decision == "fail":
            cases.append(JUnitCase(f"assay.gate.{o.metric}", o.label, "failure", o.why, text))
        elif o.decision == "inconclusive":
            cases.append(JUnitCase(f"assay.gate.{o.metric}", o.label, "skipped", f"inconclusive: {o.why}", text))
        else:
            cases.append(JUnitCase(f"assay.gate.{o.metric}", o.label, "pass", "", text))
    return junit("assay gate", cases)


def gate_json(result: GateResult) -> dict[str, Any]:
    return result.to_dict()

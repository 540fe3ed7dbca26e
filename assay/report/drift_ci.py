"""Drift documents for CI: a Markdown summary (for ``$GITHUB_STEP_SUMMARY``) and JUnit XML, one test per column.

>>> doc = {"drifted": True, "n_drifted": 1, "n_columns": 2, "drifted_share": 0.5,
...        "reference": {"source": "ref.csv", "rows": 10}, "current": {"source": "cur.csv", "rows": 8},
...        "config": {"correction": "holm", "alpha": 0.05}, "warnings": [],
...        "columns": {"a": {"kind": "numeric", "status": "ok", "drifted": True, "severity": 3.0, "method": "psi",
...                          "effect": 0.03, "threshold": 0.01, "p_adjusted": 1e-9, "reason": "value: psi ...",
...                          "quality": {"missing_reference": 0.0, "missing_current": 0.0}},
...                    "b": {"kind": "numeric", "status": "ok", "drifted": False, "severity": 0.1, "method": "psi",
...                          "effect": 0.001, "threshold": 0.01, "p_adjusted": 0.8, "reason": "no change",
...                          "quality": {"missing_reference": 0.0, "missing_current": 0.0}}}}
>>> print(render_markdown(doc).splitlines()[0])
## ❌ assay drift: **1 of 2 columns drifted**
>>> 'failures="1"' in render_junit(doc)
True
"""

from __future__ import annotations

from typing import Any

from assay.report.drift_terminal import column_order, missing_cell
from assay.report.junit import JUnitCase, junit

__all__ = ["render_junit", "render_markdown"]


def _f(x: Any) -> str:
    return "—" if x is None else f"{x:.3g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(doc: dict[str, Any], *, max_rows: int = 50) -> str:
    """A verdict line and the columns sorted as in the terminal (drifted first, by severity)."""
    if doc["drifted"]:
        head = f"## ❌ assay drift: **{doc['n_drifted']} of {doc['n_columns']} columns drifted**"
    else:
        head = f"## ✅ assay drift: **no drift** in {doc['n_columns']} columns"
    ref, cur, cfg = doc["reference"], doc["current"], doc["config"]
    lines = [head, "",
             f"Current `{cur['source']}` ({cur['rows']:,} rows) against reference `{ref['source']}` "
             f"({ref['rows']:,} rows); {cfg['correction']} correction at alpha {cfg['alpha']:g}; a column drifts when "
             "a test is significant and its effect reaches its floor.", "",
             "| column | kind | method | effect | floor | p adj | missing | verdict | why |",
             "| --- | --- | --- | ---: | ---: | ---: | --- | --- | --- |"]
    items = sorted(doc["columns"].items(), key=column_order)
    for name, col in items[:max_rows]:
        verdict = "❌ drifted" if col["drifted"] else ("✅ ok" if col["status"] == "ok" else f"⚠️ {col['status']}")
        lines.append(f"| {_cell(name)} | {col['kind']} | {col.get('method') or ''} | {_f(col.get('effect'))} | "
                     f"{_f(col.get('threshold'))} | {_f(col.get('p_adjusted'))} | {missing_cell(col['quality'])} | "
                     f"{verdict} | {_cell(col['reason'])} |")
    if len(items) > max_rows:
        lines += ["", f"{len(items) - max_rows} more columns in the JSON document."]
    multi = doc.get("multivariate")
    if multi:
        lines += ["", f"Multivariate: domain classifier AUC {multi['auc']:.3f} "
                      f"[{multi['ci_low']:.3f}, {multi['ci_high']:.3f}], "
                      f"{'drifted' if multi['drifted'] else 'not drifted'}."]
    for w in doc.get("warnings", []):
        lines += ["", f"> warning: {_cell(w)}"]
    return "\n".join(lines) + "\n"


def render_junit(doc: dict[str, Any]) -> str:
    """One test case per column: a failure when it drifted, skipped when it could not be compared."""
    cases = []
    for name, col in doc["columns"].items():
        text = (f"method={col.get('method')} effect={_f(col.get('effect'))} floor={_f(col.get('threshold'))} "
                f"p_adjusted={_f(col.get('p_adjusted'))} missing={missing_cell(col['quality'])}: {col['reason']}")
        classname = f"assay.drift.{col['kind']}"
        if col["drifted"]:
            cases.append(JUnitCase(classname, name, "failure", col["reason"], text))
        elif col["status"] != "ok":
            cases.append(JUnitCase(classname, name, "skipped", f"{col['status']}: {col['reason']}", text))
        else:
            cases.append(JUnitCase(classname, name, "pass", "", text))
    return junit("assay drift", cases)

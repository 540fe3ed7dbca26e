"""A drift document (schema ``assay.drift/1``) rendered as one self-contained HTML page that opens offline.

The page follows the run report (:mod:`assay.report.html`): the same stylesheet, the same Content-Security-Policy
(nothing is loaded from anywhere), the same sortable tables and the same self-check script, which sets
``document.body.dataset.assayStatus`` to ``"ok"`` once every chart has laid out. It shows, in order:

- a header: reference against current (source, type, rows), the verdict, how many columns drifted, the correction
  and alpha;
- the warnings of the document;
- the drift table, one row per column: drifted columns first, then those that could not be compared, then the rest,
  each by severity (the largest effect over its threshold among the column's tests), as the terminal orders them;
- the multivariate check (a domain classifier's AUC with its interval, and the columns it leaned on) when present;
- one card per column, in the table's order: the reference and current distributions overlaid (a histogram drawn as
  densities over the reference-quantile bins, or paired bars per category), the summary statistics side by side,
  the tests and the data-quality notes; a column whose status is not ``ok`` shows its reason instead of a chart.

Only the aggregates of the document are shown, never rows, and every string it carries is escaped (column names and
category values are user data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from assay.report import svg
from assay.report._sections import Context, Section, as_mapping, as_seq, config_chips, esc, sort_th
from assay.report.drift_terminal import column_order
from assay.report.formatting import MISSING, as_float, fmt_count, fmt_interval, fmt_number, fmt_percent
from assay.report.html import check_document, page, write_html

__all__ = ["SCHEMA", "render_drift", "write_html"]

SCHEMA = "assay.drift/1"

MAX_CATEGORIES = 40  # rows of a category chart; the document caps categories already, this guards the page
MAX_TOP_COLUMNS = 20  # bars of the multivariate importance chart
MAX_LISTED = 12  # new or gone category values named in a quality note
_NOTABLE = 0.01  # a quality note is highlighted from one point more missing, or 1% of values out of range

_KIND_AXIS = {"text": "text length (characters)", "datetime": "time"}
_STAT_LABELS = {
    "n": "values",
    "mean": "mean",
    "sd": "standard deviation",
    "min": "minimum",
    "p05": "5th percentile",
    "p25": "25th percentile",
    "p50": "median",
    "p75": "75th percentile",
    "p95": "95th percentile",
    "max": "maximum",
    "mean_length": "mean length",
    "empty_share": "empty",
    "json_share": "valid JSON",
    "refusal_share": "refusals",
}

_STYLE = """
h1 .verdict { font-size: 13px; font-weight: 650; border-radius: 999px; padding: 3px 11px; vertical-align: middle;
  margin-left: 10px; letter-spacing: .02em; }
h1 .verdict.drifted { color: var(--worst); background: var(--worst-bg); }
h1 .verdict.stable { color: #047857; background: #ecfdf5; }
.stat .big.drifted { color: var(--worst); }
.badge.ok { color: #047857; background: #ecfdf5; }
.badge.muted { color: #4b5563; background: #f3f4f6; }
.badge.warn { color: #b45309; background: #fffbeb; }
td.name a { color: inherit; text-decoration: none; }
td.name a:hover code, td.name a:focus-visible code { text-decoration: underline; }
td .reason { max-width: 340px; }
table.drift td.name { min-width: 110px; max-width: 200px; overflow-wrap: anywhere; }
table.drift thead th { white-space: normal; vertical-align: bottom; }
table.drift td.status { min-width: 150px; overflow-wrap: anywhere; }
table.drift td .badge { margin-left: 0; margin-right: 4px; }
table.drift td .badge + .badge, table.drift td .badge:not(:first-child) { margin-left: 6px; }
table.facts { width: auto; min-width: 420px; }
table.facts th { font-weight: 560; color: #374151; padding-right: 28px; }
ul.warnings { margin: 4px 0 0; padding-left: 20px; }
ul.warnings li { margin: 3px 0; }
ul.quality { margin: 4px 0 0; padding-left: 18px; }
ul.quality li { margin: 2px 0; }
ul.quality li.flag { color: #92400e; }
.status-box { border: 1px solid #fcd34d; background: #fffbeb; color: #78350f; border-radius: 10px;
  padding: 12px 16px; margin: 10px 0 4px; }
section.column h2 code { font: 600 16px var(--mono); overflow-wrap: anywhere; }
section.column .kind { color: var(--muted); font-weight: 500; font-size: 13px; margin-left: 8px; }
#details { scroll-margin-top: 56px; }
table.compact th, table.compact td { padding: 5px 10px; }
"""


# ---------------------------------------------------------------------------------------------------------------------
# reading the document


@dataclass(frozen=True)
class _Column:
    """One column entry with the fields the page sorts and labels by; ``entry`` keeps the rest."""

    name: str
    anchor: str
    entry: Mapping[str, Any]
    drifted: bool
    severity: float
    status: str
    kind: str
    role: str


def _columns(doc: Mapping[str, Any]) -> list[_Column]:
    """The columns of the document in the terminal's order (:mod:`assay.report.drift_terminal`): drifted first, then
    columns that could not be compared (status not ``ok``), then the rest; by decreasing severity within each, then by
    name."""
    out = []
    for i, (name, raw) in enumerate(as_mapping(doc.get("columns")).items()):
        entry = as_mapping(raw)
        out.append(
            _Column(
                name=str(name),
                anchor=f"col-{i + 1}",
                entry=entry,
                drifted=entry.get("drifted") is True,
                severity=as_float(entry.get("severity")) or 0.0,
                status=str(entry.get("status") or "ok"),
                kind=str(entry.get("kind") or ""),
                role=str(entry.get("role") or ""),
            )
        )
    return sorted(out, key=lambda c: column_order(
        (c.name, {"drifted": c.drifted, "status": c.status, "severity": c.severity})))


def _text(value: object) -> str:
    return MISSING if value is None or value == "" else esc(value)


def _share(value: object) -> str:
    return fmt_percent(value)


def _alpha(alpha: float | None) -> str:
    return MISSING if alpha is None else f"{alpha:g}"


# ---------------------------------------------------------------------------------------------------------------------
# header


def _source_stat(label: str, side: Mapping[str, Any]) -> str:
    kind = side.get("type")
    return (
        f'<div class="stat"><div class="label">{esc(label)} rows</div><div class="big">{fmt_count(side.get("rows"))}'
        f'</div><div class="ci">{esc(kind) if kind else "&nbsp;"}</div></div>'
    )


def _header(doc: Mapping[str, Any], columns: Sequence[_Column]) -> str:
    reference, current = as_mapping(doc.get("reference")), as_mapping(doc.get("current"))
    config = as_mapping(doc.get("config"))
    drifted = doc.get("drifted") is True
    verdict = (
        '<span class="verdict drifted">drift detected</span>'
        if drifted
        else '<span class="verdict stable">no drift detected</span>'
    )
    ref_name, cur_name = reference.get("source") or "reference", current.get("source") or "current"
    created = f" · {esc(doc['created_at'])}" if doc.get("created_at") else ""
    n_columns = doc.get("n_columns", len(columns))
    n_drifted = doc.get("n_drifted", sum(c.drifted for c in columns))
    share = doc.get("drifted_share")
    stats = [
        f'<div class="stat"><div class="label">Columns drifted</div>'
        f'<div class="big{" drifted" if drifted else ""}">{fmt_count(n_drifted)} '
        f'<span style="font-size:16px;font-weight:500">of {fmt_count(n_columns)}</span></div>'
        f'<div class="ci">{_share(share)} of the columns</div></div>',
        _source_stat("Reference", reference),
        _source_stat("Current", current),
    ]
    multivariate = as_mapping(doc.get("multivariate"))
    if multivariate:
        conf = as_float(multivariate.get("confidence"))
        ci = fmt_interval(multivariate.get("ci_low"), multivariate.get("ci_high"))
        stats.append(
            '<div class="stat"><div class="label">Domain classifier AUC</div>'
            f'<div class="big{" drifted" if multivariate.get("drifted") is True else ""}">'
            f"{fmt_number(multivariate.get('auc'))}</div>"
            f'<div class="ci">{f"{conf * 100:g}% interval " if conf else ""}{ci}</div></div>'
        )

    meta: list[tuple[str, str]] = []
    for label, side in (("Reference", reference), ("Current", current)):
        meta.append((label, f"<code>{_text(side.get('source'))}</code>"))
        if side.get("profile_id"):
            pid = str(side["profile_id"])
            meta.append((f"{label} profile", f'<code title="{esc(pid)}">{esc(pid[:12])}</code>'))
    alpha = as_float(config.get("alpha"))
    correction = config.get("correction")
    meta.append(("Correction", f"{_text(correction)} · α = {_alpha(alpha)}"))
    if doc.get("assay_version"):
        meta.append(("assay version", esc(doc["assay_version"])))
    meta_html = "".join(f"<div><dt>{esc(k)}</dt><dd>{v}</dd></div>" for k, v in meta)

    config_html = config_chips(config)

    return (
        '<header class="top"><div class="wrap">'
        '<div class="eyebrow">assay drift report</div>'
        f"<h1>Drift: {esc(cur_name)} against {esc(ref_name)}{verdict}</h1>"
        f'<p class="subtitle">reference <b>{esc(ref_name)}</b> ({fmt_count(reference.get("rows"))} rows) → current '
        f"<b>{esc(cur_name)}</b> ({fmt_count(current.get('rows'))} rows){created}</p>"
        f'<div class="headline">{"".join(stats)}</div>'
        f'<dl class="meta">{meta_html}</dl>{config_html}'
        "</div></header>"
    )


# ---------------------------------------------------------------------------------------------------------------------
# warnings and the drift table


def _warnings_section(doc: Mapping[str, Any]) -> Section | None:
    warnings = [str(w) for w in as_seq(doc.get("warnings")) if w is not None and str(w)]
    if not warnings:
        return None
    items = "".join(f"<li>{esc(w)}</li>" for w in warnings)
    body = f'<h2>Warnings</h2><ul class="warnings">{items}</ul>'
    return Section("warnings", f"Warnings ({len(warnings)})", body)


def _status_badge(column: _Column) -> str:
    if column.status != "ok":
        return f'<span class="badge warn">{esc(column.status.replace("_", " "))}</span>'
    if column.drifted:
        return '<span class="badge worst">drifted</span>'
    return ""


def _sort_value(value: object) -> str:
    number = as_float(value)
    return "" if number is None else repr(number)


def _table_row(column: _Column) -> str:
    e = column.entry
    quality = as_mapping(e.get("quality"))
    role = column.role
    role_html = "" if role in ("", "feature") else f'<span class="badge muted">{esc(role)}</span>'
    effect, threshold = as_float(e.get("effect")), as_float(e.get("threshold"))
    effect_name = str(e.get("effect_name") or "")
    effect_html = (
        f'<span title="{esc(effect_name)}">{fmt_number(effect)}</span>' if effect_name else fmt_number(effect)
    ) + (f'<span class="sub">threshold {threshold:.4g}</span>' if threshold is not None else "")
    miss_ref, miss_cur = quality.get("missing_reference"), quality.get("missing_current")
    missing = MISSING if miss_ref is None and miss_cur is None else f"{_share(miss_ref)} → {_share(miss_cur)}"
    out = as_float(quality.get("out_of_range_current"))
    below, above = quality.get("below_range_current"), quality.get("above_range_current")
    out_sub = (
        f'<span class="sub" title="below · above the reference range">↓{_share(below)} · ↑{_share(above)}</span>'
        if out and (below is not None or above is not None)
        else ""
    )
    categorical = column.kind in ("categorical", "boolean")
    if out is not None and categorical and not out:
        out = None  # a range means nothing for categories
    new_count = as_float(quality.get("new_categories_count"))
    new_names = [str(v) for v in as_seq(quality.get("new_categories"))]
    if new_count is None and new_names:
        new_count = float(len(new_names))
    if new_count is not None and not categorical and not new_count:
        new_count = None  # nor do categories for numbers
    new_share = quality.get("new_category_share")
    if new_count:
        listed = ", ".join(new_names[:MAX_LISTED]) + (" …" if len(new_names) > MAX_LISTED else "")
        new_html = (
            f'<span title="{esc(listed)}">{fmt_count(new_count)}</span>'
            f'<span class="sub" title="share of the current values">{_share(new_share)}</span>'
        )
    else:
        new_html = fmt_count(new_count) if new_count is not None else MISSING
    reason = str(e.get("reason") or "")
    status_html = _status_badge(column) + (f'<span class="reason">{esc(reason)}</span>' if reason else "")
    return (
        f"<tr{' class=worst' if column.drifted else ''}>"
        f'<td class="name"><a href="#{column.anchor}"><code>{esc(column.name)}</code></a></td>'
        f'<td class="num" data-sort="{column.severity!r}">{fmt_number(column.severity)}</td>'
        f"<td>{esc(column.kind or MISSING)}{role_html}</td>"
        f"<td>{_text(e.get('method'))}</td>"
        f'<td class="num" data-sort="{_sort_value(effect)}">{effect_html}</td>'
        f'<td class="num" data-sort="{_sort_value(e.get("p_adjusted"))}">{fmt_number(e.get("p_adjusted"))}</td>'
        f'<td class="num" data-sort="{_sort_value(miss_cur)}">{missing}</td>'
        f'<td class="num" data-sort="{_sort_value(out)}">{_share(out) if out is not None else MISSING}{out_sub}</td>'
        f'<td class="num" data-sort="{_sort_value(new_count)}">{new_html}</td>'
        f'<td class="status" data-sort="{esc(column.status)}">{status_html}</td></tr>'
    )


def _table_section(doc: Mapping[str, Any], columns: Sequence[_Column]) -> Section:
    config = as_mapping(doc.get("config"))
    alpha = as_float(config.get("alpha"))
    correction = config.get("correction")
    head = "".join(
        [
            sort_th("Column"),
            sort_th("Severity", num=True),
            sort_th("Kind / role"),
            sort_th("Method"),
            sort_th("Effect", num=True),
            sort_th("p adjusted", num=True),
            sort_th("Missing ref → cur", num=True),
            sort_th("Out of range", num=True),
            sort_th("New categories", num=True),
            sort_th("Status / reason"),
        ]
    )
    rows = "".join(_table_row(c) for c in columns) or (
        '<tr><td colspan="10" class="reason">The document has no columns.</td></tr>'
    )
    adjusted = f"p-values are adjusted across columns ({esc(correction)})" if correction else "p-values are adjusted"
    body = (
        "<h2>Columns</h2>"
        '<p class="lead">Every column, drifted first, then those that could not be compared, then the rest; by '
        "severity within each: the largest effect over its threshold among the column's tests. A column drifts when "
        f"its test is significant ({adjusted}, "
        f"α = {_alpha(alpha)}) <em>and</em> its effect reaches the threshold. "
        "Missing rates are shares of rows; out-of-range and new-category shares are shares of the current values. "
        "Click a column heading to sort, a name to see its distribution.</p>"
        f'<div class="scroll"><table class="sortable compact drift"><thead><tr>{head}</tr></thead><tbody>{rows}'
        "</tbody></table></div>"
    )
    return Section("columns", "Columns", body)


# ---------------------------------------------------------------------------------------------------------------------
# multivariate


def _multivariate_section(ctx: Context) -> Section | None:
    mv = as_mapping(ctx.doc.get("multivariate"))
    if not mv:
        return None
    auc, low, high = as_float(mv.get("auc")), as_float(mv.get("ci_low")), as_float(mv.get("ci_high"))
    threshold = as_float(mv.get("threshold"))
    conf = as_float(mv.get("confidence"))
    ci_label = f"{conf * 100:g}% interval" if conf is not None and 0 < conf < 1 else "interval"
    drifted = mv.get("drifted") is True
    n = sum(v for v in (as_float(mv.get("n_reference")), as_float(mv.get("n_current"))) if v is not None)
    auc_chart = svg.bar_chart(
        [svg.Bar("domain classifier AUC", auc, low, high, round(n) if n else None, highlight=drifted)],
        label=f"Domain classifier AUC {fmt_number(auc)} {fmt_interval(low, high)}",
        x_label="AUC (0.5: reference and current cannot be told apart)",
        domain=(0.0, 1.0),
        reference=threshold,
        reference_label="threshold",
        width=540,
        chart_id=ctx.chart_id(),
    )
    figures = [f'<figure class="panel"><h4>AUC with its {esc(ci_label)}</h4>{auc_chart}</figure>']
    top = [as_mapping(t) for t in as_seq(mv.get("top_columns"))]
    top = [t for t in top if t.get("column") is not None][:MAX_TOP_COLUMNS]
    if top:
        bars = [svg.Bar(str(t["column"]), as_float(t.get("importance"))) for t in top]
        chart = svg.bar_chart(
            bars,
            label="Columns the domain classifier relies on",
            x_label="importance",
            width=540,
            chart_id=ctx.chart_id(),
        )
        figures.append(f'<figure class="panel"><h4>Columns it relies on most</h4>{chart}</figure>')
    facts: list[tuple[str, str]] = [
        ("Verdict", '<span class="worst-text">drifted</span>' if drifted else "not drifted"),
        ("AUC", f"{fmt_number(auc)} {fmt_interval(low, high)}"),
        ("Threshold", fmt_number(threshold)),
        ("p-value", fmt_number(mv.get("p_value"))),
        ("Standard error", fmt_number(mv.get("se"))),
        ("Rows (reference / current)", f"{fmt_count(mv.get('n_reference'))} / {fmt_count(mv.get('n_current'))}"),
        ("Model", _text(mv.get("model"))),
        ("Method", _text(mv.get("method"))),
        ("Folds · seed", f"{fmt_count(mv.get('folds'))} · {_text(mv.get('seed'))}"),
    ]
    rows = "".join(f"<tr><th scope=row>{esc(k)}</th><td>{v}</td></tr>" for k, v in facts)
    notes = "".join(f"<li>{esc(n)}</li>" for n in as_seq(mv.get("notes")))
    body = (
        "<h2>Multivariate</h2>"
        '<p class="lead">A classifier trained to tell reference rows from current rows on all columns together: it '
        "catches shifts in how columns relate that no single column shows. An AUC of 0.5 means the two samples "
        "cannot be told apart; the further above, the more they differ. The dashed line is the threshold of the "
        "verdict.</p>"
        f'<div class="grid2">{"".join(figures)}</div>'
        f'<div class="scroll"><table class="compact facts"><tbody>{rows}</tbody></table></div>'
        f"{f'<ul class=quality>{notes}</ul>' if notes else ''}"
    )
    return Section("multivariate", "Multivariate", body)


# ---------------------------------------------------------------------------------------------------------------------
# one card per column


def _stat_value(key: str, value: object) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool) or not isinstance(value, int | float):
        return esc(value)
    if isinstance(value, int) or key == "n" or key.startswith("n_") or key.endswith("_count"):
        return fmt_count(value)
    if key.endswith("share") or key.endswith("rate"):
        return fmt_percent(value)
    return fmt_number(value)


def _stat_change(key: str, ref: object, cur: object) -> str:
    a, b = as_float(ref), as_float(cur)
    if a is None or b is None or key == "n" or key.startswith("n_"):
        return ""
    if key.endswith("share") or key.endswith("rate"):
        points = (b - a) * 100
        return "0" if points == 0 else f"{points:+.1f} pts"
    delta = b - a
    return "0" if delta == 0 else ("+" if delta > 0 else "") + fmt_number(delta)


def _summary_table(summary: Mapping[str, Any]) -> str:
    ref, cur = as_mapping(summary.get("reference")), as_mapping(summary.get("current"))
    keys = list(dict.fromkeys([*ref, *cur]))
    if not keys:
        return ""
    rows = "".join(
        f"<tr><td>{esc(_STAT_LABELS.get(k, k.replace('_', ' ')))}</td>"
        f'<td class="num">{_stat_value(k, ref.get(k))}</td><td class="num">{_stat_value(k, cur.get(k))}</td>'
        f'<td class="num">{_stat_change(k, ref.get(k), cur.get(k))}</td></tr>'
        for k in keys
    )
    return (
        '<h4>Summary</h4><div class="scroll"><table class="compact"><thead><tr><th>Statistic</th>'
        '<th class="num">Reference</th><th class="num">Current</th><th class="num">Change</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _tests_table(tests: Sequence[Any]) -> str:
    rows = []
    for raw in tests:
        t = as_mapping(raw)
        drifted = t.get("drifted") is True
        notes = "; ".join(str(n) for n in as_seq(t.get("notes")))
        verdict = (
            '<span class="badge worst">drifted</span>'
            if drifted
            else ("significant, below threshold" if t.get("significant") is True else "no")
        )
        rows.append(
            f"<tr{' class=worst' if drifted else ''}><td>{_text(t.get('name'))}</td><td>{_text(t.get('method'))}</td>"
            f'<td class="num">{fmt_number(t.get("statistic"))}</td><td class="num">{fmt_number(t.get("p_value"))}</td>'
            f'<td class="num">{fmt_number(t.get("p_adjusted"))}</td>'
            f'<td class="num">{fmt_number(t.get("effect"))}<span class="sub">{esc(t.get("effect_name") or "")}</span>'
            f'</td><td class="num">{fmt_number(t.get("threshold"))}</td><td>{verdict}</td>'
            f"<td>{esc(notes)}</td></tr>"
        )
    if not rows:
        return ""
    return (
        '<h4 style="margin-top:16px">Tests</h4><div class="scroll"><table class="compact"><thead><tr><th>Test</th>'
        '<th>Method</th><th class="num">Statistic</th><th class="num">p</th><th class="num">p adjusted</th>'
        '<th class="num">Effect</th><th class="num">Threshold</th><th>Verdict</th><th>Notes</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _names(values: Sequence[Any]) -> str:
    listed = ", ".join(f"<code>{esc(v)}</code>" for v in values[:MAX_LISTED])
    return listed + (f" and {fmt_count(len(values) - MAX_LISTED)} more" if len(values) > MAX_LISTED else "")


def _listed(quality: Mapping[str, Any], field: str) -> tuple[list[Any], float]:
    """The categories a quality field lists, and how many there are (the document may list only some)."""
    names = list(as_seq(quality.get(field)))
    count = as_float(quality.get(f"{field}_count"))
    return names, float(len(names)) if count is None else count


def _quality_notes(quality: Mapping[str, Any]) -> str:
    items: list[tuple[bool, str]] = []
    miss_ref, miss_cur = as_float(quality.get("missing_reference")), as_float(quality.get("missing_current"))
    if miss_ref is not None or miss_cur is not None:
        items.append(
            (
                (miss_cur or 0.0) - (miss_ref or 0.0) >= _NOTABLE,
                f"Missing: {_share(miss_ref)} of reference rows, {_share(miss_cur)} of current rows.",
            )
        )
    out = as_float(quality.get("out_of_range_current"))
    if out:
        items.append(
            (
                out >= _NOTABLE,
                f"{_share(out)} of current values fall outside the reference range "
                f"({_share(quality.get('below_range_current'))} below its minimum, "
                f"{_share(quality.get('above_range_current'))} above its maximum).",
            )
        )
    new, new_count = _listed(quality, "new_categories")
    if new_count:
        items.append(
            (
                True,
                f"{fmt_count(new_count)} categor{'y' if new_count == 1 else 'ies'} not seen in the reference "
                f"({_share(quality.get('new_category_share'))} of current values)"
                f"{': ' + _names(new) if new else ''}.",
            )
        )
    gone, gone_count = _listed(quality, "gone_categories")
    if gone_count:
        items.append(
            (
                True,
                f"{fmt_count(gone_count)} reference categor{'y' if gone_count == 1 else 'ies'} absent from the current "
                f"values{': ' + _names(gone) if gone else ''}.",
            )
        )
    type_ref, type_cur = quality.get("type_reference"), quality.get("type_current")
    if quality.get("type_changed") is True:
        items.append((True, f"Type changed: <code>{_text(type_ref)}</code> → <code>{_text(type_cur)}</code>."))
    elif type_ref is not None or type_cur is not None:
        items.append((False, f"Type <code>{_text(type_ref if type_ref is not None else type_cur)}</code>."))
    if not items:
        return ""
    lis = "".join(f"<li{' class=flag' if flag else ''}>{html}</li>" for flag, html in items)
    return f'<h4 style="margin-top:14px">Data quality</h4><ul class="quality">{lis}</ul>'


def _chart(ctx: Context, column: _Column) -> str:
    """The overlaid distribution of a column, or a note saying why there is none."""
    hist = as_mapping(column.entry.get("histogram"))
    kind = hist.get("type")
    label = f"Distribution of {column.name}: reference against current"
    if kind == "numeric" and as_seq(hist.get("edges")):
        below, above = as_mapping(hist.get("below")), as_mapping(hist.get("above"))
        chart = svg.overlaid_histogram(
            list(as_seq(hist.get("edges"))),
            as_seq(hist.get("reference")),
            as_seq(hist.get("current")),
            label=label,
            x_label=_KIND_AXIS.get(column.kind, "value"),
            below=(as_float(below.get("reference")), as_float(below.get("current"))),
            above=(as_float(above.get("reference")), as_float(above.get("current"))),
            chart_id=ctx.chart_id(),
        )
        caption = (
            "Bins are reference quantiles, so their widths differ: heights are densities (share over width, 1 for a "
            "uniform spread). Grey bars are the reference, the blue line the current values; the side panels hold the "
            "shares below or above the reference range."
        )
    elif kind == "categorical" and as_seq(hist.get("categories")):
        categories = [str(c) for c in as_seq(hist.get("categories"))]
        shown = categories[:MAX_CATEGORIES]
        chart = svg.grouped_bars(
            shown,
            list(as_seq(hist.get("reference")))[: len(shown)],
            list(as_seq(hist.get("current")))[: len(shown)],
            label=label,
            chart_id=ctx.chart_id(),
        )
        omitted = len(categories) - len(shown)
        caption = "Share of the non-missing values in each category: reference (grey) above current (blue)." + (
            f" The first {fmt_count(len(shown))} of {fmt_count(len(categories))} categories are drawn."
            if omitted
            else ""
        )
    else:
        return '<p class="note">The document holds no histogram for this column.</p>'
    return f'<figure class="panel"><h4>Distribution</h4>{chart}<figcaption>{caption}</figcaption></figure>'


def _column_card(ctx: Context, column: _Column) -> str:
    e = column.entry
    quality = _quality_notes(as_mapping(e.get("quality")))
    reason = str(e.get("reason") or "")
    role = f" · {esc(column.role)}" if column.role else ""
    heading = (
        f"<h2><code>{esc(column.name)}</code>{_status_badge(column)}"
        f'<span class="kind">{esc(column.kind or "unknown kind")}{role}</span></h2>'
    )
    if column.status != "ok":
        body = (
            f'<div class="status-box"><b>{esc(column.status.replace("_", " "))}</b>: '
            f"{esc(reason or 'not compared')}</div>{quality}"
        )
        return f'<section class="card column" id="{column.anchor}">{heading}{body}</section>'
    method = e.get("method")
    parts = [
        '<b class="worst-text">Drifted</b>' if column.drifted else "No drift",
        f"method {esc(method)}" if method else "",
        f"severity {fmt_number(column.severity)}",
        esc(reason),
    ]
    lead = f'<p class="lead">{" · ".join(p for p in parts if p)}</p>'
    summary = _summary_table(as_mapping(e.get("summary")))
    side = f"<div>{summary}{quality}</div>"
    tests = _tests_table(as_seq(e.get("tests")))
    return (
        f'<section class="card column" id="{column.anchor}">{heading}{lead}'
        f'<div class="grid2">{_chart(ctx, column)}{side}</div>{tests}</section>'
    )


# ---------------------------------------------------------------------------------------------------------------------
# the page


def render_drift(doc: Mapping[str, Any]) -> str:
    """Render a drift document (schema ``assay.drift/1``) as one self-contained HTML page.

    Raises :class:`~assay.errors.InputError` when ``doc`` is not a mapping of that schema. Sections appear only when
    the document has their data; every column gets a card.

    >>> page = render_drift({"schema": "assay.drift/1", "drifted": False, "n_columns": 1, "n_drifted": 0,
    ...     "reference": {"source": "a.csv", "rows": 10}, "current": {"source": "b.csv", "rows": 12},
    ...     "config": {"alpha": 0.05, "correction": "holm"}, "multivariate": None, "warnings": [],
    ...     "columns": {"flag": {"kind": "boolean", "role": "feature", "status": "ok", "drifted": False,
    ...         "severity": 0.2, "histogram": {"type": "categorical", "categories": ["false", "true"],
    ...                                        "reference": [0.6, 0.4], "current": [0.5, 0.5]}}}})
    >>> page.startswith("<!DOCTYPE html>"), page.count('<svg class="chart"'), "://" in page
    (True, 1, False)
    """
    doc = check_document(doc, SCHEMA, what="drift document", source="drift.json (or DriftResult.to_dict())",
                         writer="`assay drift` of this version of assay")
    ctx = Context(doc)
    columns = _columns(doc)
    top = _header(doc, columns)
    sections = [
        s for s in (_warnings_section(doc), _table_section(doc, columns), _multivariate_section(ctx)) if s is not None
    ]
    cards = "".join(_column_card(ctx, c) for c in columns)
    nav = "".join(f'<a href="#{s.anchor}">{escape(s.title)}</a>' for s in sections)
    if cards:
        nav += '<a href="#details">Column details</a>'
    reference, current = as_mapping(doc.get("reference")), as_mapping(doc.get("current"))
    names = [str(x) for x in (current.get("source"), reference.get("source")) if x]
    title = "assay drift report" + (f" — {' against '.join(names)}" if names else "")
    footer = (
        f"Generated by assay {esc(doc.get('assay_version') or '')} from a document of schema {SCHEMA}. "
        "Self-contained: this page loads nothing from the network and holds no rows, only the document's aggregates."
    )
    main = f'{"".join(s.html() for s in sections)}<div id="details">{cards}</div>'
    return page(title=title, charts=ctx.charts, top=top, nav=nav, main=main, footer=footer, style=_STYLE)

"""The sections of the HTML report on the whole run (header, metrics, curves, calibration, confusion matrix), each
built from one part of a run document or absent when it has no data; the helpers every section shares.

Every string taken from the document goes through :func:`html.escape` (here) or through the SVG helpers (which
escape their own labels). Nothing here reads rows: only the aggregates the document already holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from assay.report import svg
from assay.report.formatting import MISSING, as_float, fmt_count, fmt_interval, fmt_number, fmt_percent

__all__ = [
    "Context",
    "Metric",
    "Section",
    "arrow",
    "as_mapping",
    "as_seq",
    "calibration_section",
    "confusion_section",
    "curves_section",
    "esc",
    "header",
    "metric_of",
    "metrics_section",
    "sort_th",
    "value_cell",
]

MAX_CURVE_POINTS = 1_000

_TASKS = {
    "binary": "Binary classification",
    "multiclass": "Multiclass classification",
    "regression": "Regression",
    "ranking": "Ranking",
}


def esc(value: object) -> str:
    return escape(str(value))


def as_mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Metric:
    """One metric entry of the document, with missing fields filled in."""

    value: float | None
    low: float | None
    high: float | None
    n: int | None
    method: str
    higher_is_better: bool | None
    reason: str
    approximate: str = ""  # why the interval is approximate (the document's approximate_reason), or ""

    @property
    def interval(self) -> str:
        if self.approximate and self.low is not None:
            return (f'<span class="approx" title="approximate: {esc(self.approximate)}">≈</span>'
                    f"{fmt_interval(self.low, self.high)}")
        return fmt_interval(self.low, self.high)


def metric_of(entry: object) -> Metric:
    """Read a metric entry leniently: a missing or malformed field is a missing value, never a crash.

    >>> m = metric_of({"value": None, "n": 12, "reason": "only one class present"})
    >>> m.value, m.n, m.reason
    (None, 12, 'only one class present')
    """
    e = as_mapping(entry)
    n = as_float(e.get("n"))
    hib = e.get("higher_is_better")
    return Metric(
        value=as_float(e.get("value")),
        low=as_float(e.get("ci_low")),
        high=as_float(e.get("ci_high")),
        n=None if n is None else round(n),
        method=str(e.get("method") or ""),
        higher_is_better=hib if isinstance(hib, bool) else None,
        reason=str(e.get("reason") or ""),
        approximate=str(e.get("approximate_reason") or "approximate") if e.get("approximate") else "",
    )


@dataclass(frozen=True)
class Section:
    """A card of the report with its anchor and the title shown in the navigation bar."""

    anchor: str
    title: str
    body: str

    def html(self) -> str:
        return f'<section class="card" id="{self.anchor}">{self.body}</section>'


class Context:
    """The document with its defaults resolved, and the counter that numbers the charts."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self.config = as_mapping(doc.get("config"))
        confidence = as_float(self.config.get("confidence"))
        self.confidence = confidence if confidence is not None and 0 < confidence < 1 else 0.95
        self.metrics = as_mapping(doc.get("metrics"))
        self.charts = 0

    @property
    def ci_label(self) -> str:
        return f"{self.confidence * 100:g}% interval"

    def chart_id(self) -> str:
        self.charts += 1
        return f"chart-{self.charts}"

    def primary_metric(self, available: Sequence[str]) -> str | None:
        """The configured primary metric if ``available`` has it, else the first available in document order."""
        configured = self.config.get("primary_metric")
        if isinstance(configured, str) and configured in available:
            return configured
        ordered = [name for name in self.metrics if name in available] or list(available)
        return ordered[0] if ordered else None


# ---------------------------------------------------------------------------------------------------------------------
# cells


def value_cell(m: Metric, *, interval: bool = True) -> str:
    if m.value is None:
        tip = m.reason or "no value"
        return f'<td class="num" data-sort=""><span class="null" title="{esc(tip)}">{MISSING}</span></td>'
    sub = f'<span class="sub">{m.interval}</span>' if interval and m.low is not None else ""
    return f'<td class="num" data-sort="{m.value!r}">{fmt_number(m.value)}{sub}</td>'


def arrow(hib: bool | None) -> str:
    if hib is None:
        return ""
    title = "higher is better" if hib else "lower is better"
    return f' <span class="arrow" title="{title}">{"↑" if hib else "↓"}</span>'


def sort_th(label: str, *, num: bool = False, raw: bool = False) -> str:
    cls = ' class="num"' if num else ""
    return f'<th{cls} scope="col"><button type="button">{label if raw else esc(label)}</button></th>'


# ---------------------------------------------------------------------------------------------------------------------
# header


def config_chips(config: Mapping[str, Any]) -> str:
    """A document's config as one chip per key (long values shortened, whole in the tooltip); empty without keys."""
    chips = []
    for key, value in config.items():
        text = json.dumps(value, default=str, ensure_ascii=False)
        short = text if len(text) <= 80 else text[:79] + "…"
        chips.append(f'<span title="{esc(text)}"><b>{esc(key)}</b> {esc(short)}</span>')
    return f'<div class="config" aria-label="configuration">{"".join(chips)}</div>' if chips else ""


def header(ctx: Context) -> str:
    doc = ctx.doc
    model, dataset = as_mapping(doc.get("model")), as_mapping(doc.get("dataset"))
    name = model.get("name") or "Unnamed model"
    version = model.get("version")
    version_html = f'<span class="version">{esc(version)}</span>' if version else ""
    task = str(doc.get("task") or "")
    subtitle = [esc(_TASKS.get(task, task or "Unknown task"))]
    if dataset.get("name"):
        subtitle.append(f"on <b>{esc(dataset['name'])}</b>")
    created = f" · {esc(doc['created_at'])}" if doc.get("created_at") else ""

    stats = []
    primary = ctx.primary_metric(list(ctx.metrics))
    if primary is not None:
        m = metric_of(ctx.metrics[primary])
        ci = (
            f'<div class="ci">{ctx.ci_label} {m.interval}</div>'
            if m.low is not None
            else '<div class="ci">&nbsp;</div>'
        )
        if m.value is None:
            ci = f'<div class="ci">{esc(m.reason or "no value")}</div>'
        stats.append(
            f'<div class="stat"><div class="label">{esc(primary)}{arrow(m.higher_is_better)}</div>'
            f'<div class="big">{fmt_number(m.value)}</div>{ci}</div>'
        )
    rows_used = dataset.get("rows_used", dataset.get("rows"))
    if rows_used is not None:
        of = f"of {fmt_count(dataset['rows'])} rows" if dataset.get("rows") is not None else "rows"
        stats.append(
            f'<div class="stat"><div class="label">Rows evaluated</div><div class="big">{fmt_count(rows_used)}</div>'
            f'<div class="ci">{of}</div></div>'
        )
    ece = as_float(as_mapping(doc.get("calibration")).get("ece"))
    if ece is not None:
        stats.append(
            f'<div class="stat"><div class="label">ECE ↓</div><div class="big">{fmt_number(ece)}</div>'
            '<div class="ci">expected calibration error</div></div>'
        )

    meta: list[tuple[str, str]] = []
    if dataset.get("name"):
        meta.append(("Dataset", esc(dataset["name"])))
    fingerprint = str(dataset.get("fingerprint") or "")
    if fingerprint:
        algorithm, _, digest = fingerprint.rpartition(":")
        short = f"{algorithm}:{digest[:12]}" if algorithm else digest[:12]
        meta.append(("Fingerprint", f'<code title="{esc(fingerprint)}">{esc(short)}</code>'))
    if dataset.get("rows_missing_label") is not None:
        meta.append(("Missing labels", fmt_count(dataset["rows_missing_label"])))
    meta.append(("Task", esc(task or MISSING)))
    if doc.get("assay_version"):
        meta.append(("assay version", esc(doc["assay_version"])))
    if doc.get("run_id"):
        meta.append(("Run", f"<code>{esc(doc['run_id'])}</code>"))
    meta_html = "".join(f"<div{' class=wide' if k == 'Run' else ''}><dt>{k}</dt><dd>{v}</dd></div>" for k, v in meta)

    config_html = config_chips(ctx.config)

    return (
        '<header class="top"><div class="wrap">'
        '<div class="eyebrow">assay evaluation report</div>'
        f"<h1>{esc(name)}{version_html}</h1>"
        f'<p class="subtitle">{" ".join(subtitle)}{created}</p>'
        f'<div class="headline">{"".join(stats)}</div>'
        f'<dl class="meta">{meta_html}</dl>{config_html}'
        "</div></header>"
    )


# ---------------------------------------------------------------------------------------------------------------------
# overall metrics


def metrics_section(ctx: Context) -> Section | None:
    if not ctx.metrics:
        return None
    primary = ctx.primary_metric(list(ctx.metrics))
    rows = []
    for name, entry in ctx.metrics.items():
        m = metric_of(entry)
        badge = '<span class="badge primary">primary</span>' if name == primary else ""
        reason = f'<span class="reason">{esc(m.reason)}</span>' if m.value is None and m.reason else ""
        rows.append(
            f"<tr{' class=primary' if name == primary else ''}>"
            f'<td class="name"><code>{esc(name)}</code>{badge}{arrow(m.higher_is_better)}{reason}</td>'
            f"{value_cell(m, interval=False)}"
            f'<td class="num" data-sort="{m.low!r}">{m.interval}</td>'
            f'<td class="num" data-sort="{"" if m.n is None else m.n}">{fmt_count(m.n)}</td>'
            f"<td>{esc(m.method or MISSING)}</td></tr>"
        )
    head = "".join(
        [
            sort_th("Metric"),
            sort_th("Value", num=True),
            sort_th(ctx.ci_label, num=True),
            sort_th("n", num=True),
            sort_th("Interval method"),
        ]
    )
    body = (
        "<h2>Metrics</h2>"
        f'<p class="lead">Every metric on the rows used, with its {ctx.ci_label}. A dash means the metric is undefined '
        "here; the reason is under its name. Click a column heading to sort.</p>"
        f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table></div>"
    )
    return Section("metrics", "Metrics", body)


# ---------------------------------------------------------------------------------------------------------------------
# curves


def _thin(xs: Sequence[Any], ys: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """At most ``MAX_CURVE_POINTS`` points, evenly strided, first and last kept."""
    n = min(len(xs), len(ys))
    if n <= MAX_CURVE_POINTS:
        return list(xs[:n]), list(ys[:n])
    step = (n - 1) / (MAX_CURVE_POINTS - 1)
    picks = sorted({round(i * step) for i in range(MAX_CURVE_POINTS)})
    return [xs[i] for i in picks], [ys[i] for i in picks]


def as_seq(value: object) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else []


def curves_section(ctx: Context) -> Section | None:
    curves = as_mapping(ctx.doc.get("curves"))
    roc, pr = as_mapping(curves.get("roc")), as_mapping(curves.get("pr"))
    figures = []
    if as_seq(roc.get("fpr")) and as_seq(roc.get("tpr")):
        fpr, tpr = _thin(as_seq(roc["fpr"]), as_seq(roc["tpr"]))
        auc = as_float(roc.get("auc"))
        chart = svg.line_chart(
            [
                svg.Series(f"model (AUC {fmt_number(auc)})", fpr, tpr, fill=True),
                svg.Series("chance", [0, 1], [0, 1], colour=svg.PALETTE["reference"], dashed=True),
            ],
            label=f"ROC curve, AUC {fmt_number(auc)}",
            x_label="false positive rate",
            y_label="true positive rate",
            chart_id=ctx.chart_id(),
        )
        figures.append(
            f'<figure class="panel"><h4>ROC curve</h4>{chart}<figcaption>Area under the curve {fmt_number(auc)}; '
            "the dashed diagonal is a model that ranks at random.</figcaption></figure>"
        )
    if as_seq(pr.get("recall")) and as_seq(pr.get("precision")):
        recall, precision = _thin(as_seq(pr["recall"]), as_seq(pr["precision"]))
        ap, prevalence = as_float(pr.get("average_precision")), as_float(pr.get("prevalence"))
        series = [svg.Series(f"model (AP {fmt_number(ap)})", recall, precision, fill=True)]
        if prevalence is not None:
            series.append(
                svg.Series(
                    f"prevalence {fmt_number(prevalence)}",
                    [0, 1],
                    [prevalence, prevalence],
                    colour=svg.PALETTE["reference"],
                    dashed=True,
                )
            )
        chart = svg.line_chart(
            series,
            label=f"Precision-recall curve, average precision {fmt_number(ap)}",
            x_label="recall",
            y_label="precision",
            chart_id=ctx.chart_id(),
        )
        figures.append(
            f'<figure class="panel"><h4>Precision–recall curve</h4>{chart}<figcaption>Average precision '
            f"{fmt_number(ap)}; the dashed line is the precision of a random ranking (the prevalence).</figcaption>"
            "</figure>"
        )
    if not figures:
        return None
    body = (
        "<h2>Curves</h2>"
        '<p class="lead">How the model trades errors across all thresholds (curves are downsampled).</p>'
        f'<div class="grid2">{"".join(figures)}</div>'
    )
    return Section("curves", "Curves", body)


# ---------------------------------------------------------------------------------------------------------------------
# calibration


def calibration_section(ctx: Context) -> Section | None:
    calibration = as_mapping(ctx.doc.get("calibration"))
    raw_bins = [as_mapping(b) for b in as_seq(calibration.get("bins"))]
    bins = []
    for b in raw_bins:
        lower, upper = as_float(b.get("lower")), as_float(b.get("upper"))
        if lower is None or upper is None:
            continue
        n = as_float(b.get("n"))
        bins.append(
            svg.CalibrationBin(
                lower,
                upper,
                0 if n is None else round(n),
                as_float(b.get("mean_predicted")),
                as_float(b.get("observed")),
                as_float(b.get("ci_low")),
                as_float(b.get("ci_high")),
            )
        )
    if not bins:
        return None
    ece = as_float(calibration.get("ece"))
    chart = svg.reliability_diagram(bins, label=f"Reliability diagram, ECE {fmt_number(ece)}", chart_id=ctx.chart_id())
    rows = "".join(
        f'<tr><td class="nowrap">[{b.lower:.4g}, {b.upper:.4g})</td>'
        f'<td class="num">{fmt_count(b.n)}</td><td class="num">{fmt_number(b.mean_predicted)}</td>'
        f'<td class="num">{fmt_number(b.observed)}</td><td class="num">{fmt_interval(b.ci_low, b.ci_high)}</td></tr>'
        for b in bins
    )
    table = (
        '<div class="scroll"><table><thead><tr><th>Bin</th><th class="num">n</th><th class="num">Mean predicted</th>'
        f'<th class="num">Observed</th><th class="num">{ctx.ci_label}</th></tr></thead><tbody>{rows}</tbody></table>'
        "</div>"
    )
    stat = (
        f'<div class="stat"><div class="label">Expected calibration error ↓</div><div class="big">{fmt_number(ece)}'
        '</div><div class="ci">mean |observed − predicted| over bins, weighted by rows</div></div>'
    )
    body = (
        "<h2>Calibration</h2>"
        '<p class="lead">Do predicted probabilities match observed rates? Points on the dashed diagonal are perfectly '
        "calibrated; points below it are over-confident. The grey strip shows how many rows fell in each bin.</p>"
        f'<div class="grid2"><figure class="panel"><h4>Reliability diagram</h4>{chart}</figure>'
        f"<div>{stat}{table}</div></div>"
    )
    return Section("calibration", "Calibration", body)


# ---------------------------------------------------------------------------------------------------------------------
# confusion matrix


def confusion_section(ctx: Context) -> Section | None:
    confusion = as_mapping(ctx.doc.get("confusion_matrix"))
    labels = [str(label) for label in as_seq(confusion.get("labels"))]
    matrix = [as_seq(row) for row in as_seq(confusion.get("matrix"))]
    if not labels or len(matrix) != len(labels) or any(len(row) != len(labels) for row in matrix):
        return None
    chart = svg.heatmap(labels, matrix, label="Confusion matrix", chart_id=ctx.chart_id())
    cells = [[as_float(v) or 0.0 for v in row] for row in matrix]
    total = sum(map(sum, cells))
    correct = sum(cells[i][i] for i in range(len(labels)))
    rows = []
    for i, name in enumerate(labels):
        actual, predicted = sum(cells[i]), sum(row[i] for row in cells)
        recall = cells[i][i] / actual if actual else None
        precision = cells[i][i] / predicted if predicted else None
        rows.append(
            f'<tr><td class="name">{esc(name)}</td><td class="num">{fmt_count(actual)}</td>'
            f'<td class="num">{fmt_count(predicted)}</td><td class="num">{fmt_number(recall)}</td>'
            f'<td class="num">{fmt_number(precision)}</td></tr>'
        )
    table = (
        '<div class="scroll"><table><thead><tr><th>Class</th><th class="num">True</th><th class="num">Predicted</th>'
        f'<th class="num">Recall</th><th class="num">Precision</th></tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table></div>"
    )
    body = (
        "<h2>Confusion matrix</h2>"
        '<p class="lead">Rows are true labels, columns predictions. Each cell shows its count and its share of the '
        "row, so the diagonal reads as recall per class; colour follows the row share.</p>"
        f'<div class="grid2"><figure class="panel">{chart}<figcaption>{fmt_count(correct)} of '
        f"{fmt_count(total)} rows on the diagonal ({fmt_percent(correct / total if total else None)}).</figcaption>"
        f"</figure><div><h4>Per class</h4>{table}</div></div>"
    )
    return Section("confusion", "Confusion matrix", body)

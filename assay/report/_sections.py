"""The sections of the HTML report, each built from one part of a run document, or absent when it has no data.

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

__all__ = ["MAX_GROUPS", "Context", "Section", "metric_of"]

MAX_GROUPS = 30  # bars and table rows per slice column or sensitive attribute; the rest are counted, not drawn
MAX_CURVE_POINTS = 1_000

_TASKS = {
    "binary": "Binary classification",
    "multiclass": "Multiclass classification",
    "regression": "Regression",
    "ranking": "Ranking",
}
_FAIRNESS_RATES = (
    ("selection_rate", "Selection rate", ("selection_rate",)),
    ("tpr", "True positive rate", ("tpr", "recall")),
    ("fpr", "False positive rate", ("fpr",)),
    ("accuracy", "Accuracy", ("accuracy",)),
)
_DISPARITIES = (
    ("demographic_parity_difference", "largest gap in selection rate between groups; 0 is parity"),
    ("demographic_parity_ratio", "smallest over largest selection rate; 1 is parity"),
    ("equalized_odds_difference", "largest gap in TPR or FPR between groups; 0 is parity"),
    ("equalized_odds_ratio", "smallest ratio of TPR or FPR between groups; 1 is parity"),
)


def _e(value: object) -> str:
    return escape(str(value))


def _mapping(value: object) -> Mapping[str, Any]:
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

    @property
    def interval(self) -> str:
        return fmt_interval(self.low, self.high)


def metric_of(entry: object) -> Metric:
    """Read a metric entry leniently: a missing or malformed field is a missing value, never a crash.

    >>> m = metric_of({"value": None, "n": 12, "reason": "only one class present"})
    >>> m.value, m.n, m.reason
    (None, 12, 'only one class present')
    """
    e = _mapping(entry)
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
        self.config = _mapping(doc.get("config"))
        confidence = as_float(self.config.get("confidence"))
        self.confidence = confidence if confidence is not None and 0 < confidence < 1 else 0.95
        self.metrics = _mapping(doc.get("metrics"))
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


def _value_cell(m: Metric, *, interval: bool = True) -> str:
    if m.value is None:
        tip = m.reason or "no value"
        return f'<td class="num" data-sort=""><span class="null" title="{_e(tip)}">{MISSING}</span></td>'
    sub = f'<span class="sub">{m.interval}</span>' if interval and m.low is not None else ""
    return f'<td class="num" data-sort="{m.value!r}">{fmt_number(m.value)}{sub}</td>'


def _arrow(hib: bool | None) -> str:
    if hib is None:
        return ""
    title = "higher is better" if hib else "lower is better"
    return f' <span class="arrow" title="{title}">{"↑" if hib else "↓"}</span>'


def _sort_th(label: str, *, num: bool = False, raw: bool = False) -> str:
    cls = ' class="num"' if num else ""
    return f'<th{cls} scope="col"><button type="button">{label if raw else _e(label)}</button></th>'


# ---------------------------------------------------------------------------------------------------------------------
# header


def header(ctx: Context) -> str:
    doc = ctx.doc
    model, dataset = _mapping(doc.get("model")), _mapping(doc.get("dataset"))
    name = model.get("name") or "Unnamed model"
    version = model.get("version")
    version_html = f'<span class="version">{_e(version)}</span>' if version else ""
    task = str(doc.get("task") or "")
    subtitle = [_e(_TASKS.get(task, task or "Unknown task"))]
    if dataset.get("name"):
        subtitle.append(f"on <b>{_e(dataset['name'])}</b>")
    created = f" · {_e(doc['created_at'])}" if doc.get("created_at") else ""

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
            ci = f'<div class="ci">{_e(m.reason or "no value")}</div>'
        stats.append(
            f'<div class="stat"><div class="label">{_e(primary)}{_arrow(m.higher_is_better)}</div>'
            f'<div class="big">{fmt_number(m.value)}</div>{ci}</div>'
        )
    rows_used = dataset.get("rows_used", dataset.get("rows"))
    if rows_used is not None:
        of = f"of {fmt_count(dataset['rows'])} rows" if dataset.get("rows") is not None else "rows"
        stats.append(
            f'<div class="stat"><div class="label">Rows evaluated</div><div class="big">{fmt_count(rows_used)}</div>'
            f'<div class="ci">{of}</div></div>'
        )
    ece = as_float(_mapping(doc.get("calibration")).get("ece"))
    if ece is not None:
        stats.append(
            f'<div class="stat"><div class="label">ECE ↓</div><div class="big">{fmt_number(ece)}</div>'
            '<div class="ci">expected calibration error</div></div>'
        )

    meta: list[tuple[str, str]] = []
    if dataset.get("name"):
        meta.append(("Dataset", _e(dataset["name"])))
    fingerprint = str(dataset.get("fingerprint") or "")
    if fingerprint:
        algorithm, _, digest = fingerprint.rpartition(":")
        short = f"{algorithm}:{digest[:12]}" if algorithm else digest[:12]
        meta.append(("Fingerprint", f'<code title="{_e(fingerprint)}">{_e(short)}</code>'))
    if dataset.get("rows_missing_label") is not None:
        meta.append(("Missing labels", fmt_count(dataset["rows_missing_label"])))
    meta.append(("Task", _e(task or MISSING)))
    if doc.get("assay_version"):
        meta.append(("assay version", _e(doc["assay_version"])))
    if doc.get("run_id"):
        meta.append(("Run", f"<code>{_e(doc['run_id'])}</code>"))
    meta_html = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in meta)

    config = []
    for key, value in ctx.config.items():
        text = json.dumps(value, default=str, ensure_ascii=False)
        short = text if len(text) <= 80 else text[:79] + "…"
        config.append(f'<span title="{_e(text)}"><b>{_e(key)}</b> {_e(short)}</span>')
    config_html = f'<div class="config" aria-label="configuration">{"".join(config)}</div>' if config else ""

    return (
        '<header class="top"><div class="wrap">'
        '<div class="eyebrow">assay evaluation report</div>'
        f"<h1>{_e(name)}{version_html}</h1>"
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
        reason = f'<span class="reason">{_e(m.reason)}</span>' if m.value is None and m.reason else ""
        rows.append(
            f"<tr{' class=primary' if name == primary else ''}>"
            f'<td class="name"><code>{_e(name)}</code>{badge}{_arrow(m.higher_is_better)}{reason}</td>'
            f"{_value_cell(m, interval=False)}"
            f'<td class="num" data-sort="{m.low!r}">{m.interval}</td>'
            f'<td class="num" data-sort="{"" if m.n is None else m.n}">{fmt_count(m.n)}</td>'
            f"<td>{_e(m.method or MISSING)}</td></tr>"
        )
    head = "".join(
        [
            _sort_th("Metric"),
            _sort_th("Value", num=True),
            _sort_th(ctx.ci_label, num=True),
            _sort_th("n", num=True),
            _sort_th("Interval method"),
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


def _seq(value: object) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else []


def curves_section(ctx: Context) -> Section | None:
    curves = _mapping(ctx.doc.get("curves"))
    roc, pr = _mapping(curves.get("roc")), _mapping(curves.get("pr"))
    figures = []
    if _seq(roc.get("fpr")) and _seq(roc.get("tpr")):
        fpr, tpr = _thin(_seq(roc["fpr"]), _seq(roc["tpr"]))
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
    if _seq(pr.get("recall")) and _seq(pr.get("precision")):
        recall, precision = _thin(_seq(pr["recall"]), _seq(pr["precision"]))
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
    calibration = _mapping(ctx.doc.get("calibration"))
    raw_bins = [_mapping(b) for b in _seq(calibration.get("bins"))]
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
    confusion = _mapping(ctx.doc.get("confusion_matrix"))
    labels = [str(label) for label in _seq(confusion.get("labels"))]
    matrix = [_seq(row) for row in _seq(confusion.get("matrix"))]
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
            f'<tr><td class="name">{_e(name)}</td><td class="num">{fmt_count(actual)}</td>'
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


# ---------------------------------------------------------------------------------------------------------------------
# slices


@dataclass(frozen=True)
class _Group:
    name: str
    n: int | None
    metrics: Mapping[str, Any]


def _groups(raw: object, *, nested: bool = True) -> list[_Group]:
    """Groups of a slice column (metrics under ``"metrics"``) or of a sensitive attribute (``nested=False``: the
    rates sit beside ``"n"``)."""
    groups = []
    for name, entry in _mapping(raw).items():
        e = _mapping(entry)
        n = as_float(e.get("n"))
        metrics = _mapping(e.get("metrics")) if nested else {k: v for k, v in e.items() if k != "n"}
        groups.append(_Group(str(name), None if n is None else round(n), metrics))
    return groups


def _metric_columns(ctx: Context, groups: Sequence[_Group]) -> list[str]:
    present: dict[str, None] = {}
    for g in groups:
        present.update(dict.fromkeys(g.metrics))
    return [name for name in ctx.metrics if name in present] + [name for name in present if name not in ctx.metrics]


def _is_worst(m: Metric, reference: float | None, higher_is_better: bool) -> bool:
    if reference is None or m.value is None or m.low is None or m.high is None:
        return False
    return m.high < reference if higher_is_better else m.low > reference


def _cap(valued: list[_Group], missing: list[_Group]) -> tuple[list[_Group], int | None, str]:
    """At most ``MAX_GROUPS`` groups to draw (``valued`` sorted worst first): the worst and best halves when there are
    more; also where the omitted groups sit between them (or ``None``) and a sentence saying what was left out."""
    total = len(valued) + len(missing)
    if total <= MAX_GROUPS:
        return valued + missing, None, ""
    half = MAX_GROUPS // 2
    if len(valued) >= MAX_GROUPS:
        shown, gap_at = valued[:half] + valued[-half:], half
        what = f"the {half} worst and {half} best"
    else:
        shown, gap_at = (valued + missing)[:MAX_GROUPS], MAX_GROUPS
        what = f"{MAX_GROUPS}"
    without = f" ({fmt_count(len(missing))} without a value)" if missing else ""
    note = (
        f" Showing {what} of {fmt_count(total)} groups; <b>{fmt_count(total - MAX_GROUPS)} groups omitted</b>{without}."
    )
    return shown, gap_at, note


def _slice_block(ctx: Context, column: str, groups: list[_Group]) -> str:
    names = _metric_columns(ctx, groups)
    primary = ctx.primary_metric(names) or ""
    fallback_note = ""
    if not any(metric_of(g.metrics.get(primary)).value is not None for g in groups):
        usable = [name for name in names if any(metric_of(g.metrics.get(name)).value is not None for g in groups)]
        if usable:
            fallback_note = f" <code>{_e(primary)}</code> has no value in any group, so it is not drawn."
            primary = usable[0]
    overall = metric_of(ctx.metrics.get(primary))
    hib = overall.higher_is_better
    if hib is None:
        hib = next((h for g in groups if (h := metric_of(g.metrics.get(primary)).higher_is_better) is not None), True)
    hib = True if hib is None else hib
    reference = overall.value

    def primary_of(g: _Group) -> Metric:
        return metric_of(g.metrics.get(primary))

    valued = [g for g in groups if primary_of(g).value is not None]
    missing = [g for g in groups if primary_of(g).value is None]
    valued.sort(key=lambda g: primary_of(g).value or 0.0, reverse=not hib)  # worst first
    shown, gap_at, omitted_note = _cap(valued, missing)
    worst = {g.name for g in shown if _is_worst(primary_of(g), reference, hib)}
    worst_total = sum(_is_worst(primary_of(g), reference, hib) for g in groups)
    bars = [
        svg.Bar(g.name, m.value, m.low, m.high, g.n, note=m.reason, highlight=g.name in worst)
        for g in shown
        for m in (primary_of(g),)
    ]
    if gap_at is not None:
        bars.insert(gap_at, svg.Bar(f"… {fmt_count(len(groups) - len(shown))} more groups …", None, divider=True))
    chart = svg.bar_chart(
        bars,
        label=f"{primary} per group of {column}",
        x_label=f"{primary or 'metric'} ({'higher' if hib else 'lower'} is better)",
        reference=reference,
        width=1000,
        chart_id=ctx.chart_id(),
    )
    side = "below" if hib else "above"
    if reference is None:
        verdict = "There is no overall value to compare groups against."
    elif worst_total:
        verdict = (
            f'<span class="worst-text">{fmt_count(worst_total)} group{"s" if worst_total != 1 else ""}</span> '
            f"{'has' if worst_total == 1 else 'have'} the whole interval {side} the overall value (in red)."
        )
    else:
        verdict = f"No group has its whole interval {side} the overall value."
    lead = (
        f'<p class="lead"><code>{_e(primary)}</code> per group with {ctx.ci_label}s, worst first; the dashed line is '
        f"the overall value. {verdict}{fallback_note}{omitted_note}</p>"
    )

    head = _sort_th("Group") + _sort_th("n", num=True)
    for name in names:
        hib_name = metric_of(ctx.metrics.get(name)).higher_is_better
        head += _sort_th(f"<code>{_e(name)}</code>{_arrow(hib_name)}", num=True, raw=True)
    rows = []
    for g in shown:
        flag = g.name in worst
        badge = '<span class="badge worst">worst</span>' if flag else ""
        cells = "".join(_value_cell(metric_of(g.metrics.get(name))) for name in names)
        rows.append(
            f'<tr{" class=worst" if flag else ""}><td class="name">{_e(g.name)}{badge}</td>'
            f'<td class="num" data-sort="{"" if g.n is None else g.n}">{fmt_count(g.n)}</td>{cells}</tr>'
        )
    foot = "".join(_value_cell(metric_of(ctx.metrics.get(name))) for name in names)
    table = (
        f'<details open><summary>All metrics per group ({fmt_count(len(shown))} shown)</summary><div class="scroll">'
        f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        f'<tfoot><tr><td>overall</td><td class="num">{fmt_count(_mapping(ctx.doc.get("dataset")).get("rows_used"))}'
        f"</td>{foot}</tr></tfoot></table></div></details>"
    )
    return f'<div class="block"><h3>by <code>{_e(column)}</code></h3>{lead}{chart}{table}</div>'


def slices_section(ctx: Context) -> Section | None:
    slices = _mapping(ctx.doc.get("slices"))
    if not slices:
        return None
    blocks = "".join(_slice_block(ctx, str(column), _groups(raw)) for column, raw in slices.items())
    body = (
        "<h2>Slices</h2>"
        '<p class="lead">The same metrics within each group of a slice column. A group is flagged when its whole '
        "interval lies on the worse side of the overall value, which sampling noise alone rarely explains.</p>"
        f"{blocks}"
    )
    return Section("slices", "Slices", body)


# ---------------------------------------------------------------------------------------------------------------------
# fairness


def _fairness_block(ctx: Context, attribute: str, entry: Mapping[str, Any]) -> str:
    groups = _groups(entry.get("groups"), nested=False)
    groups.sort(key=lambda g: -(g.n or 0))
    shown = groups[:MAX_GROUPS]
    omitted = len(groups) - len(shown)
    note = (
        f" The {fmt_count(len(shown))} largest of {fmt_count(len(groups))} groups are shown; "
        f"<b>{fmt_count(omitted)} omitted</b>."
        if omitted
        else ""
    )
    rows = []
    for key, meaning in _DISPARITIES:
        if key not in entry:
            continue
        m = metric_of(entry[key])
        reason = f'<span class="reason">{_e(m.reason)}</span>' if m.value is None and m.reason else ""
        rows.append(
            f'<tr><td class="name"><code>{_e(key)}</code>{reason}</td>{_value_cell(m, interval=False)}'
            f'<td class="num">{m.interval}</td><td class="num">{fmt_count(m.n)}</td><td>{_e(m.method or MISSING)}</td>'
            f"<td>{_e(meaning)}</td></tr>"
        )
    table = (
        '<div class="scroll"><table><thead><tr><th>Disparity</th><th class="num">Value</th>'
        f'<th class="num">{ctx.ci_label}</th><th class="num">n</th><th>Interval method</th><th>Meaning</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
        if rows
        else ""
    )
    figures = []
    for key, title, overall_names in _FAIRNESS_RATES:
        if not any(key in g.metrics for g in shown):
            continue
        bars = [
            svg.Bar(g.name, m.value, m.low, m.high, g.n, note=m.reason)
            for g in shown
            for m in (metric_of(g.metrics.get(key)),)
        ]
        reference = next((metric_of(ctx.metrics[o]).value for o in overall_names if o in ctx.metrics), None)
        chart = svg.bar_chart(
            bars,
            label=f"{title} per group of {attribute}",
            x_label=title.lower(),
            reference=reference,
            width=540,
            chart_id=ctx.chart_id(),
        )
        figures.append(f'<figure class="panel"><h4>{_e(title)}</h4>{chart}</figure>')
    lead = (
        f'<p class="lead">Rates per group with {ctx.ci_label}s, largest groups first; a dashed line marks the overall '
        f"value where the run has it.{note}</p>"
    )
    return (
        f'<div class="block"><h3>by <code>{_e(attribute)}</code></h3>{lead}{table}'
        f'<div class="grid2" style="margin-top:16px">{"".join(figures)}</div></div>'
    )


def fairness_section(ctx: Context) -> Section | None:
    fairness = _mapping(ctx.doc.get("fairness"))
    if not fairness:
        return None
    blocks = "".join(_fairness_block(ctx, str(attr), _mapping(entry)) for attr, entry in fairness.items())
    body = (
        "<h2>Fairness</h2>"
        '<p class="lead">For each sensitive attribute: how often each group is selected, how its true and false '
        "positive rates compare, and the disparity metrics that summarise the gaps.</p>"
        f"{blocks}"
    )
    return Section("fairness", "Fairness", body)

"""The per-group sections of the HTML report: slices and fairness, each absent when the document has no data.

Groups can be many (a slice column of customer ids): at most ``MAX_GROUPS`` are drawn and tabled, and the page says
how many were left out. Every string from the document is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assay.report import svg
from assay.report._sections import (
    Context,
    Metric,
    Section,
    arrow,
    as_mapping,
    esc,
    metric_of,
    sort_th,
    value_cell,
)
from assay.report.formatting import MISSING, as_float, fmt_count

__all__ = ["MAX_GROUPS", "fairness_section", "slices_section"]

MAX_GROUPS = 30  # bars and table rows per slice column or sensitive attribute; the rest are counted, not drawn
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
    for name, entry in as_mapping(raw).items():
        e = as_mapping(entry)
        n = as_float(e.get("n"))
        metrics = as_mapping(e.get("metrics")) if nested else {k: v for k, v in e.items() if k != "n"}
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
            fallback_note = f" <code>{esc(primary)}</code> has no value in any group, so it is not drawn."
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
        f'<p class="lead"><code>{esc(primary)}</code> per group with {ctx.ci_label}s, worst first; the dashed line is '
        f"the overall value. {verdict}{fallback_note}{omitted_note}</p>"
    )

    head = sort_th("Group") + sort_th("n", num=True)
    for name in names:
        hib_name = metric_of(ctx.metrics.get(name)).higher_is_better
        head += sort_th(f"<code>{esc(name)}</code>{arrow(hib_name)}", num=True, raw=True)
    rows = []
    for g in shown:
        flag = g.name in worst
        badge = '<span class="badge worst">worst</span>' if flag else ""
        cells = "".join(value_cell(metric_of(g.metrics.get(name))) for name in names)
        rows.append(
            f'<tr{" class=worst" if flag else ""}><td class="name">{esc(g.name)}{badge}</td>'
            f'<td class="num" data-sort="{"" if g.n is None else g.n}">{fmt_count(g.n)}</td>{cells}</tr>'
        )
    foot = "".join(value_cell(metric_of(ctx.metrics.get(name))) for name in names)
    table = (
        f'<details open><summary>All metrics per group ({fmt_count(len(shown))} shown)</summary><div class="scroll">'
        f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        f'<tfoot><tr><td>overall</td><td class="num">{fmt_count(as_mapping(ctx.doc.get("dataset")).get("rows_used"))}'
        f"</td>{foot}</tr></tfoot></table></div></details>"
    )
    return f'<div class="block"><h3>by <code>{esc(column)}</code></h3>{lead}{chart}{table}</div>'


def slices_section(ctx: Context) -> Section | None:
    slices = as_mapping(ctx.doc.get("slices"))
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
        reason = f'<span class="reason">{esc(m.reason)}</span>' if m.value is None and m.reason else ""
        rows.append(
            f'<tr><td class="name"><code>{esc(key)}</code>{reason}</td>{value_cell(m, interval=False)}'
            f'<td class="num">{m.interval}</td><td class="num">{fmt_count(m.n)}</td><td>{esc(m.method or MISSING)}</td>'
            f"<td>{esc(meaning)}</td></tr>"
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
        figures.append(f'<figure class="panel"><h4>{esc(title)}</h4>{chart}</figure>')
    lead = (
        f'<p class="lead">Rates per group with {ctx.ci_label}s, largest groups first; a dashed line marks the overall '
        f"value where the run has it.{note}</p>"
    )
    return (
        f'<div class="block"><h3>by <code>{esc(attribute)}</code></h3>{lead}{table}'
        f'<div class="grid2" style="margin-top:16px">{"".join(figures)}</div></div>'
    )


def fairness_section(ctx: Context) -> Section | None:
    fairness = as_mapping(ctx.doc.get("fairness"))
    if not fairness:
        return None
    blocks = "".join(_fairness_block(ctx, str(attr), as_mapping(entry)) for attr, entry in fairness.items())
    body = (
        "<h2>Fairness</h2>"
        '<p class="lead">For each sensitive attribute: how often each group is selected, how its true and false '
        "positive rates compare, and the disparity metrics that summarise the gaps.</p>"
        f"{blocks}"
    )
    return Section("fairness", "Fairness", body)

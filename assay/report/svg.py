"""Inline SVG charts for the HTML report, drawn in Python with no dependency and no external reference.

Six primitives, each returning one ``<svg class="chart">`` element as a string:

- :func:`line_chart` — lines over two linear axes with ticks and grid (ROC and precision-recall curves);
- :func:`bar_chart` — horizontal bars with interval whiskers and an optional dashed reference line (slices, fairness);
- :func:`heatmap` — a confusion matrix: counts with row-normalised percentages, coloured by the row share;
- :func:`reliability_diagram` — observed rate against mean predicted per bin, with whiskers, the diagonal and a
  strip of bin counts;
- :func:`overlaid_histogram` — a reference and a current histogram over the same bins of unequal widths, drawn as
  densities, with the shares outside the bins in side panels (drift);
- :func:`grouped_bars` — reference and current shares per category, in pairs of horizontal bars (drift).

Every string that reaches the markup is escaped here, so callers pass raw labels. Hover text uses SVG ``<title>``
elements, which browsers show as tooltips without any script. The element has no ``xmlns``: inline SVG in HTML does
not need one, and the report must not contain a single URL.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from assay.report._svg_markup import (
    CHAR_WIDTH,
    PALETTE,
    Scale,
    coord,
    el,
    legend,
    nice_domain,
    nice_ticks,
    svg_root,
    text,
    title,
    truncate,
    x_axis,
    y_axis,
)
from assay.report.formatting import as_float, fmt_count, fmt_interval, fmt_number, fmt_percent

__all__ = [
    "PALETTE",
    "SIDES",
    "Bar",
    "CalibrationBin",
    "Series",
    "bar_chart",
    "grouped_bars",
    "heatmap",
    "line_chart",
    "nice_ticks",
    "overlaid_histogram",
    "reliability_diagram",
]

_HEAT_STOPS = ((0.0, (0xF5, 0xF8, 0xFF)), (0.5, (0x60, 0x95, 0xF0)), (1.0, (0x1E, 0x3A, 0x8A)))


# --------------------------------------------------------------------------------------------------------------------
# line chart


@dataclass(frozen=True)
class Series:
    """One line of a :func:`line_chart`; ``fill`` shades the area under it down to the bottom of the y domain."""

    name: str
    x: Sequence[float | None]
    y: Sequence[float | None]
    colour: str = PALETTE["primary"]
    dashed: bool = False
    fill: bool = False


def line_chart(
    series: Sequence[Series],
    *,
    label: str,
    x_label: str,
    y_label: str,
    x_domain: tuple[float, float] = (0.0, 1.0),
    y_domain: tuple[float, float] = (0.0, 1.0),
    width: float = 460,
    height: float = 430,
    chart_id: str | None = None,
) -> str:
    """Lines over linear axes with ticks and a light grid; points outside the domains are clamped to its edge.

    >>> svg = line_chart([Series("model", [0, 0.2, 1], [0, 0.7, 1])], label="ROC", x_label="FPR", y_label="TPR")
    >>> svg.startswith('<svg class="chart"'), "<polyline" in svg
    (True, True)
    """
    left, right, top, bottom = 62.0, 16.0, 40.0, 50.0
    sx = Scale(x_domain[0], x_domain[1], left, width - right)
    sy = Scale(y_domain[0], y_domain[1], height - bottom, top)
    parts = [
        el("rect", x=left, y=top, width=width - left - right, height=height - top - bottom, fill="#ffffff"),
        x_axis(sx, x_domain, y=height - bottom, grid_top=top, label=x_label),
        y_axis(sy, y_domain, x=left, grid_right=width - right, label=y_label),
    ]
    for line in series:
        points = [
            (sx(xf), sy(yf))
            for xv, yv in zip(line.x, line.y)
            if (xf := as_float(xv)) is not None and (yf := as_float(yv)) is not None
        ]
        if not points:
            continue
        coords = " ".join(f"{coord(px)},{coord(py)}" for px, py in points)
        if line.fill and len(points) > 1:
            base = sy(y_domain[0])
            area = f"{coords} {coord(points[-1][0])},{coord(base)} {coord(points[0][0])},{coord(base)}"
            parts.append(el("polygon", points=area, fill=line.colour, fill_opacity=0.08, stroke="none"))
        dash = "6 5" if line.dashed else None
        width_ = 1.5 if line.dashed else 2.5
        parts.append(
            el(
                "polyline",
                title(line.name),
                points=coords,
                fill="none",
                stroke=line.colour,
                stroke_width=width_,
                stroke_dasharray=dash,
                stroke_linejoin="round",
            )
        )
    parts.append(legend([(s.name, s.colour, s.dashed) for s in series], x=left, y=18))
    return svg_root(width, height, "".join(parts), label=label, chart_id=chart_id)


# --------------------------------------------------------------------------------------------------------------------
# horizontal bar chart


@dataclass(frozen=True)
class Bar:
    """One row of a :func:`bar_chart`: a value with an optional interval; ``note`` says why a value is missing."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    n: int | None = None
    note: str = ""
    highlight: bool = False
    divider: bool = False  # not a bar: a dashed rule across the plot with ``label`` on it (e.g. "… omitted …")


def _bar_domain(bars: Sequence[Bar], reference: float | None) -> tuple[float, float]:
    values = [
        v
        for b in bars
        if not b.divider
        for v in (as_float(b.value), as_float(b.low), as_float(b.high))
        if v is not None
    ]
    if reference is not None:
        values.append(reference)
    if not values:
        return 0.0, 1.0
    low, high = min(0.0, min(values)), max(0.0, max(values))
    if low == high:
        return 0.0, 1.0
    low, high = nice_domain(low, high)
    if min(values) >= 0.0 and max(values) <= 1.0:
        high = min(high, 1.0)
    return low, high


def bar_chart(
    bars: Sequence[Bar],
    *,
    label: str,
    x_label: str,
    domain: tuple[float, float] | None = None,
    reference: float | None = None,
    reference_label: str = "overall",
    width: float = 720,
    chart_id: str | None = None,
) -> str:
    """Horizontal bars from zero with interval whiskers, one row per bar, and a dashed line at ``reference``.

    Highlighted bars are drawn in the "worst" colour. A bar without a value shows a dash and its note.

    >>> svg = bar_chart([Bar("a", 0.8, 0.7, 0.9), Bar("b", None, note="no positives")], label="x", x_label="AUC")
    >>> svg.count('class="row"'), "no positives" in svg
    (2, True)
    """
    reference = as_float(reference)
    domain = domain or _bar_domain(bars, reference)
    longest = max((len(b.label) for b in bars if not b.divider), default=4)
    label_width = min(250.0, max(70.0, min(longest, 34) * CHAR_WIDTH + 16))
    value_width = 66.0
    row = 26.0
    top, bottom = 30.0, 52.0
    left, right = label_width, width - value_width
    height = top + max(1, len(bars)) * row + bottom
    sx = Scale(domain[0], domain[1], left, right)
    base = sx(min(max(0.0, domain[0]), domain[1]))
    plot_bottom = top + max(1, len(bars)) * row
    parts = [x_axis(sx, domain, y=plot_bottom, grid_top=top, label=x_label)]
    if not bars:
        parts.append(
            text((left + right) / 2, top + row / 2 + 4, "no groups", text_anchor="middle", fill=PALETTE["muted"])
        )
    for i, bar in enumerate(bars):
        y = top + i * row + row / 2
        if bar.divider:
            rule = el("line", x1=16.0, x2=width - 16, y1=y, y2=y, stroke=PALETTE["axis"], stroke_dasharray="2 4")
            pad = len(bar.label) * CHAR_WIDTH / 2 + 10
            blank = el("rect", x=(left + right) / 2 - pad, y=y - 9, width=2 * pad, height=18.0, fill="#ffffff")
            caption = text(
                (left + right) / 2, y + 4, bar.label, text_anchor="middle", fill=PALETTE["muted"], font_style="italic"
            )
            parts.append(el("g", rule + blank + caption, class_="divider"))
            continue
        value, low, high = as_float(bar.value), as_float(bar.low), as_float(bar.high)
        tooltip = f"{bar.label}: {fmt_number(value)}"
        if low is not None and high is not None:
            tooltip += f" {fmt_interval(low, high)}"
        if bar.n is not None:
            tooltip += f", n = {fmt_count(bar.n)}"
        if bar.note:
            tooltip += f" — {bar.note}"
        colour = PALETTE["worst"] if bar.highlight else PALETTE["primary"]
        soft = PALETTE["worst_soft"] if bar.highlight else PALETTE["primary_soft"]
        row_parts = [
            title(tooltip),
            el("rect", class_="hover", x=0.0, y=y - row / 2, width=width, height=row, fill="transparent"),
            text(
                left - 10,
                y + 4,
                truncate(bar.label, 34),
                text_anchor="end",
                fill=colour if bar.highlight else PALETTE["text"],
                font_weight="600" if bar.highlight else None,
            ),
        ]
        if value is None:
            note = f"{fmt_number(None)} {bar.note}".strip()
            row_parts.append(text(base + 6, y + 4, truncate(note, 70), fill=PALETTE["muted"], font_style="italic"))
        else:
            x = sx(value)
            row_parts.append(el("rect", x=min(base, x), y=y - 7, width=abs(x - base), height=14.0, rx=2, fill=soft))
            if low is not None and high is not None:
                xl, xh = sx(low), sx(high)
                row_parts.append(el("line", x1=xl, x2=xh, y1=y, y2=y, stroke=colour, stroke_width=1.6))
                for xe in (xl, xh):
                    row_parts.append(el("line", x1=xe, x2=xe, y1=y - 5, y2=y + 5, stroke=colour, stroke_width=1.6))
            row_parts.append(el("circle", cx=x, cy=y, r=3.5, fill=colour))
            row_parts.append(
                text(right + 10, y + 4, fmt_number(value), class_="value", fill=colour if bar.highlight else None)
            )
        parts.append(el("g", "".join(row_parts), class_="row"))
    if reference is not None:
        xr = sx(reference)
        parts.append(
            el(
                "g",
                title(f"{reference_label}: {fmt_number(reference)}")
                + el(
                    "line",
                    x1=xr,
                    x2=xr,
                    y1=top - 8,
                    y2=plot_bottom,
                    stroke=PALETTE["reference"],
                    stroke_width=1.5,
                    stroke_dasharray="5 4",
                )
                + text(
                    min(max(xr, left + 40), right - 40),
                    top - 13,
                    f"{reference_label} {fmt_number(reference)}",
                    text_anchor="middle",
                    class_="legend",
                ),
            )
        )
    return svg_root(width, height, "".join(parts), label=label, chart_id=chart_id)


# --------------------------------------------------------------------------------------------------------------------
# heatmap


def _heat_colour(t: float) -> str:
    t = min(max(t, 0.0), 1.0)
    for (t0, c0), (t1, c1) in itertools.pairwise(_HEAT_STOPS):
        if t <= t1:
            u = (t - t0) / (t1 - t0)
            r, g, b = (round(a + u * (b_ - a)) for a, b_ in zip(c0, c1))
            return f"#{r:02x}{g:02x}{b:02x}"
    return "#1e3a8a"


def heatmap(
    labels: Sequence[str],
    matrix: Sequence[Sequence[float]],
    *,
    label: str,
    x_label: str = "predicted",
    y_label: str = "true",
    chart_id: str | None = None,
) -> str:
    """A confusion matrix: rows are true labels, columns predictions; colour and percentages are per row.

    >>> svg = heatmap(["no", "yes"], [[90, 10], [5, 45]], label="confusion")
    >>> "90.0%" in svg, "of the row" in svg
    (True, True)
    """
    k = len(labels)
    cell = float(min(92, max(26, 520 // max(k, 1))))
    longest = max((len(s) for s in labels), default=1)
    label_width = min(170.0, max(40.0, min(longest, 24) * CHAR_WIDTH + 14))
    left = 30.0 + label_width
    top = 58.0
    total_width = 78.0
    width = left + k * cell + total_width
    height = top + k * cell + 16
    chars = max(3, int(cell / 7.2))
    parts = [
        text(left + k * cell / 2, 16, x_label, text_anchor="middle", class_="axis-label"),
        text(
            12,
            top + k * cell / 2,
            y_label,
            text_anchor="middle",
            class_="axis-label",
            transform=f"rotate(-90 12 {coord(top + k * cell / 2)})",
        ),
        text(left + k * cell + 12, top - 10, "n", class_="axis-label"),
    ]
    for j, name in enumerate(labels):
        parts.append(
            el(
                "g",
                title(name) + text(left + j * cell + cell / 2, top - 10, truncate(name, chars), text_anchor="middle"),
            )
        )
    for i, name in enumerate(labels):
        row = [as_float(v) or 0.0 for v in matrix[i]]
        total = sum(row)
        y = top + i * cell
        parts.append(el("g", title(name) + text(left - 8, y + cell / 2 + 4, truncate(name, 24), text_anchor="end")))
        for j, count in enumerate(row):
            share = count / total if total > 0 else None
            x = left + j * cell
            fill = _heat_colour(share or 0.0)
            ink = "#ffffff" if (share or 0.0) > 0.45 else PALETTE["text"]
            tooltip = f"true {name}, predicted {labels[j]}: {fmt_count(count)} ({fmt_percent(share)} of the row)"
            cell_parts = [
                title(tooltip),
                el(
                    "rect",
                    x=x + 1,
                    y=y + 1,
                    width=cell - 2,
                    height=cell - 2,
                    rx=3,
                    fill=fill,
                    stroke=PALETTE["reference"] if i == j else None,
                    stroke_width=1.2 if i == j else None,
                ),
            ]
            if cell >= 56:
                cell_parts.append(
                    text(
                        x + cell / 2,
                        y + cell / 2 - 2,
                        fmt_count(count),
                        text_anchor="middle",
                        fill=ink,
                        font_weight="600",
                    )
                )
                cell_parts.append(
                    text(
                        x + cell / 2,
                        y + cell / 2 + 14,
                        fmt_percent(share),
                        text_anchor="middle",
                        fill=ink,
                        class_="small",
                    )
                )
            elif cell >= 34:
                cell_parts.append(
                    text(
                        x + cell / 2,
                        y + cell / 2 + 4,
                        fmt_percent(share),
                        text_anchor="middle",
                        fill=ink,
                        class_="small",
                    )
                )
            parts.append(el("g", "".join(cell_parts)))
        parts.append(text(left + k * cell + 12, y + cell / 2 + 4, fmt_count(total), fill=PALETTE["muted"]))
    return svg_root(width, height, "".join(parts), label=label, chart_id=chart_id)


# --------------------------------------------------------------------------------------------------------------------
# reliability diagram


@dataclass(frozen=True)
class CalibrationBin:
    """One bin of a reliability diagram: edges, row count, mean predicted probability and observed rate."""

    lower: float
    upper: float
    n: int
    mean_predicted: float | None
    observed: float | None
    ci_low: float | None = None
    ci_high: float | None = None


def reliability_diagram(
    bins: Sequence[CalibrationBin], *, label: str, width: float = 460, chart_id: str | None = None
) -> str:
    """Observed rate against mean predicted probability per bin, with interval whiskers and the diagonal.

    Each bin is a faint bar over its edges as high as the observed rate, and a point at the mean predicted
    probability; a strip beneath shows how many rows fell in each bin.

    >>> svg = reliability_diagram([CalibrationBin(0.0, 0.5, 10, 0.2, 0.3, 0.1, 0.6)], label="calibration")
    >>> svg.count("<circle")
    1
    """
    left, right, top = 62.0, 16.0, 40.0
    size = width - left - right
    strip_gap, strip = 14.0, 54.0
    plot_bottom = top + size
    strip_top = plot_bottom + strip_gap
    axis_y = strip_top + strip
    height = axis_y + 50
    sx = Scale(0.0, 1.0, left, width - right)
    sy = Scale(0.0, 1.0, plot_bottom, top)
    parts = [
        el("rect", x=left, y=top, width=size, height=size, fill="#ffffff"),
        y_axis(sy, (0.0, 1.0), x=left, grid_right=width - right, label="observed rate"),
        x_axis(sx, (0.0, 1.0), y=axis_y, grid_top=top, label="mean predicted probability"),
        el("rect", x=left, y=plot_bottom, width=size, height=strip_gap, fill="#ffffff"),
        el("line", x1=left, x2=width - right, y1=plot_bottom, y2=plot_bottom, stroke=PALETTE["axis"]),
        text(left - 8, strip_top + strip / 2 + 4, "n", text_anchor="end", class_="tick"),
    ]
    max_n = max((b.n for b in bins), default=0)
    bars: list[str] = []
    marks: list[str] = []
    hits: list[str] = []
    points: list[tuple[float, float]] = []
    for b in bins:
        x0, x1 = sx(b.lower), sx(b.upper)
        mean, observed = as_float(b.mean_predicted), as_float(b.observed)
        low, high = as_float(b.ci_low), as_float(b.ci_high)
        tooltip = (
            f"bin [{b.lower:.4g}, {b.upper:.4g}): n = {fmt_count(b.n)}, "
            f"mean predicted {fmt_number(mean)}, observed {fmt_number(observed)}"
        )
        if low is not None and high is not None:
            tooltip += f" {fmt_interval(low, high)}"
        hits.append(
            el(
                "rect",
                title(tooltip),
                class_="hover",
                x=x0,
                y=top,
                width=x1 - x0,
                height=axis_y - top,
                fill="transparent",
            )
        )
        if observed is not None:
            bars.append(
                el(
                    "rect",
                    x=x0 + 1,
                    y=sy(observed),
                    width=max(0.0, x1 - x0 - 2),
                    height=plot_bottom - sy(observed),
                    fill=PALETTE["primary_faint"],
                )
            )
        if max_n > 0 and b.n > 0:
            h = max(1.0, (strip - 4) * b.n / max_n)
            bars.append(
                el("rect", x=x0 + 1, y=axis_y - h, width=max(0.0, x1 - x0 - 2), height=h, fill=PALETTE["neutral"])
            )
        if mean is not None and observed is not None:
            px, py = sx(mean), sy(observed)
            points.append((px, py))
            if low is not None and high is not None:
                marks.append(
                    el("line", x1=px, x2=px, y1=sy(low), y2=sy(high), stroke=PALETTE["primary"], stroke_width=1.6)
                )
                for ye in (sy(low), sy(high)):
                    marks.append(
                        el("line", x1=px - 4, x2=px + 4, y1=ye, y2=ye, stroke=PALETTE["primary"], stroke_width=1.6)
                    )
            marks.append(el("circle", cx=px, cy=py, r=4.0, fill=PALETTE["primary"], stroke="#ffffff", stroke_width=1.0))
    parts.extend(bars)
    parts.append(
        el(
            "line",
            x1=sx(0),
            x2=sx(1),
            y1=sy(0),
            y2=sy(1),
            stroke=PALETTE["reference"],
            stroke_width=1.5,
            stroke_dasharray="6 5",
        )
    )
    if len(points) > 1:
        coords = " ".join(f"{coord(px)},{coord(py)}" for px, py in points)
        parts.append(
            el("polyline", points=coords, fill="none", stroke=PALETTE["primary"], stroke_width=1.5, stroke_opacity=0.55)
        )
    parts.extend(marks)
    parts.extend(hits)
    if max_n > 0:
        parts.append(
            text(width - right - 4, strip_top + 12, f"max {fmt_count(max_n)}", text_anchor="end", class_="tick")
        )
    parts.append(
        legend(
            [
                ("observed rate (interval)", PALETTE["primary"], False),
                ("perfect calibration", PALETTE["reference"], True),
            ],
            x=left,
            y=18,
        )
    )
    return svg_root(width, height, "".join(parts), label=label, chart_id=chart_id)


# --------------------------------------------------------------------------------------------------------------------
# reference against current: overlaid histogram and grouped bars (the drift report)

SIDES = {"reference": "#64748b", "current": PALETTE["primary"]}  # slate grey against blue, told apart without colour
_REF_FILL = "#94a3b8"  # reference bars: solid grey; current: a blue step line over a faint blue area


def _side_legend(x: float, y: float, *, solid: bool = False) -> str:
    """Swatches for the two sides: reference a grey block, current a faint blue block outlined in blue (the step of a
    histogram) or, with ``solid``, a solid blue block (bars)."""
    parts = []
    for side in ("reference", "current"):
        current = side == "current"
        parts.append(
            el(
                "rect",
                x=x,
                y=y - 6,
                width=16.0,
                height=11.0,
                rx=1.5,
                fill=SIDES[side] if current else _REF_FILL,
                fill_opacity=(0.85 if solid else 0.3) if current else 0.8,
                stroke=SIDES[side] if current else None,
                stroke_width=1.8 if current else None,
            )
        )
        parts.append(text(x + 22, y + 4, side, class_="legend"))
        x += 22 + len(side) * CHAR_WIDTH + 20
    return el("g", "".join(parts), class_="legend-box")


def _shares(values: Sequence[object], k: int) -> list[float]:
    out = [as_float(v) for v in list(values)[:k]]
    return [max(0.0, v) if v is not None else 0.0 for v in out] + [0.0] * (k - len(out))


def overlaid_histogram(
    edges: Sequence[float],
    reference: Sequence[float | None],
    current: Sequence[float | None],
    *,
    label: str,
    x_label: str,
    below: tuple[float | None, float | None] = (None, None),
    above: tuple[float | None, float | None] = (None, None),
    width: float = 540,
    height: float = 300,
    chart_id: str | None = None,
) -> str:
    """Two histograms over the same bins of unequal widths: the reference as grey bars, the current as a blue step.

    ``reference`` and ``current`` are the shares of each bin (``len(edges) - 1`` of them); each bar is drawn as high
    as its *density*, share over width, relative to a uniform spread over the whole range (1 = uniform), so a wide
    bin holding a tenth of the values is as low as it should be. ``below`` and ``above`` are the
    ``(reference, current)`` shares outside the edges, drawn as small bars in side panels when either is positive
    (full panel height is 5% or the largest of these shares, so a tiny share stays tiny).
    Edges that are not finite and increasing fall back to :func:`grouped_bars` over the bin intervals.

    >>> svg = overlaid_histogram([0, 1, 3], [0.5, 0.5], [0.25, 0.75], label="x", x_label="value", above=(0, 0.1))
    >>> svg.count('class="bin"'), "above" in svg, "10.0%" in svg
    (2, True, True)
    """
    xs = [as_float(e) for e in edges]
    k = len(xs) - 1
    finite = [x for x in xs if x is not None]
    if k < 1 or len(finite) != len(xs) or any(b <= a for a, b in itertools.pairwise(finite)):
        names = [f"[{fmt_number(a)}, {fmt_number(b)})" for a, b in itertools.pairwise(xs)]
        return grouped_bars(names, reference, current, label=label, width=width, chart_id=chart_id)
    ref, cur = _shares(reference, k), _shares(current, k)
    span = finite[-1] - finite[0]
    widths = [b - a for a, b in itertools.pairwise(finite)]
    ref_d = [s / (w / span) for s, w in zip(ref, widths)]
    cur_d = [s / (w / span) for s, w in zip(cur, widths)]
    outside = [(as_float(below[0]), as_float(below[1])), (as_float(above[0]), as_float(above[1]))]
    show_below = any((v or 0.0) > 0 for v in outside[0])
    show_above = any((v or 0.0) > 0 for v in outside[1])
    panel, gap = 46.0, 12.0
    left = 62.0 + (panel + 8.0 if show_below else 0.0)  # the below panel sits left of the y axis and its labels
    right = width - 16.0 - (panel + gap if show_above else 0.0)
    top, bottom = 40.0, 50.0
    plot_bottom = height - bottom
    y_top = max([*ref_d, *cur_d, 0.0])
    y_domain = nice_domain(0.0, y_top) if y_top > 0 else (0.0, 1.0)
    sx = Scale(finite[0], finite[-1], left, right)
    sy = Scale(y_domain[0], y_domain[1], plot_bottom, top)
    parts = [
        el("rect", x=left, y=top, width=right - left, height=plot_bottom - top, fill="#ffffff"),
        x_axis(sx, (finite[0], finite[-1]), y=plot_bottom, grid_top=top, label=x_label),
        y_axis(sy, y_domain, x=left, grid_right=right, label="density (1 = uniform)"),
    ]
    for i in range(k):
        x0, x1 = sx(finite[i]), sx(finite[i + 1])
        y = sy(ref_d[i])
        parts.append(
            el("rect", x=x0, y=y, width=max(0.0, x1 - x0), height=plot_bottom - y, fill=_REF_FILL, fill_opacity=0.8)
        )
    step = [(sx(finite[0]), plot_bottom)]
    for i in range(k):
        y = sy(cur_d[i])
        step += [(sx(finite[i]), y), (sx(finite[i + 1]), y)]
    step.append((sx(finite[-1]), plot_bottom))
    coords = " ".join(f"{coord(px)},{coord(py)}" for px, py in step)
    parts.append(el("polygon", points=coords, fill=SIDES["current"], fill_opacity=0.14, stroke="none"))
    parts.append(
        el("polyline", points=coords, fill="none", stroke=SIDES["current"], stroke_width=2.0, stroke_linejoin="round")
    )
    for i in range(k):
        x0, x1 = sx(finite[i]), sx(finite[i + 1])
        tooltip = (
            f"[{fmt_number(finite[i])}, {fmt_number(finite[i + 1])}): reference {fmt_percent(ref[i])}, "
            f"current {fmt_percent(cur[i])} of the values"
        )
        parts.append(
            el(
                "rect",
                title(tooltip),
                class_="bin",
                x=x0,
                y=top,
                width=max(0.0, x1 - x0),
                height=plot_bottom - top,
                fill="transparent",
            )
        )
    most = max([v or 0.0 for pair in outside for v in pair] + [0.05])  # full height: 5%, or the largest share
    for shown, (r_share, c_share), x0, name, edge in (
        (show_below, outside[0], 8.0, "below", finite[0]),
        (show_above, outside[1], width - 16.0 - panel, "above", finite[-1]),
    ):
        if not shown:
            continue
        panel_parts = [
            title(
                f"{name} the reference range ({'<' if name == 'below' else '>'} {fmt_number(edge)}): "
                f"reference {fmt_percent(r_share)}, current {fmt_percent(c_share)}"
            ),
            el("rect", x=x0, y=top, width=panel, height=plot_bottom - top, fill="#f9fafb", stroke=PALETTE["grid"]),
            el("line", x1=x0, x2=x0 + panel, y1=plot_bottom, y2=plot_bottom, stroke=PALETTE["axis"]),
            text(x0 + panel / 2, plot_bottom + 17, name, text_anchor="middle", class_="tick"),
        ]
        usable = plot_bottom - top - 22
        for j, (share, side) in enumerate(((r_share, "reference"), (c_share, "current"))):
            value = share or 0.0
            h = usable * value / most
            bx = x0 + 7 + j * 17
            panel_parts.append(
                el(
                    "rect",
                    x=bx,
                    y=plot_bottom - h,
                    width=15.0,
                    height=h,
                    fill=_REF_FILL if side == "reference" else SIDES[side],
                    fill_opacity=0.8 if side == "reference" else 0.85,
                )
            )
        panel_parts.append(
            text(
                x0 + panel / 2,
                top + 13,
                fmt_percent(c_share),
                text_anchor="middle",
                class_="small",
                fill=SIDES["current"],
            )
        )
        parts.append(el("g", "".join(panel_parts), class_="outside"))
    parts.append(_side_legend(left, 18))
    return svg_root(width, height, "".join(parts), label=label, chart_id=chart_id)


def grouped_bars(
    categories: Sequence[str],
    reference: Sequence[float | None],
    current: Sequence[float | None],
    *,
    label: str,
    x_label: str = "share of non-missing values (%)",
    width: float = 540,
    chart_id: str | None = None,
) -> str:
    """Horizontal bars in pairs, one row per category: the reference share (grey) above the current share (blue).

    Shares are fractions; the axis shows percentages and each row ends with ``reference → current``.

    >>> svg = grouped_bars(["US", "DE"], [0.5, 0.5], [0.25, 0.75], label="country")
    >>> svg.count('class="row"'), "50.0% → 25.0%" in svg
    (2, True)
    """
    k = len(categories)
    ref, cur = _shares(reference, k), _shares(current, k)
    longest = max((len(str(c)) for c in categories), default=4)
    label_width = min(200.0, max(60.0, min(longest, 28) * CHAR_WIDTH + 14))
    value_width = 118.0
    row, top, bottom = 30.0, 34.0, 50.0
    left, right = label_width, width - value_width
    plot_bottom = top + max(1, k) * row
    height = plot_bottom + bottom
    high = max([*ref, *cur, 0.0]) * 100
    domain = (0.0, min(100.0, nice_domain(0.0, high)[1])) if high > 0 else (0.0, 100.0)
    sx = Scale(domain[0], domain[1], left, right)
    parts = [x_axis(sx, domain, y=plot_bottom, grid_top=top, label=x_label)]
    if not categories:
        parts.append(
            text((left + right) / 2, top + row / 2 + 4, "no categories", text_anchor="middle", fill=PALETTE["muted"])
        )
    for i, name in enumerate(categories):
        y = top + i * row
        r_share, c_share = ref[i], cur[i]
        row_parts = [
            title(f"{name}: reference {fmt_percent(r_share)}, current {fmt_percent(c_share)}"),
            el("rect", class_="hover", x=0.0, y=y, width=width, height=row, fill="transparent"),
            text(left - 10, y + row / 2 + 4, truncate(str(name), 28), text_anchor="end"),
            *(  # the reference's bar above the current's
                el("rect", x=left, y=y + dy, width=max(0.0, sx(share * 100) - left), height=10.0, fill=fill,
                   fill_opacity=opacity)
                for share, dy, fill, opacity in ((r_share, 4, _REF_FILL, 0.8), (c_share, 15, SIDES["current"], 0.85))
            ),
            text(right + 10, y + row / 2 + 4, f"{fmt_percent(r_share)} → {fmt_percent(c_share)}", class_="value"),
        ]
        parts.append(el("g", "".join(row_parts), class_="row"))
    parts.append(_side_legend(left, 16, solid=True))
    return svg_root(width, height, "".join(parts), label=label, chart_id=chart_id)

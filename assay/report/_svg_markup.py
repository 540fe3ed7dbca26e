"""Markup helpers shared by the SVG charts: elements with escaped attributes, linear scales, round ticks, axes.

Text passed here is escaped here. Coordinates are written with at most two decimals to keep the page small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from assay.report.formatting import fmt_tick

__all__ = [
    "CHAR_WIDTH",
    "PALETTE",
    "Scale",
    "coord",
    "el",
    "legend",
    "nice_domain",
    "nice_ticks",
    "svg_root",
    "text",
    "title",
    "truncate",
    "x_axis",
    "y_axis",
]

PALETTE = {
    "text": "#1f2937",
    "muted": "#6b7280",
    "grid": "#e5e7eb",
    "axis": "#9ca3af",
    "primary": "#2563eb",
    "primary_soft": "#93b4f5",
    "primary_faint": "#e4ecfd",
    "worst": "#dc2626",
    "worst_soft": "#f3a3a3",
    "reference": "#374151",
    "neutral": "#cbd5e1",
}

CHAR_WIDTH = 6.6  # average advance of a 12 px sans-serif glyph, for layout estimates


def coord(x: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    out = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if out in ("", "-0") else out


def el(tag: str, content: str = "", /, **attrs: object) -> str:
    """One element; ``class_`` becomes ``class`` and underscores become hyphens; ``None`` attributes are dropped."""
    parts = []
    for key, value in attrs.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        written = coord(value) if isinstance(value, float) else str(value)
        parts.append(f' {name}="{escape(written)}"')
    attributes = "".join(parts)
    return f"<{tag}{attributes}>{content}</{tag}>" if content else f"<{tag}{attributes}/>"


def text(x: float, y: float, content: str, **attrs: object) -> str:
    """A ``<text>`` element at ``(x, y)`` holding ``content``, escaped."""
    attrs.setdefault("fill", PALETTE["text"])
    return el("text", escape(content), x=x, y=y, **attrs)


def title(content: str) -> str:
    """A ``<title>``: the tooltip browsers show over its parent element."""
    return f"<title>{escape(content)}</title>"


def truncate(content: str, limit: int) -> str:
    """``content`` cut to ``limit`` characters, the last one an ellipsis when cut."""
    return content if len(content) <= limit else content[: max(1, limit - 1)] + "…"


def svg_root(width: float, height: float, body: str, *, label: str, chart_id: str | None) -> str:
    return el(
        "svg",
        body,
        class_="chart",
        id=chart_id,
        viewBox=f"0 0 {coord(width)} {coord(height)}",
        width=width,
        height=height,
        role="img",
        aria_label=label,
    )


@dataclass(frozen=True)
class Scale:
    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, value: float) -> float:
        if self.d1 == self.d0:
            return (self.r0 + self.r1) / 2.0
        t = (min(max(value, min(self.d0, self.d1)), max(self.d0, self.d1)) - self.d0) / (self.d1 - self.d0)
        return self.r0 + t * (self.r1 - self.r0)


def nice_ticks(low: float, high: float, count: int = 5) -> tuple[list[float], float]:
    """Round tick values covering ``[low, high]`` with about ``count`` intervals, and their step.

    >>> nice_ticks(0.0, 1.0)
    ([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], 0.2)
    >>> nice_ticks(0.0, 0.06)
    ([0.0, 0.02, 0.04, 0.06], 0.02)
    """
    if not high > low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 5.0, 10.0) if raw <= m * magnitude * (1 + 1e-9))
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)], step


def nice_domain(low: float, high: float, count: int = 5) -> tuple[float, float]:
    _, step = nice_ticks(low, high, count)
    return math.floor(low / step + 1e-9) * step, math.ceil(high / step - 1e-9) * step


def x_axis(scale: Scale, domain: tuple[float, float], *, y: float, grid_top: float, label: str, count: int = 5) -> str:
    ticks, step = nice_ticks(domain[0], domain[1], count)
    parts = []
    for tick in ticks:
        x = scale(tick)
        parts.append(el("line", x1=x, x2=x, y1=grid_top, y2=y, stroke=PALETTE["grid"]))
        parts.append(el("line", x1=x, x2=x, y1=y, y2=y + 4, stroke=PALETTE["axis"]))
        parts.append(text(x, y + 17, fmt_tick(tick, step), text_anchor="middle", class_="tick"))
    parts.append(el("line", x1=scale.r0, x2=scale.r1, y1=y, y2=y, stroke=PALETTE["axis"]))
    if label:
        parts.append(text((scale.r0 + scale.r1) / 2, y + 36, label, text_anchor="middle", class_="axis-label"))
    return "".join(parts)


def y_axis(scale: Scale, domain: tuple[float, float], *, x: float, grid_right: float, label: str) -> str:
    ticks, step = nice_ticks(domain[0], domain[1])
    parts = []
    for tick in ticks:
        y = scale(tick)
        parts.append(el("line", x1=x, x2=grid_right, y1=y, y2=y, stroke=PALETTE["grid"]))
        parts.append(el("line", x1=x - 4, x2=x, y1=y, y2=y, stroke=PALETTE["axis"]))
        parts.append(text(x - 7, y + 4, fmt_tick(tick, step), text_anchor="end", class_="tick"))
    parts.append(el("line", x1=x, x2=x, y1=scale.r0, y2=scale.r1, stroke=PALETTE["axis"]))
    if label:
        middle = (scale.r0 + scale.r1) / 2
        parts.append(
            text(
                x - 42,
                middle,
                label,
                text_anchor="middle",
                class_="axis-label",
                transform=f"rotate(-90 {x - 42} {middle})",
            )
        )
    return "".join(parts)


def legend(items: Sequence[tuple[str, str, bool]], *, x: float, y: float) -> str:
    """Swatches and names laid out in a row; each item is ``(name, colour, dashed)``."""
    parts = []
    for name, colour, dashed in items:
        dash = "5 4" if dashed else None
        parts.append(el("line", x1=x, x2=x + 20, y1=y, y2=y, stroke=colour, stroke_width=2.5, stroke_dasharray=dash))
        parts.append(text(x + 26, y + 4, name, class_="legend"))
        x += 26 + len(name) * CHAR_WIDTH + 18
    return "".join(parts)

"""Number formatting shared by the report renderers.

Values get four significant digits, counts get thousands separators, and a missing value is an em dash, never
``nan``. Every function accepts ``None`` (and non-finite floats, which a JSON document should not hold but might).
"""

from __future__ import annotations

import math

__all__ = ["MISSING", "as_float", "fmt_count", "fmt_interval", "fmt_number", "fmt_percent", "fmt_tick"]

MISSING = "—"


def as_float(x: object) -> float | None:
    """``x`` as a finite float, or ``None`` when it is missing, not a number, or not finite.

    >>> as_float(3), as_float(None), as_float(float("nan")), as_float("0.5"), as_float(True)
    (3.0, None, None, None, None)
    """
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    value = float(x)
    return value if math.isfinite(value) else None


def fmt_number(x: object) -> str:
    """Four significant digits, trailing zeros kept; thousands separators from 10,000 up; scientific outside
    [1e-4, 1e15); zero is ``0``.

    >>> [fmt_number(v) for v in (0.812345, 0.692, 1.0, 0.0, -0.0, 123.456, 1234.0, 12345.6, 0.000012345, None)]
    ['0.8123', '0.6920', '1.000', '0', '0', '123.5', '1234', '12,350', '1.234e-05', '—']
    """
    value = as_float(x)
    if value is None:
        return MISSING
    if value == 0:
        return "0"
    magnitude = abs(value)
    if 1e4 <= magnitude < 1e15:
        digits = math.floor(math.log10(magnitude)) - 3
        return f"{round(value, -digits):,.0f}"
    text = f"{value:#.4g}"  # "#" keeps trailing zeros, so a column of values lines up: 0.6920, not 0.692
    mantissa, e, exponent = text.partition("e")
    return mantissa.rstrip(".") + (f"e{exponent}" if e else "")


def fmt_count(n: object) -> str:
    """An integer count with thousands separators.

    >>> fmt_count(1234567), fmt_count(None), fmt_count(12.0)
    ('1,234,567', '—', '12')
    """
    value = as_float(n)
    if value is None:
        return MISSING
    return f"{round(value):,}"


def fmt_interval(low: object, high: object) -> str:
    """A closed interval ``[low, high]``, or a dash when either end is missing.

    >>> fmt_interval(0.71234, 0.8), fmt_interval(None, 0.8)
    ('[0.7123, 0.8000]', '—')
    """
    lo, hi = as_float(low), as_float(high)
    if lo is None or hi is None:
        return MISSING
    return f"[{fmt_number(lo)}, {fmt_number(hi)}]"


def fmt_percent(p: object) -> str:
    """A proportion as a percentage with one decimal.

    >>> fmt_percent(0.8567), fmt_percent(1), fmt_percent(None)
    ('85.7%', '100.0%', '—')
    """
    value = as_float(p)
    return MISSING if value is None else f"{100.0 * value:.1f}%"


def fmt_tick(value: float, step: float) -> str:
    """An axis tick label with just the decimals its step needs.

    >>> fmt_tick(0.2, 0.2), fmt_tick(0.25, 0.05), fmt_tick(0.5, 0.25), fmt_tick(20000.0, 5000.0), fmt_tick(-0.0, 0.5)
    ('0.2', '0.25', '0.50', '20,000', '0')
    """
    decimals = next((d for d in range(12) if abs(round(step, d) - step) <= 1e-9 * step), 12) if step > 0 else 0
    text = f"{value:,.{decimals}f}"
    return "0" if float(text.replace(",", "")) == 0 else text

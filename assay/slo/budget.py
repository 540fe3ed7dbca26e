"""Error budgets and burn rates: pure functions of good and total counts.

With objective ``o`` the error budget is the share ``1 - o`` of the period's events that may be bad. Over a range
with ``bad`` of ``total`` events:

- the **burn rate** is ``(bad / total) / (1 - o)``: 1 spends the budget exactly over the period, 14.4 spends a 30-day
  budget in 2 days;
- the **budget remaining** over the period is ``1 - bad / ((1 - o) * total)`` (negative once overspent);
- the **time to exhaustion** at the current burn rate ``b`` is ``remaining * period / b``.

A range without events is *no data*: ``None``, never a division by zero.

>>> burn_rate(good=990, total=1000, objective=0.99)
1.0
>>> round(budget_remaining(good=9_950, total=10_000, objective=0.99), 6)
0.5
>>> burn_rate(good=0, total=0, objective=0.99) is None
True
"""

from __future__ import annotations


def burn_rate(*, good: float, total: float, objective: float) -> float | None:
    if total <= 0:
        return None
    return round((total - good) / total / (1 - objective), 12)


def budget_remaining(*, good: float, total: float, objective: float) -> float | None:
    if total <= 0:
        return None
    return 1 - (total - good) / ((1 - objective) * total)


def time_to_exhaustion(remaining: float | None, rate: float | None, period: float) -> float | None:
    """Seconds until the budget is spent at burn rate ``rate``; 0 when already spent, ``None`` when not burning."""
    if remaining is None or rate is None or rate <= 0:
        return None
    return max(remaining, 0.0) * period / rate

"""SLIs read from the watch service's stored states, and each SLO's budget, burn rates and alert conditions.

Two clocks: SLIs known at prediction time (latency, errors, text) count at the event's time; the label-based
``correct`` counts when the label lands, because that is when an error becomes known (both from the good and
total counts the materializer keeps per window, ``sli_counts``); the realized metric series stay on prediction
time.

>>> from assay.slo.status import alert_condition
>>> alert_condition(threshold=14.4, long=(15.0, 1000), short=(20.0, 200), min_events=100)
(True, 'burn rate 15 over the long window and 20 over the short one, both above 14.4')
"""

from __future__ import annotations

import math
from typing import Any

from assay.slo.budget import budget_remaining, burn_rate, time_to_exhaustion
from assay.slo.config import SLO, slos
from assay.watch.monitor import Monitor
from assay.watch.query import cover, iso

SCHEMA = "assay.slo/1"


def alert_condition(*, threshold: float, long: tuple[float | None, int], short: tuple[float | None, int],
                    min_events: int) -> tuple[bool, str]:
    """Multi-window burn-rate rule: fires when both windows burn above ``threshold`` and each has ``min_events``."""
    (lr, ln), (sr, sn) = long, short
    if lr is None or sr is None:
        return False, "no data in the window"
    if ln < min_events or sn < min_events:
        return False, f"fewer than {min_events} events ({ln} long, {sn} short)"
    firing = lr > threshold and sr > threshold
    word = "both above" if firing else "not both above"
    return firing, f"burn rate {lr:.3g} over the long window and {sr:.3g} over the short one, {word} {threshold:g}"


class SLOs:
    """The SLOs of a config over a :class:`Monitor`'s store."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.slos, self.warnings = slos(monitor.config)

    def get(self, name: str) -> SLO:
        from assay.watch.monitor import NotFound

        s = self.slos.get(name)
        if s is None:
            raise NotFound(f"SLO {name!r}: expected one of the config's SLOs ({', '.join(self.slos) or 'none'}), "
                           "found no such name. Fix: add it under `slos:` in watch.yaml")
        return s

    # -- counts ---------------------------------------------------------------------------------------------------
    def _range(self, seconds: float, now: float) -> tuple[float, float]:
        """The whole windows overlapping the last ``seconds`` up to now: the current window (filling) included, and
        the window holding ``now - seconds``."""
        w = self.monitor.window
        return math.floor((now - seconds) / w) * w, math.floor(now / w) * w + w

    def counts(self, slo: SLO, start: float, end: float) -> tuple[int, int]:
        """(good, total) of ``[start, end)`` (whole windows): events for an event SLI, windows for a window SLI."""
        if slo.sli.event is not None:
            return self._event_counts(slo, [(start, end)])[(start, end)]
        return self._window_counts(slo, start, end)

    def _event_counts(self, slo: SLO, ranges: list[tuple[float, float]]) -> dict[tuple[float, float], tuple[int, int]]:
        """(good, total) of each aligned range, from the day, hour and window rows covering it, in one read."""
        pieces = {r: cover(r[0], r[1], self.monitor.window) for r in ranges}
        got = self.monitor.store.sli_pieces(slo.model, slo.version, slo.key,
                                            [p for ps in pieces.values() for p in ps])
        return {r: (sum(got[p][0] for p in ps), sum(got[p][1] for p in ps)) for r, ps in pieces.items()}

    def _window_counts(self, slo: SLO, start: float, end: float) -> tuple[int, int]:
        per = slo.sli.per_seconds or self.monitor.window
        lo = math.floor(start / per) * per
        hi = math.ceil(end / per) * per
        doc = self.monitor.series(slo.model, lo, hi, step=f"{int(per)}s", version=slo.version)
        good = total = 0
        for w in doc["windows"]:
            value = _metric_value(w, slo.sli.metric or "", slo.sli.kind)
            if value is None:
                if slo.no_data != "neither" and w["predictions"] == 0:
                    total += 1
                    good += slo.no_data == "good"
                continue
            total += 1
            ok = (slo.sli.min is None or value >= slo.sli.min) and (slo.sli.max is None or value <= slo.sli.max)
            good += ok
        return good, total

    # -- status ---------------------------------------------------------------------------------------------------
    def status(self, name: str) -> dict[str, Any]:
        slo = self.get(name)
        now = self.monitor.now()
        window = self.monitor.window
        p_lo, p_hi = self._range(slo.period_seconds, now)
        if slo.sli.event is not None:  # one read: the period and every alert window, from their rollup rows
            spans = [slo.period_seconds] + [s for _, _, long, short in slo.alert_windows(window) for s in (long, short)]
            sums = self._event_counts(slo, sorted({self._range(s, now) for s in spans}))

            def count(lo: float, hi: float) -> tuple[int, int]:
                return sums[(lo, hi)] if (lo, hi) in sums else self.counts(slo, lo, hi)
        else:
            def count(lo: float, hi: float) -> tuple[int, int]:
                return self.counts(slo, lo, hi)
        good, total = count(p_lo, p_hi)
        remaining = budget_remaining(good=good, total=total, objective=slo.objective)
        cache: dict[float, tuple[int, int]] = {}

        def over(seconds: float) -> tuple[float | None, int]:
            if seconds not in cache:
                cache[seconds] = count(*self._range(seconds, now))
            g, t = cache[seconds]
            if t == 0 and slo.no_data != "neither" and slo.sli.event is not None:
                return (0.0 if slo.no_data == "good" else 1 / (1 - slo.objective)), slo.min_events
            return burn_rate(good=g, total=t, objective=slo.objective), t

        alerts = []
        rates: dict[str, dict[str, Any]] = {}
        for severity, threshold, long, short in slo.alert_windows(window):
            lr, ln = over(long)
            sr, sn = over(short)
            for seconds, rate, n in ((long, lr, ln), (short, sr, sn)):
                rates[_duration(seconds)] = {"window": _duration(seconds), "seconds": seconds, "burn_rate": rate,
                                             "total": n}
            firing, reason = alert_condition(threshold=threshold, long=(lr, ln), short=(sr, sn),
                                             min_events=slo.min_events)
            alerts.append({"severity": severity, "threshold": threshold, "long_window": _duration(long),
                           "short_window": _duration(short), "long_burn_rate": lr, "short_burn_rate": sr,
                           "firing": firing, "reason": reason})
        current = rates[_duration(slo.alert_windows(window)[0][2])]["burn_rate"]
        state = "no_data" if total == 0 else ("firing" if any(a["firing"] for a in alerts) else "ok")
        return {
            "schema": SCHEMA, "name": slo.name, "model": slo.model, "version": slo.version,
            "sli": slo.sli.model_dump(exclude_none=True),
            "clock": "label arrival" if slo.sli.event == "correct" else "event time",
            "objective": slo.objective, "period": slo.period, "evaluated_at": iso(now),
            "range": {"from": iso(p_lo), "to": iso(p_hi)},
            "good": good, "total": total, "sli_value": good / total if total else None,
            "error_budget": {"total": 1 - slo.objective, "remaining": remaining,
                             "consumed": None if remaining is None else 1 - remaining,
                             "time_to_exhaustion_s": time_to_exhaustion(remaining, current, slo.period_seconds)},
            "burn_rates": list(rates.values()), "alerts": alerts, "status": state, "runbook": slo.runbook,
        }

    def series(self, name: str, step: float | None = None) -> list[dict[str, Any]]:
        """The SLI per ``step`` (default 1 h, at least the window) over the period."""
        slo = self.get(name)
        now = self.monitor.now()
        step = max(step or 3600.0, float(self.monitor.window), slo.sli.per_seconds or 0.0)
        lo, hi = self._range(slo.period_seconds, now)
        lo = math.floor(lo / step) * step
        out = []
        if slo.sli.event is not None:
            by: dict[float, list[int]] = {}
            level = 3600 if step % 3600 == 0 and self.monitor.window <= 3600 else self.monitor.window
            for start, g, t in self.monitor.store.sli_series(slo.model, slo.version, slo.key, level, lo, hi):
                b = by.setdefault(math.floor(start / step) * step, [0, 0])
                b[0] += g
                b[1] += t
            points = [(s, by.get(s, [0, 0])) for s in _steps(lo, hi, step)]
            return [{"start": iso(s), "good": g, "total": t, "sli": g / t if t else None} for s, (g, t) in points]
        for s in _steps(lo, hi, step):
            g, t = self.counts(slo, s, s + step)
            out.append({"start": iso(s), "good": g, "total": t, "sli": g / t if t else None})
        return out

    def all(self, model: str | None = None) -> list[dict[str, Any]]:
        """Every SLO's status, or only those of ``model`` (an unknown model is a :class:`NotFound`)."""
        if model is not None:
            self.monitor.context(model)
        return [self.status(name) for name, slo in self.slos.items() if model is None or slo.model == model]


def _steps(lo: float, hi: float, step: float) -> list[float]:
    n = max(0, math.ceil((hi - lo) / step))
    return [lo + i * step for i in range(n)]


def _metric_value(window: dict[str, Any], metric: str, kind: str) -> float | None:
    for section in (("estimated",) if kind == "estimated" else ("metrics", "traffic")):
        entry = (window.get(section) or {}).get(metric)
        if isinstance(entry, dict) and entry.get("value") is not None:
            return float(entry["value"])
    return None


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"

"""The ``slos:`` section of ``watch.yaml``: service-level objectives of models, validated against the models.

```yaml
slos:
  - {name: fraud-accuracy, model: fraud, sli: {event: correct}, objective: 0.99, period: 30d}
  - {name: fraud-latency, model: fraud, sli: {event: latency_below, seconds: 0.3}, objective: 0.99, period: 30d}
  - {name: chat-refusals, model: chat, sli: {event: not_refusal, column: response}, objective: 0.98, period: 7d}
  - {name: fraud-auc, model: fraud, sli: {metric: roc_auc, min: 0.85, per: 1h}, objective: 0.99, period: 30d}
```

**Event SLIs** count every event as good or bad: ``correct`` (a labeled prediction that matches its label, counted
when its label lands), ``latency_below`` (``seconds:``), ``not_error``, ``not_refusal`` and ``json_valid`` (a text
``column:``). **Window SLIs** (``per:``) count windows of length ``per`` as good when a windowed metric (of the run
document, ``kind: realized``, or the label-free estimate, ``kind: estimated``; or a traffic series) meets its bound
(``min:`` or ``max:``); windows without data are not counted.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assay.errors import ConfigError
from assay.watch.config import WatchConfig, parse_duration

EVENT_SLIS = ("correct", "latency_below", "not_error", "not_refusal", "json_valid")
_DAY = 86400.0
# (severity, burn rate, long window, short window) for a 30-day period; scaled with the period
DEFAULT_ALERTS = (("page", 14.4, 3600.0, 300.0), ("page", 6.0, 6 * 3600.0, 1800.0),
                  ("ticket", 3.0, _DAY, 7200.0), ("ticket", 1.0, 3 * _DAY, 6 * 3600.0))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SLI(_Strict):
    event: Literal["correct", "latency_below", "not_error", "not_refusal", "json_valid"] | None = None
    seconds: float | None = Field(None, gt=0)
    column: str | None = None
    metric: str | None = None
    kind: Literal["realized", "estimated"] = "realized"
    min: float | None = None
    max: float | None = None
    per: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> SLI:
        if (self.event is None) == (self.metric is None):
            raise ValueError("give `event:` (an event SLI) or `metric:` with `per:` (a window SLI), not both")
        if self.event is not None:
            if self.per is not None or self.min is not None or self.max is not None:
                raise ValueError("an event SLI takes no `per`, `min` or `max`")
            if self.event == "latency_below" and self.seconds is None:
                raise ValueError("`latency_below` needs `seconds:` (the latency bound)")
            if self.event in ("not_refusal", "json_valid") and self.column is None:
                raise ValueError(f"`{self.event}` needs `column:` (a text column of the model)")
        else:
            if self.per is None:
                raise ValueError("a window SLI needs `per:` (the window length, e.g. 1h)")
            if (self.min is None) == (self.max is None):
                raise ValueError("a window SLI needs one bound: `min:` or `max:`")
        return self

    @property
    def per_seconds(self) -> float | None:
        return None if self.per is None else parse_duration(self.per, "sli.per")


class SLO(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,200}$")
    model: str
    version: str | None = None
    sli: SLI
    objective: float = Field(gt=0, lt=1)
    period: str = "30d"
    no_data: Literal["neither", "good", "bad"] = "neither"
    min_events: int = Field(100, ge=1)
    runbook: str | None = None

    @property
    def key(self) -> str:
        """The event SLI's name in the store's counts (``latency_below:0.3``); window SLIs have none."""
        from assay.watch.window import sli_key

        return sli_key(self.sli.model_dump(exclude_none=True)) or ""

    @property
    def period_seconds(self) -> float:
        return parse_duration(self.period, "period")

    def alert_windows(self, window: int) -> list[tuple[str, float, float, float]]:
        """(severity, burn-rate threshold, long, short window in seconds) scaled to the period, rounded up to whole
        ``window``s (and whole ``per``s for a window SLI)."""
        unit = float(window)
        if self.sli.per_seconds is not None:
            unit = max(unit, self.sli.per_seconds)
        scale = self.period_seconds / (30 * _DAY)
        return [(sev, rate, _round_up(long * scale, unit), _round_up(short * scale, unit))
                for sev, rate, long, short in DEFAULT_ALERTS]


def window_metrics(model: Any) -> set[str]:
    """The metric names a window SLI of the model can hold to a bound: the run document's and the traffic's."""
    from assay.metrics import registry

    out: set[str] = set()
    if model.task in registry.TASKS:
        out |= set(registry.names(model.task))
    out |= {"predictions", "score_mean", "positive_rate", "ood_rate", "error_rate", "latency_mean", "latency_p50",
            "latency_p95", "latency_p99", "cost_total"}
    for col in model.text:
        out |= {f"{col}_{k}" for k in ("length_mean", "empty_rate", "json_failure_rate", "refusal_rate")}
    return out


def _round_up(seconds: float, unit: float) -> float:
    return max(unit, math.ceil(seconds / unit - 1e-9) * unit)


def slos(config: WatchConfig, source: str = "watch.yaml") -> tuple[dict[str, SLO], list[str]]:
    """The validated SLOs of a config by name, and warnings; :class:`ConfigError` naming the line and the field."""
    out: dict[str, SLO] = {}
    problems: list[str] = []
    warnings: list[str] = []
    for i, raw in enumerate(config.slos or []):
        where = f"{config.at(source, ('slos', i))}, slos[{i}]"
        try:
            s = SLO.model_validate(raw)
        except ValidationError as exc:
            problems += config.problems(exc, source, ("slos", i))
            continue
        if s.name in out:
            problems.append(f"{where}: the name {s.name!r} is taken by another SLO")
        model = config.models.get(s.model)
        if model is None:
            problems.append(f"{where}.model: expected a model of `models:` ({', '.join(config.models)}), found "
                            f"{s.model!r}")
            continue
        try:
            period = s.period_seconds
        except Exception as exc:
            problems.append(f"{where}.period: {exc}")
            continue
        sli = s.sli
        if sli.event == "correct" and model.task not in ("binary", "multiclass"):
            problems.append(f"{where}.sli: `correct` needs a classification model (binary or multiclass), found "
                            f"task {model.task!r}")
        if sli.event == "latency_below" and model.latency is None:
            problems.append(f"{where}.sli: `latency_below` needs the model's `latency:` column")
        if sli.event == "not_error" and model.status is None:
            problems.append(f"{where}.sli: `not_error` needs the model's `status:` column")
        if sli.column is not None and sli.column not in model.text:
            problems.append(f"{where}.sli.column: expected a text column of model {s.model!r} "
                            f"({', '.join(model.text) or 'none configured'}), found {sli.column!r}")
        if sli.metric is not None:
            known = window_metrics(model)
            if sli.metric not in known:
                problems.append(f"{where}.sli.metric: expected a windowed metric of model {s.model!r} "
                                f"({', '.join(sorted(known))}), found {sli.metric!r}")
        if sli.per_seconds is not None:
            if sli.per_seconds % config.window_seconds or sli.per_seconds > period:
                problems.append(f"{where}.sli.per: expected a whole number of windows ({config.window}) no longer "
                                f"than the period, found {sli.per!r}")
        windows = s.alert_windows(config.window_seconds)
        for sev, rate, long, _short in windows:
            if long > period:
                problems.append(f"{where}: the {sev} alert window ({long / 3600:g} h) is longer than the period "
                                f"({s.period}); use a longer period")
            if rate > 1 / (1 - s.objective):
                warnings.append(f"{where}: the {sev} burn-rate threshold {rate:g} exceeds 1/(1 - objective) = "
                                f"{1 / (1 - s.objective):.3g}, which no error rate can reach: that rule never fires")
        out[s.name] = s
    if problems:
        raise ConfigError("; ".join(problems) + ". Fix: see the SLO examples in the README")
    return out, warnings

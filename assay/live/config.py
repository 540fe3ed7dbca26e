"""The ``comparisons:`` section of ``watch.yaml``, validated against the models it names.

```yaml
comparisons:
  - name: fraud-canary
    model: fraud
    mode: canary                       # canary | ab | shadow
    control: {version: "7"}
    candidate: {version: "8"}
    metrics:
      - {metric: accuracy, margin: 0.02}                  # absolute non-inferiority margin
      - {metric: latency_mean, margin_relative: 0.10}     # (1 + r) * control - candidate, lower is better
      - {metric: latency_above, seconds: 0.3, margin: 0.01}
      - {metric: response_refusal_rate, margin: 0.01, critical: false}   # advisory: lowers the score only
    min_outcomes: 2000                 # per arm, before any promotion
    alpha: 0.05
    t_star: 5000                       # outcomes per arm where the confidence sequence is tightest
    start: "2026-12-07T09:00:00Z"      # outcomes from here on (default: every stored window)
    scoring: {pass: 95, marginal: 75}  # Kayenta-style score thresholds (0-100)
    on_rollback: {webhook: "https://rollouts.example/abort"}
```
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assay.errors import ConfigError
from assay.live.metrics import catalogue
from assay.watch.config import WatchConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MetricSpec(_Strict):
    metric: str
    margin: float | None = None
    margin_relative: float | None = None
    seconds: float | None = Field(None, gt=0)  # latency_above's bound
    critical: bool = True
    weight: float = Field(1.0, ge=0)
    higher_is_better: bool | None = None

    @model_validator(mode="after")
    def _margins(self) -> MetricSpec:
        if (self.margin is None) == (self.margin_relative is None):
            raise ValueError("give exactly one of `margin` (absolute) and `margin_relative` (a share of the "
                             "control's value)")
        for key in ("margin", "margin_relative"):
            v = getattr(self, key)
            if v is not None and (not math.isfinite(v) or v < 0):
                raise ValueError(f"`{key}` is how much worse the candidate may be: a number >= 0 whatever the "
                                 f"metric's direction, found {v}")
        if self.metric == "latency_above" and self.seconds is None:
            raise ValueError("`latency_above` needs `seconds:` (the latency bound)")
        return self

    @property
    def key(self) -> str:
        """The metric as reported: ``latency_above_0.3s`` for a bound, else the name."""
        return f"latency_above_{self.seconds:g}s" if self.metric == "latency_above" else self.metric


class ArmSpec(_Strict):
    version: str = Field(min_length=1, max_length=200)


class Scoring(_Strict):
    pass_: float = Field(95.0, alias="pass", ge=0, le=100)
    marginal: float = Field(75.0, ge=0, le=100)

    @model_validator(mode="after")
    def _order(self) -> Scoring:
        if self.marginal > self.pass_:
            raise ValueError(f"`marginal` ({self.marginal:g}) must not exceed `pass` ({self.pass_:g})")
        return self


class OnRollback(_Strict):
    webhook: str = Field(pattern=r"^https?://")


class Comparison(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,200}$")
    model: str
    mode: Literal["canary", "ab", "shadow"]
    control: ArmSpec
    candidate: ArmSpec
    metrics: list[MetricSpec] = Field(min_length=1)
    min_outcomes: int = Field(2000, ge=1)
    alpha: float = Field(0.05, gt=0, lt=1)
    t_star: float = Field(5000, gt=0)
    start: str | float | None = None
    scoring: Scoring = Scoring.model_validate({})
    on_rollback: OnRollback | None = None

    @model_validator(mode="after")
    def _arms(self) -> Comparison:
        if self.control.version == self.candidate.version:
            raise ValueError(f"control and candidate are the same version ({self.control.version!r}): compare two "
                             "different versions")
        keys = [m.key for m in self.metrics]
        if len(set(keys)) != len(keys):
            raise ValueError(f"each metric once: {sorted({k for k in keys if keys.count(k) > 1})} repeated")
        return self

    @property
    def critical(self) -> list[MetricSpec]:
        return [m for m in self.metrics if m.critical]


def comparisons(config: WatchConfig, source: str = "watch.yaml") -> dict[str, Comparison]:
    """The validated comparisons of a config, by name; :class:`ConfigError` naming the line and the field."""
    out: dict[str, Comparison] = {}
    problems: list[str] = []
    for i, raw in enumerate(config.comparisons or []):
        where = f"{config.at(source, ('comparisons', i))}, comparisons[{i}]"
        try:
            c = Comparison.model_validate(raw)
        except ValidationError as exc:
            problems += config.problems(exc, source, ("comparisons", i))
            continue
        if c.name in out:
            problems.append(f"{where}: the name {c.name!r} is taken by another comparison")
        model = config.models.get(c.model)
        if model is None:
            problems.append(f"{where}.model: expected a model of `models:` ({', '.join(config.models)}), found "
                            f"{c.model!r}")
            continue
        known = catalogue(model)
        for j, m in enumerate(c.metrics):
            entry = known.get(m.metric)
            at = f"{config.at(source, ('comparisons', i, 'metrics', j))}, comparisons[{i}].metrics[{j}]"
            if entry is None:
                problems.append(f"{at}.metric: expected a metric model {c.model!r} can compare "
                                f"({', '.join(sorted(known))}), found {m.metric!r}")
            elif m.margin_relative is not None and _is_rate(m.metric):
                problems.append(f"{at}.margin_relative: `{m.metric}` is a rate: rates compare by an absolute "
                                "`margin` (a share of a zero baseline would let nothing pass, or anything)")
            elif entry.higher_is_better is None and m.higher_is_better is None:
                problems.append(f"{at}: `{m.metric}` has no direction of its own; add `higher_is_better: "
                                "true|false`")
        if c.mode == "shadow" and any(known.get(m.metric) is not None and m.metric.startswith("outcome_")
                                      for m in c.metrics):
            problems.append(f"{where}.metrics: outcomes compare between split arms (canary or ab), not in shadow "
                            "mode, where the control's outcome is the only one observed")
        out[c.name] = c
    if problems:
        raise ConfigError("; ".join(problems) + ". Fix: see the comparisons example in the README")
    return out


def _is_rate(metric: str) -> bool:
    return metric in ("accuracy", "precision", "recall", "error_rate", "latency_above") or metric.endswith("_rate")

"""The ``alerting:`` section of ``watch.yaml``: where alerts go.

```yaml
alerting:
  evaluation_interval: 30s
  resend_interval: 1m                  # a firing alert is sent again this often (Alertmanager expects it)
  external_url: https://assay.example  # links in the alerts (the dashboard view, the runbook)
  receivers:
    - {name: oncall, alertmanager: "http://alertmanager:9093"}        # POST /api/v2/alerts
    - {name: team-hook, webhook: "https://hooks.example/assay"}        # Alertmanager webhook v4 payload
    - {name: chat, slack_file: /run/secrets/slack-url}                 # Slack-compatible message; URL kept secret
  routes:
    - {severity: page, receivers: [oncall]}
    - {severity: ticket, receivers: [team-hook, chat]}
```
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assay.errors import ConfigError
from assay.watch.config import WatchConfig, parse_duration

LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Receiver(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    alertmanager: str | None = Field(None, pattern=r"^https?://")
    webhook: str | None = Field(None, pattern=r"^https?://")
    slack: str | None = Field(None, pattern=r"^https?://")
    slack_file: str | None = None  # a file holding the Slack webhook URL: read when sending, never logged

    @model_validator(mode="after")
    def _one(self) -> Receiver:
        if sum(x is not None for x in (self.alertmanager, self.webhook, self.slack, self.slack_file)) != 1:
            raise ValueError("a receiver has exactly one of `alertmanager:`, `webhook:`, `slack:` and `slack_file:`")
        return self

    @property
    def kind(self) -> str:
        return "alertmanager" if self.alertmanager else ("webhook" if self.webhook else "slack")

    def url(self, base: str = ".") -> str:
        """Where to send (a Slack URL from its file, read now so that a rotated secret takes effect)."""
        if self.slack_file is not None:
            from pathlib import Path

            path = Path(self.slack_file)
            path = path if path.is_absolute() else Path(base) / path
            return path.read_text().strip()
        return self.alertmanager or self.webhook or self.slack or ""

    @property
    def shown(self) -> str:
        """The receiver as logs and the delivery log show it (a Slack URL is a secret: never shown)."""
        return f"{self.kind}:{self.name}" if self.kind == "slack" else f"{self.kind}:{self.url()}"


class Route(_Strict):
    severity: Literal["page", "ticket"]
    receivers: list[str] = Field(min_length=1)


class DriftRule(_Strict):
    """A ticket when the trailing ``range`` drifts at ``consecutive`` evaluations in a row, evaluated every
    ``range`` (so that consecutive evaluations look at different events)."""

    range: str = "1h"
    consecutive: int = Field(3, ge=1)

    @property
    def range_seconds(self) -> float:
        return parse_duration(self.range, "alerting.drift.range")


class Alerting(_Strict):
    evaluation_interval: str = "30s"
    resend_interval: str = "1m"
    external_url: str = ""
    receivers: list[Receiver] = []
    routes: list[Route] = []
    drift: DriftRule = DriftRule.model_validate({})

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.evaluation_interval, "alerting.evaluation_interval")

    @property
    def resend_seconds(self) -> float:
        return parse_duration(self.resend_interval, "alerting.resend_interval")

    def receivers_for(self, severity: str) -> list[Receiver]:
        by_name = {r.name: r for r in self.receivers}
        names = [n for route in self.routes if route.severity == severity for n in route.receivers]
        return [by_name[n] for n in dict.fromkeys(names) if n in by_name]


def alerting(config: WatchConfig, source: str = "watch.yaml") -> Alerting:
    """The validated ``alerting:`` section (empty when absent); :class:`ConfigError` naming the line."""
    raw: Any = config.alerting or {}
    try:
        out = Alerting.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("; ".join(config.problems(exc, source, ("alerting",))) +
                          ". Fix: see the alerting example in the README") from None
    names = [r.name for r in out.receivers]
    unknown = sorted({n for route in out.routes for n in route.receivers if n not in names})
    if unknown:
        raise ConfigError(f"{config.at(source, ('alerting', 'routes'))}, alerting.routes: expected receivers of "
                          f"`receivers:` ({', '.join(names) or 'none'}), found {unknown}. Fix: name a receiver")
    for key in ("evaluation_interval", "resend_interval"):
        try:
            parse_duration(getattr(out, key), f"alerting.{key}")
        except Exception as exc:
            raise ConfigError(f"{source}, alerting.{key}: {exc}") from None
    return out


def parse_matchers(items: list[str]) -> dict[str, str]:
    """``["model=fraud", "severity=page"]`` as a mapping; a malformed matcher is an error naming it."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not LABEL.fullmatch(name.strip()) or not value:
            raise ValueError(f"matcher {item!r}: expected label=value (a label name, '=', a value), e.g. "
                             "model=fraud")
        out[name.strip()] = value
    return out

"""``watch.yaml``: the monitoring service's configuration, validated once, with errors that name the line.

A complete example (every key, with its default where it has one)::

    store: sqlite:///.assay/watch.sqlite        # or postgresql://assay@db/assay
    window: 5m                                  # event-time window of the states (s, m, h, d)
    retention: {events: 30d, windows: 400d}     # raw events by receive time; window states by window end
    limits: {max_events: 10000, max_bytes: 16777216, max_pending: 64}
    redaction_key_file: /run/secrets/redact     # keyed hash for `redact:` fields (else they are dropped)
    admin_token_file: /run/secrets/assay-admin  # bootstrap admin token (or admin_token: ${ASSAY_ADMIN_TOKEN})
    models:
      fraud:
        task: binary                            # binary | multiclass | regression | llm
        id: id                                  # the column roles, as `assay evaluate` names them
        timestamp: timestamp
        version: version
        score: score
        label: is_fraud
        threshold: 0.5
        pos_label: 1                            # with neg_label, for labels other than 0/1 (e.g. fraud / ok)
        neg_label: 0
        segments: [country]
        sensitive: [gender]
        features: [amount, age, country]
        latency: latency_s                      # seconds
        cost: cost_usd
        status: status                          # an error is a status of "error", "failed", false or >= 400
        label_policy: first                     # first | last
        outcomes: [clicked, revenue]            # proxy outcomes carried by labels
        reference: {profile: reference.profile, labeled: reference.parquet}
        redact: [email]
        redact_patterns: [email, phone, card]   # pattern redaction of the text columns
      chat:
        task: llm
        text: [prompt, response]
    traces:
      - {match: {service.name: support-bot}, model: chat}

Secrets never need to be written into the file: any string may use ``${ENV_VAR}`` (``${ENV_VAR:-default}``), and
any key ``K_file`` reads the value of ``K`` from a file (trailing newline removed).

>>> cfg = parse_config("models:\\n  m: {task: binary, score: s, label: y}\\n")
>>> cfg.window_seconds, cfg.models["m"].label, cfg.models["m"].id
(300, 'y', 'id')
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from assay.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
PATTERNS = ("email", "phone", "card")


def parse_duration(value: str | int | float, where: str = "duration") -> float:
    """Seconds of ``"5m"``, ``"1h"``, ``"30d"`` (or a number of seconds).

    >>> parse_duration("5m"), parse_duration("1.5h"), parse_duration(30)
    (300.0, 5400.0, 30.0)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ConfigError(f"{where}: expected a duration such as 30s, 5m, 1h or 30d, found {value!r}. "
                              "Fix: write a number followed by s, m, h, d or w")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ConfigError(f"{where}: expected a positive duration, found {value!r}. Fix: use e.g. 5m")
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reference(_Strict):
    profile: str | None = None
    labeled: str | None = None


class Retention(_Strict):
    events: str = "30d"
    windows: str = "400d"

    @field_validator("events", "windows")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_duration(v, "retention")
        return v


class Limits(_Strict):
    max_events: int = Field(10_000, ge=10_000)
    max_bytes: int = Field(16 * 1024 * 1024, ge=16 * 1024 * 1024)
    max_pending: int = Field(64, ge=1)  # ingest requests in flight before 503


class ModelConfig(_Strict):
    """One model's column roles and options."""

    task: Literal["binary", "multiclass", "regression", "llm"]
    id: str = "id"
    timestamp: str = "timestamp"
    version: str = "version"
    score: str | None = None
    proba_prefix: str | None = None
    prediction: str | None = None
    label: str = "label"
    pos_label: Any = None
    neg_label: Any = None
    classes: list[str] | None = None
    threshold: float | None = None
    segments: list[str] = []
    sensitive: list[str] = []
    features: list[str] = []
    text: list[str] = []
    latency: str | None = None
    cost: str | None = None
    status: str | None = None
    label_policy: Literal["first", "last"] = "first"
    outcomes: list[str] = []
    reference: Reference = Reference()
    redact: list[str] = []
    redact_patterns: list[Literal["email", "phone", "card"]] = []
    max_distinct_scores: int = Field(1 << 16, ge=2)
    bins: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _roles(self) -> ModelConfig:
        if self.task == "binary" and self.score is None and self.prediction is None:
            raise ValueError("a binary model needs `score` (probabilities) or `prediction`")
        if self.task == "multiclass" and self.proba_prefix is None and self.prediction is None:
            raise ValueError("a multiclass model needs `proba_prefix` or `prediction`")
        if self.task == "multiclass" and (not self.classes or len(self.classes) < 2):
            raise ValueError("a multiclass model needs `classes: [...]` (two or more), so that every window counts "
                             "the same classes (with `proba_prefix`, each class has a column PREFIX<class>)")
        if self.task == "binary" and (self.pos_label is None) != (self.neg_label is None):
            raise ValueError("a binary model with labels other than 0/1 names both `pos_label` and `neg_label`")
        if self.task == "regression" and self.prediction is None:
            raise ValueError("a regression model needs `prediction`")
        if self.threshold is not None and self.task != "binary":
            raise ValueError("`threshold` is for binary models only")
        if self.sensitive and self.task != "binary":
            raise ValueError("`sensitive` (fairness) is for binary models only; use `segments`")
        keys = [self.id, self.timestamp, self.version]
        if len(set(keys)) != len(keys):
            raise ValueError("`id`, `timestamp` and `version` must name different columns")
        return self

    @property
    def labeled(self) -> bool:
        return self.task != "llm"

    def label_values(self) -> tuple[str, ...] | None:
        """The values a label (or a hard prediction) may take, as text; ``None`` for regression and LLM models."""
        if self.task == "binary":
            return ("0", "1") if self.pos_label is None else (str(self.neg_label), str(self.pos_label))
        if self.task == "multiclass":
            return tuple(str(c) for c in self.classes or ())
        return None

    def redacted(self, column: str) -> bool:
        return column in self.redact

    def stored_columns(self) -> list[str]:
        """The columns an event keeps (besides id, timestamp and version): roles, features, text."""
        out: list[str] = []
        for c in (self.score, self.prediction, self.latency, self.cost, self.status, *self.segments,
                  *self.sensitive, *self.features, *self.text):
            if c is not None and c not in out:
                out.append(c)
        return out

    def label_columns(self) -> list[str]:
        return [self.label, *self.outcomes] if self.labeled else list(self.outcomes)


class WatchConfig(_Strict):
    """The whole ``watch.yaml``."""

    store: str = "sqlite:///.assay/watch.sqlite"
    window: str = "5m"
    retention: Retention = Retention()
    limits: Limits = Limits.model_validate({})
    redaction_key: str | None = None
    admin_token: str | None = None
    models: dict[str, ModelConfig]
    traces: list[dict[str, Any]] = []
    # sections of the alerting and live-comparison issues: accepted here, validated by their owners
    slos: list[Any] | None = None
    alerting: dict[str, Any] | None = None
    comparisons: list[Any] | None = None
    base_dir: str = "."
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)

    def at(self, source: str, path: tuple[Any, ...]) -> str:
        """``"watch.yaml, line 12"``: the file and the line of ``path`` (or just the file), for error messages."""
        line = self.line_of(path)
        return f"{source}, line {line}" if line else source

    def problems(self, exc: ValidationError, source: str, path: tuple[Any, ...]) -> list[str]:
        """A section's validation errors as ``FILE, line N, FIELD: what[, found X]`` (``path`` is the section's
        place in the config, e.g. ``("slos", 3)``), for the sections their owners validate."""
        out = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in (*path, *loc))
            what = "an unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
            found = "" if err["type"] in ("extra_forbidden", "missing") or isinstance(err.get("input"), dict | list) \
                else f", found {err.get('input')!r}"
            out.append(f"{self.at(source, (*path, *loc))}, {field}: {what}{found}")
        return out

    def line_of(self, path: tuple[Any, ...]) -> int | None:
        """The line of the config text that holds ``path`` (or its nearest enclosing key), for sections validated
        by their owners."""
        for i in range(len(path), 0, -1):
            if path[:i] in self._lines:
                return self._lines[path[:i]]
        return None

    @field_validator("window")
    @classmethod
    def _window(cls, v: str) -> str:
        seconds = parse_duration(v, "window")
        if seconds < 1 or seconds != int(seconds) or 86400 % int(seconds):
            raise ValueError(f"the window must be a whole number of seconds dividing one day, found {v!r}")
        return v

    @field_validator("models")
    @classmethod
    def _names(cls, v: dict[str, ModelConfig]) -> dict[str, ModelConfig]:
        bad = [name for name in v if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", name)]
        if bad:
            raise ValueError(f"model names are letters, digits, '_', '.', '-' (found {bad[0]!r})")
        if not v:
            raise ValueError("at least one model")
        return v

    @property
    def window_seconds(self) -> int:
        return int(parse_duration(self.window))

    @property
    def event_retention(self) -> float:
        return parse_duration(self.retention.events)

    @property
    def window_retention(self) -> float:
        return parse_duration(self.retention.windows)

    def model(self, name: str) -> ModelConfig:
        return self.models[name]

    def path(self, p: str) -> Path:
        """A path of the config, relative to the config file's folder."""
        q = Path(p)
        return q if q.is_absolute() else Path(self.base_dir) / q


# -- loading --------------------------------------------------------------------------------------------------------

class _LineLoader(yaml.SafeLoader):
    """Records the line of every mapping key, so errors can point at it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    lines = {}
    for key_node, _ in node.value:
        lines[loader.construct_object(key_node)] = key_node.start_mark.line + 1
    mapping["__lines__"] = lines
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip(obj: Any, lines: dict[tuple[Any, ...], int], path: tuple[Any, ...] = ()) -> Any:
    """Remove the line marks, keeping ``{path: line}``."""
    if isinstance(obj, dict):
        own = obj.pop("__lines__", {})
        start = obj.pop("__line__", None)
        if start is not None:
            lines.setdefault(path, start)
        for k, line in own.items():
            lines[(*path, k)] = line
        return {k: _strip(v, lines, (*path, k)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_strip(v, lines, (*path, i)) for i, v in enumerate(obj)]
    return obj


def _resolve(obj: Any, where: str, env: Mapping[str, str], base: Path) -> Any:
    """``${ENV}`` in strings and ``K_file`` keys."""
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            if isinstance(k, str) and k.endswith("_file") and isinstance(v, str) and k != "slack_file":
                target = k[: -len("_file")]
                path = Path(_resolve(v, f"{where}.{k}", env, base))
                path = path if path.is_absolute() else base / path
                try:
                    out[target] = path.read_text().rstrip("\n")
                except OSError as exc:
                    raise ConfigError(f"{where}.{k}: expected a readable file holding the {target}, found "
                                      f"{exc.strerror or exc} for {path}. Fix: check the path") from None
            else:
                out[k] = _resolve(v, f"{where}.{k}", env, base)
        return out
    if isinstance(obj, list):
        return [_resolve(v, f"{where}[{i}]", env, base) for i, v in enumerate(obj)]
    if isinstance(obj, str):
        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(f"{where}: expected the environment variable {name} to be set, found it unset. "
                              f"Fix: export {name}, or write ${{{name}:-default}}")
        return _ENV.sub(sub, obj)
    return obj


def parse_config(text: str, *, source: str = "watch.yaml", base_dir: str | os.PathLike[str] = ".",
                 env: Mapping[str, str] | None = None) -> WatchConfig:
    """Validate the text of a ``watch.yaml``; errors name the file, the line and the field."""
    try:
        raw = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}{at}: expected YAML, found a syntax error ({getattr(exc, 'problem', exc)}). "
                          "Fix: check the indentation and the quotes") from None
    lines: dict[tuple[Any, ...], int] = {}
    data = _strip(raw, lines)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with a `models:` section, found {type(data).__name__}. "
                          "Fix: see the complete example in the README")
    resolved = _resolve(data, source, os.environ if env is None else env, Path(base_dir))
    resolved["base_dir"] = str(base_dir)
    try:
        config = WatchConfig.model_validate(resolved)
        config._lines = lines
        return config
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line: int | None = None
            for i in range(len(loc), -1, -1):
                if loc[:i] in lines:
                    line = lines[loc[:i]]
                    break
            field = ".".join(str(p) for p in loc) or "(top level)"
            found = err.get("input")
            found_text = "" if err["type"] == "missing" else f", found {found!r}" if not isinstance(
                found, dict) else ""
            what = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                what = "an unknown key"
                found_text = ""
            problems.append(f"{source}{f', line {line}' if line else ''}, field {field}: {what}{found_text}")
        raise ConfigError("; ".join(problems) + ". Fix: see the complete example of watch.yaml in the README") from None


def load_config(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> WatchConfig:
    """Read and validate ``watch.yaml``; relative paths in it are relative to its folder."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"config {p}: expected a readable watch.yaml, found {exc.strerror or exc}. "
                          "Fix: check the path given to --config") from None
    return parse_config(text, source=str(p), base_dir=p.parent, env=env)

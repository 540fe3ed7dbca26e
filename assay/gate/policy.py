"""The gate's policy: what a candidate must show, parsed from YAML and validated with line numbers.

>>> text = "confidence: 0.9\\nchecks:\\n  - {metric: accuracy, min: 0.8}\\n  - {metric: f1, max_drop: 0.02}\\n"
>>> p = parse_policy(text)
>>> p.confidence, [c.describe() for c in p.checks]
(0.9, ['accuracy min 0.8', 'f1 max_drop 0.02'])
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assay.errors import ConfigError

BOUNDS = ("min", "max", "max_drop", "max_drop_relative")


@dataclass(frozen=True)
class Check:
    """One check of the policy; ``line`` is where it is written (1-based)."""

    metric: str | None = None
    fairness: str | None = None
    slice: str | None = None
    attribute: str | None = None
    min: float | None = None
    max: float | None = None
    max_drop: float | None = None
    max_drop_relative: float | None = None
    name: str | None = None
    line: int = 0

    @property
    def needs_baseline(self) -> bool:
        return self.max_drop is not None or self.max_drop_relative is not None

    def describe(self) -> str:
        if self.name:
            return self.name
        what = self.metric if self.metric else f"fairness {self.fairness} by {self.attribute}"
        if self.slice:
            what += f" per {self.slice}"
        bounds = " ".join(f"{b} {getattr(self, b):g}" for b in BOUNDS if getattr(self, b) is not None)
        return f"{what} {bounds}"


@dataclass(frozen=True)
class Policy:
    checks: tuple[Check, ...]
    confidence: float = 0.95
    inconclusive: str = "report"
    correction: str = "none"
    allow_intersection: bool = False
    allow_different_data: bool = False  # unpaired comparison of different evaluation sets (e.g. a production range)
    source: str = "<policy>"
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def load_policy(path: str | os.PathLike[str]) -> Policy:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"policy {p}: expected a readable YAML file, found {exc.strerror or exc}. "
                          "Fix: check the --policy path") from None
    return parse_policy(text, source=str(p))


def _fail(source: str, line: int, expected: str, found: str, fix: str) -> ConfigError:
    return ConfigError(f"{source}, line {line}: expected {expected}, found {found}. Fix: {fix}")


def _value(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    """Parse and validate a policy; every error names the line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc)
        raise _fail(source, line, "valid YAML", str(problem), "fix the YAML syntax") from None
    if not isinstance(root, yaml.MappingNode):
        raise _fail(source, 1, "a mapping with 'checks:'", "something else", "see the example policy in the README")
    top: dict[str, tuple[yaml.Node, int]] = {}
    for key_node, value_node in root.value:
        top[str(key_node.value)] = (value_node, key_node.start_mark.line + 1)
    known = {"confidence", "inconclusive", "checks", "correction", "allow_intersection", "allow_different_data",
             "seed"}
    for key, (_, line) in top.items():
        if key not in known:
            raise _fail(source, line, "one of " + ", ".join(sorted(known)), f"'{key}'", "remove or rename the key")
    opts: dict[str, Any] = {}
    if "confidence" in top:
        node, line = top["confidence"]
        v = _value(node)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.5 <= v < 1:
            raise _fail(source, line, "confidence in [0.5, 1)", repr(v), "use e.g. 0.95")
        opts["confidence"] = float(v)
    for key, choices in (("inconclusive", ("report", "fail", "pass")), ("correction", ("none", "holm"))):
        if key in top:
            node, line = top[key]
            v = _value(node)
            if v not in choices:
                raise _fail(source, line, f"{key} one of {', '.join(choices)}", repr(v), f"use {choices[0]}")
            opts[key] = v
    for flag in ("allow_intersection", "allow_different_data"):
        if flag in top:
            node, line = top[flag]
            v = _value(node)
            if not isinstance(v, bool):
                raise _fail(source, line, "true or false", repr(v), f"use {flag}: true")
            opts[flag] = v
    if "seed" in top:
        node, line = top["seed"]
        v = _value(node)
        if not isinstance(v, int) or isinstance(v, bool):
            raise _fail(source, line, "an integer seed", repr(v), "use e.g. seed: 0")
        opts["seed"] = v
    if "checks" not in top:
        raise _fail(source, 1, "a 'checks:' list", "none", "add checks, e.g. '- {metric: accuracy, min: 0.8}'")
    node, line = top["checks"]
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise _fail(source, line, "a non-empty list of checks", "an empty or non-list value",
                    "write checks as '- {metric: NAME, max_drop: 0.02}'")
    checks = tuple(_check(item, source) for item in node.value)
    return Policy(checks=checks, source=source, **opts)


def _check(node: yaml.Node, source: str) -> Check:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise _fail(source, line, "a check mapping like {metric: accuracy, min: 0.8}", repr(_value(node)),
                    "write each check as a mapping")
    fields: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        kline = key_node.start_mark.line + 1
        allowed = {"metric", "fairness", "slice", "attribute", "name", *BOUNDS}
        if key not in allowed:
            raise _fail(source, kline, "a check key among " + ", ".join(sorted(allowed)), f"'{key}'",
                        "remove or rename the key")
        v = _value(value_node)
        if key in BOUNDS:
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise _fail(source, kline, f"a number for {key}", repr(v), f"write e.g. {key}: 0.02")
            v = float(v)
            if key == "max_drop" and v < 0:
                raise _fail(source, kline, "max_drop >= 0 (the allowed drop)", repr(v), "use a positive number")
            if key == "max_drop_relative" and not 0 <= v < 1:
                raise _fail(source, kline, "max_drop_relative in [0, 1) (0.02 = 2%)", repr(v), "use e.g. 0.02")
        elif not isinstance(v, str):
            raise _fail(source, kline, f"a name for {key}", repr(v), "quote the name")
        fields[key] = v
    if ("metric" in fields) == ("fairness" in fields):
        raise _fail(source, line, "exactly one of 'metric' or 'fairness'", ", ".join(sorted(fields)),
                    "name the metric to check")
    if "fairness" in fields and "attribute" not in fields:
        raise _fail(source, line, "'attribute' for a fairness check", "none", "add attribute: <sensitive column>")
    if "slice" in fields and "metric" not in fields:
        raise _fail(source, line, "'slice' only with 'metric'", "slice on a fairness check", "remove slice")
    if not any(b in fields for b in BOUNDS):
        raise _fail(source, line, "a bound: " + ", ".join(BOUNDS), "none", "add e.g. max_drop: 0.02")
    return Check(line=line, **fields)

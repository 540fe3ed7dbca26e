"""Policy parsing: valid policies, and every error naming its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import ConfigError
from assay.gate.policy import load_policy, parse_policy

EXAMPLE = Path(__file__).parents[2] / "examples" / "policy.yaml"


def test_example_policy_parses() -> None:
    p = load_policy(EXAMPLE)
    assert p.confidence == 0.95 and p.correction == "holm" and p.inconclusive == "report"
    assert [c.line for c in p.checks] == [6, 7, 8, 9, 10, 11, 12]
    assert p.checks[5].slice == "tumour_size" and p.checks[6].attribute == "texture_band"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("checks:\n  - {metric: accuracy, min: 0.8}\n  - {metric: f1, max_drop: -1}\n", 3, "max_drop >= 0"),
        ("checks:\n  - {metric: accuracy, mni: 0.8}\n", 2, "'mni'"),
        ("confidence: 2\nchecks:\n  - {metric: accuracy, min: 0.8}\n", 1, "confidence"),
        ("checks:\n  - {metric: accuracy}\n", 2, "a bound"),
        ("checks:\n  - {fairness: equalized_odds_difference, max: 0.1}\n", 2, "attribute"),
        ("checks:\n  - {metric: a, fairness: b, max: 1}\n", 2, "exactly one"),
        ("checks: []\n", 1, "non-empty"),
        ("inconclusive: maybe\nchecks:\n  - {metric: accuracy, min: 0.8}\n", 1, "inconclusive"),
        ("checks:\n  - {metric: accuracy, min: high}\n", 2, "a number"),
        ("checks:\n  - {metric: accuracy, min: 0.8\n", 3, "valid YAML"),
        ("thresholds: 1\nchecks:\n  - {metric: accuracy, min: 0.8}\n", 1, "'thresholds'"),
        ("checks:\n  - {metric: f1, max_drop_relative: 2}\n", 2, "max_drop_relative"),
    ],
)
def test_errors_name_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_policy(text, source="p.yaml")
    message = str(exc.value)
    assert f"p.yaml, line {line}" in message and fragment in message


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.yaml"):
        load_policy(tmp_path / "nowhere.yaml")

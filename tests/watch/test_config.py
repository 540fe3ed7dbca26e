"""watch.yaml: validation with line numbers, defaults, secrets by reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import ConfigError
from assay.watch.config import load_config, parse_config, parse_duration

MINIMAL = "models:\n  fraud: {task: binary, score: score, label: is_fraud}\n"


def test_defaults() -> None:
    cfg = parse_config(MINIMAL)
    assert cfg.store == "sqlite:///.assay/watch.sqlite"
    assert cfg.window_seconds == 300
    assert cfg.event_retention == 30 * 86400 and cfg.window_retention == 400 * 86400
    assert cfg.limits.max_events >= 10_000 and cfg.limits.max_bytes >= 16 * 1024 * 1024
    m = cfg.models["fraud"]
    assert (m.id, m.timestamp, m.version, m.label_policy) == ("id", "timestamp", "version", "first")


def test_the_readme_example_is_valid() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("```yaml\n# watch.yaml") + len("```yaml\n")
    text = readme[start:readme.index("```", start)]
    cfg = parse_config(text, env={"ASSAY_REDACTION_KEY": "k", "ASSAY_ADMIN_TOKEN": "t"})
    assert "fraud" in cfg.models and cfg.models["fraud"].segments


@pytest.mark.parametrize(("text", "words"), [
    ("models:\n  fraud:\n    task: binary\n    score: s\n    bogus: 1\n", ["line 5", "models.fraud.bogus",
                                                                          "unknown key"]),
    ("models:\n  fraud: {task: binary}\n", ["line 2", "models.fraud", "score"]),
    ("models:\n  r: {task: regression}\n", ["models.r", "prediction"]),
    ("models:\n  m: {task: multiclass, prediction: p}\n", ["classes"]),
    ("window: 7m\n" + MINIMAL, ["line 1", "window", "dividing one day"]),
    ("window: often\n" + MINIMAL, ["duration"]),
    ("retention: {events: soon}\n" + MINIMAL, ["retention"]),
    ("models:\n  fraud: {task: binary, score: s, label_policy: sometimes}\n", ["label_policy", "first"]),
    ("limits: {max_events: 10}\n" + MINIMAL, ["limits.max_events"]),
    ("models: {}\n", ["models", "at least one"]),
    ("models:\n  'bad name!': {task: llm}\n", ["model names"]),
    ("models: [1, 2\n", ["YAML"]),
    ("- 1\n", ["mapping"]),
])
def test_bad_configs_name_the_line_and_field(text: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    for w in words:
        assert w in str(exc.value)
    assert "Fix:" in str(exc.value)


def test_secrets_from_env_and_files(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("s3cret\n")
    text = ("store: postgresql://assay:${PGPASS}@db/assay\nredaction_key_file: key\n"
            "admin_token: ${TOKEN:-fallback}\n" + MINIMAL)
    cfg = parse_config(text, base_dir=tmp_path, env={"PGPASS": "pw"})
    assert cfg.store == "postgresql://assay:pw@db/assay"
    assert cfg.redaction_key == "s3cret"
    assert cfg.admin_token == "fallback"
    with pytest.raises(ConfigError, match="PGPASS"):
        parse_config(text, base_dir=tmp_path, env={})
    with pytest.raises(ConfigError, match="readable file"):
        parse_config("redaction_key_file: nowhere\n" + MINIMAL, base_dir=tmp_path, env={})


def test_load_config_reads_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "watch.yaml").write_text(MINIMAL)
    cfg = load_config(tmp_path / "watch.yaml")
    assert cfg.path("ref.profile") == tmp_path / "ref.profile"
    with pytest.raises(ConfigError, match=r"readable watch\.yaml"):
        load_config(tmp_path / "missing.yaml")


def test_durations() -> None:
    assert parse_duration("30s") == 30 and parse_duration("2w") == 14 * 86400
    with pytest.raises(ConfigError):
        parse_duration("0s")
    with pytest.raises(ConfigError):
        parse_duration("5 minutes")

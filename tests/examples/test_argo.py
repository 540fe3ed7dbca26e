"""examples/argo/evaluate-gate.yaml: a WorkflowTemplate whose steps run evaluate -> gate -> promote, each assay
command line parsing with assay's own argument parser."""

from __future__ import annotations

import argparse
import re
from typing import Any

import yaml

from .conftest import EXAMPLES, assay_commands, parse_assay

TEMPLATE = EXAMPLES / "argo" / "evaluate-gate.yaml"


def _load() -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(TEMPLATE.read_text()) if d]
    assert len(docs) == 1
    return docs[0]


def _templates() -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in _load()["spec"]["templates"]}


def _commands(template: dict[str, Any]) -> list[argparse.Namespace]:
    c = template["container"]
    if c["command"] == ["assay"]:
        return [parse_assay([*c["command"], *c["args"]])]
    assert c["command"] == ["sh", "-c"] and len(c["args"]) == 1
    lines = assay_commands(c["args"][0])
    assert lines, f"{template['name']}: no assay command in the script"
    return [parse_assay(line) for line in lines]


def test_structure() -> None:
    doc = _load()
    assert doc["apiVersion"] == "argoproj.io/v1alpha1"
    assert doc["kind"] == "WorkflowTemplate"
    assert doc["metadata"]["name"]
    templates = _templates()
    entry = templates[doc["spec"]["entrypoint"]]
    steps = [[s["template"] for s in group] for group in entry["steps"]]
    assert steps == [["evaluate"], ["gate"], ["promote"]]  # one after the other: promote only once gate passed
    for name in ("evaluate", "gate", "promote"):
        c = templates[name]["container"]
        assert c["image"] and isinstance(c["args"], list) and all(isinstance(a, str) for a in c["args"])
    # every {{workflow.parameters.X}} is declared
    declared = {p["name"] for p in doc["spec"]["arguments"]["parameters"]}
    used = set(re.findall(r"\{\{workflow\.parameters\.([\w-]+)\}\}", TEMPLATE.read_text()))
    assert used <= declared, used - declared
    # every volume mounted is declared
    volumes = {v["name"] for v in doc["spec"]["volumes"]}
    for t in templates.values():
        for m in t.get("container", {}).get("volumeMounts", []):
            assert m["name"] in volumes


def test_every_assay_command_parses() -> None:
    templates = _templates()
    (evaluate,) = _commands(templates["evaluate"])
    (gate,) = _commands(templates["gate"])
    add, promote = _commands(templates["promote"])
    assert evaluate.command == "evaluate" and evaluate.task == "binary"
    assert gate.command == "gate" and gate.policy.endswith(".yaml")
    assert gate.baseline.startswith("@promoted") and gate.home == "/runs"
    assert (add.command, add.runs_command) == ("runs", "add") and add.home == "/runs"
    assert (promote.command, promote.runs_command) == ("runs", "promote")
    assert promote.ref.startswith("@latest:") and promote.home == "/runs"


def test_the_artifacts_flow_from_evaluate_to_gate_and_promote() -> None:
    templates = _templates()
    (evaluate,) = _commands(templates["evaluate"])
    (gate,) = _commands(templates["gate"])
    add, _ = _commands(templates["promote"])
    outputs = {a["name"]: a["path"] for a in templates["evaluate"]["outputs"]["artifacts"]}
    assert outputs["run"] == evaluate.out
    predictions = {a["name"]: a["path"] for a in templates["evaluate"]["inputs"]["artifacts"]}["predictions"]
    assert evaluate.data == predictions
    for name, path in (("gate", gate.candidate), ("promote", add.files[0])):
        inputs = {a["name"]: a["path"] for a in templates[name]["inputs"]["artifacts"]}
        assert inputs["run"] == path

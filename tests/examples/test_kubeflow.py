"""examples/kubeflow/pipeline.py compiles with kfp's compiler, and its container command lines parse with assay's
own argument parser."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import EXAMPLES, parse_assay

pytest.importorskip("kfp")


def _compile(tmp_path: Path) -> dict[str, Any]:
    from kfp import compiler

    module = runpy.run_path(str(EXAMPLES / "kubeflow" / "pipeline.py"))
    out = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(module["assay_pipeline"], package_path=str(out))
    docs = [d for d in yaml.safe_load_all(out.read_text()) if d]
    return docs[0]


def test_compiles_and_runs_evaluate_then_gate(tmp_path: Path) -> None:
    spec = _compile(tmp_path)
    assert spec["pipelineInfo"]["name"] == "assay-evaluate-gate"
    executors = spec["deploymentSpec"]["executors"]
    containers = {name: e["container"] for name, e in executors.items() if "container" in e}
    assert set(containers) == {"exec-evaluate", "exec-gate"}
    commands = {}
    for name, c in containers.items():
        assert c["command"] == ["assay"]
        assert c["image"]
        commands[name] = parse_assay([*c["command"], *c["args"]])
    evaluate, gate = commands["exec-evaluate"], commands["exec-gate"]
    assert evaluate.command == "evaluate" and evaluate.task == "binary"
    assert evaluate.out and evaluate.format == "parquet"
    assert gate.command == "gate" and gate.policy and gate.baseline
    # the gate judges the run the evaluate step wrote
    assert containers["exec-evaluate"]["args"][containers["exec-evaluate"]["args"].index("--out") + 1] \
        == "{{$.outputs.artifacts['run'].path}}"
    assert containers["exec-gate"]["args"][1] == "{{$.inputs.artifacts['candidate'].path}}"
    tasks = spec["root"]["dag"]["tasks"]
    candidate = tasks["gate"]["inputs"]["artifacts"]["candidate"]["taskOutputArtifact"]
    assert candidate == {"outputArtifactKey": "run", "producerTask": "evaluate"}

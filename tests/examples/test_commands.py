"""The checker the orchestrator tests share catches what it is for: a wrong flag, a missing argument."""

from __future__ import annotations

import pytest

from .conftest import assay_commands, parse_assay


def test_a_good_command_parses() -> None:
    ns = parse_assay(["assay", "runs", "promote", "@latest:{{workflow.parameters.model}}", "--home", "/runs"])
    assert (ns.command, ns.runs_command, ns.ref) == ("runs", "promote", "@latest:PLACEHOLDER")


@pytest.mark.parametrize("argv", [
    ["assay", "gate", "run.json", "--polcy", "policy.yaml"],       # a misspelt flag
    ["assay", "gate", "run.json"],                                 # --policy is required
    ["assay", "runs", "promote", "@latest", "--mlflw"],
    ["assay", "evaluate", "preds.parquet", "--task", "binery"],    # not a choice
])
def test_a_bad_command_fails(argv: list[str]) -> None:
    with pytest.raises(pytest.fail.Exception, match="does not parse"):
        parse_assay(argv)


def test_shell_scripts_are_split_into_assay_commands() -> None:
    script = ("set -e\nmkdir -p out && assay runs add out/run.json --home \"$HOME/runs\" &&\\\n"
              "  assay runs promote @latest:fraud --note 'ship it' # why\necho done | tee log")
    assert assay_commands(script) == [
        ["assay", "runs", "add", "out/run.json", "--home", "$HOME/runs"],
        ["assay", "runs", "promote", "@latest:fraud", "--note", "ship it"],
    ]

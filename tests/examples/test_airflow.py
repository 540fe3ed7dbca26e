"""examples/airflow/assay_dag.py, read without Airflow (not a dependency): its source parses, every BashOperator's
assay command line parses with assay's own argument parser, and the tasks run evaluate >> gate >> promote."""

from __future__ import annotations

import ast
from typing import Any

from .conftest import EXAMPLES, assay_commands, parse_assay

DAG_FILE = EXAMPLES / "airflow" / "assay_dag.py"


def _value(node: ast.expr, names: dict[str, Any]) -> Any:
    """A string expression of the DAG file: constants, f-strings of module-level names, ``+``, dicts of those."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return names[node.id]
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            if isinstance(v, ast.FormattedValue):
                assert v.format_spec is None and v.conversion == -1
                parts.append(str(_value(v.value, names)))
            else:
                parts.append(str(_value(v, names)))
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _value(node.left, names) + _value(node.right, names)
    raise ValueError(ast.dump(node))


def _module() -> ast.Module:
    return ast.parse(DAG_FILE.read_text(), filename=str(DAG_FILE))


def _tasks() -> tuple[dict[str, dict[str, Any]], ast.Module]:
    """{variable: {task_id, bash_command}} of every ``X = BashOperator(...)``."""
    tree = _module()
    names: dict[str, Any] = {}
    for stmt in tree.body:  # module-level constants, in order
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            try:
                names[stmt.targets[0].id] = _value(stmt.value, names)
            except (ValueError, KeyError):
                pass
    tasks = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "BashOperator"):
            kw = {k.arg: k.value for k in node.value.keywords}
            (target,) = node.targets
            assert isinstance(target, ast.Name)
            tasks[target.id] = {"task_id": _value(kw["task_id"], names),
                                "bash_command": _value(kw["bash_command"], names)}
    return tasks, tree


def test_the_tasks_and_their_commands() -> None:
    tasks, _ = _tasks()
    assert {t["task_id"] for t in tasks.values()} == {"evaluate", "gate", "promote"}
    commands = {t["task_id"]: [parse_assay(line) for line in assay_commands(t["bash_command"])]
                for t in tasks.values()}
    (evaluate,) = commands["evaluate"]
    (gate,) = commands["gate"]
    add, promote = commands["promote"]
    assert evaluate.command == "evaluate" and evaluate.task == "binary" and evaluate.model_name == "fraud"
    assert gate.command == "gate" and gate.candidate == evaluate.out
    assert gate.baseline == "@promoted:fraud" and gate.policy.endswith(".yaml")
    assert (add.runs_command, add.files, add.home) == ("add", [evaluate.out], gate.home)
    assert (promote.runs_command, promote.ref, promote.home) == ("promote", "@latest:fraud", gate.home)


def _chain(node: ast.expr) -> list[str]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.RShift):
        return _chain(node.left) + _chain(node.right)
    assert isinstance(node, ast.Name), ast.dump(node)
    return [node.id]


def test_dependency_order() -> None:
    tasks, tree = _tasks()
    chains = [_chain(n.value) for n in ast.walk(tree)
              if isinstance(n, ast.Expr) and isinstance(n.value, ast.BinOp) and isinstance(n.value.op, ast.RShift)]
    assert len(chains) == 1
    assert [tasks[v]["task_id"] for v in chains[0]] == ["evaluate", "gate", "promote"]


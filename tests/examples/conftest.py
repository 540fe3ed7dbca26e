"""The checker shared by the orchestrator examples' tests: every ``assay`` command line parses with assay's own
argument parser, so a wrong flag or a missing argument in an example fails here, not in a user's cluster."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from assay.cli.main import build_parser

EXAMPLES = Path(__file__).parents[2] / "examples"

# orchestrator placeholders ({{inputs.parameters.data}}, {{$.outputs.artifacts['run'].path}}, {{ ds }}) and shell
# variables stand for one argument each
_PLACEHOLDER = re.compile(r"\{\{.*?\}\}")


def parse_assay(argv: Sequence[str]) -> argparse.Namespace:
    """Parse one ``assay`` command line (with or without the leading ``assay``); fail the test on a usage error."""
    args = [_PLACEHOLDER.sub("PLACEHOLDER", a) for a in argv]
    if args and Path(args[0]).name == "assay":
        args = args[1:]
    assert args, "an empty assay command line"
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns = build_parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"`assay {shlex.join(args)}` does not parse (exit {exc.code}): {err.getvalue().strip()}")
    assert ns.command, f"`assay {shlex.join(args)}`: no subcommand"
    return ns


def assay_commands(script: str) -> list[list[str]]:
    """The ``assay`` command lines of a shell script (split on newlines, ``&&``, ``||``, ``;`` and ``|``)."""
    text = _PLACEHOLDER.sub("PLACEHOLDER", script.replace("\\\n", " "))
    out: list[list[str]] = []
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        for token in [*lexer, ";"]:
            if token and set(token) <= set(";&|"):
                if current and Path(current[0]).name == "assay":
                    out.append(current)
                current = []
            else:
                current.append(token)
    return out


@pytest.fixture
def check_assay() -> Callable[[Sequence[str]], argparse.Namespace]:
    return parse_assay


@pytest.fixture
def shell_assay() -> Callable[[str], list[list[str]]]:
    return assay_commands

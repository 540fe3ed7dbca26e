"""The CLI's consoles: on a terminal, Rich's usual width; elsewhere (CI logs, pipes, files) no wrapping at all, so
a path, a number or a sentence is never broken across lines and tables take the width their content needs."""

from __future__ import annotations

from typing import Any

PLAIN_WIDTH = 10_000


def console(*, stderr: bool = False, quiet: bool = False) -> Any:
    from rich.console import Console

    out = Console(stderr=stderr, quiet=quiet)
    if out.is_terminal:
        return out
    return Console(stderr=stderr, quiet=quiet, width=PLAIN_WIDTH, soft_wrap=True)

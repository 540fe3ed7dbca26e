"""A progress bar on stderr for long reads (only on a terminal, and not with --quiet)."""

from __future__ import annotations

from typing import Any


class ReadProgress:
    """``with ReadProgress(console, quiet=q) as update: update(rows, total)``; ``update`` is ``None`` when off.

    ``update(rows, total, stage)`` may name the stage (``"reference"``, ``"current"``) shown before the bar.
    """

    def __init__(self, console: Any, *, quiet: bool, label: str = "reading") -> None:
        self.console = console
        self.enabled = not quiet and console.is_terminal
        self.label = label
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=self.console, transient=True)
        self.bar.__enter__()

        def update(rows: int, total: int | None, stage: str | None = None) -> None:
            name = f"{self.label} {stage}" if stage else self.label
            if name not in self.tasks:
                self.tasks[name] = self.bar.add_task(name, total=None)
            self.bar.update(self.tasks[name], completed=rows, total=total)

        return update

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
